package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// runSink starts a sink on a new member c of the "sink" group over every
// source topic, storing into w; stop cancels it and returns Run's error.
func runSink(t testing.TB, conn kafka.Conn, w *warehouse.Warehouse, log *logBuffer) (s *pipeline.Sink, c *kafka.Consumer, stop func() error) {
	t.Helper()
	s, c, cancel, wait := startSink(t, conn, pipeline.SinkConfig{BatchSize: 500, FlushTimeout: time.Second}, newWriter(t, w), pipeline.Options{Logger: log.logger()})
	return s, c, func() error {
		cancel()
		err := wait()
		require.NoError(t, c.Close())
		return err
	}
}

// startSink starts a sink of cfg (MaxWait and Backoff short by default) on
// a new member of the "sink" group over every source topic, storing
// through wr. cancel stops it (as its context ends); wait returns Run's
// error. The consumer is the caller's to close.
func startSink(t testing.TB, conn kafka.Conn, cfg pipeline.SinkConfig, wr *pipeline.Writer, o pipeline.Options) (s *pipeline.Sink, c *kafka.Consumer, cancel func(), wait func() error) {
	t.Helper()
	c, err := kafka.NewConsumer(kafkatest.Consumer(kafka.ConsumerConfig{Conn: conn, GroupID: "sink", Topics: sourceTopics()}))
	require.NoError(t, err)
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 100 * time.Millisecond
	}
	if cfg.Backoff == (pipeline.Backoff{}) {
		cfg.Backoff = pipeline.Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}
	}
	s = pipeline.NewSink(cfg, c, wr, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return s, c, cancel, func() error { return <-done }
}

// waitDrained waits until c's group committed every message of its
// topics: every batch the sink fetched was written and its write returned
// (a raw record is visible before its write's read-back ends), so a stop
// has nothing left to flush.
func waitDrained(t testing.TB, c *kafka.Consumer, what string) {
	t.Helper()
	var pos kafka.Position
	var err error
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pos, err = c.Position(ctx)
		cancel()
		if err == nil && pos.Backlog == 0 {
			return
		}
	}
	var behind []string
	for topic, parts := range pos.End {
		for p, end := range parts {
			if c := pos.Committed[topic][p]; c < end {
				behind = append(behind, fmt.Sprintf("%s/%d committed %d of %d", topic, p, c, end))
			}
		}
	}
	t.Fatalf("%s: the group did not commit every message in 2 minutes (backlog %d: %v; err %v)", what, pos.Backlog, behind, err)
}

// sourceTopics are the topics of every source.
func sourceTopics() []string {
	var topics []string
	for _, src := range sources.Names {
		topics = append(topics, kafka.DefaultTopic(src))
	}
	return topics
}

