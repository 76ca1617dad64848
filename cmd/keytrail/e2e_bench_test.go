package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/config"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// e2eBenchPeople sizes BenchmarkEndToEnd's organisations:
// KEYTRAIL_BENCH_E2E_PEOPLE people (default 8) over one day.
func e2eBenchPeople() int {
	if v, err := strconv.Atoi(os.Getenv("KEYTRAIL_BENCH_E2E_PEOPLE")); err == nil && v >= 8 {
		return v
	}
	return 8
}

// e2eBenchDays is how many days the throughput rows' organisation spans:
// KEYTRAIL_BENCH_E2E_DAYS (default 7: 214,696 events of 8 people, the
// fault tests' scale). A day (28,051 events) is a 2–3 s run in which the
// one-time costs — each stream's first pages, the consumer group's join,
// the last batch's wait — are a third of the time; a service pays them
// once.
func e2eBenchDays() int {
	if v, err := strconv.Atoi(os.Getenv("KEYTRAIL_BENCH_E2E_DAYS")); err == nil && v >= 1 {
		return v
	}
	return 7
}

// e2eBenchRate is the latency mode's pace, in records listed per second:
// KEYTRAIL_BENCH_E2E_RATE (default 300).
func e2eBenchRate() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("KEYTRAIL_BENCH_E2E_RATE"), 64); err == nil && v > 0 {
		return v
	}
	return 300
}

// e2eBenchSeconds is how long the latency mode lists records:
// KEYTRAIL_BENCH_E2E_SECONDS (default 30).
func e2eBenchSeconds() time.Duration {
	if v, err := strconv.Atoi(os.Getenv("KEYTRAIL_BENCH_E2E_SECONDS")); err == nil && v > 0 {
		return time.Duration(v) * time.Second
	}
	return 30 * time.Second
}

// e2eSettings are the collect settings of the benchmark: collectors that
// poll every 100 ms, everything else collect's defaults.
func e2eSettings(bus, pipeline string) collectSettings {
	return collectSettings{bus: bus, pipeline: pipeline,
		poll: "{interval: 100ms, timeout: 10s, initial_backoff: 100ms, max_backoff: 1s}"}
}

// BenchmarkEndToEnd measures `keytrail collect` (wired as the command wires
// it: the real collectors, bus, sink and streaming correlator) against the
// provider emulators serving a generated organisation of
// KEYTRAIL_BENCH_E2E_PEOPLE people over KEYTRAIL_BENCH_E2E_DAYS days (the
// throughput rows) or one day (the latency row), collectors polling every
// 100 ms (250 ms in the latency mode: with the default 30 s interval, set
// for the providers' rate limits, collection alone would average 15 s),
// other settings collect's defaults (the latency mode scales the cursor
// save intervals to its paced clock so that they are the defaults in real
// time).
//
// Throughput (memory-chdb: the in-process bus into chDB; kafka-clickhouse:
// Kafka (kfake, driven by kafka-go) into the ClickHouse server): every
// record is listed from the start; events/s is the records stored over the
// time from start-up until every record the emulators list (and every
// inventory snapshot) is stored, the correlator off — less the one-time
// opening and migrating of the fresh store, which is reported on its own
// as startup_s (a service pays it once, not per batch); first_stored_s is
// from the start (after startup) to the first record stored, half_stored_s
// to half of them, last_write_gap_s from the store's last progress before
// the end to the end (the tail: the last batch's wait and write). Its peer, in the same
// run, is ClickHouse's own ceiling: the very rows stored, read back and
// inserted as INSERT … FORMAT JSONEachRow (the JSON built beforehand, in
// batches of the sink's size) into a fresh database of the same engine,
// three times: the median pass is jsoneachrow-ceiling-events/s, the others
// ceiling_slowest/fastest_events/s; x_ceiling is events/s over the median.
// peak_rss_MB is the process's peak resident set during the run, the
// embedded engine included; records/write and store_write_share (the
// sink's time preparing and storing writes over the run's: above 1 where
// one write's look-up overlapped the store of the one before) say where
// the time went;
// cursor_saves and cursor_inserts count the collectors' cursor saves and
// the inserts that wrote them (saves share inserts: warehouse.Cursors).
//
// Latency (latency-memory-chdb): the emulators' and collectors' clock runs
// faster than real time so that the organisation's working day (from
// 07:00, where the collectors start) is listed at KEYTRAIL_BENCH_E2E_RATE
// records/s on average, for KEYTRAIL_BENCH_E2E_SECONDS; the correlator
// runs and alerts go to a local webhook. verdict_p50/p99_ms is from the emulator listing an action's
// record (an audit row, a DAG run's first version) to the streaming
// correlator's first verdict on it; alert_p50/p99_ms to the webhook
// receiving its alert; verdicts_missing counts listed actions without a
// verdict by the end (5 s after the last listing); collect, store and
// correlate_p50/p99_ms split an audit action's time (latencyBreakdown);
// cursor_saves and cursor_inserts as in the throughput mode.
//
// Run: KEYTRAIL_REQUIRE_ENGINES=1 go test -run '^$' -bench EndToEnd
// -benchtime 1x ./cmd/keytrail/
func BenchmarkEndToEnd(b *testing.B) {
	people := e2eBenchPeople()
	days := e2eBenchDays()
	org, err := demo.Generate(demo.Config{People: people, Days: days, Seed: 41, Start: time.Now().UTC().Add(-time.Duration(days+2) * 24 * time.Hour)})
	require.NoError(b, err)
	srv := storetest.SharedServer(b)
	b.Run("memory-chdb", func(b *testing.B) {
		be := storetest.Backend{Name: "chdb", InsertFormat: storetest.InsertInline}
		benchThroughput(b, org, "bus: memory", be, func() string { return storetest.EmbeddedURL(b) })
	})
	b.Run("kafka-clickhouse", func(b *testing.B) {
		_, conn := kafkatest.Start(b)
		bus := fmt.Sprintf("bus: kafka\nkafka: {brokers: [%s], partitions: %d}", strings.Join(conn.Brokers, ", "), kafkatest.Partitions)
		be := storetest.Backend{Name: "clickhouse", InsertFormat: srv.InsertHTTP}
		benchThroughput(b, org, bus, be, func() string { return srv.URL(storetest.FreshDB(b)) })
	})
	b.Run("latency-memory-chdb", func(b *testing.B) {
		lorg, err := demo.Generate(demo.Config{People: people, Days: 1, Seed: 43, Start: time.Now().UTC().Add(-72 * time.Hour)})
		require.NoError(b, err)
		benchLatency(b, lorg, func() string { return storetest.EmbeddedURL(b) })
	})
}

