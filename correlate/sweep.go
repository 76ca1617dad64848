package correlate

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/keytrail/keytrail/model"
)

// ErrOutOfOrder marks a Sweep input stream that goes back in time.
var ErrOutOfOrder = errors.New("stream out of time order")

// Sweep correlates, in one pass, an Input whose four streams are each in
// time order (ties in any order), and hands every action's correlation to
// emit as soon as no later event can change it: an audit action once the
// streams have passed its time plus clock skew, a run once they have passed
// its time plus twice the clock skew (its trigger may lie a skew after it,
// and the trigger's assertion a skew after that). The correlations equal
// Batch's over the same events; only their order differs (by finalisation,
// roughly by time). emit is called on Sweep's goroutine.
//
// Memory is bounded by time, not by the length of the input. Sweep keeps,
// per person, the authentications of the longest max_age (plus twice the
// clock skew) behind the streams and the latest hardware-backed one before
// that, until it is older than the lookback (all a stale verdict can rely
// on); per credential its registrations and removals, compacted like the
// Engine's to the latest of each before the lookback; per DAG its latest
// unpause and backfill request (a run inherits from one of any age) and the
// triggers of the trigger window; and the actions awaiting their skew.
//
// An action id is expected once, as a store keyed by it hands it over;
// copies met while the first is awaiting its skew are ignored. Sweep fails
// on a stream that goes back in time (ErrOutOfOrder), an event without a
// time (ErrNoTime), an invalid policy, an error from emit, or ctx being
// done; the correlations emitted before the failure stand.
func Sweep(ctx context.Context, p Policy, in Input, emit func(model.Correlation) error) error {
	r, err := compile(p)
	if err != nil {
		return fmt.Errorf("sweep correlate: %w", err)
	}
	w := newSweeper(r, emit)

	srcs := []*sweepSource{
		pullSource(in.Authenticators, func(e *model.Authenticator) time.Time { return e.TS }, w.addAuthenticator),
		pullSource(in.Auth, func(e *model.AuthEvent) time.Time { return e.TS }, w.addAuth),
		pullSource(in.Airflow, func(e *model.AirflowEvent) time.Time { return e.TS }, w.addAirflow),
		pullSource(in.Runs, func(e *model.DagRun) time.Time { return e.TS }, w.addRun),
	}
	defer func() {
		for _, s := range srcs {
			s.stop()
		}
	}()
	for n := 1; ; n++ {
		if n&0xfff == 0 && ctx.Err() != nil {
			return fmt.Errorf("sweep correlate: %w", ctx.Err())
		}
		next := earliest(srcs)
		if next == nil {
			break
		}
		if next.timed && next.err == nil {
			if err := w.advance(next.ts); err != nil {
				return fmt.Errorf("sweep correlate: %w", err)
			}
		}
		if err := next.take(); err != nil {
			return fmt.Errorf("sweep correlate: %w", err)
		}
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("sweep correlate: %w", err)
	}
	return nil
}

// newSweeper returns an empty sweeper under r emitting to emit.
func newSweeper(r *rules, emit func(model.Correlation) error) *sweeper {
	w := &sweeper{s: newState(r), emit: emit, seenAudit: map[string]struct{}{}, seenRun: map[string]struct{}{}}
	for _, d := range r.maxAge {
		w.maxAge = max(w.maxAge, d)
	}
	w.every = max(w.maxAge/4, int64(time.Minute))
	return w
}

// sweepSource is one input stream being merged: its current event, read
// ahead, and how to apply it.
type sweepSource struct {
	ok    bool  // there is a current event
	ts    int64 // its time (unix ns); for an event without one, the stream's last time
	timed bool  // it has a time
	err   error // reading it found the stream out of order
	take  func() error
	stop  func()
}

// earliest returns the source whose current event is the earliest (the
// first of equals), nil when every source has ended.
func earliest(srcs []*sweepSource) *sweepSource {
	var next *sweepSource
	for _, s := range srcs {
		if s.ok && (next == nil || s.ts < next.ts) {
			next = s
		}
	}
	return next
}