// TestKafkaFaults runs an organisation's records through Kafka (kfake,
// driven by kafka-go) into a ClickHouse server that is killed with SIGKILL
// mid-stream and restarted, then stops the sink mid-batch while the server
// is down and starts a new one: every record is stored exactly once, the
// sink commits nothing while the store is down, and says so once per
// outage.
func TestKafkaFaults(t *testing.T) {
	ctx := context.Background()
	o := mediumOrg(t)
	srv := ownServer(t)
	w := open(t, srv.URL("faults"))
	o.mapping(t, w)
	_, conn := kafkatest.Start(t)
	require.NoError(t, kafka.EnsureTopics(ctx, conn, sourceTopics(), kafkatest.Partitions, 1))
	p, err := kafka.NewProducer(kafka.ProducerConfig{Conn: conn})
	require.NoError(t, err)
	defer p.Close()
	publish := func(recs []bus.Record) {
		for i := 0; i < len(recs); i += 100 {
			require.NoError(t, p.Publish(ctx, recs[i:min(i+100, len(recs))]...))
		}
	}
	idps, airflow := o.collectors(t)
	var all []bus.Record
	for _, s := range append(idps, airflow...) {
		all = append(all, s...)
	}
	half := len(all) / 2

	// Phase 1: the first half, with the server killed mid-stream.
	var log logBuffer
	publish(all[:half])
	sink, _, stop := runSink(t, conn, w, &log)
	require.Eventually(t, func() bool { return sink.Stats().Accepted > 500 }, time.Minute, 10*time.Millisecond)
	srv.Kill()
	require.Eventually(t, func() bool { return sink.Stats().StoreFailures >= 3 }, time.Minute, 10*time.Millisecond)
	commits := sink.Stats().Commits
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, commits, sink.Stats().Commits, "nothing is committed while the store is down")
	require.NoError(t, srv.Start())
	require.Eventually(t, func() bool {
		return sink.Stats().Records >= int64(half) && strings.Contains(log.String(), "store available again")
	},
		2*time.Minute, 50*time.Millisecond)
	require.Equal(t, 1, strings.Count(log.String(), "store unavailable"), "one line per outage:\n%s", log.String())
	require.Equal(t, 1, strings.Count(log.String(), "store available again"))

	// Phase 2: the second half; the server dies again and the sink is
	// stopped mid-batch, holding records it could not store.
	publish(all[half:])
	before := sink.Stats().Accepted
	require.Eventually(t, func() bool { return sink.Stats().Accepted > before }, time.Minute, 10*time.Millisecond)
	srv.Kill()
	require.Eventually(t, func() bool { return sink.Stats().StoreFailures >= 5 }, time.Minute, 10*time.Millisecond)
	require.ErrorIs(t, stop(), pipeline.ErrUnflushed)
	require.NoError(t, srv.Start())
	sink2, c2, stop2 := runSink(t, conn, w, &log) // a new member takes the uncommitted records over
	require.Eventually(t, func() bool {
		n, err := countE(w, "SELECT count() FROM raw_records FINAL")
		return err == nil && n >= int64(o.manifest.Expected.Stored)
	}, 2*time.Minute, 100*time.Millisecond)
	waitDrained(t, c2, "the new member")
	require.NoError(t, stop2(), "nothing left to flush")
	requireStoredOnce(t, w, o)
	require.Positive(t, sink2.Stats().Accepted, "the new member stored what the stopped one held")
	t.Logf("%d records; first sink %+v; second sink %+v", len(all), sink.Stats(), sink2.Stats())
}

// countE is count without failing the test (for Eventually).
func countE(w *warehouse.Warehouse, q string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return store.CountRows(ctx, w.S, q)
}

// TestKafkaBrokerRestart: the broker goes away mid-stream and comes back
// (same port, its log and the group's offsets persisted): the collectors'
// Publish fails while it is away, the sink resumes from the committed
// offsets, and every record is stored exactly once.
func TestKafkaBrokerRestart(t *testing.T) {
	ctx := context.Background()
	o := smallOrg(t)
	w := embedded(t)
	o.mapping(t, w)
	port, err := storetest.FreePort()
	require.NoError(t, err)
	dir := t.TempDir()
	var cluster *kfake.Cluster
	start := func() kafka.Conn {
		var conn kafka.Conn
		require.Eventually(t, func() bool {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.DefaultNumPartitions(kafkatest.Partitions),
				kfake.GroupMinSessionTimeout(time.Second), kfake.SyncWrites())
			if err != nil {
				return false
			}
			cluster = c
			conn = kafka.Conn{Brokers: c.ListenAddrs(), DialTimeout: 2 * time.Second}
			return true
		}, 10*time.Second, 100*time.Millisecond, "restart on the same port")
		return conn
	}
	conn := start()
	t.Cleanup(func() { cluster.Close() })
	require.NoError(t, kafka.EnsureTopics(ctx, conn, sourceTopics(), kafkatest.Partitions, 1))
	p, err := kafka.NewProducer(kafka.ProducerConfig{Conn: conn})
	require.NoError(t, err)
	defer p.Close()
	all := o.all()
	half := len(all) / 2
	require.NoError(t, p.Publish(ctx, all[:half]...))

	var log logBuffer
	sink, c, stop := runSink(t, conn, w, &log)
	require.Eventually(t, func() bool { return sink.Stats().Records >= int64(half) && sink.Stats().Commits > 0 }, time.Minute, 20*time.Millisecond)

	cluster.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	require.Error(t, p.Publish(pctx, all[half:]...), "no broker: Publish fails, a collector keeps its cursor")
	cancel()

	start()
	require.Eventually(t, func() bool {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return p.Publish(pctx, all[half:]...) == nil
	}, time.Minute, 200*time.Millisecond, "Publish succeeds again once the broker is back")
	require.Eventually(t, func() bool {
		n, err := countE(w, "SELECT count() FROM raw_records FINAL")
		return err == nil && n >= int64(o.manifest.Expected.Stored)
	}, 2*time.Minute, 100*time.Millisecond, "log: %s", log.String())
	waitDrained(t, c, "the sink")
	require.NoError(t, stop(), "nothing left to flush")
	requireStoredOnce(t, w, o)
}