// collectRunning is a `keytrail collect` run started by a benchmark.
type collectRunning struct {
	r    *collectRun
	w    *warehouse.Warehouse
	stop context.CancelFunc
	done chan error
	// startup is the time startCollect took to open and migrate the store.
	startup time.Duration
}

// startCollect runs collect with the config at path into the store at url,
// with e's hooks.
func startCollect(b *testing.B, e *env, path string) *collectRunning {
	b.Helper()
	ctx := context.Background()
	cfg, err := config.LoadFile(path)
	require.NoError(b, err)
	require.NoError(b, cfg.CheckSecrets())
	opened := time.Now()
	s, err := e.openMigrated(ctx)
	require.NoError(b, err)
	startup := time.Since(opened)
	b.Cleanup(func() { s.Close() })
	w := warehouse.New(s)
	r, err := newCollectRun(ctx, e, cfg, w)
	require.NoError(b, err)
	rctx, stop := context.WithCancel(ctx)
	c := &collectRunning{r: r, w: w, stop: stop, done: make(chan error, 1), startup: startup}
	go func() { c.done <- r.pipeline().Run(rctx) }()
	return c
}

// close stops the run and waits for it.
func (c *collectRunning) close(b *testing.B) {
	c.stop()
	require.NoError(b, <-c.done)
	require.NoError(b, closeNotifier(context.Background(), c.r.e, c.r.notifier))
	c.r.close(context.Background())
}

// benchEnv is the env of a benchmark's collect: logs discarded.
func benchEnv(url string) *env {
	return &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.DiscardHandler), storeURL: url}
}

// ceilingPasses is how many times the throughput rows insert their
// ceiling; the median pass is the peer.
const ceilingPasses = 3

