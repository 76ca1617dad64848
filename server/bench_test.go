package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/server"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// memPublisher records published records (the bus taking them).
type memPublisher struct {
	mu sync.Mutex
	n  int
}

func (m *memPublisher) Publish(_ context.Context, recs ...bus.Record) error {
	m.mu.Lock()
	m.n += len(recs)
	m.mu.Unlock()
	return nil
}

// BenchmarkWebhookIntake measures Okta Event Hook deliveries over loopback
// (authentication, body read, JSON check, hand-off to the bus): requests/s
// and p99 latency to the bus, beside a bare echo handler answering 200 in
// the same run (peer-requests/s, peer-p99-ms).
func BenchmarkWebhookIntake(b *testing.B) {
	body := []byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + oktaEvent("bench-1") + `,` + oktaEvent("bench-2") + `]}}`)
	run := func(b *testing.B, url string, hdr map[string]string) (float64, float64) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		var mu sync.Mutex
		var lat []time.Duration
		start := time.Now()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		took := time.Since(start)
		slices.Sort(lat)
		p99 := float64(lat[len(lat)*99/100].Microseconds()) / 1000
		return float64(len(lat)) / took.Seconds(), p99
	}
	pub := &memPublisher{}
	hb := start(b, nil, func(_ *server.Config, d *server.Deps) { d.Publisher = pub })
	rps, p99 := run(b, hb.URL+"/v1/hooks/okta/acme", map[string]string{"Authorization": hb.secretOf("OKTA_HOOK")})
	b.ReportMetric(rps, "requests/s")
	b.ReportMetric(p99, "p99-ms")
	// Peer: a bare echo handler.
	e := echo.New()
	e.POST("/", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: e}
	go srv.Serve(ln)
	defer srv.Close()
	prps, pp99 := run(b, "http://"+ln.Addr().String()+"/", nil)
	b.ReportMetric(prps, "peer-requests/s")
	b.ReportMetric(pp99, "peer-p99-ms")
}

// BenchmarkCorrelationsPage pages through GET /v1/correlations over loopback
// on a chDB store seeded with KEYTRAIL_BENCH_EVENTS events (a quarter; half
// of them correlated actions): ten pages of 500 rows by keyset cursor for
// each of several filters (none, a verdict, a person, a DAG's privileged
// actions, a week). Metrics: p50-ms and p99-ms per page request, rows/s
// delivered, and the events and pages measured.
func BenchmarkCorrelationsPage(b *testing.B) {
	ctx := context.Background()
	n := storetest.BenchEvents(b)
	s, err := store.Open(ctx, storetest.EmbeddedURL(b))
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	_, err = schema.Migrate(ctx, s)
	require.NoError(b, err)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 3, 0)
	storetest.SeedQuarter(b, s, n, from, to)
	w := warehouse.New(s)
	require.NoError(b, w.SetCurrentPolicy(ctx, storetest.SeedPolicy, to))
	h := start(b, w, nil)
	auth := map[string]string{"Authorization": "Bearer " + h.token("kt-auditors")}
	filters := []string{
		"",
		"&verdict=weak_factor",
		"&person=user7@example.com",
		"&dag_id=dag_3&privileged=true",
		"&from=2026-02-01T00:00:00Z&to=2026-02-08T00:00:00Z",
	}
	var lat []time.Duration
	var rows int
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for _, f := range filters {
			next := h.URL + "/v1/correlations?limit=500" + f
			for p := 0; p < 10 && next != ""; p++ {
				t0 := time.Now()
				status, body, _ := do(b, http.MethodGet, next, nil, auth)
				lat = append(lat, time.Since(t0))
				require.Equal(b, http.StatusOK, status, string(body))
				var page struct {
					Items []json.RawMessage `json:"items"`
					Next  *string           `json:"next_cursor"`
				}
				require.NoError(b, json.Unmarshal(body, &page))
				require.NotEmpty(b, page.Items, "filter %q page %d", f, p)
				rows += len(page.Items)
				next = ""
				if page.Next != nil {
					next = h.URL + "/v1/correlations?limit=500" + f + "&cursor=" + url.QueryEscape(*page.Next)
				}
			}
		}
	}
	took := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
	b.ReportMetric(float64(n), "events")
	b.ReportMetric(float64(len(lat)), "pages")
}
