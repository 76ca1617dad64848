package warehouse

import (
	"context"
	"crypto/ed25519"
	"os"
	"runtime"
	"strconv"
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
// (KEYTRAIL_BENCH_EVENTS, default 1 000 000): half Airflow audit events, each
// correlated (so the population is half the events), half IdP assertions.
func benchEvents(b *testing.B) int64 {
	n := int64(1_000_000)
	if v := os.Getenv("KEYTRAIL_BENCH_EVENTS"); v != "" {
		var err error
		n, err = strconv.ParseInt(v, 10, 64)
		require.NoError(b, err, "KEYTRAIL_BENCH_EVENTS")
	}
	return n
}

// seedQuarter fills a quarter with n events using INSERT … SELECT FROM numbers.
func seedQuarter(b *testing.B, s store.Store, n int64, from, to time.Time) {
	ctx := context.Background()
	half := n / 2
	step := to.Sub(from).Milliseconds() / half
	ts := "fromUnixTimestamp64Milli(toInt64(" + strconv.FormatInt(from.UnixMilli(), 10) + " + number * " + strconv.FormatInt(step, 10) + "), 'UTC')"
	h := strconv.FormatInt(half, 10)
	for _, q := range []string{
		`INSERT INTO correlations (action_id, action_ts, instance, kind, channel, action, privileged, dag_id, actor, person, verdict,
			assertion_id, assertion_ts, assertion_age_ms, factor, authenticator_aaguid, authenticator_model, policy_version, reason, computed_at, version)
		SELECT concat('prod/', toString(number + 1)), ` + ts + `, 'prod', 'audit', 'ui', 'trigger', number % 3 = 0,
			concat('dag_', toString(number % 50)), concat('user', toString(number % 200)), concat('user', toString(number % 200), '@example.com'),
			['verified', 'verified', 'verified', 'weak_factor', 'stale', 'no_assertion'][number % 6 + 1],
			concat('okta-', toString(number)), ` + ts + `, 60000, 'webauthn', 'cb69481e-8ff7-4039-93ec-0a2729a154a8', 'YubiKey 5 Series',
			'bench', 'hardware assertion within max_age', ` + ts + `, 1
		FROM numbers(` + h + `)`,
		`INSERT INTO airflow_events (instance, event_log_id, ts, event, channel, action, human, privileged, actor, person, map_index, version)
		SELECT 'prod', number + 1, ` + ts + `, 'trigger', 'ui', 'trigger', 1, number % 3 = 0, concat('user', toString(number % 200)), '', -1, 1
		FROM numbers(` + h + `) WHERE number NOT IN (1000, 1001, 1002, 250000)`,
		`INSERT INTO auth_events (source, instance, event_id, ts, person, subject, email, category, outcome, factor, hardware, credential_id, version)
		SELECT 'okta', 'acme', concat('ev-', toString(number)), ` + ts + `, concat('user', toString(number % 200), '@example.com'),
			concat('00u', toString(number % 200)), concat('user', toString(number % 200), '@example.com'), 'mfa', 'success', 'webauthn', 1,
			concat('cred-', toString(number % 400)), 1
		FROM numbers(` + h + `)`,
	} {
		require.NoError(b, s.Exec(ctx, q))
	}
	require.NoError(b, New(s).SetCurrentPolicy(ctx, "bench", to))
	require.NoError(b, store.Cursors.Write(ctx, s, []model.Cursor{{Collector: "airflow/prod", Position: "event_log_id=" + h, UpdatedAt: to}}))
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
// (SELECT count() FROM (query)), and once streamed through ReportSource into
// no-op callbacks. Metrics: report_s, raw_queries_engine_s, raw_queries_source_s,
// rows/s (population rows per second of report), peak_heap_MB.
func BenchmarkReport(b *testing.B) {
	ctx := context.Background()
	n := benchEvents(b)
	s, err := store.Open(ctx, "chdb://"+chdbDir+"?database="+storetest.FreshDB(b))
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

	var reportDur, engineDur, sourceDur time.Duration
	var rows int64
	var peak uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		runtime.GC()
		stop := peakHeap()
		start := time.Now()
		m, err := w.Report(ctx, report.Options{From: from, To: to, SigningKey: key, GeneratedAt: to}, dir, nil)
		reportDur += time.Since(start)
		peak = max(peak, stop())
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
	b.ReportMetric(per(sourceDur), "raw_queries_source_s")
	b.ReportMetric(float64(rows)/per(reportDur), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MB")
	b.ReportMetric(float64(n), "events")
}