func benchThroughput(b *testing.B, org *demo.Org, bus string, be storetest.Backend, freshURL func() string) {
	ctx := context.Background()
	var events int
	var own, ceiling, writeTime, startup, first, half, lastStep time.Duration
	var peak uint64
	var writes, cursorSaves, cursorInserts int64
	var ceilingSpread []float64 // each pass's events/s, slowest and fastest
	for range b.N {
		b.StopTimer()
		es, err := emulator.Start(org, emulator.Options{})
		require.NoError(b, err)
		cfgPath := emulatorConfigWith(b, es, org, e2eSettings(bus, "correlator: {enabled: false}"))
		target := listedRecords(b, es, org.Config().Start)
		url := freshURL()
		e := benchEnv(url)
		storetest.ResetPeakRSS(b)
		b.StartTimer()

		start := time.Now()
		c := startCollect(b, e, cfgPath)
		stored := func() int64 {
			var n int64
			for _, s := range c.r.sinks {
				n += s.Stats().Accepted
			}
			return n
		}
		deadline := time.Now().Add(10 * time.Minute)
		var firstAt, halfAt, prevStep, lastAt time.Time
		var seen int64
		for n := stored(); n < int64(target+snapshots(es)); n = stored() {
			if n > seen {
				prevStep, seen = time.Now(), n
			}
			if firstAt.IsZero() && n > 0 {
				firstAt = time.Now()
			}
			if halfAt.IsZero() && n >= int64(target/2) {
				halfAt = time.Now()
			}
			if time.Now().After(deadline) {
				b.Fatalf("stored %d records in 10 min, want %d listed and %d inventory snapshots", stored(), target, snapshots(es))
			}
			time.Sleep(20 * time.Millisecond)
		}
		lastAt = time.Now()
		took := lastAt.Sub(start) - c.startup
		b.StopTimer()
		startup += c.startup
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		first += firstAt.Sub(start) - c.startup
		if halfAt.IsZero() {
			halfAt = lastAt
		}
		half += halfAt.Sub(start) - c.startup
		if !prevStep.IsZero() {
			lastStep += lastAt.Sub(prevStep)
		}
		peak = max(peak, storetest.PeakRSS(b))
		n := stored()
		for _, s := range c.r.sinks {
			st := s.Stats()
			writes += st.Writes
			writeTime += st.WriteTime
		}
		own += took
		events += int(n)
		c.close(b)
		cs := c.w.Cursors().Stats()
		cursorSaves += cs.Saves
		cursorInserts += cs.Inserts
		require.NoError(b, es.Close())
		served, err := es.EventIDs()
		require.NoError(b, err)
		require.EqualValues(b, len(served)+snapshots(es), n, "every record served stored once")

		// The ceiling: the same rows, read back, as JSONEachRow into a
		// fresh database of the same engine, ceilingPasses times (the
		// median pass counts: one pass alone moved 35–67k events/s
		// between back-to-back runs on chDB).
		batches := storedBatches(b, c.w.S, pipeline.DefaultBatchSize)
		var inserts []storetest.Insert
		passes := make([]time.Duration, 0, ceilingPasses)
		for range ceilingPasses {
			peer := openMigrated(b, freshURL())
			if inserts == nil {
				inserts = storetest.JSONInserts(batches, peer.Dialect())
			}
			start = time.Now()
			for _, in := range inserts {
				require.NoError(b, be.InsertFormat(ctx, peer, in.Table, "JSONEachRow", in.Rows), in.Table)
			}
			passes = append(passes, time.Since(start))
			got, err := store.CountRows(ctx, peer, "SELECT count() FROM raw_records")
			require.NoError(b, err)
			require.EqualValues(b, n, got, "the ceiling stored every record")
		}
		slices.Sort(passes)
		ceiling += passes[len(passes)/2]
		ceilingSpread = append(ceilingSpread, float64(n)/passes[len(passes)-1].Seconds(), float64(n)/passes[0].Seconds())
		b.StartTimer()
	}
	b.StopTimer()
	rate := float64(events) / own.Seconds()
	peer := float64(events) / ceiling.Seconds()
	b.ReportMetric(float64(events/b.N), "events")
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(peer, "jsoneachrow-ceiling-events/s")
	b.ReportMetric(rate/peer, "x_ceiling")
	b.ReportMetric(slices.Min(ceilingSpread), "ceiling_slowest_events/s")
	b.ReportMetric(slices.Max(ceilingSpread), "ceiling_fastest_events/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak_rss_MB")
	b.ReportMetric(float64(events)/float64(writes), "records/write")
	b.ReportMetric(writeTime.Seconds()/own.Seconds(), "store_write_share")
	b.ReportMetric(startup.Seconds()/float64(b.N), "startup_s")
	b.ReportMetric(first.Seconds()/float64(b.N), "first_stored_s")
	b.ReportMetric(float64(cursorSaves)/float64(b.N), "cursor_saves")
	b.ReportMetric(float64(cursorInserts)/float64(b.N), "cursor_inserts")
	b.ReportMetric(half.Seconds()/float64(b.N), "half_stored_s")
	b.ReportMetric(lastStep.Seconds()/float64(b.N), "last_write_gap_s")
}

