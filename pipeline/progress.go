package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keytrail/keytrail/correlate"
)

// Barrier tells when the records published so far are stored: Offsets
// returns where the bus ends now (every record published so far lies before
// end) and how far the sink has stored and committed. On Kafka they are the
// topics' end offsets and the sink group's committed offsets; the
// in-process bus needs no Barrier: its Publish returns only once the sink
// stored the records.
type Barrier interface {
	Offsets(ctx context.Context) (end, stored BusOffsets, err error)
}

// BusOffsets are positions in a bus's partitions: offset by topic and
// partition.
type BusOffsets map[string]map[int]int64

// Covers reports whether o is at or past mark in every partition of mark
// that holds records.
func (o BusOffsets) Covers(mark BusOffsets) bool {
	for t, ps := range mark {
		for part, end := range ps {
			if end > 0 && o[t][part] < end {
				return false
			}
		}
	}
	return true
}

// Progress tells the streaming correlator how far each polled source's
// records are in the store: for every source named, the provider time up to
// which its collector has published every record (CollectorState.Complete),
// once the sink has stored what was published by then. It is the
// correlator's per-source watermark (correlate.Engine.Progress): an action
// becomes final only when every source has progressed past it, and an idle
// source progresses with its collector's cursor. Progress is safe for
// concurrent use.
type Progress struct {
	status  *Status
	names   []string
	barrier Barrier

	mu      sync.Mutex
	pending []progressMark // collector positions not yet known to be stored, oldest first
	stored  map[Key]time.Time
}

type progressMark struct {
	at  map[Key]time.Time
	end BusOffsets
}

// maxPendingMarks bounds the positions waiting for the bus to pass them: a
// newer one replaces the oldest, which only delays finality.
const maxPendingMarks = 64

// NewProgress returns the Progress of the named sources of st, whose
// collectors publish through a bus behind b (nil: Publish returns only
// once the records are stored).
func NewProgress(st *Status, names []string, b Barrier) *Progress {
	p := &Progress{status: st, names: names, barrier: b, stored: map[Key]time.Time{}}
	for k := range st.complete(names) {
		p.stored[k] = time.Time{}
	}
	return p
}

// Stored returns, for every source named, the time up to which its records
// are all stored (zero: not known yet). It reads the collectors' positions,
// then the bus's offsets, and returns the latest positions the sink is known to
// have passed. What it returns never moves back.
func (p *Progress) Stored(ctx context.Context) (map[correlate.SourceKey]time.Time, error) {
	at := p.status.complete(p.names)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.barrier == nil {
		p.take(at)
		return p.result(), nil
	}
	end, stored, err := p.barrier.Offsets(ctx)
	if err != nil {
		return p.result(), fmt.Errorf("progress: bus offsets: %w", err)
	}
	if len(p.pending) == maxPendingMarks {
		p.pending = append(p.pending[:0], p.pending[1:]...)
	}
	p.pending = append(p.pending, progressMark{at: at, end: end})
	// The newest mark the sink passed: the positions taken before it are
	// stored.
	passed := -1
	for i := len(p.pending) - 1; i >= 0; i-- {
		if stored.Covers(p.pending[i].end) {
			passed = i
			break
		}
	}
	if passed >= 0 {
		p.take(p.pending[passed].at)
		p.pending = append(p.pending[:0], p.pending[passed+1:]...)
	}
	return p.result(), nil
}

// take moves each source's stored time forward to at's.
func (p *Progress) take(at map[Key]time.Time) {
	for k, t := range at {
		if t.After(p.stored[k]) {
			p.stored[k] = t
		}
	}
}

func (p *Progress) result() map[correlate.SourceKey]time.Time {
	out := make(map[correlate.SourceKey]time.Time, len(p.stored))
	for k, t := range p.stored {
		out[correlate.SourceKey(k)] = t
	}
	return out
}
