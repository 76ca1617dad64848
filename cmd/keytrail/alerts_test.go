package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

// alertSink is a local webhook receiver that counts the alerts it got by
// status.
type alertSink struct {
	mu     sync.Mutex
	alerts []alert.Message
}

func (s *alertSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p alert.WebhookPayload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.alerts = append(s.alerts, p.Alerts...)
	s.mu.Unlock()
}

func (s *alertSink) count(status string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.alerts {
		if a.Status == status {
			n++
		}
	}
	return n
}

func writeAlertsConfig(t *testing.T, url string, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "alerts.yaml")
	require.NoError(t, os.WriteFile(p, []byte("retry: {attempts: 2, initial_backoff: 10ms, max_backoff: 20ms, timeout: 300ms}\n"+extra+
		"targets:\n  - name: soc\n    webhook:\n      url: "+url+"\n"), 0o600))
	return p
}

// TestAlertsDedupAcrossRuns: correlating the same store again delivers
// nothing already delivered; a verdict that turns verified sends its
// resolution once, on both engines.
func TestAlertsDedupAcrossRuns(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seedCorrelateStore(t, url, t0)
			sink := &alertSink{}
			srv := httptest.NewServer(sink)
			defer srv.Close()
			cfg := writeAlertsConfig(t, srv.URL, "dedup_window: 1s\n")
			correlate := func() {
				t.Helper()
				code, _, errs := cli(t, "", "--store", url, "correlate", "--quiet", "--alerts", cfg)
				require.Equal(t, 0, code, errs)
			}
			correlate()
			firing := sink.count(model.AlertFiring)
			require.Positive(t, firing)
			require.Zero(t, sink.count(model.AlertResolved))

			for range 2 {
				correlate()
				require.Equal(t, firing, sink.count(model.AlertFiring), "a second run re-sent delivered alerts")
				require.Zero(t, sink.count(model.AlertResolved))
			}

			// bob's stale clear turns verified: one resolution, once.
			ctx := context.Background()
			s, err := store.Open(ctx, url)
			require.NoError(t, err)
			require.NoError(t, store.AuthEvents.Write(ctx, s, []model.AuthEvent{{Source: model.SourceKeycloak, Instance: "main", EventID: "bob-late",
				TS: t0.Add(-time.Minute), Person: "bob", Subject: "bob", Category: model.CategoryLogin, Outcome: model.OutcomeSuccess,
				Factor: model.FactorWebAuthn, CredentialID: "cred-bob"}}))
			s.Close()
			for range 2 {
				correlate()
				require.Equal(t, firing, sink.count(model.AlertFiring))
				require.Equal(t, 1, sink.count(model.AlertResolved), "the resolution is sent once")
			}
			code, out, errs := cli(t, "", "--store", url, "sql", "SELECT status, count() FROM alerts FINAL WHERE sent_at IS NOT NULL GROUP BY status ORDER BY status")
			require.Equal(t, 0, code, errs)
			require.Equal(t, fmt.Sprintf("firing\t%d\nresolved\t1\n", firing-1), out)
		})
	}
}

// TestAlertsUndeliveredExitStatus: whatever stops delivery — an error
// status, a refused connection, a receiver that never answers — correlate
// exits 1 and says how many alerts were not delivered; the next run, with the
// receiver back, delivers them.
func TestAlertsUndeliveredExitStatus(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	url := storetest.EmbeddedURL(t)
	seedCorrelateStore(t, url, t0)

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release)
	port, err := storetest.FreePort()
	require.NoError(t, err)
	refused := fmt.Sprintf("http://127.0.0.1:%d/hook", port)

	for _, c := range []struct{ name, url string }{
		{"HTTP 500", failing.URL},
		{"connection refused", refused},
		{"hang", hanging.URL},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			code, _, errs := cli(t, "", "--store", url, "correlate", "--quiet", "--alerts", writeAlertsConfig(t, c.url, ""))
			require.Equal(t, 1, code, errs)
			require.Contains(t, errs, "alert deliveries failed")
			require.Contains(t, errs, "alerts undelivered")
			require.Less(t, time.Since(start), 30*time.Second)
		})
	}
	// With a receiver that works, the next run delivers what was not.
	sink := &alertSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	code, _, errs := cli(t, "", "--store", url, "correlate", "--quiet", "--alerts", writeAlertsConfig(t, srv.URL, ""))
	require.Equal(t, 0, code, errs)
	require.Positive(t, sink.count(model.AlertFiring))
	require.False(t, strings.Contains(errs, "undelivered"))
}