// listedRecords is how many records the emulators list now from the
// organisation's start: every listed event, and each DAG run once (in the
// version listed when it is polled).
func listedRecords(b *testing.B, es *emulator.Server, from time.Time) int {
	b.Helper()
	var feeds []*demo.Feed
	runs := map[string]bool{}
	now := time.Now()
	for _, f := range es.Data.Feeds() {
		if f.Stream != demo.StreamAirflowDagRuns {
			feeds = append(feeds, f)
			continue
		}
		for i, it := range f.Items {
			if es.Data.Listed(f, i, now) {
				runs[f.Instance+"/"+it.Subject] = true
			}
		}
	}
	return len(collecttest.Expected(b, feeds, es.Data, from, now)) + len(runs)
}

// snapshots counts the inventory snapshots the emulators served.
func snapshots(es *emulator.Server) int {
	n := 0
	for _, l := range es.Ledgers() {
		for _, k := range l.Snapshots() {
			n += k
		}
	}
	return n
}

// openMigrated opens and migrates the store at url.
func openMigrated(b *testing.B, url string) store.Store {
	b.Helper()
	s, err := store.Open(context.Background(), url)
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	_, err = schema.Migrate(context.Background(), s)
	require.NoError(b, err)
	return s
}

// storedBatches reads back every row the sink stored, in batches of size
// rows per table.
func storedBatches(b *testing.B, s store.Store, size int) []*ingest.Batch {
	b.Helper()
	var out []*ingest.Batch
	at := func(i int) *ingest.Batch {
		for len(out) <= i/size {
			out = append(out, &ingest.Batch{})
		}
		return out[i/size]
	}
	ctx := context.Background()
	read := func(err error) { require.NoError(b, err) }
	i := 0
	read(store.RawRecords.Read(ctx, s, "", nil, func(v model.RawRecord) error { at(i).Raw = append(at(i).Raw, v); i++; return nil }))
	i = 0
	read(store.AuthEvents.Read(ctx, s, "", nil, func(v model.AuthEvent) error { at(i).Auth = append(at(i).Auth, v); i++; return nil }))
	i = 0
	read(store.Authenticators.Read(ctx, s, "", nil, func(v model.Authenticator) error {
		at(i).Authenticators = append(at(i).Authenticators, v)
		i++
		return nil
	}))
	i = 0
	read(store.AirflowEvents.Read(ctx, s, "", nil, func(v model.AirflowEvent) error { at(i).Airflow = append(at(i).Airflow, v); i++; return nil }))
	i = 0
	read(store.DagRuns.Read(ctx, s, "", nil, func(v model.DagRun) error { at(i).Runs = append(at(i).Runs, v); i++; return nil }))
	i = 0
	read(store.DeadLetters.Read(ctx, s, "", nil, func(v model.DeadLetter) error { at(i).DeadLetters = append(at(i).DeadLetters, v); i++; return nil }))
	return out
}

// pacedClock is the emulators' and collectors' clock in the latency mode:
// the organisation's time from o0, running speed times faster than real
// time from t0. Waits (timers, tickers, Sleep) stay in real time, so the
// collectors poll at their configured interval.
type pacedClock struct {
	clockwork.Clock
	t0, o0 time.Time
	speed  float64
}

// Now is the organisation's time.
func (c *pacedClock) Now() time.Time {
	return c.o0.Add(time.Duration(float64(time.Since(c.t0)) * c.speed))
}

