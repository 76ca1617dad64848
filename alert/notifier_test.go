package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
)

func TestUnverified(t *testing.T) {
	for _, tc := range []struct {
		verdict, inherited model.Verdict
		privileged         bool
		want               bool
	}{
		{model.VerdictVerified, "", true, false},
		{model.VerdictStale, "", true, true},
		{model.VerdictWeakFactor, "", true, true},
		{model.VerdictNoAssertion, "", true, true},
		{model.VerdictUnknownIdentity, "", true, true},
		{model.VerdictUnattributed, "", true, true},
		{model.VerdictInherited, model.VerdictVerified, true, false},
		{model.VerdictInherited, model.VerdictWeakFactor, true, true},
		{model.VerdictInherited, "", true, true},
		{model.VerdictNoAssertion, "", false, false},
	} {
		c := corr("a", tc.verdict)
		c.InheritedVerdict, c.Privileged = tc.inherited, tc.privileged
		require.Equal(t, tc.want, alert.Unverified(c), "%s/%s privileged=%v", tc.verdict, tc.inherited, tc.privileged)
	}
	require.Equal(t, alert.AlertID("a", "p1"), alert.AlertID("a", "p1"))
	require.NotEqual(t, alert.AlertID("a", "p1"), alert.AlertID("a", "p2"))
	require.NotEqual(t, alert.AlertID("a\x00p", "1"), alert.AlertID("a", "p\x001"))
}

func TestWebhookFireDedupResolve(t *testing.T) {
	h := newHookServer(t)
	rec := &memRecorder{}
	reg := prometheus.NewRegistry()
	cfg := quick(alert.Target{Name: "soc", Webhook: &alert.HTTPTarget{
		URL: h.URL + "/hook", Headers: map[string]string{"X-Source": "keytrail"},
		SecretHeader: "X-Keytrail-Token", SecretEnv: "TOKEN",
	}})
	n := newNotifier(t, cfg, alert.Options{Recorder: rec, Registerer: reg,
		Getenv: func(k string) string { return map[string]string{"TOKEN": "s3cret"}[k] }})
	ctx := context.Background()

	c := corr("prod/42", model.VerdictNoAssertion)
	for range 5 { // idempotent
		require.NoError(t, n.Handle(ctx, c))
	}
	require.NoError(t, n.Handle(ctx, corr("prod/43", model.VerdictVerified)))
	notPriv := corr("prod/44", model.VerdictNoAssertion)
	notPriv.Privileged = false
	require.NoError(t, n.Handle(ctx, notPriv))
	flush(t, n)

	reqs := h.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "s3cret", reqs[0].header.Get("X-Keytrail-Token"))
	require.Equal(t, "keytrail", reqs[0].header.Get("X-Source"))
	require.Equal(t, "application/json", reqs[0].header.Get("Content-Type"))
	p := decodeWebhook(t, reqs[0].body)
	require.Equal(t, "1", p.Version)
	require.Equal(t, "keytrail", p.Sender)
	require.Len(t, p.Alerts, 1)
	m := p.Alerts[0]
	id := alert.AlertID("prod/42", "p1")
	require.Equal(t, id, m.AlertID)
	require.Equal(t, model.AlertFiring, m.Status)
	require.Equal(t, "no_assertion", m.Verdict)
	require.Equal(t, "prod/42", m.ActionID)
	require.Equal(t, "alice@example.com", m.Person)
	require.Equal(t, "trigger", m.Action)
	require.Equal(t, "payments_etl", m.DagID)
	require.Equal(t, t0, m.StartsAt)
	require.True(t, m.EndsAt.IsZero())
	require.Equal(t, "https://keytrail.example.com/actions/prod%2F42", m.URL)
	require.Equal(t, "Privileged Airflow trigger on DAG payments_etl by alice@example.com was not key-verified (no_assertion)", m.Summary)
	require.Contains(t, m.Description, "no hardware-backed assertion within 15m0s")

	// A later verdict that is still unverified is the same alert: nothing new.
	c2 := corr("prod/42", model.VerdictWeakFactor)
	require.NoError(t, n.Handle(ctx, c2))
	flush(t, n)
	require.Len(t, h.requests(), 1)

	// A late assertion verifies it: one resolve, then idempotent.
	v := corr("prod/42", model.VerdictVerified)
	v.AssertionID = "okta-evt-9"
	for range 3 {
		require.NoError(t, n.Handle(ctx, v))
	}
	flush(t, n)
	reqs = h.requests()
	require.Len(t, reqs, 2)
	r := decodeWebhook(t, reqs[1].body).Alerts[0]
	require.Equal(t, model.AlertResolved, r.Status)
	require.Equal(t, id, r.AlertID)
	require.Equal(t, "no_assertion", r.Verdict, "keeps the verdict that fired")
	require.Equal(t, "verified", r.ResolvedVerdict)
	require.Equal(t, "okta-evt-9", r.ResolvedBy)
	require.False(t, r.EndsAt.IsZero())
	require.True(t, strings.HasPrefix(r.Summary, "Resolved: "))

	// Resolution is terminal, and out-of-order correlations are ignored.
	late := corr("prod/42", model.VerdictNoAssertion)
	require.NoError(t, n.Handle(ctx, late))
	old := corr("prod/42", model.VerdictNoAssertion)
	old.ComputedAt = time.Time{}.Add(time.Hour)
	require.NoError(t, n.Handle(ctx, old))
	flush(t, n)
	require.Len(t, h.requests(), 2)

	// A new policy version is a new alert.
	p2 := corr("prod/42", model.VerdictNoAssertion)
	p2.PolicyVersion = "p2"
	require.NoError(t, n.Handle(ctx, p2))
	flush(t, n)
	require.Len(t, h.requests(), 3)

	fired, ok := rec.latest(id, "soc", model.AlertFiring)
	require.True(t, ok)
	require.EqualValues(t, 1, fired.Attempts)
	require.False(t, fired.SentAt.IsZero())
	require.Equal(t, "prod/42", fired.ActionID)
	require.Equal(t, model.VerdictNoAssertion, fired.Verdict)
	resolved, ok := rec.latest(id, "soc", model.AlertResolved)
	require.True(t, ok)
	require.False(t, resolved.ResolvedAt.IsZero())
	require.False(t, resolved.SentAt.IsZero())
	require.Empty(t, resolved.LastError)

	require.Equal(t, 2.0, counter(t, reg, "keytrail_alerts_sent_total", map[string]string{"target": "soc", "status": "firing"}))
	require.Equal(t, 1.0, counter(t, reg, "keytrail_alerts_sent_total", map[string]string{"target": "soc", "status": "resolved"}))
}

