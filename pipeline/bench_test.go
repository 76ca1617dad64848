package pipeline_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/bus/memory"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// benchOrg is the organisation the sink benchmarks push:
// KEYTRAIL_BENCH_SINK_PEOPLE people (default 8) over one day, one record per
// event.
func benchOrg(b *testing.B) []bus.Record {
	people := 8
	if v, err := strconv.Atoi(os.Getenv("KEYTRAIL_BENCH_SINK_PEOPLE")); err == nil && v >= 8 {
		people = v
	}
	o := genOrg(b, "bench-"+strconv.Itoa(people), demo.Config{People: people, Days: 1, Seed: 3, TasksPerDAG: 4})
	idps, af := o.collectors(b)
	var recs []bus.Record
	for _, s := range append(idps, af...) {
		recs = append(recs, s...)
	}
	return recs
}

// BenchmarkSink measures records/s from publish to stored through the bus
// and the sink: the in-process bus into chDB, and Kafka (kfake, driven by
// kafka-go) into a ClickHouse server. Its peer, in the same run, is the
// Writer alone storing the same records into a fresh database of the same
// engine (writer-only-records/s): what the bus and the sink's batching
// cost. Run: KEYTRAIL_REQUIRE_ENGINES=1 go test -run '^$' -bench Sink
// -benchtime 1x ./pipeline/ (KEYTRAIL_BENCH_SINK_PEOPLE sizes it).
func BenchmarkSink(b *testing.B) {
	recs := benchOrg(b)
	srv := storetest.SharedServer(b)
	for _, c := range []struct {
		name string
		open func() *warehouse.Warehouse
		bus  func(b *testing.B) (bus.Publisher, bus.Subscriber)
	}{
		{"memory-chdb", func() *warehouse.Warehouse { return embedded(b) }, func(*testing.B) (bus.Publisher, bus.Subscriber) {
			m := memory.New(0)
			b.Cleanup(func() { m.Close() })
			return m, m.Subscribe()
		}},
		{"kafka-clickhouse", func() *warehouse.Warehouse { return open(b, srv.URL(storetest.FreshDB(b))) }, func(b *testing.B) (bus.Publisher, bus.Subscriber) {
			_, conn := kafkatest.Start(b)
			var topics []string
			for _, s := range sources.Names {
				topics = append(topics, kafka.DefaultTopic(s))
			}
			require.NoError(b, kafka.EnsureTopics(context.Background(), conn, topics, kafkatest.Partitions, 1))
			p, err := kafka.NewProducer(kafka.ProducerConfig{Conn: conn})
			require.NoError(b, err)
			b.Cleanup(func() { p.Close() })
			c, err := kafka.NewConsumer(kafkatest.Consumer(kafka.ConsumerConfig{Conn: conn, GroupID: "bench", Topics: topics}))
			require.NoError(b, err)
			b.Cleanup(func() { c.Close() })
			return p, c
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				b.StopTimer()
				w := c.open()
				pub, sub := c.bus(b)
				sink := pipeline.NewSink(pipeline.SinkConfig{MaxWait: 50 * time.Millisecond}, sub, newWriter(b, w), pipeline.Options{})
				sctx, stop := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- sink.Run(sctx) }()
				b.StartTimer()
				// Publishers: 8 concurrent collectors, pages of 100 records.
				errs := make(chan error, 8)
				for p := range 8 {
					go func() {
						for i := p * 100; i < len(recs); i += 800 {
							if err := pub.Publish(ctx, recs[i:min(i+100, len(recs))]...); err != nil {
								errs <- err
								return
							}
						}
						errs <- nil
					}()
				}
				for range 8 {
					require.NoError(b, <-errs)
				}
				for sink.Stats().Records < int64(len(recs)) {
					time.Sleep(5 * time.Millisecond)
				}
				for sink.Stats().Commits == 0 || sink.Stats().Writes == 0 {
					time.Sleep(5 * time.Millisecond)
				}
				b.StopTimer()
				stop()
				require.NoError(b, <-done)
				st := sink.Stats()
				b.ReportMetric(float64(st.Writes), "writes")
			}
			b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")

			// Peer: the Writer alone, the same records, a fresh database.
			w := c.open()
			wr := newWriter(b, w)
			start := time.Now()
			for i := 0; i < len(recs); i += 5000 {
				_, err := wr.Write(ctx, recs[i:min(i+5000, len(recs))])
				require.NoError(b, err)
			}
			b.ReportMetric(float64(len(recs))/time.Since(start).Seconds(), "writer-only-records/s")
		})
	}
}
