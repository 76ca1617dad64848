package pipeline

import (
	"context"
	"sync"

	"github.com/keytrail/keytrail/ingest"
)

// Writes tracks the store writes of this process that are under way, so
// that the streaming correlator reads each row about once instead of
// re-reading a time overlap on every poll: Floor is a row version below
// which every row written through Writes is committed. It relies on the
// versions the store stamps rows with (next: the warehouse's) increasing
// within the process. Rows other processes write are not covered; the
// correlator's periodic overlap re-read catches those (LiveOptions.Floor).
// A Writes is safe for concurrent use.
type Writes struct {
	next func() uint64

	mu       sync.Mutex
	inflight map[uint64]int // floor of a write under way → how many
}

// NewWrites returns a Writes over the versions next hands out (each greater
// than every one before).
func NewWrites(next func() uint64) *Writes {
	return &Writes{next: next, inflight: map[uint64]int{}}
}

// Sink returns s with every Write tracked.
func (w *Writes) Sink(s ingest.Sink) ingest.Sink { return trackedSink{s, w} }

// Floor returns a version such that every row written through w with a
// lower version is committed: the floor of the oldest write under way, or a
// fresh version when none is.
func (w *Writes) Floor() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.inflight) == 0 {
		return w.next()
	}
	first := uint64(0)
	for f := range w.inflight {
		if first == 0 || f < first {
			first = f
		}
	}
	return first
}

func (w *Writes) begin() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.next() // every version the write stamps is greater
	w.inflight[f]++
	return f
}

func (w *Writes) end(f uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inflight[f]--; w.inflight[f] <= 0 {
		delete(w.inflight, f)
	}
}

// trackedSink is an ingest.Sink whose writes a Writes tracks.
type trackedSink struct {
	ingest.Sink
	w *Writes
}

// Write implements ingest.Sink.
func (t trackedSink) Write(ctx context.Context, b *ingest.Batch) (map[ingest.RecordID]string, error) {
	f := t.w.begin()
	defer t.w.end(f)
	return t.Sink.Write(ctx, b)
}
