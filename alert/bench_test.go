package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
)

// BenchmarkHandle measures alerts/s through a local webhook and the latency from
// Handle (correlation in) to the webhook receiving the alert: "burst" hands in
// b.N correlations back to back (latency includes queueing behind earlier
// alerts), "single" hands in one at a time and waits for it to arrive.
func BenchmarkHandle(b *testing.B) {
	b.Run("burst", func(b *testing.B) { benchHandle(b, false) })
	b.Run("single", func(b *testing.B) { benchHandle(b, true) })
}

func benchHandle(b *testing.B, single bool) {
	var (
		mu       sync.Mutex
		received = map[string]time.Time{}
	)
	h := newHookServer(b)
	h.onReq = func(body []byte) {
		now := time.Now()
		var p alert.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			b.Error(err)
			return
		}
		mu.Lock()
		for _, a := range p.Alerts {
			received[a.ActionID] = now
		}
		mu.Unlock()
	}
	cfg := quick(webhookTarget("bench", h.URL))
	cfg.RateLimit.MaxQueue = 1 << 20
	n := newNotifier(b, cfg, alert.Options{Recorder: &memRecorder{}})
	ctx := context.Background()
	in := make([]time.Time, b.N)
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "bench/" + strconv.Itoa(i)
	}
	c := corr("", model.VerdictNoAssertion)
	if !single {
		go func() {
			for range h.arrived {
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		c.ActionID = ids[i]
		in[i] = time.Now()
		if err := n.Handle(ctx, c); err != nil {
			b.Fatal(err)
		}
		if single {
			<-h.arrived
		}
	}
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := n.Flush(fctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	lat := make([]time.Duration, 0, b.N)
	for i, id := range ids {
		at, ok := received[id]
		if !ok {
			b.Fatalf("alert %s not received", id)
		}
		lat = append(lat, at.Sub(in[i]))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "alerts/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(len(h.requests()))/float64(b.N), "requests/alert")
	if single {
		h.mu.Lock()
		h.onReq = nil // the peer's requests are not alerts
		h.mu.Unlock()
		mu.Unlock()
		reportPeer(b, h.URL, h.requests()[0].body)
		mu.Lock()
	}
}

// reportPeer measures, in the same run, the peer of the alert path: a bare
// HTTP POST of the same payload to the same webhook (no dedup, queue, rate
// limit or recording), as peer_p50_ms and peer_p99_ms.
func reportPeer(b *testing.B, url string, body []byte) {
	const n = 200
	lat := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "peer_p50_ms")
	b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "peer_p99_ms")
}
