package warehouse

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// Cursors keeps collector positions in the cursors table; it implements
// collect.CursorStore. A saved position replaces the one before it (the
// table keeps the newest version of each collector's row).
//
// Saves are group-committed: while one insert runs, the Saves that arrive
// (from any collector) queue, and the next insert writes them all, the
// newest position of each collector. Every INSERT costs the engine a part,
// so a process whose streams save one after another pays one insert per
// round of saves rather than one per save. A Save returns once the insert
// that holds its cursor succeeded, or with that insert's error. The zero
// value (with S set) is ready to use; it is safe for concurrent use, and
// the collectors of one process must share one (Warehouse.Cursors).
type Cursors struct {
	S store.Store

	mu      sync.Mutex
	queued  *cursorBatch // the Saves waiting for the next insert
	writing bool         // an insert runs (and writes queued after it)
	saves   int64
	inserts int64
}

// CursorStats counts a Cursors' work: Saves called and inserts run.
type CursorStats struct {
	Saves   int64
	Inserts int64
}

// cursorBatch is the cursors of one insert and the Saves that wait for it.
type cursorBatch struct {
	cursors []model.Cursor
	at      map[string]int    // index in cursors by collector
	waiters []context.Context // the contexts of the Saves waiting
	done    chan struct{}     // closed when the insert returned; err is then set
	err     error
}

// Cursors returns the warehouse's cursor store: the same one on every call,
// so that every collector's saves share its inserts.
func (w *Warehouse) Cursors() *Cursors {
	w.cursorsOnce.Do(func() { w.cursors = &Cursors{S: w.S} })
	return w.cursors
}

// Load returns the position saved under name, and false when none is.
func (c *Cursors) Load(ctx context.Context, name string) (string, bool, error) {
	cs, err := store.Cursors.All(ctx, c.S, "WHERE collector = ?", name)
	if err != nil {
		return "", false, fmt.Errorf("load cursor %s: %w", name, err)
	}
	if len(cs) == 0 {
		return "", false, nil
	}
	return cs[0].Position, true, nil
}

// Save stores cur; it returns once the insert holding it (or a newer
// position of the same collector) succeeded, with that insert's error, or
// when ctx ends. A Save that gives up leaves the others of its insert be.
func (c *Cursors) Save(ctx context.Context, cur model.Cursor) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save cursor %s: %w", cur.Collector, err)
	}
	c.mu.Lock()
	c.saves++
	b := c.queued
	if b == nil {
		b = &cursorBatch{at: map[string]int{}, done: make(chan struct{})}
		c.queued = b
	}
	b.add(ctx, cur)
	if !c.writing {
		c.writing = true
		go c.write()
	}
	c.mu.Unlock()
	select {
	case <-b.done:
		if b.err != nil {
			return fmt.Errorf("save cursor %s: %w", cur.Collector, b.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("save cursor %s: %w", cur.Collector, ctx.Err())
	}
}

// Stats returns the saves and inserts so far.
func (c *Cursors) Stats() CursorStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CursorStats{Saves: c.saves, Inserts: c.inserts}
}

// write inserts the queued batches, one after another, until none is.
func (c *Cursors) write() {
	for {
		c.mu.Lock()
		b := c.queued
		c.queued = nil
		if b == nil {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.inserts++
		c.mu.Unlock()
		b.err = b.write(c.S)
		close(b.done)
	}
}

// add puts cur in the batch, replacing an older position of its collector,
// and ctx among the waiters.
func (b *cursorBatch) add(ctx context.Context, cur model.Cursor) {
	if i, ok := b.at[cur.Collector]; ok {
		b.cursors[i] = cur
	} else {
		b.at[cur.Collector] = len(b.cursors)
		b.cursors = append(b.cursors, cur)
	}
	b.waiters = append(b.waiters, ctx)
}

// write inserts the batch's cursors as one batch. The insert's context ends
// when every waiter's has: one Save giving up does not fail the others.
func (b *cursorBatch) write(s store.Store) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(b.waiters[0]))
	defer cancel()
	var live atomic.Int64
	live.Store(int64(len(b.waiters)))
	for _, w := range b.waiters {
		stop := context.AfterFunc(w, func() {
			if live.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	return store.Cursors.Write(ctx, s, b.cursors)
}