func TestInheritedVerifiedResolves(t *testing.T) {
	h := newHookServer(t)
	n := newNotifier(t, quick(webhookTarget("w", h.URL)), alert.Options{})
	ctx := context.Background()
	run := corr("prod/run/1", model.VerdictInherited)
	run.Kind, run.RunID, run.Action, run.InheritedFrom, run.InheritedVerdict = model.KindRun, "scheduled__1", model.ActionRun, "prod/7", model.VerdictNoAssertion
	require.NoError(t, n.Handle(ctx, run))
	run.InheritedVerdict = model.VerdictVerified
	require.NoError(t, n.Handle(ctx, run))
	flush(t, n)
	var statuses []string
	for _, r := range h.requests() {
		for _, a := range decodeWebhook(t, r.body).Alerts {
			statuses = append(statuses, a.Status)
			require.Equal(t, "inherited", a.Verdict)
		}
	}
	require.Equal(t, []string{model.AlertFiring, model.AlertResolved}, statuses)
}

func TestVerifiedFirstNeverAlerts(t *testing.T) {
	h := newHookServer(t)
	n := newNotifier(t, quick(webhookTarget("w", h.URL)), alert.Options{})
	ctx := context.Background()
	require.NoError(t, n.Handle(ctx, corr("a", model.VerdictVerified)))
	require.NoError(t, n.Handle(ctx, corr("a", model.VerdictNoAssertion)))
	flush(t, n)
	require.Empty(t, h.requests())
}

