package pipeline_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/memory"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// embeddedPipeline wires the embedded default: the in-process bus, one sink
// into w, the streaming correlator and the status writer.
type embeddedPipeline struct {
	bus    *memory.Bus
	sink   *pipeline.Sink
	live   *correlation.Live
	status *pipeline.Status
	p      *pipeline.Pipeline
}

// progress, when not nil, is the correlator's per-source progress
// (CorrelatorConfig.Progress).
func newEmbedded(t testing.TB, w *warehouse.Warehouse, since time.Time, log *logBuffer, progress func(context.Context) (map[correlate.SourceKey]time.Time, error)) *embeddedPipeline {
	t.Helper()
	ctx := context.Background()
	b := memory.New(0)
	sub := b.Subscribe()
	t.Cleanup(func() { sub.Close(); b.Close() })
	live, err := correlation.NewLive(ctx, w, correlate.DefaultPolicy(), correlation.LiveOptions{PollOverlap: 10 * time.Second})
	require.NoError(t, err)
	o := pipeline.Options{Logger: log.logger()}
	corr := pipeline.NewCorrelator(pipeline.CorrelatorConfig{Since: since, Interval: time.Second, MinInterval: 50 * time.Millisecond,
		Progress: progress}, live, o)
	st := pipeline.NewStatus([]model.SourceStatus{{Name: "okta-acme", Type: "okta", Source: model.SourceOkta, Instance: "okta-main"}})
	so := o
	so.Status = st
	so.Stored = func([]bus.Record, pipeline.Results) { corr.Notify() }
	sink := pipeline.NewSink(pipeline.SinkConfig{MaxWait: 20 * time.Millisecond}, sub, newWriter(t, w), so)
	sw := pipeline.NewStatusWriter(st, w, time.Second, o)
	return &embeddedPipeline{bus: b, sink: sink, live: live, status: st, p: &pipeline.Pipeline{
		Stages: []pipeline.Stage{
			{Name: "sink", Components: []pipeline.Component{sink}},
			{Name: "correlator", Components: []pipeline.Component{corr, sw}},
		},
		ShutdownTimeout: time.Minute,
		Logger:          o.Logger,
	}}
}

