package correlation

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse/warehousetest"
)

// The benchmark organisation: benchPeople people whose events arrive at a
// fixed rate, 10M events in 30 days, so a larger KEYTRAIL_BENCH_EVENTS is a
// longer period of the same organisation (30M: a quarter), not a busier one.
const (
	benchPeople      = 20_000
	benchEventsPer30 = 10_000_000
)

// benchPeriod returns the period n bench events span.
func benchPeriod(n int64) (from, to time.Time) {
	from = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return from, from.Add(time.Duration(float64(30*24*time.Hour) * float64(n) / benchEventsPer30))
}

// seedCorrelateBench stores n events in [from, to) with INSERT … SELECT FROM
// numbers: half authentications (9 in 10 hardware WebAuthn, the rest
// passwords), half human Airflow actions (privileged and not, 1 in 97 by an
// unresolved actor), spread over benchPeople people.
func seedCorrelateBench(b testing.TB, s store.Store, n int64, from, to time.Time) {
	ctx := context.Background()
	half := n / 2
	people := strconv.FormatInt(benchPeople, 10)
	step := strconv.FormatInt(to.Sub(from).Milliseconds()/half, 10)
	ts := func(off int64) string {
		return "fromUnixTimestamp64Milli(toInt64(" + strconv.FormatInt(from.UnixMilli()+off, 10) + " + number * " + step + "), 'UTC')"
	}
	h := strconv.FormatInt(half, 10)
	for _, q := range []string{
		`INSERT INTO auth_events (source, instance, event_id, ts, person, subject, email, category, outcome, factor, hardware, credential_id, version)
		SELECT 'okta', 'acme', concat('ev-', toString(number)), ` + ts(0) + `, concat('u', toString(number % ` + people + `)),
			concat('00u', toString(number % ` + people + `)), '', 'mfa', 'success', if(number % 10 = 0, 'password', 'webauthn'),
			if(number % 10 = 0, NULL, 1), if(number % 10 = 0, '', concat('cred-', toString(number % ` + people + `))), 1
		FROM numbers(` + h + `)`,
		`INSERT INTO airflow_events (instance, event_log_id, ts, event, channel, action, human, privileged, actor, person, map_index, version)
		SELECT 'prod', number + 1, ` + ts(1234) + `, 'x', 'ui', ['trigger', 'view', 'clear', 'variable', 'view'][number % 5 + 1], 1, 0,
			concat('a', toString(number)), if(number % 97 = 0, '', concat('u', toString((number * 7 + intDiv(number, 13)) % ` + people + `))), -1, 1
		FROM numbers(` + h + `)`,
	} {
		require.NoError(b, s.Exec(ctx, q))
	}
}

// sqlVerdicts is the SQL peer: each audit action's verdict by two ASOF
// JOINs, to the person's latest hardware-backed assertion and latest
// authentication at or before the action plus clock skew (default policy:
// privileged max_age 15 min, others 12 h, skew 5 s, lookback 30 days).
const sqlVerdicts = `
SELECT concat(a.instance, ':', toString(a.event_log_id)) AS action_id,
    multiIf(a.person = '', 'unknown_identity',
        hw.hms >= a.ms - a.max_age, 'verified',
        au.ams >= a.ms - a.max_age, 'weak_factor',
        hw.hms >= a.ms - 2592000000, 'stale',
        'no_assertion') AS verdict
FROM (
    SELECT instance, event_log_id, person, toUnixTimestamp64Milli(ts) AS ms, ms + 5000 AS upto,
        if(action IN ('trigger', 'clear', 'mark_state', 'delete', 'pause', 'unpause', 'connection', 'variable', 'pool', 'user_admin', 'backfill'), 900000, 43200000) AS max_age
    FROM airflow_events FINAL WHERE human = 1 AND action != 'task_state' AND ts >= ? AND ts < ?
) AS a
ASOF LEFT JOIN (
    SELECT person, toUnixTimestamp64Milli(ts) AS hms FROM auth_events FINAL
    WHERE outcome = 'success' AND category IN ('login', 'mfa') AND factor = 'webauthn' AND hardware = 1 AND person != ''
) AS hw ON a.person = hw.person AND a.upto >= hw.hms
ASOF LEFT JOIN (
    SELECT person, toUnixTimestamp64Milli(ts) AS ams FROM auth_events FINAL
    WHERE outcome = 'success' AND category IN ('login', 'mfa') AND factor != 'none' AND person != ''
) AS au ON a.person = au.person AND a.upto >= au.ams`

