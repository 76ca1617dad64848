package alert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
)

// requireEngines reports whether a missing engine must fail the test (CI).
func requireEngines() bool {
	return os.Getenv("CI") == "true" || os.Getenv("KEYTRAIL_REQUIRE_ENGINES") == "1"
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs a private Alertmanager and returns its base URL.
func startAlertmanager(tb testing.TB) string {
	tb.Helper()
	bin := ""
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if requireEngines() {
			tb.Fatal("prometheus-alertmanager not found in PATH (required: CI or KEYTRAIL_REQUIRE_ENGINES=1); apt-get install prometheus-alertmanager")
		}
		tb.Skip("prometheus-alertmanager not installed; set KEYTRAIL_REQUIRE_ENGINES=1 to fail instead")
	}
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	require.NoError(tb, os.WriteFile(cfg, []byte("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"), 0o600))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(tb))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
	)
	logf, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	require.NoError(tb, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(tb, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		cancel()
		<-exited
		logf.Close()
	})
	base := "http://" + addr
	// Alertmanager says it is up only through /-/ready: ask until it does,
	// it exits, or the deadline passes.
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	ask := time.NewTicker(50 * time.Millisecond)
	defer ask.Stop()
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logf.Name())
			tb.Fatalf("alertmanager exited: %v\n%s", err, out)
		case <-deadline.C:
			out, _ := os.ReadFile(logf.Name())
			tb.Fatalf("alertmanager not ready at %s\n%s", base, out)
		case <-ask.C:
		}
	}
}