func TestSlackPayload(t *testing.T) {
	h := newHookServer(t)
	cfg := quick(alert.Target{Name: "slack", Slack: &alert.HTTPTarget{URLEnv: "SLACK_URL"}})
	n := newNotifier(t, cfg, alert.Options{Getenv: func(string) string { return h.URL + "/services/T0/B0/xyz" }})
	c := corr("prod/1", model.VerdictStale)
	c.DagID = "<!channel> & co"
	require.NoError(t, n.Handle(context.Background(), c))
	flush(t, n)
	reqs := h.requests()
	require.Len(t, reqs, 1)
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].body, &msg))
	require.Contains(t, msg.Text, "was not key-verified (stale)")
	require.Contains(t, msg.Text, "&lt;!channel&gt; &amp; co", "Slack control sequences escaped")
	require.NotContains(t, string(reqs[0].body), "<!channel>")
	require.Len(t, msg.Blocks, 2)
	require.Equal(t, "header", msg.Blocks[0].Type)
	require.Equal(t, "plain_text", msg.Blocks[0].Text.Type)
	require.Equal(t, "section", msg.Blocks[1].Type)
	require.Equal(t, "mrkdwn", msg.Blocks[1].Text.Type)
	require.Contains(t, msg.Blocks[1].Text.Text, ":rotating_light:")
	require.Contains(t, msg.Blocks[1].Text.Text, "<https://keytrail.example.com/actions/prod%2F1|open in keytrail>")
}

func TestRetryThenSuccess(t *testing.T) {
	h := newHookServer(t, http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusOK)
	rec := &memRecorder{}
	reg := prometheus.NewRegistry()
	n := newNotifier(t, quick(webhookTarget("w", h.URL)), alert.Options{Recorder: rec, Registerer: reg})
	require.NoError(t, n.Handle(context.Background(), corr("a", model.VerdictNoAssertion)))
	flush(t, n)
	require.Len(t, h.requests(), 3)
	got, ok := rec.latest(alert.AlertID("a", "p1"), "w", model.AlertFiring)
	require.True(t, ok)
	require.EqualValues(t, 3, got.Attempts)
	require.False(t, got.SentAt.IsZero())
	require.Contains(t, got.LastError, "HTTP 429")
	var attempts []int64
	for _, r := range rec.records() {
		attempts = append(attempts, r.Attempts)
	}
	require.Equal(t, []int64{0, 1, 2, 3}, attempts, "queued, then every attempt recorded in order")
	require.Equal(t, 2.0, counter(t, reg, "keytrail_alert_failures_total", map[string]string{"target": "w"}))
	require.Equal(t, 1.0, counter(t, reg, "keytrail_alerts_sent_total", map[string]string{"target": "w", "status": "firing"}))
	require.EqualValues(t, 3, histogramCount(t, reg, "keytrail_alert_delivery_seconds"))
}

func TestRetryExhaustedAndPermanent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		codes    []int
		requests int
	}{
		{"5xx exhausts attempts", []int{502, 502, 502, 502}, 4},
		{"4xx is permanent", []int{400}, 1},
		{"redirect is not followed", []int{302}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHookServer(t, tc.codes...)
			rec := &memRecorder{}
			n := newNotifier(t, quick(webhookTarget("w", h.URL)), alert.Options{Recorder: rec})
			c := corr("a", model.VerdictNoAssertion)
			require.NoError(t, n.Handle(context.Background(), c))
			flush(t, n)
			require.Len(t, h.requests(), tc.requests)
			got, _ := rec.latest(alert.AlertID("a", "p1"), "w", model.AlertFiring)
			require.True(t, got.SentAt.IsZero())
			require.EqualValues(t, tc.requests, got.Attempts)
			require.Contains(t, got.LastError, "HTTP")
			// Given up: the next Handle queues it again (the server now answers 200).
			require.NoError(t, n.Handle(context.Background(), c))
			flush(t, n)
			require.Len(t, h.requests(), tc.requests+1)
			got, _ = rec.latest(alert.AlertID("a", "p1"), "w", model.AlertFiring)
			require.False(t, got.SentAt.IsZero())
		})
	}
}

