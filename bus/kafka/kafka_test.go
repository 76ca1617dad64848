package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/model"
)

// records returns n records of src spread over people person-0 …
// person-(people-1), numbered in Raw so order can be checked.
func records(src model.Source, from, n, people int) []bus.Record {
	out := make([]bus.Record, n)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range out {
		k := from + i
		p := fmt.Sprintf("person-%d", k%people)
		out[i] = bus.Record{Source: src, Instance: "acme", Key: p, Raw: fmt.Appendf(nil, `{"person":%q,"n":%d}`, p, k),
			ReceivedAt: at.Add(time.Duration(k) * time.Millisecond), Origin: fmt.Sprintf("https://acme.example/api?page=%d", k/10)}
	}
	return out
}

// seq is the n a test record carries.
func seq(t testing.TB, r bus.Record) int {
	var v struct{ N int }
	require.NoError(t, json.Unmarshal(r.Raw, &v))
	return v.N
}

var originRE = regexp.MustCompile(`^kafka:(keytrail\.raw\.[a-z]+)/(\d+)/(\d+)(?: \((.*)\))?$`)

// where returns the topic/partition and offset an origin names.
func where(t testing.TB, origin string) (string, int64) {
	m := originRE.FindStringSubmatch(origin)
	require.NotNil(t, m, "origin %q", origin)
	off, err := strconv.ParseInt(m[3], 10, 64)
	require.NoError(t, err)
	return m[1] + "/" + m[2], off
}

func newConsumer(t *testing.T, cfg kafka.ConsumerConfig) *kafka.Consumer {
	t.Helper()
	c, err := kafka.NewConsumer(kafkatest.Consumer(cfg))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func newProducer(t *testing.T, conn kafka.Conn) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Conn: conn})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// topicProducer starts a broker with src's topic of partitions partitions
// and returns the cluster, its connection, the topic and a producer to it.
func topicProducer(t *testing.T, src model.Source, partitions int) (*kfake.Cluster, kafka.Conn, string, *kafka.Producer) {
	t.Helper()
	cl, conn := kafkatest.Start(t)
	topic := kafka.DefaultTopic(src)
	require.NoError(t, kafka.EnsureTopics(context.Background(), conn, []string{topic}, partitions, 1))
	return cl, conn, topic, newProducer(t, conn)
}

// drain fetches until n records arrived (committing each batch when commit
// is set) and returns them in delivery order.
func drain(t *testing.T, c bus.Subscriber, n int, commit bool) []bus.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []bus.Record
	for len(out) < n {
		b, err := c.Fetch(ctx, n-len(out))
		require.NoError(t, err, "after %d of %d records", len(out), n)
		require.NotEmpty(t, b.Records)
		out = append(out, b.Records...)
		if commit {
			require.NoError(t, b.Commit(ctx))
		}
	}
	require.Len(t, out, n)
	return out
}

// TestPublishConsume: every record arrives once with its fields; records
// of one key stay on one partition, in publish order.
func TestPublishConsume(t *testing.T) {
	ctx := context.Background()
	_, conn := kafkatest.Start(t)
	topics := []string{kafka.DefaultTopic(model.SourceOkta), kafka.DefaultTopic(model.SourceAirflow)}
	require.NoError(t, kafka.EnsureTopics(ctx, conn, topics, kafkatest.Partitions, 1))
	require.NoError(t, kafka.EnsureTopics(ctx, conn, topics[:1], kafkatest.Partitions, 1), "existing topics are fine")
	p := newProducer(t, conn)
	okta := records(model.SourceOkta, 0, 300, 7)
	af := records(model.SourceAirflow, 1000, 100, 1)
	for i := range af {
		af[i].Key = "" // keyed by source/instance
	}
	for i := 0; i < len(okta); i += 50 {
		require.NoError(t, p.Publish(ctx, okta[i:i+50]...))
	}
	require.NoError(t, p.Publish(ctx, af...))

	c := newConsumer(t, kafka.ConsumerConfig{Conn: conn, GroupID: "sink", Topics: topics})
	got := drain(t, c, 400, true)

	sent := map[string]bus.Record{}
	for _, r := range append(okta, af...) {
		sent[string(r.Raw)] = r
	}
	last := map[string]int{}
	partition := map[string]string{}
	for _, r := range got {
		want, ok := sent[string(r.Raw)]
		require.True(t, ok, "unexpected or repeated %s", r.Raw)
		delete(sent, string(r.Raw))
		require.Equal(t, want.Source, r.Source)
		require.Equal(t, want.Instance, r.Instance)
		require.Equal(t, want.PartitionKey(), r.PartitionKey())
		require.True(t, want.ReceivedAt.Equal(r.ReceivedAt), "received time kept")
		require.Contains(t, r.Origin, "("+want.Origin+")", "the producer's origin follows the message's")
		tp, _ := where(t, r.Origin)
		key := r.PartitionKey()
		if prev, ok := partition[key]; ok {
			require.Equal(t, prev, tp, "key %s stays on one partition", key)
		}
		partition[key] = tp
		if l, ok := last[key]; ok {
			require.Greater(t, seq(t, r), l, "records of %s in publish order", key)
		}
		last[key] = seq(t, r)
	}
	require.Empty(t, sent, "every record delivered")
	require.Len(t, partition, 8)
}

