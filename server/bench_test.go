package server_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/server"
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