// BenchmarkCorrelate correlates N stored events (KEYTRAIL_BENCH_EVENTS; the
// period grows with N, see benchPeriod) on chDB with Correlate
// (read, correlate.Sweep, write), and in the same run computes the same
// verdicts with one ClickHouse query (sqlVerdicts) and counts the actions on
// which both agree. Then it streams the first events (up to 500 000) through
// Live with writes. Metrics: actions/s (batch), sql_actions/s,
// ratio_to_sql (actions/s over sql_actions/s), agree_pct,
// batch_peak_rss_MB (the process's peak resident set during Correlate, the
// embedded engine included; the peak is reset just before),
// rss_before_MB (resident when Correlate starts: the engine's caches after
// seeding), batch_peak_heap_MB (Go heap), stream_events/s, add_p50_us /
// add_p99_us (event in → correlation out of the engine, the Add call,
// including the periodic batch writes), bytes/person; and where the batch
// run's time goes, each timed apart after it: correlate_s (the run),
// sql_s (the peer), read_only_s (the run's event reads alone: the same
// time-ordered streams drained), no_write_s (the run with its
// correlation writes dropped) and write_only_rows/s (the first writeSample
// of its correlations written again alone, in its batch size) beside
// engine_copy_rows/s (the engine inserting those rows from the table
// itself: the insert's cost without Go). KEYTRAIL_BENCH_WORKERS sets
// CorrelateOptions.Workers (default: GOMAXPROCS), for A/B runs of the sweep
// on one core and on both.
func BenchmarkCorrelate(b *testing.B) {
	ctx := context.Background()
	n := storetest.BenchEvents(b)
	w := warehousetest.Embedded(b)
	s := w.S
	from, to := benchPeriod(n)
	t0 := time.Now()
	seedCorrelateBench(b, s, n, from, to)
	storetest.Settle(b, s)
	b.Logf("seeded %d events over %s in %s", n, to.Sub(from), time.Since(t0).Round(time.Millisecond))
	p := correlate.DefaultPolicy()
	workers := 0
	if v := os.Getenv("KEYTRAIL_BENCH_WORKERS"); v != "" {
		var err error
		if workers, err = strconv.Atoi(v); err != nil || workers < 0 {
			b.Fatalf("KEYTRAIL_BENCH_WORKERS=%q: want a count of workers", v)
		}
	}

	var batchDur, sqlDur, readDur, noWriteDur, writeDur time.Duration
	var written int
	var copyDur time.Duration
	var actions, read int
	var peak, peakRSS, rssBefore uint64
	// One untimed read of everything first, so that the run and each
	// component after it all find the engine's caches warm.
	drainEvents(b, w, p, from, to)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		debug.FreeOSMemory()
		rssBefore = max(rssBefore, storetest.ResetPeakRSS(b))
		stop := correlateHeapPeak()
		start := time.Now()
		res, err := Correlate(ctx, w, p, CorrelateOptions{From: from, To: to, Workers: workers})
		batchDur += time.Since(start)
		peak = max(peak, stop())
		peakRSS = max(peakRSS, storetest.PeakRSS(b))
		require.NoError(b, err)
		actions = res.Actions

		start = time.Now()
		_, err = store.CountRows(ctx, s, "SELECT count() FROM (SELECT verdict, count() FROM ("+sqlVerdicts+") GROUP BY verdict)", from, to)
		sqlDur += time.Since(start)
		require.NoError(b, err)

		// Where Correlate's time goes: its event reads alone, and the
		// run without its writes.
		b.StopTimer()
		start = time.Now()
		read += drainEvents(b, w, p, from, to)
		readDur += time.Since(start)
		start = time.Now()
		kept := &discardWrites{Store: w, keep: writeSample}
		_, err = Correlate(ctx, kept, p, CorrelateOptions{From: from, To: to, Workers: workers})
		noWriteDur += time.Since(start)
		require.NoError(b, err)
		// The writes alone: a sample of the run's correlations written
		// again, under their own policy version, in the run's batch size.
		for i := range kept.kept {
			kept.kept[i].PolicyVersion = "bench-write-only"
		}
		start = time.Now()
		for part := range slices.Chunk(kept.kept, DefaultCorrelateWriteRows) {
			require.NoError(b, w.WriteCorrelations(ctx, part))
		}
		writeDur += time.Since(start)
		written += len(kept.kept)
		// The engine's own insert of those rows, no Go in the way.
		start = time.Now()
		require.NoError(b, s.Exec(ctx, "INSERT INTO correlations SELECT * REPLACE ('bench-engine-copy' AS policy_version) FROM (SELECT * FROM correlations WHERE policy_version = 'bench-write-only')"))
		copyDur += time.Since(start)
		b.StartTimer()
	}
	b.StopTimer()
	agree, err := store.CountRows(ctx, s, "SELECT countIf(c.verdict = q.verdict) FROM correlations AS c FINAL INNER JOIN ("+sqlVerdicts+") AS q ON c.action_id = q.action_id WHERE c.policy_version = ?", from, to, p.Version())
	require.NoError(b, err)
	sqlRows, err := store.CountRows(ctx, s, "SELECT count() FROM ("+sqlVerdicts+")", from, to)
	require.NoError(b, err)
	if agree != int64(actions) || sqlRows != int64(actions) {
		rows, err := s.Query(ctx, "SELECT c.verdict, q.verdict, count() FROM correlations AS c FINAL INNER JOIN ("+sqlVerdicts+") AS q ON c.action_id = q.action_id WHERE c.policy_version = ? AND c.verdict != q.verdict GROUP BY c.verdict, q.verdict", from, to, p.Version())
		if err == nil {
			for rows.Next() {
				b.Logf("disagree: %v", rows.Values())
			}
			rows.Close()
		}
	}
	secs := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(float64(n), "events")
	b.ReportMetric(float64(actions)/secs(batchDur), "actions/s")
	b.ReportMetric(float64(actions)/secs(sqlDur), "sql_actions/s")
	b.ReportMetric(100*float64(agree)/float64(max(actions, 1)), "agree_pct")
	b.ReportMetric(float64(peak)/(1<<20), "batch_peak_heap_MB")
	b.ReportMetric(float64(peakRSS)/(1<<20), "batch_peak_rss_MB")
	b.ReportMetric(float64(rssBefore)/(1<<20), "rss_before_MB")
	b.ReportMetric(secs(sqlDur)/secs(batchDur), "ratio_to_sql")
	b.ReportMetric(secs(batchDur), "correlate_s")
	b.ReportMetric(secs(sqlDur), "sql_s")
	b.ReportMetric(secs(readDur), "read_only_s")
	b.ReportMetric(secs(noWriteDur), "no_write_s")
	b.ReportMetric(float64(written)/writeDur.Seconds(), "write_only_rows/s")
	b.ReportMetric(float64(written)/copyDur.Seconds(), "engine_copy_rows/s")
	b.Logf("components: the event reads alone %s (%d events), Correlate without its writes %s",
		(readDur / time.Duration(b.N)).Round(time.Millisecond), read/b.N, (noWriteDur / time.Duration(b.N)).Round(time.Millisecond))
	b.Logf("batch: %d actions in %s; SQL peer: %d actions in %s; agree on %d", actions, (batchDur / time.Duration(b.N)).Round(time.Millisecond),
		sqlRows, (sqlDur / time.Duration(b.N)).Round(time.Millisecond), agree)

	// streaming: the stored events in time order through Live (with writes).
	ld, err := newLoader(ctx, w, p, from, to, 0)
	require.NoError(b, err)
	var evs []any
	limit := 500_000
	for ev := range ld.merged() {
		evs = append(evs, ev)
		if len(evs) == limit {
			break
		}
	}
	require.NoError(b, ld.err())
	p2 := p
	p2.Grace = p.Grace + time.Millisecond // its own policy version: the batch rows stay
	l, err := NewLive(ctx, w, p2, LiveOptions{})
	require.NoError(b, err)
	lat := make([]time.Duration, 0, len(evs))
	start := time.Now()
	for _, ev := range evs {
		t := time.Now()
		require.NoError(b, l.Add(ctx, ev))
		switch ev.(type) {
		case *model.AirflowEvent, *model.DagRun: // actions: their correlation comes out of this Add
			lat = append(lat, time.Since(t))
		}
	}
	streamDur := time.Since(start)
	// The engine's state is the heap it holds: measured with the Live
	// alive, then after dropping it (the events fed stay alive in both).
	runtime.GC()
	var with, without runtime.MemStats
	runtime.ReadMemStats(&with)
	st := l.Stats()
	require.NoError(b, l.Close(ctx))
	l = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	runtime.KeepAlive(evs)
	slices.Sort(lat)
	b.ReportMetric(float64(len(evs))/streamDur.Seconds(), "stream_events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "add_p50_us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "add_p99_us")
	if st.Engine.TrackedPersons > 0 {
		b.ReportMetric(float64(int64(with.HeapAlloc)-int64(without.HeapAlloc))/float64(st.Engine.TrackedPersons), "bytes/person")
	}
	b.Logf("stream: %d events in %s, %d correlation rows written, %d persons tracked, %d events held", len(evs), streamDur.Round(time.Millisecond),
		st.Written, st.Engine.TrackedPersons, st.Engine.EventsHeld)
}

// writeSample is how many correlations BenchmarkCorrelate writes again
// alone to time the writes (write_only_rows/s).
const writeSample = 200_000

// discardWrites is a Store whose correlation writes are dropped (the first
// keep of them kept): Correlate over it times reading and correlating alone.
type discardWrites struct {
	Store
	keep int
	kept []model.Correlation
}

func (d *discardWrites) WriteCorrelations(_ context.Context, cs []model.Correlation) error {
	if n := min(len(cs), d.keep-len(d.kept)); n > 0 {
		d.kept = append(d.kept, cs[:n]...)
	}
	return nil
}

// drainEvents reads every event a Correlate run of [from, to) reads, in
// the same time-ordered streams, and returns how many.
func drainEvents(b *testing.B, w Store, p correlate.Policy, from, to time.Time) int {
	b.Helper()
	l, err := newLoader(context.Background(), w, p, from, to, 0)
	require.NoError(b, err)
	n := 0
	for range l.merged() {
		n++
	}
	require.NoError(b, l.err())
	return n
}

// correlateHeapPeak samples the heap in use until the returned stop is called.
func correlateHeapPeak() (stop func() uint64) {
	done := make(chan uint64)
	quit := make(chan struct{})
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-quit:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(quit); return <-done }
}
