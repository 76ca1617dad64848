package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/internal/syncbuf"
	"github.com/keytrail/keytrail/store/storetest"
)

func exampleConfig() string {
	return filepath.Join("..", "..", "config", "testdata", "collect.example.yaml")
}

func TestConfigCheck(t *testing.T) {
	code, out, errs := cli(t, "", "config", "check", "--skip-secrets", exampleConfig())
	require.Equal(t, 0, code, errs+out)
	require.Contains(t, out, "SUCCESS")
	require.Contains(t, out, "clickhouse://keytrail@clickhouse:9000/keytrail (password from env:CLICKHOUSE_PASSWORD)")
	require.Contains(t, out, "consume topic insights-logs-signinlogs from [corp.servicebus.windows.net:9093]")
	require.Contains(t, out, "okta-hook")

	// Secrets are checked unless skipped; their values never printed.
	t.Setenv("OKTA_TOKEN", "00okta-secret-value")
	code, out, _ = cli(t, "", "config", "check", exampleConfig())
	require.Equal(t, 1, code)
	require.Contains(t, out, "environment variable CLICKHOUSE_PASSWORD is not set")
	require.Contains(t, out, "secret: read /run/secrets/entra-client-secret")
	require.NotContains(t, out, "sources.okta-acme.token")
	require.NotContains(t, out, "00okta-secret-value")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("sources:\n  o:\n    type: okta\n    url: https://a.okta.com\n    token: {env: T}\n    relam: x\n"), 0o600))
	code, out, _ = cli(t, "", "config", "check", bad)
	require.Equal(t, 1, code)
	require.Contains(t, out, `line 6: unknown key "relam" for a source of type okta`)

	code, _, errs = cli(t, "", "config", "lint", bad)
	require.Equal(t, 2, code, errs)
	code, _, errs = cli(t, "", "collect")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "--config is required")
}

// eventHubs starts a kfake cluster that looks like the Azure Event Hubs
// Kafka endpoint (SASL PLAIN as "$ConnectionString" over TLS) with a topic
// of Entra ID sign-in records, and writes a collect config that consumes it
// into the shared ClickHouse server. It returns the config path, the store
// URL and a function that produces one message.
func eventHubs(t *testing.T) (cfgPath, storeURL string, produce func(value []byte)) {
	t.Helper()
	const connString = "Endpoint=sb://corp.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=c2VjcmV0"
	srvTLS, cliTLS, caPEM := kafkatest.TLS(t)
	_, conn := kafkatest.Start(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "$ConnectionString", connString), kfake.TLS(srvTLS),
		kfake.SeedTopics(2, "insights-logs-signinlogs"))
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, caPEM, 0o600))
	t.Setenv("KT_TEST_EVENTHUBS", connString)
	cfgPath = filepath.Join(dir, "collect.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`
sink: {max_wait: 100ms, flush_timeout: 5s}
status_interval: 200ms
shutdown_timeout: 20s
sources:
  entra-eh:
    type: kafka-topic
    format: entra
    instance: corp
    topic: insights-logs-signinlogs
    brokers: [`+conn.Brokers[0]+`]
    group_id: keytrail-test
    sasl: {mechanism: PLAIN, username: $ConnectionString, password: {env: KT_TEST_EVENTHUBS}}
    tls: {enabled: true, ca_file: `+ca+`}
`), 0o600))
	w := &kafkago.Writer{Addr: kafkago.TCP(conn.Brokers...), Topic: "insights-logs-signinlogs", RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond,
		Transport: &kafkago.Transport{TLS: cliTLS, SASL: plain.Mechanism{Username: "$ConnectionString", Password: connString}}}
	t.Cleanup(func() { w.Close() })
	return cfgPath, storetest.SharedServer(t).URL(storetest.FreshDB(t)), func(v []byte) {
		require.NoError(t, w.WriteMessages(context.Background(), kafkago.Message{Value: v}))
	}
}

// TestCollectEventHubsSIGTERM: keytrail collect, as its own process,
// consumes an Event Hubs-style topic into ClickHouse — each record once, a
// malformed message a dead letter naming its topic/partition/offset —
// reports the source in keytrail status, and on SIGTERM stores, commits
// and exits 0 within its shutdown bound.
func TestCollectEventHubsSIGTERM(t *testing.T) {
	cfgPath, url, produce := eventHubs(t)
	doc, err := os.ReadFile(fixture("entra", "event_hubs_records.json"))
	require.NoError(t, err)
	produce(doc)
	produce(doc) // redelivered by the hub: stored once
	produce([]byte(`{"records": [{"time": "2024-05-14T09:12:03Z", "category": "SignInLogs", "properties": `))

	cmd := keytrailProcess(t, "--store", url, "collect", "--config", cfgPath)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	require.Eventually(t, func() bool {
		code, o, _ := cli(t, "", "--store", url, "sql", "SELECT count() FROM raw_records FINAL")
		return code == 0 && strings.TrimSpace(o) == "8"
	}, time.Minute, 200*time.Millisecond, "stderr: %s", errb.String())
	require.Eventually(t, func() bool {
		code, o, _ := cli(t, "", "--store", url, "status", "--json")
		var st Status
		return code == 0 && json.Unmarshal([]byte(o), &st) == nil && len(st.Sources) == 1 && st.Sources[0].Stored == 8 && st.Sources[0].DeadLetters == 1 &&
			strings.HasPrefix(st.Sources[0].Cursor, "insights-logs-signinlogs ") && st.Sources[0].Backlog == 0
	}, time.Minute, 200*time.Millisecond, "status reports what was stored and the topic's committed offsets")

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "exit 0 after SIGTERM; stderr: %s", errb.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("collect did not exit within 30s of SIGTERM; stderr: %s", errb.String())
	}
	require.Less(t, time.Since(start), 25*time.Second)
	require.Contains(t, errb.String(), "pipeline stopped")
	require.Contains(t, out.String(), "sink entra-eh: 3 records, 8 stored, 8 duplicates, 0 conflicts, 1 dead letters")
	require.NotContains(t, errb.String()+out.String(), "c2VjcmV0", "the connection string is never printed")

	code, o, _ := cli(t, "", "--store", url, "sql", "SELECT origin, error FROM dead_letters FINAL")
	require.Equal(t, 0, code)
	require.Regexp(t, `^kafka:insights-logs-signinlogs/[01]/\d+#byte=\d+\t`, o)
	code, o, _ = cli(t, "", "--store", url, "status")
	require.Equal(t, 0, code)
	require.Regexp(t, `entra-eh\s+kafka-topic\s+corp\s+insights-logs-signinlogs 0:\d+ 1:\d+\s+-\s+-\s+8\s+1\s`, o)

	// Started again, the group's committed offsets hold: only a new message
	// is read.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var once sync.Once
	started := &cancelOn{marker: "collecting", cancel: func() { once.Do(func() { go produce([]byte(`{"records": []}`)) }) }}
	stored := &cancelOn{marker: "batch stored", cancel: cancel}
	var out2 bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"--store", url, "--log-level", "debug", "collect", "--config", cfgPath}, strings.NewReader(""), &out2,
		io.MultiWriter(started, stored)), stored.String())
	require.Contains(t, out2.String(), "sink entra-eh: 1 records, 0 stored, 0 duplicates, 0 conflicts, 0 dead letters")
}

// syncBuffer is a buffer safe for a process's writes and the test's reads.
type syncBuffer = syncbuf.Buffer