// TestRedeliveryAfterRestart: a member that fetched and did not commit
// (stopped mid-batch) leaves its records to the next member; committed
// ones are not delivered again.
func TestRedeliveryAfterRestart(t *testing.T) {
	ctx := context.Background()
	_, conn, topic, p := topicProducer(t, model.SourceOkta, 1) // one partition: a total order to check
	sent := records(model.SourceOkta, 0, 100, 3)
	require.NoError(t, p.Publish(ctx, sent...))

	cfg := kafka.ConsumerConfig{Conn: conn, GroupID: "sink", Topics: []string{topic}}
	c1 := newConsumer(t, cfg)
	first := drain(t, c1, 40, true)
	uncommitted := drain(t, c1, 30, false) // fetched, never committed
	pos, err := c1.Position(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]map[int]int64{topic: {0: 40}}, pos.Committed)
	require.EqualValues(t, 60, pos.Backlog, "fetched but uncommitted records are still behind the group")
	require.Equal(t, topic+" 0:40", pos.String())
	require.NoError(t, c1.Close())

	c2 := newConsumer(t, cfg)
	rest := drain(t, c2, 60, true)
	require.Equal(t, seq(t, uncommitted[0]), seq(t, rest[0]), "the uncommitted batch comes again, first")
	seen := map[int]int{}
	for _, r := range append(first, rest...) {
		seen[seq(t, r)]++
	}
	require.Len(t, seen, 100)
	for n, k := range seen {
		require.Equal(t, 1, k, "record %d: committed records are not delivered again", n)
	}
	_, off := where(t, rest[len(rest)-1].Origin)
	require.EqualValues(t, 99, off)
	pos, err = c2.Position(ctx)
	require.NoError(t, err)
	require.Zero(t, pos.Backlog)
}

// TestGroupSplitsKeys: two members of a group split the partitions; each
// key is consumed by one member only.
func TestGroupSplitsKeys(t *testing.T) {
	ctx := context.Background()
	_, conn, topic, p := topicProducer(t, model.SourceEntra, kafkatest.Partitions)
	cfg := kafka.ConsumerConfig{Conn: conn, GroupID: "correlators", Topics: []string{topic}}
	type got struct {
		who string
		rec bus.Record
	}
	out := make(chan got, 1000)
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, name := range []string{"a", "b"} {
		c := newConsumer(t, cfg)
		go func() {
			for {
				bt, err := c.Fetch(stop, 100)
				if err != nil {
					return
				}
				for _, r := range bt.Records {
					out <- got{name, r}
				}
				_ = bt.Commit(stop)
			}
		}()
	}
	waitMembers(t, conn, "correlators", 2)
	require.NoError(t, p.Publish(ctx, records(model.SourceEntra, 0, 400, 40)...))
	owner := map[string]string{}
	members := map[string]bool{}
	timeout := time.After(30 * time.Second)
	for n := 0; n < 400; n++ {
		select {
		case g := <-out:
			if o, ok := owner[g.rec.Key]; ok {
				require.Equal(t, o, g.who, "key %s consumed by one member", g.rec.Key)
			}
			owner[g.rec.Key] = g.who
			members[g.who] = true
		case <-timeout:
			t.Fatalf("%d of 400 records consumed", n)
		}
	}
	require.Len(t, owner, 40)
	require.Len(t, members, 2, "both members got people")
}

// TestBrokerUnavailable: with the cluster gone, Publish fails within its
// deadline (a collector then keeps its cursor), and so does Fetch.
func TestBrokerUnavailable(t *testing.T) {
	ctx := context.Background()
	cl, conn, topic, p := topicProducer(t, model.SourceOkta, 1)
	require.NoError(t, p.Publish(ctx, records(model.SourceOkta, 0, 1, 1)...))
	cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	start := time.Now()
	err := p.Publish(pctx, records(model.SourceOkta, 1, 5, 1)...)
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)

	c := newConsumer(t, kafka.ConsumerConfig{Conn: conn, GroupID: "sink", Topics: []string{topic}})
	fctx, fcancel := context.WithTimeout(ctx, time.Second)
	defer fcancel()
	_, err = c.Fetch(fctx, 10)
	require.Error(t, err, "no broker: the sink retries")
	require.NoError(t, c.Close())
	_, err = c.Fetch(ctx, 10)
	require.ErrorIs(t, err, bus.ErrClosed)
}

// waitMembers waits until group is stable with n members that each hold
// partitions.
func waitMembers(t *testing.T, conn kafka.Conn, group string, n int) {
	t.Helper()
	c := &kafkago.Client{Addr: kafkago.TCP(conn.Brokers...)}
	require.Eventually(t, func() bool {
		resp, err := c.DescribeGroups(context.Background(), &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil || len(resp.Groups) != 1 || resp.Groups[0].GroupState != "Stable" || len(resp.Groups[0].Members) != n {
			return false
		}
		for _, m := range resp.Groups[0].Members {
			if len(m.MemberAssignments.Topics) == 0 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "group %s has %d members with partitions", group, n)
}

// TestPositionBacklog: a group that committed nothing is behind by every
// message of its topics and by nothing else — an empty partition adds
// none (it counted one when only the last offsets were asked for).
func TestPositionBacklog(t *testing.T) {
	for _, tc := range []struct {
		name      string
		published int
	}{
		{"one message, three partitions empty", 1},
		{"seven messages of one key, three partitions empty", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			_, conn := kafkatest.Start(t)
			topic := kafka.DefaultTopic(model.SourceOkta)
			require.NoError(t, kafka.EnsureTopics(ctx, conn, []string{topic}, kafkatest.Partitions, 1))
			require.NoError(t, newProducer(t, conn).Publish(ctx, records(model.SourceOkta, 0, tc.published, 1)...), "one key: one partition")
			c := newConsumer(t, kafka.ConsumerConfig{Conn: conn, GroupID: "sink", Topics: []string{topic}})
			drain(t, c, 1, false) // the group exists once a member fetched
			pos, err := c.Position(ctx)
			require.NoError(t, err)
			require.EqualValues(t, tc.published, pos.Backlog)
		})
	}
}