// Since is Now minus t.
func (c *pacedClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Until is t minus Now.
func (c *pacedClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// real returns the real time at which the clock shows org time at.
func (c *pacedClock) real(at time.Time) time.Time {
	return c.t0.Add(time.Duration(float64(at.Sub(c.o0)) / c.speed))
}

// actionListings returns when the emulators list each audit row and each
// DAG run's first version, by the correlator's action id.
func actionListings(d *emulator.Data) map[string]time.Time {
	out := map[string]time.Time{}
	for _, f := range d.Feeds() {
		for i, it := range f.Items {
			var id string
			switch f.Stream {
			case demo.StreamAirflowEventLogs:
				id = f.Instance + ":" + strconv.FormatInt(it.Seq, 10)
			case demo.StreamAirflowDagRuns:
				id = f.Instance + ":" + strings.Replace(it.Subject, "/", ":", 1)
			default:
				continue
			}
			at := d.ListedAt(f, i)
			if t, ok := out[id]; !ok || at.Before(t) {
				out[id] = at
			}
		}
	}
	return out
}

// firstSeen records when each id was first seen.
type firstSeen struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (f *firstSeen) see(id string, at time.Time) {
	f.mu.Lock()
	if _, ok := f.at[id]; !ok {
		f.at[id] = at
	}
	f.mu.Unlock()
}

// latencies returns, for each id seen whose record was listed, the time
// from its listing to when it was seen.
func (f *firstSeen) latencies(listed map[string]time.Time) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for id, at := range f.at {
		if l, ok := listed[id]; ok {
			out = append(out, at.Sub(l))
		}
	}
	slices.Sort(out)
	return out
}

func benchLatency(b *testing.B, org *demo.Org, freshURL func() string) {
	dir := b.TempDir()
	m, err := org.WriteFiles(dir, nil)
	require.NoError(b, err)
	window := e2eBenchSeconds()
	var verdictLat, alertLat []time.Duration
	var peak uint64
	var listedN, missing int
	var cursorSaves, cursorInserts int64
	parts := map[string][]time.Duration{}
	for range b.N {
		b.StopTimer()
		// The organisation's working day (12 hours from 07:00, when its
		// people start), listed at KEYTRAIL_BENCH_E2E_RATE records/s on
		// average over those hours; the collectors start at 07:00.
		data := emulator.NewData(org, emulator.Faults{})
		day0 := org.Config().Start.Add(7 * time.Hour)
		const day = 12 * time.Hour
		inDay := 0
		for _, f := range data.Feeds() {
			for i := range f.Items {
				if at := data.ListedAt(f, i); !at.Before(day0) && at.Before(day0.Add(day)) {
					inDay++
				}
			}
		}
		clock := &pacedClock{Clock: clockwork.NewRealClock(), o0: day0, speed: e2eBenchRate() * day.Seconds() / float64(inDay)}

		received := &firstSeen{at: map[string]time.Time{}}
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			var p alert.WebhookPayload
			if err := json.NewDecoder(r.Body).Decode(&p); err == nil {
				for _, a := range p.Alerts {
					if a.Status == "firing" {
						received.see(a.ActionID, now)
					}
				}
			}
			w.WriteHeader(http.StatusOK)
		}))
		verdicts := &firstSeen{at: map[string]time.Time{}}
		url := freshURL()
		code, _, errs := cli(b, "", "--store", url, "identities", "import", filepath.Join(dir, m.Mapping))
		require.Equal(b, 0, code, errs)

		clock.t0 = time.Now().Add(2 * time.Second) // the collectors start before the first record is listed
		es, err := emulator.Start(org, emulator.Options{Clock: clock})
		require.NoError(b, err)
		settings := e2eSettings("bus: memory", fmt.Sprintf(`correlator: {window: 720h}
alerts:
  rate_limit: {max: 1000, per: 1s, burst: 1000}
  targets:
    - name: bench
      webhook: {url: %q}`, hook.URL))
		// The collectors' clock is the paced one: their save_interval and
		// idle_save, timed on it, are scaled so that in real time they are
		// the defaults (1s, 30s) — unscaled, every page would save its
		// cursor.
		scaled := func(d time.Duration) time.Duration {
			return time.Duration(float64(d) * clock.speed).Round(time.Millisecond)
		}
		settings.poll = fmt.Sprintf("{interval: 250ms, timeout: 10s, initial_backoff: 100ms, max_backoff: 1s, save_interval: %s, idle_save: %s}",
			scaled(collect.DefaultSaveInterval), scaled(collect.DefaultIdleSave))
		settings.start = day0
		cfgPath := emulatorConfigWith(b, es, org, settings)
		e := benchEnv(url)
		e.liveUpdate = func(u correlate.Update) { verdicts.see(u.ActionID, time.Now()) }
		e.clock = clock
		storetest.ResetPeakRSS(b)
		b.StartTimer()
		c := startCollect(b, e, cfgPath)
		// Records are listed for window; what was listed is given a few
		// seconds more to come through.
		end := clock.t0.Add(window)
		time.Sleep(time.Until(end.Add(5 * time.Second)))
		b.StopTimer()
		peak = max(peak, storetest.PeakRSS(b))
		c.close(b)
		cs := c.w.Cursors().Stats()
		cursorSaves += cs.Saves
		cursorInserts += cs.Inserts
		require.NoError(b, es.Close())
		hook.Close()

		inWindow := func(at time.Time) bool { return !at.Before(day0) && clock.real(at).Before(end) }
		for _, f := range data.Feeds() {
			for i := range f.Items {
				if inWindow(data.ListedAt(f, i)) {
					listedN++
				}
			}
		}
		listed := map[string]time.Time{} // the actions (the generator's intents) listed in the window
		listings := actionListings(data)
		for _, it := range org.Intents() {
			if at, ok := listings[it.ActionID]; ok && inWindow(at) {
				listed[it.ActionID] = clock.real(at)
			}
		}
		v := verdicts.latencies(listed)
		a := received.latencies(listed)
		for k, d := range latencyBreakdown(b, c.w.S, clock, listed, verdicts) {
			parts[k] = append(parts[k], d...)
		}
		missing += len(listed) - len(v)
		b.Logf("listed %d records, %d actions in the window; %d verdicts (%d ids seen), %d alerts (%d ids seen)", listedN, len(listed), len(v), len(verdicts.at), len(a), len(received.at))
		require.NotEmpty(b, v, "verdicts")
		verdictLat = append(verdictLat, v...)
		alertLat = append(alertLat, a...)
	}
	slices.Sort(verdictLat)
	slices.Sort(alertLat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(listedN)/window.Seconds()/float64(b.N), "records/s")
	b.ReportMetric(float64(len(verdictLat)/b.N), "verdicts")
	b.ReportMetric(float64(missing/b.N), "verdicts_missing")
	b.ReportMetric(ms(verdictLat[len(verdictLat)/2]), "verdict_p50_ms")
	b.ReportMetric(ms(verdictLat[len(verdictLat)*99/100]), "verdict_p99_ms")
	b.ReportMetric(float64(len(alertLat)/b.N), "alerts")
	if len(alertLat) > 0 {
		b.ReportMetric(ms(alertLat[len(alertLat)/2]), "alert_p50_ms")
		b.ReportMetric(ms(alertLat[len(alertLat)*99/100]), "alert_p99_ms")
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak_rss_MB")
	b.ReportMetric(float64(cursorSaves)/float64(b.N), "cursor_saves")
	b.ReportMetric(float64(cursorInserts)/float64(b.N), "cursor_inserts")
	for _, k := range slices.Sorted(maps.Keys(parts)) {
		d := parts[k]
		slices.Sort(d)
		if len(d) > 0 {
			b.ReportMetric(ms(d[len(d)/2]), k+"_p50_ms")
			b.ReportMetric(ms(d[len(d)*99/100]), k+"_p99_ms")
		}
	}
}

