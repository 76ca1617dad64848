package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// poisonEvery puts a record no normalizer reads before every this many
// events of the fault stream: each must become one dead letter.
const poisonEvery = 20_000

// faultBatch is the sinks' batch size in the fault tests.
const faultBatch = 5000

// TestKafkaFaultsAtScale sends the fault tests' organisation
// (collecttest.FaultOrg: KEYTRAIL_FAULT_EVENTS, default 200,000 events,
// plus a poisoned record every 20,000) through Kafka (kfake, driven by
// kafka-go) into a private ClickHouse server, with the streaming
// correlator following the sink. A third of the way in, the server is
// killed with SIGKILL and restarted on the same data directory and ports;
// two thirds in, the sink is killed mid-batch — cancelled, with no time to
// flush, right after one of a batch's store writes, so that the batch is
// partly stored and not committed — and a new member of the group takes
// over, storing the batch again, once. Afterwards every event is stored exactly
// once, every poisoned record is one dead letter, and the streaming
// verdicts (after a catch-up run) equal a batch correlate over the same
// rows, which are the generator's intent.
func TestKafkaFaultsAtScale(t *testing.T) {
	began := time.Now()
	ctx := context.Background()
	org := collecttest.FaultOrg(t)
	want := collecttest.FeedIDs(t, org)
	var all []bus.Record
	poisoned := 0
	for i, r := range collecttest.FeedRecords(org, receivedBase) {
		if i > 0 && i%poisonEvery == 0 {
			all = append(all, bus.Record{Source: r.Source, Instance: r.Instance, ReceivedAt: receivedBase, Origin: fmt.Sprintf("poison#%d", i),
				Raw: fmt.Appendf(nil, `{"keytrail_fault": "poisoned record: not a provider record", "n": %d}`, i)})
			poisoned++
		}
		all = append(all, r)
	}
	events := len(all) - poisoned
	require.Len(t, want, events, "every event has an id of its own")
	// Bounds that only end a test that hangs: a minute per 20,000 events, 5 at least
	// (a loaded machine is many times slower than a quiet one).
	bound := time.Duration(max(5, events/20_000)) * time.Minute

	srv := ownServer(t)
	w := open(t, srv.URL("faults"))
	rows, err := identity.ParseMapping(bytes.NewReader(org.Mapping()))
	require.NoError(t, err)
	require.NoError(t, w.ImportIdentities(ctx, rows, time.Now()))
	stored := func() int64 { // pacing: cheap on the server, asked seldom
		n, err := countE(w, "SELECT count() FROM raw_records")
		if err != nil {
			return -1
		}
		return n
	}

	_, conn := kafkatest.Start(t)
	require.NoError(t, kafka.EnsureTopics(ctx, conn, sourceTopics(), kafkatest.Partitions, 1))
	p, err := kafka.NewProducer(kafka.ProducerConfig{Conn: conn})
	require.NoError(t, err)
	defer p.Close()
	published := make(chan error, 1)
	go func() {
		for i := 0; i < len(all); i += 1000 {
			if err := p.Publish(ctx, all[i:min(i+1000, len(all))]...); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()

	// The streaming correlator follows what the sinks store.
	since := org.Config().Start.Add(-24 * time.Hour)
	var log logBuffer
	o := pipeline.Options{Logger: log.logger()}
	live, err := correlation.NewLive(ctx, w, correlate.DefaultPolicy(), correlation.LiveOptions{})
	require.NoError(t, err)
	corr := pipeline.NewCorrelator(pipeline.CorrelatorConfig{Since: since, Interval: 2 * time.Second, MinInterval: 500 * time.Millisecond,
		Backoff: pipeline.Backoff{Initial: 100 * time.Millisecond, Max: time.Second}}, live, o)
	cctx, stopCorr := context.WithCancel(ctx)
	corrDone := make(chan error, 1)
	go func() { corrDone <- corr.Run(cctx) }()
	o.Stored = func([]bus.Record, pipeline.Results) { corr.Notify() }

	// The first sink is killed mid-batch once two thirds are stored: its
	// store cancels it right after a write that is part of a batch, and
	// with no time to flush (FlushTimeout 1ms) the rest of the batch is
	// neither stored nor committed.
	enr, err := enrich.New(ctx, w, nil)
	require.NoError(t, err)
	crash := &crashAfter{Sink: w, after: int64(2 * len(all) / 3)}
	sink1, c1, cancel1, wait1 := startSink(t, conn, pipeline.SinkConfig{BatchSize: faultBatch, FlushTimeout: time.Millisecond},
		pipeline.NewWriter(crash, enr, sources.Normalizer, nil), o)
	crash.crash = cancel1

	// Phase 1: the server is killed with SIGKILL a third of the way in.
	waitFor(t, "a third stored", bound, func() bool { return stored() >= int64(len(all)/3) })
	srv.Kill()
	killedAt := sink1.Stats().Records
	waitFor(t, "the sink to fail against the dead server", time.Minute, func() bool { return sink1.Stats().StoreFailures >= 3 })
	commits, failures := sink1.Stats().Commits, sink1.Stats().StoreFailures
	waitFor(t, "two more failed writes", time.Minute, func() bool { return sink1.Stats().StoreFailures >= failures+2 })
	require.Equal(t, commits, sink1.Stats().Commits, "nothing is committed while the store is down")
	require.NoError(t, srv.Start())
	t.Logf("server killed after %d records fetched; restarted (%s)", killedAt, time.Since(began).Round(time.Second))

	// Phase 2: the sink crashes mid-batch two thirds of the way in; a new
	// member of the group takes its partitions over.
	waitFor(t, "the first sink to be killed mid-batch", bound, func() bool { return crash.crashed.Load() })
	outage := log.String()
	for _, c := range []string{"sink=bus", "component=correlator"} {
		require.Equal(t, 1, countLines(outage, "store unavailable", c), "%s: one line per outage:\n%s", c, outage)
		require.Equal(t, 1, countLines(outage, "store available again", c), "%s: one line per recovery:\n%s", c, outage)
	}
	err = wait1()
	require.NoError(t, c1.Close())
	// partial: a batch fetched and not (or not wholly) stored, none of it
	// committed — the one written, or the one the sink fetched behind it.
	partial := err != nil
	s1 := sink1.Stats()
	unstored := s1.Records - (s1.Accepted + s1.Duplicates + s1.Conflicts + s1.DeadLetters)
	if partial {
		require.ErrorIs(t, err, pipeline.ErrUnflushed, "the rest of the batch was not stored")
		require.Positive(t, unstored, "records fetched and not stored")
	} else {
		// The last write was the batch's last: stored, and its commit cut
		// short — a commit request the broker received before the cut
		// may still have been applied, so the batch may not come again.
		require.Positive(t, sink1.Stats().CommitErrors, "the last write was the batch's last: stored, and its commit failed")
	}
	t.Logf("sink killed mid-batch after %d records fetched (%v) (%s)", sink1.Stats().Records, err, time.Since(began).Round(time.Second))
	sink2, c2, cancel2, wait2 := startSink(t, conn, pipeline.SinkConfig{BatchSize: faultBatch, FlushTimeout: 10 * time.Second}, newWriter(t, w), o)
	require.NoError(t, <-published)
	waitFor(t, "every event and dead letter stored", bound, func() bool {
		n, err := countE(w, "SELECT count() FROM raw_records FINAL")
		d, derr := countE(w, "SELECT count() FROM dead_letters FINAL")
		return err == nil && derr == nil && n >= int64(events) && d >= int64(poisoned)
	})
	t.Logf("every event stored (%s)", time.Since(began).Round(time.Second))
	cancel2()
	require.NoError(t, wait2())
	require.NoError(t, c2.Close())
	stopCorr()
	require.NoError(t, <-corrDone)
	if partial {
		require.GreaterOrEqual(t, sink2.Stats().Records, unstored, "what the killed sink fetched and did not store came again to the new member")
	}

	// Every event once, every poisoned record one dead letter, nothing else.
	require.Zero(t, collecttest.RequireStoredOnce(t, collecttest.StoredIDs(t, w.S), countOnce(want)), "no inventory snapshots here")
	require.EqualValues(t, poisoned, count(t, w, "SELECT count() FROM dead_letters FINAL"), "every poisoned record is one dead letter")
	require.EqualValues(t, events, count(t, w, "SELECT count() FROM raw_records FINAL"))

	// The streaming verdicts, then after a catch-up run (a correlator
	// preloaded with the stored events, as a restarted collect runs it),
	// then batch correlate's over the same rows.
	firstRun := verdicts(t, w, live.PolicyVersion())
	live2, err := correlation.NewLive(ctx, w, correlate.DefaultPolicy(), correlation.LiveOptions{})
	require.NoError(t, err)
	require.NoError(t, live2.Preload(ctx, since))
	_, err = live2.Poll(ctx)
	require.NoError(t, err)
	require.NoError(t, live2.Close(ctx))
	streamed := verdicts(t, w, live.PolicyVersion())
	_, err = correlation.Correlate(ctx, w, correlate.DefaultPolicy(), correlation.CorrelateOptions{})
	require.NoError(t, err)
	batch := verdicts(t, w, live.PolicyVersion())
	require.Len(t, batch, len(org.Intents()))
	off := 0
	for _, it := range org.Intents() {
		if batch[it.ActionID].Verdict != it.Verdict {
			off++
		}
	}
	require.Zero(t, off, "batch verdicts off the generator's intent, of %d", len(batch))
	t.Logf("first run: %d of %d streaming verdicts differ from batch correlate", differing(firstRun, batch), len(batch))
	require.Zero(t, differing(streamed, batch), "after the catch-up run, of %d", len(batch))
	for id, v := range batch {
		require.Equal(t, v, streamed[id], id)
	}
	t.Logf("%d events + %d poisoned through Kafka into ClickHouse, server killed once, sink killed mid-batch once; %d verdicts; first sink %+v; second sink %+v; %s",
		events, poisoned, len(batch), sink1.Stats(), sink2.Stats(), time.Since(began).Round(time.Second))
}

// crashAfter is the store under a sink that is killed: once after records
// are written, it calls crash (which cancels the sink) before the write
// returns, in the middle of the sink's batch.
type crashAfter struct {
	ingest.Sink
	after   int64
	crash   func()
	written atomic.Int64
	once    sync.Once
	crashed atomic.Bool
}

func (c *crashAfter) Write(ctx context.Context, b *ingest.Batch) (map[ingest.RecordID]string, error) {
	pre, err := c.Sink.Write(ctx, b)
	if err == nil && c.written.Add(int64(len(b.Raw)+len(b.DeadLetters))) >= c.after {
		c.once.Do(func() {
			c.crash()
			time.Sleep(10 * time.Millisecond) // past the sink's 1ms grace: nothing more of the batch is stored or committed
			c.crashed.Store(true)
		})
	}
	return pre, err
}

// verdict is what batch and streaming correlation must agree on per action.
type verdict struct {
	Verdict          model.Verdict
	AssertionID      string
	TriggerActionID  string
	InheritedFrom    string
	InheritedVerdict model.Verdict
	Reason           string
}

// verdicts reads the correlations of policy version.
func verdicts(t testing.TB, w *warehouse.Warehouse, policy string) map[string]verdict {
	t.Helper()
	out := map[string]verdict{}
	require.NoError(t, store.Correlations.Read(context.Background(), w.S, "WHERE policy_version = ?", []any{policy}, func(c model.Correlation) error {
		out[c.ActionID] = verdict{c.Verdict, c.AssertionID, c.TriggerActionID, c.InheritedFrom, c.InheritedVerdict, c.Reason}
		return nil
	}))
	return out
}

// differing counts the actions of want whose verdict in got is not the same.
func differing(got, want map[string]verdict) int {
	n := 0
	for id, v := range want {
		if g, ok := got[id]; !ok || g != v {
			n++
		}
	}
	return n
}

// countOnce is ids, each counted once.
func countOnce(ids map[string]bool) map[string]int {
	out := make(map[string]int, len(ids))
	for id := range ids {
		out[id] = 1
	}
	return out
}

// waitFor polls cond every half second until it holds, failing after d.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, d, 500*time.Millisecond, "waiting for %s", what)
}

// countLines counts the lines of log holding every one of parts.
func countLines(log string, parts ...string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}