func TestRateLimitCoalesces(t *testing.T) {
	h := newHookServer(t)
	reg := prometheus.NewRegistry()
	cfg := quick(webhookTarget("w", h.URL))
	cfg.RateLimit = alert.RateLimit{Max: 1, Per: time.Hour, Burst: 1, MaxBatch: 3}
	clock := clockwork.NewFakeClock()
	n, err := alert.New(cfg, alert.Options{Registerer: reg, Clock: clock})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, n.Handle(ctx, corr("a", model.VerdictNoAssertion)))
	h.waitRequests(t, 1) // the burst token
	for i := 1; i < 7; i++ {
		require.NoError(t, n.Handle(ctx, corr(string(rune('a'+i)), model.VerdictNoAssertion)))
	}
	bctx, bcancel := context.WithTimeout(ctx, 5*time.Second)
	defer bcancel()
	require.NoError(t, clock.BlockUntilContext(bctx, 1)) // no token for an hour: the worker waits, the rest queue
	require.Len(t, h.requests(), 1)
	require.Len(t, decodeWebhook(t, h.requests()[0].body).Alerts, 1)
	require.Equal(t, 6.0, gauge(t, reg, "keytrail_alert_queue_length", map[string]string{"target": "w"}))

	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, n.Close(cctx)) // flushes the queue in max_batch batches, ignoring the bucket
	var sizes []int
	seen := map[string]bool{}
	for _, r := range h.requests() {
		p := decodeWebhook(t, r.body)
		sizes = append(sizes, len(p.Alerts))
		for _, a := range p.Alerts {
			seen[a.ActionID] = true
		}
	}
	require.Equal(t, []int{1, 3, 3}, sizes)
	require.Len(t, seen, 7, "nothing dropped")
	require.ErrorIs(t, n.Handle(ctx, corr("z", model.VerdictNoAssertion)), alert.ErrClosed)
}

