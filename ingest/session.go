package ingest

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/keytrail/keytrail/model"
)

// Session ingests a stream of batches — a sink's writes — the way one
// IngestGroups call ingests one: but checking a batch against the store
// (Check: normalize, look up the stored ids, classify, enrich) may overlap
// storing the batch before it (Store), as Ingest overlaps the batches of a
// file. A record whose id the batch still being stored holds is settled by
// that batch, not looked up (the store may not hold it yet), and waits for
// that batch's write when it would learn that another writer stored it
// first.
//
// The rules that keep this exact, enforced by waiting: at most one checked
// batch is unstored when Check starts (Check waits for the one before to be
// stored), and batches are stored in the order they were checked (Store
// waits for the batch checked before). A failed Store is retried with the
// same Checked until it succeeds; a caller that gives up on a batch calls
// Reset before it checks again. A Session is safe for one Check running
// beside one Store.
type Session struct {
	in *Ingester

	check  sync.Mutex // one Check at a time
	scopes map[RecordID]int
	ck     checker
	seq    int

	mu      sync.Mutex
	pending []*Checked    // checked, not yet stored, in check order
	changed chan struct{} // closed (and replaced) when pending shrinks
}

// Checked is a batch checked by Session.Check, to be stored by Store.
type Checked struct {
	r      *run
	cb     *checkedBatch
	res    []Result
	stored bool
}

// ErrStale is Store's error for a batch checked before a Reset.
var ErrStale = errors.New("ingest: batch checked before the session was reset; check it again")

// Session starts a session of in's Sink, Enricher and Now (Normalizer,
// Instance, BatchSize and Stored are not used).
func (in *Ingester) Session() *Session {
	return &Session{in: in, scopes: map[RecordID]int{}, changed: make(chan struct{}),
		ck: checker{settled: map[scopedID]settledID{}, conflicted: map[conflictKey]bool{}}}
}

// Check normalizes groups as one batch (each group with its own
// normalizer, its records in order), asks the store which of its ids it
// holds, classifies its records and enriches the new ones. It first waits
// (or returns ctx's error) until no batch but the last one checked is
// unstored. An error is the store's (ErrStore) or the enricher's; the batch
// was not checked and may be checked again.
func (s *Session) Check(ctx context.Context, groups []Group) (*Checked, error) {
	s.check.Lock()
	defer s.check.Unlock()
	var prev *checkedBatch
	for {
		s.mu.Lock()
		n, changed := len(s.pending), s.changed
		if n == 1 {
			prev = s.pending[0].cb
		}
		s.mu.Unlock()
		if n <= 1 {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	// What the session knows of ids is the batch still being stored:
	// every batch before it is stored, and a look-up finds its ids.
	s.ck.mu.Lock()
	for k, v := range s.ck.settled {
		if prev == nil || v.batch != prev.seq {
			delete(s.ck.settled, k)
		}
	}
	clear(s.ck.conflicted)
	s.ck.mu.Unlock()

	r := &run{scopes: s.scopes}
	spans := r.addGroups(groups)
	res := make([]Result, len(r.groups))
	countRecords(res, spans)
	nb := s.in.normalize(r, spans, model.Millis(s.in.clock()()), s.in.Sink.TimeRange())
	nb.seq = s.seq
	s.seq++
	cb, err := s.in.check(ctx, r, nb, &s.ck, prev)
	if err != nil {
		// Its settled ids are dropped by the next Check.
		return nil, err
	}
	c := &Checked{r: r, cb: cb, res: res}
	s.mu.Lock()
	s.pending = append(s.pending, c)
	s.mu.Unlock()
	return c, nil
}

// Store writes c, after waiting (or returning ctx's error) until every
// batch checked before it is stored, and returns its counts per group
// (results[i] counts the i-th group given to Check). An error means the
// store failed and nothing of c may be counted stored; store it again.
func (s *Session) Store(ctx context.Context, c *Checked) ([]Result, error) {
	for {
		s.mu.Lock()
		if c.stored {
			s.mu.Unlock()
			return c.res, nil
		}
		i := -1
		for j, p := range s.pending {
			if p == c {
				i = j
				break
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if i < 0 {
			return nil, ErrStale
		}
		if i == 0 {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	res := slices.Clone(c.res)
	err := s.in.store(ctx, c.r, c.cb, &s.ck, res)
	// A batch checked after c waits for c's first attempt only to learn
	// which of its ids another writer stored first; c stays its settler
	// until it is stored.
	c.cb.wrote()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c.res, c.stored = res, true
	s.pending = s.pending[1:]
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return res, nil
}

// Reset forgets every batch checked and not stored (their Store returns
// ErrStale): for a caller that gives up on a batch.
func (s *Session) Reset() {
	s.mu.Lock()
	s.pending = nil
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.ck.mu.Lock()
	clear(s.ck.settled)
	clear(s.ck.conflicted)
	s.ck.mu.Unlock()
}
