// Package memory is the in-process bus of the embedded default: collectors
// and the sink run in one process and hand records over in memory.
//
// Publish returns only after a subscriber committed every record it handed
// over, that is after the sink stored them, so a collector that advances its
// cursor when Publish returns nil never skips a record. Send queues records
// and returns at once; its bus.Pending tells when they are stored, so a
// collector can read ahead while its earlier pages wait for the sink. The bus is bounded:
// when Capacity records wait undelivered, Publish blocks (backpressure) until
// the sink has taken some.
package memory

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/keytrail/keytrail/bus"
)

// DefaultCapacity is the number of undelivered records a Bus holds before
// Publish blocks.
const DefaultCapacity = 50000

// ErrClosed is returned by Publish and Fetch once the bus is closed.
var ErrClosed = bus.ErrClosed

// Bus is an in-process bus. It implements bus.Publisher; Subscribe returns
// its bus.Subscribers, which share the records between them (competing
// consumers, as the members of one Kafka consumer group). A Bus is safe for
// concurrent use.
type Bus struct {
	capacity int

	mu      sync.Mutex
	queue   []entry       // published, not yet delivered, in publish order
	changed chan struct{} // closed and replaced whenever queue or closed changes
	closed  bool
}

// entry is one queued record and the Publish call waiting for it.
type entry struct {
	rec  bus.Record
	call *call
}

// call is one Send (or Publish): it is done when every record it queued is
// committed.
type call struct {
	b    *Bus
	left int
	done chan struct{}
}

// New returns a Bus holding at most capacity undelivered records
// (DefaultCapacity when capacity <= 0). A single Publish larger than capacity
// is admitted alone, when nothing else waits.
func New(capacity int) *Bus {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Bus{capacity: capacity, changed: make(chan struct{})}
}

var _ bus.Publisher = (*Bus)(nil)

// broadcast wakes every waiter; b.mu is held.
func (b *Bus) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}

var _ bus.Sender = (*Bus)(nil)

// Publish queues recs and waits until a subscriber committed all of them.
// When ctx ends first it returns ctx's error: the records may still be
// stored later (at least once; storage is idempotent), and the caller must
// treat them as not delivered.
func (b *Bus) Publish(ctx context.Context, recs ...bus.Record) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	p, err := b.Send(ctx, recs...)
	if err != nil {
		return err
	}
	return p.Wait(ctx)
}

// Send queues recs after every record queued before, waiting only while
// the bus is full, and returns their Pending: done once a subscriber
// committed all of them.
func (b *Bus) Send(ctx context.Context, recs ...bus.Record) (bus.Pending, error) {
	c := &call{b: b, left: len(recs), done: make(chan struct{})}
	if len(recs) == 0 {
		close(c.done)
		return c, ctx.Err()
	}
	b.mu.Lock()
	for !b.closed && len(b.queue) > 0 && len(b.queue)+len(recs) > b.capacity {
		wait := b.changed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait:
		}
		b.mu.Lock()
	}
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	for _, r := range recs {
		b.queue = append(b.queue, entry{rec: r, call: c})
	}
	b.broadcast()
	b.mu.Unlock()
	return c, nil
}

// Done implements bus.Pending.
func (c *call) Done() <-chan struct{} { return c.done }

// Wait implements bus.Pending: nil once every record of the call is
// committed, ErrClosed when the bus closed first, ctx's error when ctx
// ended first.
func (c *call) Wait(ctx context.Context) error {
	b := c.b
	for {
		b.mu.Lock()
		closed, wait := b.closed, b.changed
		b.mu.Unlock()
		select {
		case <-c.done:
			return nil
		default:
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
	}
}

// Len returns the number of records waiting to be delivered.
func (b *Bus) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Close ends the bus: waiting and later Publish and Fetch calls return
// ErrClosed. Records not committed are dropped; their Publish calls have
// failed, so their collectors will send them again.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.broadcast()
	}
	return nil
}

// Subscribe returns a new subscriber. Records it fetched and did not commit
// go back to the front of the queue when it is closed, for the next
// subscriber.
func (b *Bus) Subscribe() *Subscriber {
	return &Subscriber{b: b, inflight: map[uint64][]entry{}}
}

// Subscriber receives records from a Bus. It implements bus.Subscriber.
type Subscriber struct {
	b *Bus

	mu       sync.Mutex // guards the fields below; taken before b.mu
	next     uint64
	inflight map[uint64][]entry // delivered, not committed, by delivery number
	closed   bool
}

var _ bus.Subscriber = (*Subscriber)(nil)

// Fetch returns up to max queued records (at least one), waiting for some
// when none are queued. Records already queued are returned even when ctx
// has ended, so a caller that gathers with a deadline gets what is there.
func (s *Subscriber) Fetch(ctx context.Context, max int) (bus.Batch, error) {
	if max <= 0 {
		max = 1
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return bus.Batch{}, ErrClosed
		}
		b := s.b
		b.mu.Lock()
		if len(b.queue) > 0 {
			n := min(max, len(b.queue))
			got := make([]entry, n)
			copy(got, b.queue[:n])
			clear(b.queue[:n])
			b.queue = b.queue[n:]
			if len(b.queue) == 0 {
				b.queue = nil
			}
			b.broadcast() // room for blocked publishers
			b.mu.Unlock()
			id := s.next
			s.next++
			s.inflight[id] = got
			s.mu.Unlock()
			recs := make([]bus.Record, n)
			for i, e := range got {
				recs[i] = e.rec
			}
			return bus.Batch{Records: recs, Commit: func(context.Context) error { s.commit(id); return nil }}, nil
		}
		closed, wait := b.closed, b.changed
		b.mu.Unlock()
		s.mu.Unlock()
		if closed {
			return bus.Batch{}, ErrClosed
		}
		select {
		case <-ctx.Done():
			return bus.Batch{}, ctx.Err()
		case <-wait:
		}
	}
}

// commit acknowledges delivery id: its publishers waiting on nothing else
// return.
func (s *Subscriber) commit(id uint64) {
	s.mu.Lock()
	got, ok := s.inflight[id]
	delete(s.inflight, id)
	s.mu.Unlock()
	if !ok {
		return
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	for _, e := range got {
		e.call.left--
		if e.call.left == 0 {
			close(e.call.done)
		}
	}
}

// Close puts the records fetched and not committed back at the front of the
// bus's queue, in delivery order, and ends the subscriber.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var back []entry
	for _, id := range slices.Sorted(maps.Keys(s.inflight)) {
		back = append(back, s.inflight[id]...)
	}
	clear(s.inflight)
	if len(back) == 0 {
		return nil
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = append(back, b.queue...)
	b.broadcast()
	return nil
}
