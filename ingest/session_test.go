package ingest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func toyGroup(records ...string) []Group {
	return []Group{{Normalizer: toyNormalizer{}, Instance: "prod", Inputs: []Input{{Origin: "page", Data: []byte(strings.Join(records, "\n"))}}}}
}

// returnsWithin reports whether f returns within d (it keeps running
// otherwise; the channel gets its answer later).
func returnsWithin[T any](d time.Duration, f func() T) (T, bool, <-chan T) {
	c := make(chan T, 1)
	go func() { c <- f() }()
	select {
	case v := <-c:
		return v, true, c
	case <-time.After(d):
		var zero T
		return zero, false, c
	}
}

type checked struct {
	c   *Checked
	err error
}

type stored struct {
	res []Result
	err error
}

// TestSessionOverlap: a batch is checked while the one before it is still
// being written; a third batch is checked only once the first is stored
// (and its record with an id of the first counts as a duplicate), and
// batches are stored in the order checked.
func TestSessionOverlap(t *testing.T) {
	const (
		a = `{"id":"a","ts":"2026-01-01T00:00:00Z"}`
		b = `{"id":"b","ts":"2026-01-01T00:00:00Z"}`
		c = `{"id":"c","ts":"2026-01-01T00:00:00Z"}`
		d = `{"id":"d","ts":"2026-01-01T00:00:00Z"}`
	)
	ctx := context.Background()
	sink := newMemSink()
	hold := make(chan struct{})
	sink.write = func() { <-hold }
	s := (&Ingester{Sink: sink}).Session()

	c1, err := s.Check(ctx, toyGroup(a, b))
	require.NoError(t, err)
	_, done1, first := returnsWithin(50*time.Millisecond, func() stored { r, err := s.Store(ctx, c1); return stored{r, err} })
	require.False(t, done1, "the first write is held")

	c2, err := s.Check(ctx, toyGroup(c)) // overlaps the first write
	require.NoError(t, err)
	require.Empty(t, sink.raw, "the second batch was checked while the first was not stored")

	_, done3, third := returnsWithin(100*time.Millisecond, func() checked { c, err := s.Check(ctx, toyGroup(b, d)); return checked{c, err} })
	require.False(t, done3, "a third batch waits until the first is stored")
	_, done2, second := returnsWithin(50*time.Millisecond, func() stored { r, err := s.Store(ctx, c2); return stored{r, err} })
	require.False(t, done2, "the second batch is stored after the first")

	close(hold)
	r1 := <-first
	require.NoError(t, r1.err)
	require.Equal(t, []Result{{Records: 2, Accepted: 2, Batches: 1}}, r1.res)
	r2 := <-second
	require.NoError(t, r2.err)
	require.Equal(t, []Result{{Records: 1, Accepted: 1, Batches: 1}}, r2.res)
	k3 := <-third
	require.NoError(t, k3.err)
	r3, err := s.Store(ctx, k3.c)
	require.NoError(t, err)
	require.Equal(t, []Result{{Records: 2, Accepted: 1, Duplicates: 1, Batches: 1}}, r3)
	require.Len(t, sink.raw, 4)
	require.Equal(t, 3, sink.writes)
}

// TestSessionPreemptedInOverlap: another writer stores a record of the
// batch being written first; the next batch, checked during that write and
// holding the same record, waits for the write to learn it: its copy is a
// duplicate of the conflict the first batch kept, not a second conflict.
func TestSessionPreemptedInOverlap(t *testing.T) {
	const (
		a1 = `{"id":"a","ts":"2026-01-01T00:00:00Z"}`
		a2 = `{"id":"a","ts":"2026-01-01T00:00:00Z","other":true}`
		z  = `{"id":"z","ts":"2026-01-01T00:00:00Z"}`
	)
	ctx := context.Background()
	sink := newMemSink()
	s := (&Ingester{Sink: sink}).Session()
	c1, err := s.Check(ctx, toyGroup(a1))
	require.NoError(t, err)
	// Another writer stores a2 under the same id after the look-up.
	other := &Ingester{Normalizer: toyNormalizer{}, Instance: "prod", Sink: sink}
	_, err = other.Ingest(ctx, "other", []byte(a2))
	require.NoError(t, err)
	// The first batch's write waits until the second batch looked up z.
	lookedUp := make(chan struct{})
	var once sync.Once
	sink.known = func() { once.Do(func() { close(lookedUp) }) }
	sink.write = func() { <-lookedUp }
	first := make(chan stored, 1)
	go func() { r, err := s.Store(ctx, c1); first <- stored{r, err} }()
	c2, err := s.Check(ctx, toyGroup(a1, z))
	require.NoError(t, err)
	r1 := <-first
	require.NoError(t, r1.err)
	require.Equal(t, []Result{{Records: 1, Conflicts: 1, Batches: 1}}, r1.res, "the other writer stored a first")
	r2, err := s.Store(ctx, c2)
	require.NoError(t, err)
	require.Equal(t, []Result{{Records: 2, Accepted: 1, Duplicates: 1, Batches: 1}}, r2)
	require.Len(t, sink.conflicts, 1, "a1 kept as a conflict once")
	require.Equal(t, a2, string(sink.raw[prod("a")].Raw), "the first copy stays")
}

// TestSessionRetryAndReset: a failed store is retried with the same batch
// and counts once; after Reset a batch checked before it is stale.
func TestSessionRetryAndReset(t *testing.T) {
	const (
		a = `{"id":"a","ts":"2026-01-01T00:00:00Z"}`
		b = `{"id":"b","ts":"2026-01-01T00:00:00Z"}`
	)
	ctx := context.Background()
	sink := newMemSink()
	sink.failAt = 1
	s := (&Ingester{Sink: sink}).Session()
	c1, err := s.Check(ctx, toyGroup(a, b))
	require.NoError(t, err)
	_, err = s.Store(ctx, c1)
	require.ErrorIs(t, err, ErrStore)
	r1, err := s.Store(ctx, c1)
	require.NoError(t, err)
	require.Equal(t, []Result{{Records: 2, Accepted: 2, Batches: 1}}, r1)
	r1, err = s.Store(ctx, c1)
	require.NoError(t, err, "a stored batch answers its counts again")
	require.Equal(t, []Result{{Records: 2, Accepted: 2, Batches: 1}}, r1)

	c2, err := s.Check(ctx, toyGroup(a))
	require.NoError(t, err)
	s.Reset()
	_, err = s.Store(ctx, c2)
	require.ErrorIs(t, err, ErrStale)
	c2, err = s.Check(ctx, toyGroup(a))
	require.NoError(t, err)
	r2, err := s.Store(ctx, c2)
	require.NoError(t, err)
	require.Equal(t, []Result{{Records: 1, Duplicates: 1, Batches: 1}}, r2)

	// A check that waits gives up with its context.
	c3, err := s.Check(ctx, toyGroup(b))
	require.NoError(t, err)
	_, err = s.Check(ctx, toyGroup(b))
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.Check(short, toyGroup(b))
	require.ErrorIs(t, err, context.DeadlineExceeded, "two batches are unstored")
	_, err = s.Store(ctx, c3)
	require.NoError(t, err)
}