// pullSource wraps seq (nil is empty) as a sweepSource: take hands the
// current event to add, then reads the next one. An event without a time
// is taken in its stream's place and does not advance the sweep (add fails
// on it if it would count).
func pullSource[T any](seq iter.Seq[T], tsOf func(*T) time.Time, add func(*T) error) *sweepSource {
	s := &sweepSource{stop: func() {}}
	if seq == nil {
		return s
	}
	pull, stop := iter.Pull(seq)
	s.stop = stop
	var cur T
	var last int64
	started := false
	read := func() {
		v, ok := pull()
		s.ok, s.err = ok, nil
		if !ok {
			return
		}
		cur = v
		t := tsOf(&cur)
		s.timed, s.ts = !t.IsZero(), last
		switch ts := nanos(t); {
		case !s.timed:
		case started && ts < last:
			s.err = fmt.Errorf("%T at %s after one at %s: %w", cur, t.UTC().Format(time.RFC3339Nano), fromNanos(last).Format(time.RFC3339Nano), ErrOutOfOrder)
		default:
			started, last, s.ts = true, ts, ts
		}
	}
	s.take = func() error {
		if s.err != nil {
			return s.err
		}
		if err := add(&cur); err != nil {
			return err
		}
		read()
		return nil
	}
	read()
	return s
}

// sweeper is Sweep's state: the shared indexed state, plus the actions
// awaiting their deadline in time order.
type sweeper struct {
	s    *state
	emit func(model.Correlation) error
	// emitItem, when set, is handed each judged item instead of emit
	// (SweepParallel's workers).
	emitItem func(*item)
	audits   queue // pending audit actions, by time (= deadline order)
	runs     queue // pending runs, by time
	// ids of pending actions, for ignoring copies.
	seenAudit, seenRun map[string]struct{}
	wm                 int64 // the latest event time taken
	maxAge             int64 // the longest max_age of any class
	every              int64 // compact state this often (stream time)
	lastCompact        int64
	started            bool
}

// queue is a FIFO of items.
type queue struct {
	items []*item
	head  int
}

func (q *queue) push(it *item) { q.items = append(q.items, it) }

func (q *queue) peek() *item {
	if q.head == len(q.items) {
		return nil
	}
	return q.items[q.head]
}

func (q *queue) pop() *item {
	it := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return it
}

// advance finalises every pending action whose deadline lies before t (no
// event at t or later can change it), audit actions first (runs inherit
// their verdicts), and compacts the state now and then.
func (w *sweeper) advance(t int64) error {
	if w.started && t <= w.wm {
		return nil
	}
	if !w.started {
		w.started, w.lastCompact = true, t
	}
	w.wm = t
	// an item's deadline includes the Engine's grace, which in-order
	// input does not need.
	grace := w.s.r.grace
	if err := w.finalise(func(it *item) bool { return it.deadline-grace < t }); err != nil {
		return err
	}
	if t-w.lastCompact >= w.every {
		w.compact()
		w.lastCompact = t
		if sweepHook != nil {
			sweepHook(w)
		}
	}
	return nil
}

// flush finalises every pending action: the input has ended.
func (w *sweeper) flush() error {
	return w.finalise(func(*item) bool { return true })
}

