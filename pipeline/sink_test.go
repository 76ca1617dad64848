package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/memory"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/pipeline"
)

// journal is what a sink did, in order.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, fmt.Sprintf(format, args...))
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

func (j *journal) has(event string) bool { return slices.Contains(j.all(), event) }

// journaled is a bus.Subscriber whose deliveries and commits j records,
// numbered in delivery order.
type journaled struct {
	bus.Subscriber
	j *journal
	n int
}

func (s *journaled) Fetch(ctx context.Context, max int) (bus.Batch, error) {
	b, err := s.Subscriber.Fetch(ctx, max)
	if err != nil {
		return b, err
	}
	s.n++
	id, commit := s.n, b.Commit
	s.j.add("fetch %d", id)
	b.Commit = func(ctx context.Context) error {
		s.j.add("commit %d", id)
		return commit(ctx)
	}
	return b, nil
}

// gated is a store whose writes of raw records each wait for the test's
// word: started receives the number of raw records, then outcome says
// whether the write fails (an error) or goes to the store (nil).
type gated struct {
	ingest.Sink
	j       *journal
	started chan int
	outcome chan error
}

func (g *gated) Write(ctx context.Context, b *ingest.Batch) (map[ingest.RecordID]string, error) {
	if len(b.Raw) == 0 {
		return g.Sink.Write(ctx, b)
	}
	select {
	case g.started <- len(b.Raw):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case err := <-g.outcome:
		if err != nil {
			g.j.add("write failed")
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	pre, err := g.Sink.Write(ctx, b)
	if err != nil {
		// Not a failure the test asked for: the journal says so (the
		// retry then waits for a word the test does not give).
		g.j.add("store error: %v", err)
	} else {
		g.j.add("stored")
	}
	return pre, err
}

// stacks is every goroutine's stack, for a test that waited in vain.
func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// TestSinkPipelined: the sink fetches the next batch while it writes the
// current one (the next batch grows over several deliveries while the
// store is busy, and is written once), but commits a batch only after its
// own write succeeded and after every batch before it: while batch 1's
// write fails and is retried, the batch fetched behind it stays
// uncommitted; asked to stop while the store fails, it commits neither
// the batch it writes nor the one it fetched behind it, and returns
// ErrUnflushed.
func TestSinkPipelined(t *testing.T) {
	o := smallOrg(t)
	w := embedded(t)
	j := &journal{}
	store := &gated{Sink: w, j: j, started: make(chan int), outcome: make(chan error)}
	enr, err := enrich.New(context.Background(), w, nil)
	require.NoError(t, err)
	b := memory.New(0)
	defer b.Close()
	sub := &journaled{Subscriber: b.Subscribe(), j: j}
	defer sub.Close()
	// MaxWait is long enough for the test to send delivery 3 after it saw
	// delivery 2 fetched, however slow the machine: both make batch 2.
	var log logBuffer
	sink := pipeline.NewSink(pipeline.SinkConfig{BatchSize: 100000, MaxWait: 500 * time.Millisecond, FlushTimeout: 300 * time.Millisecond,
		Backoff: pipeline.Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond}},
		sub, pipeline.NewWriter(store, enr, sources.Normalizer, nil), pipeline.Options{Logger: log.logger()})

	recs := o.all()
	require.Greater(t, len(recs), 100)
	parts := [][]bus.Record{recs[:len(recs)/4], recs[len(recs)/4 : len(recs)/2], recs[len(recs)/2 : 3*len(recs)/4], recs[3*len(recs)/4:]}
	send := func(rs []bus.Record) bus.Pending {
		p, err := b.Send(context.Background(), rs...)
		require.NoError(t, err)
		return p
	}
	started := func() {
		t.Helper()
		select {
		case <-store.started:
		case <-time.After(30 * time.Second):
			t.Fatalf("no store write started: %v\nsink log:\n%s\ngoroutines:\n%s", j.all(), log.String(), stacks())
		}
	}
	eventually := func(event string) {
		t.Helper()
		if !assert.Eventually(t, func() bool { return j.has(event) }, 30*time.Second, 5*time.Millisecond) {
			t.Fatalf("%s: %v\nsink log:\n%s\ngoroutines:\n%s", event, j.all(), log.String(), stacks())
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()

	p1 := send(parts[0])
	started() // batch 1's write is under way
	half := len(parts[1]) / 2
	p2 := send(parts[1][:half])
	eventually("fetch 2") // fetched while batch 1 is written
	p3 := send(parts[1][half:])
	eventually("fetch 3") // and more: the next batch grows while the store is busy
	store.outcome <- errors.New("store down")
	started() // batch 1 again
	require.NotContains(t, strings.Join(j.all(), ","), "commit", "nothing committed while batch 1 is not stored")
	store.outcome <- nil
	eventually("commit 1")
	started() // batch 2: deliveries 2 and 3
	require.False(t, j.has("commit 2") || j.has("commit 3"), "batch 2 is committed only after its write")
	store.outcome <- nil
	eventually("commit 3")
	for _, p := range []bus.Pending{p1, p2, p3} {
		require.NoError(t, p.Wait(context.Background()))
	}
	require.Equal(t, []string{"fetch 1", "fetch 2", "fetch 3", "write failed", "stored", "commit 1", "stored", "commit 2", "commit 3"}, j.all())

	// Stopping while batch 3's write fails, the batch behind it fetched:
	// neither is committed.
	send(parts[2])
	started()
	send(parts[3])
	eventually("fetch 5")
	store.outcome <- errors.New("store down")
	started()
	stop()
	require.ErrorIs(t, <-done, pipeline.ErrUnflushed)
	require.False(t, j.has("commit 4") || j.has("commit 5"), "%v", j.all())
	require.EqualValues(t, 3, sink.Stats().Commits)
}

// TestSinkIdle: with Idle set, a batch short of BatchSize is written once
// the bus brought nothing new for Idle, long before MaxWait; without it,
// the batch waits MaxWait.
func TestSinkIdle(t *testing.T) {
	o := smallOrg(t)
	recs := o.all()[:10]
	for _, tc := range []struct {
		name    string
		idle    time.Duration
		waiters int           // timers the gatherer waits on while it fills
		written time.Duration // fake time after which the batch is written
	}{
		{"idle 50ms", 50 * time.Millisecond, 2, 50 * time.Millisecond},
		{"no idle: max_wait", 0, 1, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clockwork.NewFakeClock()
			b := memory.New(0)
			defer b.Close()
			sub := b.Subscribe()
			defer sub.Close()
			sink := pipeline.NewSink(pipeline.SinkConfig{BatchSize: 1000, MaxWait: time.Hour, Idle: tc.idle},
				sub, newWriter(t, embedded(t)), pipeline.Options{Clock: clock})
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- sink.Run(ctx) }()
			p, err := b.Send(ctx, recs...)
			require.NoError(t, err)

			bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			require.NoError(t, clock.BlockUntilContext(bctx, tc.waiters), "the gatherer waits for more")
			if tc.written > 50*time.Millisecond {
				clock.Advance(50 * time.Millisecond)
				time.Sleep(200 * time.Millisecond)
				require.Zero(t, sink.Stats().Writes, "nothing written before max_wait")
			}
			clock.Advance(tc.written)
			require.NoError(t, p.Wait(bctx), "the batch is written")
			require.EqualValues(t, 1, sink.Stats().Writes)
			require.EqualValues(t, len(recs), sink.Stats().Records)
			stop()
			require.NoError(t, <-done)
		})
	}
}