// gettableAlert is the part of Alertmanager's GET /api/v2/alerts we check.
type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func activeAlerts(tb testing.TB, base string) []gettableAlert {
	tb.Helper()
	resp, err := http.Get(base + "/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=true")
	require.NoError(tb, err)
	defer resp.Body.Close()
	require.Equal(tb, http.StatusOK, resp.StatusCode)
	var out []gettableAlert
	require.NoError(tb, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func TestAlertmanager(t *testing.T) {
	base := startAlertmanager(t)
	rec := &memRecorder{}
	cfg := quick(alert.Target{Name: "am", Alertmanager: &alert.AlertmanagerTarget{HTTPTarget: alert.HTTPTarget{URL: base}}})
	cfg.Severity = "critical"
	n := newNotifier(t, cfg, alert.Options{Recorder: rec})
	ctx := context.Background()

	c := corr("prod/1001", model.VerdictWeakFactor)
	c.ActionTS = time.Now().Add(-time.Minute).UTC()
	other := corr("prod/1002", model.VerdictUnknownIdentity)
	other.Person, other.Actor = "", "svc-deployer"
	require.NoError(t, n.Handle(ctx, c))
	require.NoError(t, n.Handle(ctx, other))
	flush(t, n)

	var got []gettableAlert
	require.Eventually(t, func() bool { got = activeAlerts(t, base); return len(got) == 2 }, 5*time.Second, 20*time.Millisecond)
	byAction := map[string]gettableAlert{}
	for _, a := range got {
		byAction[a.Labels["action_id"]] = a
	}
	a := byAction["prod/1001"]
	require.Equal(t, map[string]string{
		"alertname": alert.AlertName,
		"severity":  "critical",
		"alert_id":  alert.AlertID("prod/1001", "p1"),
		"verdict":   "weak_factor",
		"action":    "trigger",
		"action_id": "prod/1001",
		"instance":  "prod",
		"dag_id":    "payments_etl",
		"person":    "alice@example.com",
		"actor":     "okta_00u1",
		"channel":   "ui",
	}, a.Labels)
	require.Equal(t, "Privileged Airflow trigger on DAG payments_etl by alice@example.com was not key-verified (weak_factor)", a.Annotations["summary"])
	require.Contains(t, a.Annotations["description"], "Action prod/1001 on Airflow instance prod")
	require.Equal(t, "https://keytrail.example.com/actions/prod%2F1001", a.GeneratorURL)
	require.Equal(t, "active", a.Status.State)
	require.WithinDuration(t, model.Millis(c.ActionTS), a.StartsAt, time.Millisecond)
	require.True(t, a.EndsAt.After(time.Now().Add(23*time.Hour)), "stays active for alert_ttl")
	u := byAction["prod/1002"]
	require.Equal(t, "unknown_identity", u.Labels["verdict"])
	require.Equal(t, "svc-deployer", u.Labels["actor"])
	_, hasPerson := u.Labels["person"]
	require.False(t, hasPerson, "empty labels are omitted")

	// A late assertion verifies prod/1001: resolved with the same labels.
	v := corr("prod/1001", model.VerdictVerified)
	v.ActionTS = c.ActionTS
	require.NoError(t, n.Handle(ctx, v))
	flush(t, n)
	require.Eventually(t, func() bool {
		got = activeAlerts(t, base)
		return len(got) == 1
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, "prod/1002", got[0].Labels["action_id"])
	res, ok := rec.latest(alert.AlertID("prod/1001", "p1"), "am", model.AlertResolved)
	require.True(t, ok)
	require.False(t, res.SentAt.IsZero())
}

func TestKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "keytrail.alerts"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()

	rec := &memRecorder{}
	cfg := quick(alert.Target{Name: "kafka", Kafka: &alert.KafkaTarget{Brokers: brokers}})
	n := newNotifier(t, cfg, alert.Options{Recorder: rec})
	ctx := context.Background()
	fired := corr("prod/7", model.VerdictNoAssertion)
	noPerson := corr("prod/8", model.VerdictUnknownIdentity)
	noPerson.Person = ""
	require.NoError(t, n.Handle(ctx, fired))
	require.NoError(t, n.Handle(ctx, noPerson))
	require.NoError(t, n.Handle(ctx, fired)) // dedup
	flush(t, n)
	require.NoError(t, n.Handle(ctx, corr("prod/7", model.VerdictVerified)))
	flush(t, n)

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "keytrail.alerts", Partition: 0, MaxWait: 50 * time.Millisecond})
	t.Cleanup(func() { r.Close() })
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	type got struct {
		key    string
		msg    alert.Message
		status string
	}
	var msgs []got
	for len(msgs) < 3 {
		m, err := r.ReadMessage(rctx)
		require.NoError(t, err)
		var am alert.Message
		require.NoError(t, json.Unmarshal(m.Value, &am))
		h := map[string]string{}
		for _, hd := range m.Headers {
			h[hd.Key] = string(hd.Value)
		}
		require.Equal(t, am.AlertID, h["keytrail-alert-id"])
		msgs = append(msgs, got{string(m.Key), am, h["keytrail-status"]})
	}
	byKey := func(i int) string { return msgs[i].key + " " + msgs[i].msg.ActionID + " " + msgs[i].status }
	var seen []string
	for i := range msgs {
		seen = append(seen, byKey(i))
	}
	require.ElementsMatch(t, []string{
		"alice@example.com prod/7 firing",
		"prod/8 prod/8 firing", // no person: keyed by action id
		"alice@example.com prod/7 resolved",
	}, seen)
	require.Equal(t, "alice@example.com prod/7 resolved", seen[2], "resolve after firing")
	require.Equal(t, alert.AlertID("prod/7", "p1"), msgs[2].msg.AlertID)
	require.Equal(t, "verified", msgs[2].msg.ResolvedVerdict)

	// Nothing more on the topic: the duplicate Handle produced no message.
	sctx, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer scancel()
	_, err = r.ReadMessage(sctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	rf, _ := rec.latest(alert.AlertID("prod/7", "p1"), "kafka", model.AlertFiring)
	require.EqualValues(t, 1, rf.Attempts)
	require.False(t, rf.SentAt.IsZero())
}

func TestKafkaUnreachableRetries(t *testing.T) {
	rec := &memRecorder{}
	cfg := quick(alert.Target{Name: "kafka", Kafka: &alert.KafkaTarget{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", freePort(t))}}})
	cfg.Retry = alert.Retry{Attempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 500 * time.Millisecond}
	n := newNotifier(t, cfg, alert.Options{Recorder: rec})
	require.NoError(t, n.Handle(context.Background(), corr("a", model.VerdictNoAssertion)))
	flush(t, n)
	got, _ := rec.latest(alert.AlertID("a", "p1"), "kafka", model.AlertFiring)
	require.EqualValues(t, 2, got.Attempts)
	require.True(t, got.SentAt.IsZero())
	require.Contains(t, got.LastError, "keytrail.alerts")
}