func (w *sweeper) finalise(due func(*item) bool) error {
	for _, q := range []struct {
		q    *queue
		seen map[string]struct{}
	}{{&w.audits, w.seenAudit}, {&w.runs, w.seenRun}} {
		for it := q.q.peek(); it != nil && due(it); it = q.q.peek() {
			q.q.pop()
			delete(q.seen, it.base.ActionID)
			w.s.judge(it)
			if it.done != nil {
				close(it.done)
			}
			if w.emitItem != nil {
				w.emitItem(it)
			} else if err := w.emit(it.c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *sweeper) addAuth(e *model.AuthEvent) error {
	if !isAuthentication(e) || e.Person == "" {
		return nil
	}
	if e.TS.IsZero() {
		return fmt.Errorf("auth event %s/%s/%s: %w", e.Source, e.Instance, e.EventID, ErrNoTime)
	}
	insertAssertion(w.s.personOf(e.Person), toAssertion(e))
	return nil
}

func (w *sweeper) addAuthenticator(e *model.Authenticator) error {
	k, ce, ok := toCredEvent(e)
	if !ok {
		return nil
	}
	if e.TS.IsZero() {
		return fmt.Errorf("authenticator event %s/%s/%s: %w", e.Source, e.Instance, e.EventID, ErrNoTime)
	}
	evs := w.s.creds[k]
	if i, found := slices.BinarySearchFunc(evs, ce, cmpCred); !found {
		w.s.creds[k] = slices.Insert(evs, i, ce)
	}
	return nil
}

func (w *sweeper) addAirflow(e *model.AirflowEvent) error {
	if !isAction(e) {
		return nil
	}
	if e.TS.IsZero() {
		return fmt.Errorf("airflow event %s: %w", auditID(e), ErrNoTime)
	}
	id := auditID(e)
	if _, dup := w.seenAudit[id]; dup {
		return nil
	}
	w.seenAudit[id] = struct{}{}
	it := w.s.newAuditItem(e)
	if it.linked {
		w.s.link(it, insertItem)
	}
	w.audits.push(it)
	return nil
}

func (w *sweeper) addRun(r *model.DagRun) error {
	if r.TS.IsZero() {
		return fmt.Errorf("dag run %s: %w", runID(r), ErrNoTime)
	}
	id := runID(r)
	if _, dup := w.seenRun[id]; dup {
		return nil
	}
	w.seenRun[id] = struct{}{}
	w.runs.push(w.s.newRunItem(r))
	return nil
}

// sweepHook, when set (by tests), sees the sweeper after each compaction.
var sweepHook func(*sweeper)

// held counts the events the state holds: authentications, credential
// registrations and removals, enabling actions and pending actions.
func (w *sweeper) held() int {
	return len(w.audits.items) - w.audits.head + len(w.runs.items) - w.runs.head + w.s.eventsHeld()
}

// compact drops the state no pending or later action can need. Every
// action still to be judged lies at or after cut: the oldest pending one,
// or the streams' time.
func (w *sweeper) compact() {
	r := w.s.r
	cut := w.wm
	for _, q := range []*queue{&w.audits, &w.runs} {
		if it := q.peek(); it != nil {
			cut = min(cut, it.ts)
		}
	}
	keepAll := cut - w.maxAge // an action's window reaches back max_age
	floor := cut - r.lookback // a stale verdict reaches back the lookback
	for id, p := range w.s.persons {
		n, _ := slices.BinarySearchFunc(p.auths, keepAll, cmpTS)
		if n > 0 {
			// Of the authentications before keepAll only the latest
			// hardware-backed one can still be picked (for stale): its
			// credential's history up to it is complete, so whether it is
			// hardware-backed is settled.
			old := -1
			for i := n - 1; i >= 0 && p.auths[i].ts >= floor; i-- {
				ci := w.s.credentialAt(&p.auths[i])
				if _, ok, _ := w.s.hardware(&p.auths[i], &ci); ok {
					old = i
					break
				}
			}
			k := 0
			if old >= 0 {
				p.auths[0], k = p.auths[old], 1
			}
			k += copy(p.auths[k:], p.auths[n:])
			clear(p.auths[k:])
			p.auths = p.auths[:k]
			if cap(p.auths) > 4*k+16 { // after a burst
				p.auths = slices.Clone(p.auths)
			}
		}
		if len(p.auths) == 0 {
			delete(w.s.persons, id)
		}
	}
	for k, evs := range w.s.creds {
		w.s.creds[k] = compactCred(evs, floor)
	}
	for k, d := range w.s.dags {
		if d.compact(cut, r.trigWin) {
			delete(w.s.dags, k)
		}
	}
}
