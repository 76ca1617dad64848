package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
)

// memRecorder is an in-memory Recorder.
type memRecorder struct {
	mu  sync.Mutex
	all []model.Alert
}

func (r *memRecorder) RecordAlerts(_ context.Context, alerts []model.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, alerts...)
	return nil
}

// latest returns the last record for (alertID, target, status).
func (r *memRecorder) latest(alertID, target, status string) (model.Alert, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.all) - 1; i >= 0; i-- {
		a := r.all[i]
		if a.AlertID == alertID && a.Target == target && a.Status == status {
			return a, true
		}
	}
	return model.Alert{}, false
}

func (r *memRecorder) records() []model.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Alert(nil), r.all...)
}

// request is one request a hookServer received.
type request struct {
	header http.Header
	body   []byte
	at     time.Time
}

// hookServer is a local webhook receiver whose responses are scripted.
type hookServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	codes   []int // response status per request; 200 once exhausted
	hang    bool
	onReq   func(body []byte)
	arrived chan struct{}
}

func newHookServer(tb testing.TB, codes ...int) *hookServer {
	tb.Helper()
	h := &hookServer{codes: codes, arrived: make(chan struct{}, 1<<16)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, request{header: r.Header.Clone(), body: body, at: time.Now()})
		code := http.StatusOK
		if len(h.codes) > 0 {
			code, h.codes = h.codes[0], h.codes[1:]
		}
		hang, onReq := h.hang, h.onReq
		h.mu.Unlock()
		if onReq != nil {
			onReq(body)
		}
		h.arrived <- struct{}{}
		if hang {
			<-r.Context().Done()
			return
		}
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(code)
	}))
	tb.Cleanup(h.Close)
	return h
}

func (h *hookServer) requests() []request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]request(nil), h.reqs...)
}

// waitRequests waits until n requests arrived.
func (h *hookServer) waitRequests(tb testing.TB, n int) []request {
	tb.Helper()
	require.Eventually(tb, func() bool { return len(h.requests()) >= n }, 5*time.Second, time.Millisecond)
	return h.requests()
}

func decodeWebhook(tb testing.TB, b []byte) alert.WebhookPayload {
	tb.Helper()
	var p alert.WebhookPayload
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(tb, dec.Decode(&p))
	return p
}

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// corr is a privileged trigger by alice with the given verdict.
func corr(actionID string, v model.Verdict) model.Correlation {
	return model.Correlation{
		ActionID:      actionID,
		ActionTS:      t0,
		Instance:      "prod",
		Kind:          model.KindAudit,
		Channel:       model.ChannelUI,
		Action:        model.ActionTrigger,
		Privileged:    true,
		DagID:         "payments_etl",
		Actor:         "okta_00u1",
		Person:        "alice@example.com",
		Verdict:       v,
		PolicyVersion: "p1",
		Reason:        "no hardware-backed assertion within 15m0s",
		ComputedAt:    time.Now(),
	}
}

// quick is a config for one target with fast retries and no practical rate limit.
func quick(targets ...alert.Target) alert.Config {
	return alert.Config{
		LinkURL:   "https://keytrail.example.com/actions/{action_id}",
		RateLimit: alert.RateLimit{Max: 100000, Per: time.Second, Burst: 100000},
		Retry:     alert.Retry{Attempts: 4, InitialBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Timeout: 2 * time.Second},
		Targets:   targets,
	}
}

func webhookTarget(name, url string) alert.Target {
	return alert.Target{Name: name, Webhook: &alert.HTTPTarget{URL: url}}
}

func newNotifier(tb testing.TB, cfg alert.Config, o alert.Options) *alert.Notifier {
	tb.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n, err := alert.New(cfg, o)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n
}

func flush(tb testing.TB, n *alert.Notifier) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(tb, n.Flush(ctx))
}