func TestRateLimitPaces(t *testing.T) {
	h := newHookServer(t)
	cfg := quick(webhookTarget("w", h.URL))
	cfg.RateLimit = alert.RateLimit{Max: 20, Per: time.Second, Burst: 1, MaxBatch: 1}
	clock := clockwork.NewFakeClock()
	n := newNotifier(t, cfg, alert.Options{Clock: clock})
	for i := range 5 {
		require.NoError(t, n.Handle(context.Background(), corr(string(rune('a'+i)), model.VerdictNoAssertion)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// 20/s with burst 1: one request, then one more per 50ms of the clock.
	for i := 1; i <= 5; i++ {
		h.waitRequests(t, i)
		if i == 5 {
			break
		}
		require.NoError(t, clock.BlockUntilContext(ctx, 1), "the worker waits for a token")
		require.Len(t, h.requests(), i, "no request before its token is due")
		clock.Advance(49 * time.Millisecond)
		require.NoError(t, clock.BlockUntilContext(ctx, 1))
		require.Len(t, h.requests(), i, "still not due")
		clock.Advance(time.Millisecond)
	}
}

func TestQueueFull(t *testing.T) {
	h := newHookServer(t)
	rec := &memRecorder{}
	cfg := quick(webhookTarget("w", h.URL))
	cfg.RateLimit = alert.RateLimit{Max: 1, Per: time.Hour, Burst: 1, MaxQueue: 2}
	n := newNotifier(t, cfg, alert.Options{Recorder: rec})
	ctx := context.Background()
	require.NoError(t, n.Handle(ctx, corr("a", model.VerdictNoAssertion)))
	flush(t, n) // the burst token is spent; none for an hour
	require.NoError(t, n.Handle(ctx, corr("b", model.VerdictNoAssertion)))
	require.NoError(t, n.Handle(ctx, corr("c", model.VerdictNoAssertion)))
	err := n.Handle(ctx, corr("d", model.VerdictNoAssertion))
	require.ErrorIs(t, err, alert.ErrQueueFull)
	got, ok := rec.latest(alert.AlertID("d", "p1"), "w", model.AlertFiring)
	require.True(t, ok, "rejected alert is recorded, not dropped silently")
	require.Equal(t, alert.ErrQueueFull.Error(), got.LastError)
}

func TestCloseDeadline(t *testing.T) {
	h := newHookServer(t)
	h.hang = true
	rec := &memRecorder{}
	cfg := quick(webhookTarget("w", h.URL))
	cfg.Retry.Timeout = time.Minute
	n, err := alert.New(cfg, alert.Options{Recorder: rec})
	require.NoError(t, err)
	require.NoError(t, n.Handle(context.Background(), corr("a", model.VerdictNoAssertion)))
	h.waitRequests(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = n.Close(ctx)
	require.ErrorIs(t, err, alert.ErrUndelivered)
	require.Contains(t, err.Error(), "1 alert deliveries failed")
	require.Less(t, time.Since(start), 3*time.Second)
	got, _ := rec.latest(alert.AlertID("a", "p1"), "w", model.AlertFiring)
	require.True(t, got.SentAt.IsZero())
	require.Contains(t, got.LastError, "undelivered")
}

func TestSecretsNotLogged(t *testing.T) {
	h := newHookServer(t)
	h.Close() // connection refused: errors quote the URL
	var logs bytes.Buffer
	env := map[string]string{"SLACK_URL": h.URL + "/services/T0/B0/tok3n-in-url", "TOKEN": "hunter2-secret"}
	cfg := quick(
		alert.Target{Name: "slack", Slack: &alert.HTTPTarget{URLEnv: "SLACK_URL"}},
		alert.Target{Name: "w", Webhook: &alert.HTTPTarget{URL: h.URL, SecretEnv: "TOKEN"}},
	)
	cfg.Retry.Attempts = 2
	rec := &memRecorder{}
	n := newNotifier(t, cfg, alert.Options{Recorder: rec, Getenv: func(k string) string { return env[k] },
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, n.Handle(context.Background(), corr("a", model.VerdictNoAssertion)))
	flush(t, n)
	require.Contains(t, logs.String(), `"err"`)
	require.Contains(t, logs.String(), `"target":"slack"`)
	require.NotContains(t, logs.String(), "tok3n-in-url")
	require.NotContains(t, logs.String(), "hunter2-secret")
	for _, r := range rec.records() {
		require.NotContains(t, r.LastError, "tok3n-in-url")
	}
	got, _ := rec.latest(alert.AlertID("a", "p1"), "slack", model.AlertFiring)
	require.Contains(t, got.LastError, "<redacted>")
}

func TestConcurrentHandle(t *testing.T) {
	h := newHookServer(t)
	n := newNotifier(t, quick(webhookTarget("w", h.URL)), alert.Options{Recorder: &memRecorder{}, Registerer: prometheus.NewRegistry()})
	ctx := context.Background()
	id := func(i int) string { return string(rune('a'+i%26)) + string(rune('0'+i/26)) }
	hammer := func(v model.Verdict, keep func(i int) bool) {
		done := make(chan struct{})
		for range 8 {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := range 50 {
					if keep(i) {
						require.NoError(t, n.Handle(ctx, corr(id(i), v)))
					}
				}
			}()
		}
		for range 8 {
			<-done
		}
	}
	hammer(model.VerdictNoAssertion, func(int) bool { return true })
	hammer(model.VerdictVerified, func(i int) bool { return i%3 == 0 })
	flush(t, n)
	count := map[string]int{}
	for _, r := range h.requests() {
		for _, a := range decodeWebhook(t, r.body).Alerts {
			count[a.AlertID+"/"+a.Status]++
		}
	}
	for k, c := range count {
		require.Equal(t, 1, c, "sent once: %s", k)
	}
	require.Len(t, count, 50+17, "50 fired, 17 resolved")
}

// counter reads a counter from reg.
func counter(tb testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	require.NoError(tb, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func gauge(tb testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	return counter(tb, reg, name, labels)
}

func histogramCount(tb testing.TB, reg *prometheus.Registry, name string) uint64 {
	tb.Helper()
	mfs, err := reg.Gather()
	require.NoError(tb, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			var n uint64
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
			return n
		}
	}
	return 0
}
