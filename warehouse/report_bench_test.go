package warehouse

import (
	"context"
	"crypto/ed25519"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

// benchEvents is the number of stored events of the report benchmark
// (storetest.BenchEvents): half Airflow audit events, each correlated (so
// the population is half the events), half IdP assertions.
func benchEvents(b *testing.B) int64 { return storetest.BenchEvents(b) }

// seedQuarter fills a quarter with n events (storetest.SeedQuarter), makes
// its policy current and waits (up to ten minutes) until the engine has
// finished merging what the seeding wrote, so the report and its peers,
// timed one after the other, all read a settled store.
func seedQuarter(b *testing.B, s store.Store, n int64, from, to time.Time) {
	ctx := context.Background()
	storetest.SeedQuarter(b, s, n, from, to)
	require.NoError(b, New(s).SetCurrentPolicy(ctx, storetest.SeedPolicy, to))
	storetest.Settle(b, s)
}

// peakHeap samples the heap in use until stop is closed.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// BenchmarkReport writes the whole evidence pack for a quarter on chDB and, in
// the same run, times the pack's queries alone: once counted inside the engine
// (SELECT count() FROM (query)), once with every column computed and
// serialized in the engine but discarded there (query FORMAT Null: what the
// engine must do before any row reaches Go — count() lets it skip reading the
// text columns), and once streamed through ReportSource into no-op callbacks.
// Metrics: report_s, raw_queries_engine_s, raw_queries_engine_full_s,
// raw_queries_source_s, rows/s (population rows per second of report),
// peak_heap_MB, peak_rss_MB (of the report, the engine's memory included).
func BenchmarkReport(b *testing.B) {
	ctx := context.Background()
	n := benchEvents(b)
	s, err := store.Open(ctx, storetest.EmbeddedURL(b))
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	_, err = schema.Migrate(ctx, s)
	require.NoError(b, err)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 3, 0)
	t0 := time.Now()
	seedQuarter(b, s, n, from, to)
	b.Logf("seeded %d events in %s", n, time.Since(t0).Round(time.Millisecond))
	w := New(s)
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	q := report.Query{From: from, To: to}

	var reportDur, engineDur, fullDur, sourceDur time.Duration
	var rows int64
	var peak, peakRSS uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		runtime.GC()
		stop := peakHeap()
		storetest.ResetPeakRSS(b)
		start := time.Now()
		m, err := w.Report(ctx, report.Options{From: from, To: to, SigningKey: key, GeneratedAt: to}, dir, nil)
		reportDur += time.Since(start)
		peak = max(peak, stop())
		peakRSS = max(peakRSS, storetest.PeakRSS(b))
		require.NoError(b, err)
		for _, mq := range m.Queries {
			if mq.Name == report.QueryCorrelations {
				rows = mq.Rows
			}
		}

		b.StopTimer()
		src, err := w.ReportSource(ctx, "")
		require.NoError(b, err)
		start = time.Now()
		vals := src.vals(q)
		for _, name := range []string{report.QueryCorrelations, report.QueryAuthenticators, report.QueryCoverage} {
			rq := src.q[name]
			_, err := store.CountRows(ctx, s, "SELECT count() FROM ("+rq.sql+")", src.args(rq, vals)...)
			require.NoError(b, err, name)
		}
		engineDur += time.Since(start)
		start = time.Now()
		for _, name := range []string{report.QueryCorrelations, report.QueryAuthenticators, report.QueryCoverage} {
			rq := src.q[name]
			require.NoError(b, s.Exec(ctx, rq.sql+" FORMAT Null", src.args(rq, vals)...), name)
		}
		fullDur += time.Since(start)
		start = time.Now()
		require.NoError(b, src.Correlations(ctx, q, func(model.Correlation) error { return nil }))
		require.NoError(b, src.Authenticators(ctx, q, func(report.AuthenticatorRow) error { return nil }))
		_, err = src.Coverage(ctx, q)
		require.NoError(b, err)
		sourceDur += time.Since(start)
		b.StartTimer()
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(reportDur), "report_s")
	b.ReportMetric(per(engineDur), "raw_queries_engine_s")
	b.ReportMetric(per(fullDur), "raw_queries_engine_full_s")
	b.ReportMetric(per(sourceDur), "raw_queries_source_s")
	b.ReportMetric(float64(rows)/per(reportDur), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MB")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak_rss_MB")
	b.ReportMetric(float64(n), "events")
}