// latencyBreakdown splits each listed audit action's listing → first verdict
// into where the time went, from what the store kept of its first row
// version: collect (listed → the collector received the page: received_at,
// on the paced clock, taken back to real time), store (received → the
// sink's write: the row's version, wall-clock milliseconds) and correlate
// (stored → the streaming correlator's first verdict).
func latencyBreakdown(b *testing.B, s store.Store, clock *pacedClock, listed map[string]time.Time, verdicts *firstSeen) map[string][]time.Duration {
	b.Helper()
	ctx := context.Background()
	out := map[string][]time.Duration{}
	// Audit rows only: a DAG run's row versions replace one another as its
	// state changes, and merges drop the first.
	for _, q := range []string{
		"SELECT concat(instance, ':', toString(event_log_id)), min(received_at), min(version) FROM airflow_events GROUP BY 1",
	} {
		rows, err := s.Query(ctx, q)
		require.NoError(b, err)
		for rows.Next() {
			var id string
			var recv time.Time
			var version uint64
			require.NoError(b, rows.Scan(&id, &recv, &version))
			at, ok := listed[id]
			if !ok {
				continue
			}
			verdicts.mu.Lock()
			seen, ok := verdicts.at[id]
			verdicts.mu.Unlock()
			if !ok {
				continue
			}
			got, wrote := clock.real(recv), time.UnixMilli(int64(version))
			out["collect"] = append(out["collect"], got.Sub(at))
			out["store"] = append(out["store"], wrote.Sub(got))
			out["correlate"] = append(out["correlate"], seen.Sub(wrote))
		}
		require.NoError(b, rows.Err())
		require.NoError(b, rows.Close())
	}
	return out
}
