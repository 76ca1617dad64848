package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/model"
)

// TestSendAhead: records sent without waiting for the last Send are all
// acknowledged, each Pending done only once its records are, and records
// of one key arrive in send order.
func TestSendAhead(t *testing.T) {
	ctx := context.Background()
	_, conn, topic, p := topicProducer(t, model.SourceOkta, kafkatest.Partitions)
	var s bus.Sender = p
	sent := records(model.SourceOkta, 0, 1000, 7)
	var pending []bus.Pending
	for i := 0; i < len(sent); i += 50 {
		pd, err := s.Send(ctx, sent[i:i+50]...)
		require.NoError(t, err)
		pending = append(pending, pd)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i, pd := range pending {
		require.NoError(t, pd.Wait(wctx), "send %d", i)
		select {
		case <-pd.Done():
		default:
			t.Fatalf("send %d: Wait returned nil with Done open", i)
		}
	}
	empty, err := s.Send(ctx)
	require.NoError(t, err)
	require.NoError(t, empty.Wait(ctx), "nothing sent is durable at once")

	c := newConsumer(t, kafka.ConsumerConfig{Conn: conn, GroupID: "sink", Topics: []string{topic}})
	got := drain(t, c, len(sent), true)
	last := map[string]int{}
	seen := map[int]bool{}
	for _, r := range got {
		n := seq(t, r)
		require.False(t, seen[n], "record %d delivered twice", n)
		seen[n] = true
		if l, ok := last[r.PartitionKey()]; ok {
			require.Greater(t, n, l, "records of %s in send order", r.PartitionKey())
		}
		last[r.PartitionKey()] = n
	}
	require.Len(t, seen, len(sent))
}

// TestSendBrokerGone: with the cluster gone, a Send's Pending never says
// its records are durable — Wait returns the produce error once kafka-go
// gives up, before the caller's deadline — so a collector keeps its
// cursor and sends them again.
func TestSendBrokerGone(t *testing.T) {
	ctx := context.Background()
	cl, _, _, p := topicProducer(t, model.SourceOkta, 1)
	require.NoError(t, p.Publish(ctx, records(model.SourceOkta, 0, 1, 1)...), "the writer knows the topic's partitions")
	cl.Close()
	pd, err := p.Send(ctx, records(model.SourceOkta, 1, 5, 1)...)
	if err != nil {
		t.Logf("refused at once: %v", err)
		return // nothing pending: the caller sends again
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = pd.Wait(wctx)
	t.Logf("pending failed: %v", err)
	require.Error(t, err)
	require.NotErrorIs(t, err, context.DeadlineExceeded, "the failure is reported, not waited out")
	select {
	case <-pd.Done():
		t.Fatal("Done closed for records never acknowledged")
	default:
	}
}
