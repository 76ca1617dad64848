package memory

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/model"
)

func recs(from, n int) []bus.Record {
	out := make([]bus.Record, n)
	for i := range out {
		out[i] = bus.Record{Source: model.SourceOkta, Instance: "acme", Raw: fmt.Appendf(nil, `{"n":%d}`, from+i)}
	}
	return out
}

// publish runs Publish in the background and returns its result channel.
func publish(ctx context.Context, b *Bus, r ...bus.Record) chan error {
	done := make(chan error, 1)
	go func() { done <- b.Publish(ctx, r...) }()
	return done
}

func requireBlocked(t *testing.T, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("Publish returned %v before its records were committed", err)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestPublishReturnsAfterCommit(t *testing.T) {
	ctx := context.Background()
	b := New(10)
	sub := b.Subscribe()
	done := publish(ctx, b, recs(0, 3)...)
	got, err := sub.Fetch(ctx, 2)
	require.NoError(t, err)
	require.Len(t, got.Records, 2)
	require.NoError(t, got.Commit(ctx))
	requireBlocked(t, done) // one record is not yet committed
	rest, err := sub.Fetch(ctx, 10)
	require.NoError(t, err)
	require.Len(t, rest.Records, 1)
	require.Equal(t, `{"n":2}`, string(rest.Records[0].Raw))
	requireBlocked(t, done)
	require.NoError(t, rest.Commit(ctx))
	require.NoError(t, <-done)
}

func TestBackpressure(t *testing.T) {
	ctx := context.Background()
	b := New(4)
	sub := b.Subscribe()
	first := publish(ctx, b, recs(0, 3)...)
	require.Eventually(t, func() bool { return b.Len() == 3 }, time.Second, time.Millisecond)
	second := publish(ctx, b, recs(3, 2)...) // 3+2 > 4: waits for room
	time.Sleep(30 * time.Millisecond)
	require.Equal(t, 3, b.Len(), "a publish beyond capacity waits")
	got, err := sub.Fetch(ctx, 3)
	require.NoError(t, err)
	require.Len(t, got.Records, 3)
	require.Eventually(t, func() bool { return b.Len() == 2 }, time.Second, time.Millisecond, "taking records makes room")
	require.NoError(t, got.Commit(ctx))
	require.NoError(t, <-first)
	more, err := sub.Fetch(ctx, 10)
	require.NoError(t, err)
	require.NoError(t, more.Commit(ctx))
	require.NoError(t, <-second)

	// A single publish larger than the capacity is admitted when the queue is empty.
	big := publish(ctx, b, recs(0, 9)...)
	all, err := sub.Fetch(ctx, 100)
	require.NoError(t, err)
	require.Len(t, all.Records, 9)
	require.NoError(t, all.Commit(ctx))
	require.NoError(t, <-big)
}

func TestCloseRedelivers(t *testing.T) {
	ctx := context.Background()
	b := New(0)
	done := publish(ctx, b, recs(0, 5)...)
	s1 := b.Subscribe()
	a, err := s1.Fetch(ctx, 2)
	require.NoError(t, err)
	c, err := s1.Fetch(ctx, 2)
	require.NoError(t, err)
	require.NoError(t, a.Commit(ctx))
	require.NoError(t, s1.Close()) // c was not committed: back to the front
	_, err = s1.Fetch(ctx, 1)
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, c.Commit(ctx), "a commit after close is a no-op")
	requireBlocked(t, done)

	s2 := b.Subscribe()
	got, err := s2.Fetch(ctx, 10)
	require.NoError(t, err)
	var raws []string
	for _, r := range got.Records {
		raws = append(raws, string(r.Raw))
	}
	require.Equal(t, []string{`{"n":2}`, `{"n":3}`, `{"n":4}`}, raws, "redelivered in order, before newer records")
	require.NoError(t, got.Commit(ctx))
	require.NoError(t, <-done)
}

func TestCancelAndClose(t *testing.T) {
	b := New(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := publish(ctx, b, recs(0, 1)...)
	requireBlocked(t, done)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, 1, b.Len(), "a cancelled publish leaves its records to be stored (at least once)")

	sub := b.Subscribe()
	fctx, fcancel := context.WithCancel(context.Background())
	fcancel()
	got, err := sub.Fetch(fctx, 5)
	require.NoError(t, err, "queued records are returned even after ctx ended")
	require.Len(t, got.Records, 1)
	_, err = sub.Fetch(fctx, 5)
	require.ErrorIs(t, err, context.Canceled)

	waiting := publish(context.Background(), b, recs(1, 1)...)
	fetching := make(chan error, 1)
	go func() {
		s := b.Subscribe()
		_, err := s.Fetch(context.Background(), 1) // takes the new record
		if err == nil {
			_, err = s.Fetch(context.Background(), 1) // then waits
		}
		fetching <- err
	}()
	require.Eventually(t, func() bool { return b.Len() == 0 }, time.Second, time.Millisecond)
	require.NoError(t, b.Close())
	require.ErrorIs(t, <-waiting, ErrClosed)
	require.ErrorIs(t, <-fetching, ErrClosed)
	require.ErrorIs(t, b.Publish(context.Background(), recs(0, 1)...), ErrClosed)
}

// TestConcurrent: many publishers, several subscribers; every record is
// delivered, and every Publish returns nil once all are committed.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	b := New(64)
	const pubs, per = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, pubs)
	for p := range pubs {
		wg.Go(func() {
			for i := 0; i < per; i += 10 {
				if err := b.Publish(ctx, recs(p*per+i, 10)...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var mu sync.Mutex
	seen := map[string]int{}
	sctx, stop := context.WithCancel(ctx)
	var subs sync.WaitGroup
	for range 3 {
		subs.Go(func() {
			s := b.Subscribe()
			defer s.Close()
			for {
				got, err := s.Fetch(sctx, 37)
				if err != nil {
					return
				}
				mu.Lock()
				for _, r := range got.Records {
					seen[string(r.Raw)]++
				}
				mu.Unlock()
				_ = got.Commit(sctx)
			}
		})
	}
	wg.Wait()
	stop()
	subs.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, seen, pubs*per)
	for k, n := range seen {
		require.Equal(t, 1, n, k)
	}
}

// TestSend: Send returns once the records are queued, in order after those
// sent before; each Pending is done when its own records are committed,
// and fails with ErrClosed when the bus closes first.
func TestSend(t *testing.T) {
	ctx := context.Background()
	b := New(0)
	sub := b.Subscribe()
	first, err := b.Send(ctx, recs(0, 2)...)
	require.NoError(t, err)
	second, err := b.Send(ctx, recs(2, 2)...)
	require.NoError(t, err)
	require.Equal(t, 4, b.Len(), "both pages queued before either is stored")

	got, err := sub.Fetch(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, []string{`{"n":0}`, `{"n":1}`, `{"n":2}`}, raws(got.Records), "in send order")
	require.NoError(t, got.Commit(ctx))
	select {
	case <-first.Done():
	case <-time.After(time.Second):
		t.Fatal("first page committed but not done")
	}
	require.NoError(t, first.Wait(ctx))
	select {
	case <-second.Done():
		t.Fatal("second page done with one record uncommitted")
	default:
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, second.Wait(short), context.DeadlineExceeded)

	require.NoError(t, b.Close())
	require.ErrorIs(t, second.Wait(ctx), ErrClosed, "not stored before the bus closed: send again")
	_, err = b.Send(ctx, recs(4, 1)...)
	require.ErrorIs(t, err, ErrClosed)
}

func raws(rs []bus.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Raw)
	}
	return out
}