// TestEmbedded: collectors publish an organisation to the in-process bus;
// each Publish returns only once its records are stored; the sink stores
// every record once into chDB; the streaming correlator's verdicts are the
// generator's intent; the sources' status is written; and the pipeline
// stops cleanly in order.
//
// The correlator is told how far each source is stored, as `keytrail
// collect` tells it (pipeline.Progress): the time of the last record
// published. Without it, an action is final once any event more than
// grace later is seen, and a poll may see part of a batch — one source
// instance's rows, one table's — before the rest: a run was then judged
// before its instance's enabling action was read (unattributed, batch and
// intent inherited; 1 to 2 runs in 8 under load).
func TestEmbedded(t *testing.T) {
	o := smallOrg(t)
	w := embedded(t)
	o.mapping(t, w)
	var log logBuffer
	idps, airflow := o.collectors(t)
	var mu sync.Mutex
	progress := map[correlate.SourceKey]time.Time{}
	for _, recs := range o.files {
		for _, r := range recs {
			progress[correlate.SourceKey{Source: r.Source, Instance: r.Instance}] = time.Time{}
		}
	}
	advance := func(src model.Source, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for k, t := range progress {
			if k.Source == src && at.After(t) {
				progress[k] = at
			}
		}
	}
	e := newEmbedded(t, w, o.manifest.Start.Add(-24*time.Hour), &log, func(context.Context) (map[correlate.SourceKey]time.Time, error) {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(progress), nil
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.p.Run(ctx) }()

	// Collectors publish pages of 25 records; each Publish returns once
	// they are stored. Identity providers first (until identities do not
	// depend on arrival order), then every Airflow instance's audit log and
	// DAG runs together, in time order, as its poller would.
	published := 0
	var wg sync.WaitGroup
	for _, recs := range idps {
		published += len(recs)
		wg.Go(func() {
			for i := 0; i < len(recs); i += 25 {
				require.NoError(t, e.bus.Publish(ctx, recs[i:min(i+25, len(recs))]...))
			}
		})
	}
	wg.Wait()
	for _, recs := range idps {
		advance(recs[0].Source, o.manifest.Start.Add(10*365*24*time.Hour)) // every record published and stored
	}
	var afFiles [][]bus.Record
	for _, recs := range o.files {
		if len(recs) > 0 && recs[0].Source == model.SourceAirflow {
			afFiles = append(afFiles, recs)
		}
	}
	timed := timedEvents(t, afFiles)
	require.Len(t, timed, len(airflow[0]))
	published += len(timed)
	for i := 0; i < len(timed); i += 25 {
		page := timed[i:min(i+25, len(timed))]
		recs := make([]bus.Record, len(page))
		for j, x := range page {
			recs[j] = x.rec
		}
		require.NoError(t, e.bus.Publish(ctx, recs...))
		advance(model.SourceAirflow, page[len(page)-1].at) // in time order: every record up to it stored
	}
	requireStoredOnce(t, w, o) // every Publish has returned: all stored
	require.EqualValues(t, published, e.sink.Stats().Records)

	stop()
	require.NoError(t, <-done)
	require.Contains(t, log.String(), "pipeline stopped")
	require.NotContains(t, log.String(), "unavailable")

	// The streaming verdicts are the generator's intent.
	ctx = context.Background()
	intent := map[string]model.Verdict{}
	for _, it := range o.org.Intents() {
		intent[it.ActionID] = it.Verdict
	}
	got := map[string]model.Verdict{}
	err := store.Correlations.Read(ctx, w.S, "WHERE policy_version = ?", []any{e.live.PolicyVersion()}, func(c model.Correlation) error {
		got[c.ActionID] = c.Verdict
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, len(intent))
	mismatch := 0
	for id, v := range intent {
		if got[id] != v {
			mismatch++
			if mismatch < 5 {
				t.Errorf("%s: verdict %s, intended %s", id, got[id], v)
			}
		}
	}
	if mismatch > 0 {
		_, err := correlation.Correlate(ctx, w, correlate.DefaultPolicy(), correlation.CorrelateOptions{})
		require.NoError(t, err)
		batch := map[string]model.Verdict{}
		require.NoError(t, store.Correlations.Read(ctx, w.S, "WHERE policy_version = ?", []any{e.live.PolicyVersion()}, func(c model.Correlation) error {
			batch[c.ActionID] = c.Verdict
			return nil
		}))
		for id, v := range intent {
			if got[id] != v || batch[id] != v {
				t.Logf("%s: streaming %s batch %s intent %s", id, got[id], batch[id], v)
			}
		}
	}
	require.Zero(t, mismatch, "of %d actions", len(intent))
	cur, err := w.CurrentPolicy(ctx)
	require.NoError(t, err)
	require.Equal(t, e.live.PolicyVersion(), cur, "closing the correlator makes its policy current")

	// The status writer wrote every source instance's tally.
	st, err := w.SourceStatus(ctx)
	require.NoError(t, err)
	stored := map[string]int64{}
	for _, s := range st {
		stored[string(s.Source)+"/"+s.Instance] += s.Stored
		require.False(t, s.UpdatedAt.IsZero())
	}
	var total int64
	for _, n := range stored {
		total += n
	}
	require.EqualValues(t, o.manifest.Expected.Stored, total)
	require.Contains(t, stored, "okta/okta-main")
}

// TestSinkShutdownBound: asked to stop while ClickHouse is down (killed),
// the sink gives up within FlushTimeout with ErrUnflushed, commits
// nothing, says so once, and the records go back to the bus for the next
// sink, which stores them once the server is back.
func TestSinkShutdownBound(t *testing.T) {
	o := smallOrg(t)
	srv := ownServer(t)
	w := open(t, srv.URL("sinkstop"))
	wr := newWriter(t, w)
	b := memory.New(0)
	defer b.Close()
	sub := b.Subscribe()
	var log logBuffer
	srv.Kill()
	sink := pipeline.NewSink(pipeline.SinkConfig{MaxWait: 10 * time.Millisecond, FlushTimeout: 300 * time.Millisecond,
		Backoff: pipeline.Backoff{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond}}, sub, wr, pipeline.Options{Logger: log.logger()})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	published := make(chan error, 1)
	recs := o.files[0]
	go func() { published <- b.Publish(context.Background(), recs...) }()
	require.Eventually(t, func() bool { return sink.Stats().StoreFailures >= 3 }, 30*time.Second, 10*time.Millisecond)
	stop()
	start := time.Now()
	err := <-done
	require.ErrorIs(t, err, pipeline.ErrUnflushed)
	require.Less(t, time.Since(start), 5*time.Second, "stops within its flush bound")
	require.Zero(t, sink.Stats().Commits)
	require.Equal(t, 1, strings.Count(log.String(), "store unavailable"), "one log line per outage:\n%s", log.String())
	select {
	case err := <-published:
		t.Fatalf("Publish returned %v though nothing was stored", err)
	default:
	}
	require.NoError(t, sub.Close()) // the stopped sink's records go back to the bus

	// A new sink takes them over once the server is back; Publish returns.
	require.NoError(t, srv.Start())
	sub2 := b.Subscribe()
	defer sub2.Close()
	sink2 := pipeline.NewSink(pipeline.SinkConfig{MaxWait: 10 * time.Millisecond}, sub2, wr, pipeline.Options{})
	ctx2, stop2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- sink2.Run(ctx2) }()
	require.NoError(t, <-published)
	stop2()
	require.NoError(t, <-done2)
	require.EqualValues(t, len(recs), sink2.Stats().Records)
	require.EqualValues(t, o.manifest.Files[0].Records-o.manifest.Files[0].Malformed, count(t, w, "SELECT count() FROM raw_records FINAL"))
}

// ownServer starts a private ClickHouse server for a test that kills it.
func ownServer(t testing.TB) *storetest.Server {
	t.Helper()
	srv, err := storetest.StartServer()
	if err != nil {
		storetest.Missing(t, "ClickHouse server: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}
