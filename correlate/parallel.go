package correlate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keytrail/keytrail/model"
)

// SweepParallel is Sweep on workers goroutines (Sweep itself when workers
// is 1 or less): the same correlations, emitted in another order, still on
// SweepParallel's goroutine.
//
// One goroutine merges the four streams in time order, as Sweep does, and
// hands each event to the worker that owns its person (by a hash of the
// person): the authentications and actions of a person, and the manual and
// other runs attributed to one, all meet in one worker, whose state is
// Sweep's over them. Every worker sees every credential registration and
// removal (an assertion's credential may be anyone's), and every enabling
// action (an unpause, a backfill request or a trigger of a DAG): a run
// inherits from one of any person. An enabling action is judged by its
// person's worker only; a worker judging a run that inherits from one of
// another worker's waits for that verdict, which is final before the run's
// own deadline (a run's enabler lies at most a clock skew after it, and is
// final a skew after that), so the workers never wait on each other in a
// cycle. Every worker is handed the streams' time after each batch, so it
// finalises and compacts in step with the others even when it owns none of
// a batch's events.
//
// Memory stays bounded as Sweep's: each worker holds its people's state,
// each the credentials' and the enabling actions', plus a few batches in
// flight. An action id is expected once, as for Sweep; a copy of an action
// under another person would be judged twice.
func SweepParallel(ctx context.Context, p Policy, in Input, workers int, emit func(model.Correlation) error) error {
	if workers <= 1 {
		return Sweep(ctx, p, in, emit)
	}
	r, err := compile(p)
	if err != nil {
		return fmt.Errorf("sweep correlate: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
			cancel()
		}
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return first
	}

	out := make(chan []*item, 2*workers)
	ins := make([]chan *sweepBatch, workers)
	free := make(chan *sweepBatch, 6*workers) // batches done with, for reuse
	var wg sync.WaitGroup
	for i := range ins {
		ins[i] = make(chan *sweepBatch, 4)
		w := newSweeper(r, nil)
		w.s.stop = ctx.Done()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.work(ctx, ins[i], out, free); err != nil {
				fail(err)
			}
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			for _, in := range ins {
				close(in)
			}
		}()
		if err := dispatch(ctx, r, in, ins, free); err != nil {
			fail(err)
		}
	}()
	for its := range out {
		if failed() != nil || ctx.Err() != nil {
			continue // drain: the workers are stopping
		}
		for _, it := range its {
			if err := emit(it.c); err != nil {
				fail(err)
				break
			}
		}
	}
	if err := failed(); err != nil {
		return fmt.Errorf("sweep correlate: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sweep correlate: %w", err)
	}
	return nil
}

// sweepBatch is a run of the merged streams for one worker: its events in
// stream order, each an op naming its kind and its index in the slice of
// that kind, and the streams' time at the batch's end.
type sweepBatch struct {
	ops    []sweepOp
	auth   []model.AuthEvent
	authn  []model.Authenticator
	audit  []model.AirflowEvent
	items  []*item // enabling actions, made by the dispatcher, shared
	owned  []bool  // items[i] is this worker's to judge
	runs   []model.DagRun
	wm     int64 // the streams' time after the batch
	timed  bool  // wm is set
	closed bool
}

// reset empties b for reuse.
func (b *sweepBatch) reset() {
	clear(b.items)
	*b = sweepBatch{ops: b.ops[:0], auth: b.auth[:0], authn: b.authn[:0], audit: b.audit[:0], items: b.items[:0], owned: b.owned[:0], runs: b.runs[:0]}
}

type sweepOp struct {
	ts    int64
	timed bool
	kind  uint8
	idx   int32
}

const (
	opAuth uint8 = iota
	opAuthn
	opAudit
	opItem
	opRun
)

// dispatchEvery is how many events the dispatcher merges before it hands
// each worker its batch.
const dispatchEvery = 2048

// dispatch merges in's streams in time order, as Sweep does, and routes
// each event to its worker's batch, each batch sent every dispatchEvery
// events.
func dispatch(ctx context.Context, r *rules, in Input, ins []chan *sweepBatch, free chan *sweepBatch) error {
	n := uint32(len(ins))
	bs := make([]*sweepBatch, n)
	fresh := func() *sweepBatch {
		select {
		case b := <-free:
			return b
		default:
			return &sweepBatch{}
		}
	}
	for i := range bs {
		bs[i] = fresh()
	}
	var (
		wm, timedWM = int64(0), false
		taken       int
		cur         = sweepOp{}
	)
	send := func() error {
		for i, b := range bs {
			b.wm, b.timed = wm, timedWM
			select {
			case ins[i] <- b:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			bs[i] = fresh()
		}
		taken = 0
		return nil
	}
	// the enabling actions pending in their owner, by id, as Sweep's seen.
	seen := map[string]struct{}{}
	var pending queue
	owner := func(person string) uint32 { return personHash(person) % n }
	srcs := []*sweepSource{
		pullSource(in.Authenticators, func(e *model.Authenticator) time.Time { return e.TS }, func(e *model.Authenticator) error {
			if _, _, ok := toCredEvent(e); !ok {
				return nil
			}
			if e.TS.IsZero() {
				return fmt.Errorf("authenticator event %s/%s/%s: %w", e.Source, e.Instance, e.EventID, ErrNoTime)
			}
			for _, b := range bs {
				b.ops = append(b.ops, sweepOp{ts: cur.ts, timed: cur.timed, kind: opAuthn, idx: int32(len(b.authn))})
				b.authn = append(b.authn, *e)
			}
			return nil
		}),
		pullSource(in.Auth, func(e *model.AuthEvent) time.Time { return e.TS }, func(e *model.AuthEvent) error {
			if !isAuthentication(e) || e.Person == "" {
				return nil
			}
			if e.TS.IsZero() {
				return fmt.Errorf("auth event %s/%s/%s: %w", e.Source, e.Instance, e.EventID, ErrNoTime)
			}
			b := bs[owner(e.Person)]
			b.ops = append(b.ops, sweepOp{ts: cur.ts, timed: cur.timed, kind: opAuth, idx: int32(len(b.auth))})
			b.auth = append(b.auth, *e)
			return nil
		}),
		pullSource(in.Airflow, func(e *model.AirflowEvent) time.Time { return e.TS }, func(e *model.AirflowEvent) error {
			if !isAction(e) {
				return nil
			}
			if e.TS.IsZero() {
				return fmt.Errorf("airflow event %s: %w", auditID(e), ErrNoTime)
			}
			o := owner(e.Person)
			if !enabling(e) {
				b := bs[o]
				b.ops = append(b.ops, sweepOp{ts: cur.ts, timed: cur.timed, kind: opAudit, idx: int32(len(b.audit))})
				b.audit = append(b.audit, *e)
				return nil
			}
			id := auditID(e)
			if _, dup := seen[id]; dup {
				return nil
			}
			seen[id] = struct{}{}
			it := newAuditItem(r, e)
			it.done = make(chan struct{})
			pending.push(it)
			for i, b := range bs {
				b.ops = append(b.ops, sweepOp{ts: cur.ts, timed: cur.timed, kind: opItem, idx: int32(len(b.items))})
				b.items = append(b.items, it)
				b.owned = append(b.owned, uint32(i) == o)
			}
			return nil
		}),
		pullSource(in.Runs, func(e *model.DagRun) time.Time { return e.TS }, func(e *model.DagRun) error {
			if e.TS.IsZero() {
				return fmt.Errorf("dag run %s: %w", runID(e), ErrNoTime)
			}
			b := bs[owner(e.Person)]
			b.ops = append(b.ops, sweepOp{ts: cur.ts, timed: cur.timed, kind: opRun, idx: int32(len(b.runs))})
			b.runs = append(b.runs, *e)
			return nil
		}),
	}
	defer func() {
		for _, s := range srcs {
			s.stop()
		}
	}()
	for k := 1; ; k++ {
		if k&0xfff == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		next := earliest(srcs)
		if next == nil {
			break
		}
		cur = sweepOp{ts: next.ts, timed: next.timed && next.err == nil}
		if cur.timed && (!timedWM || cur.ts > wm) {
			wm, timedWM = cur.ts, true
			// an enabling action's copies count again once it is final.
			for it := pending.peek(); it != nil && it.deadline-r.grace < wm; it = pending.peek() {
				pending.pop()
				delete(seen, it.base.ActionID)
			}
		}
		if err := next.take(); err != nil {
			return err
		}
		if taken++; taken >= dispatchEvery {
			if err := send(); err != nil {
				return err
			}
		}
	}
	for _, b := range bs {
		b.closed = true
	}
	return send()
}

// enabling reports whether audit action e enables runs: an unpause, a
// backfill request or a trigger of a DAG (see newAuditItem's linked).
func enabling(e *model.AirflowEvent) bool {
	class := e.Action
	return e.DagID != "" && (class == model.ActionUnpause || class == model.ActionBackfill ||
		(class == model.ActionTrigger && e.TaskID == ""))
}

// personHash is FNV-1a of person.
func personHash(person string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(person); i++ {
		h ^= uint32(person[i])
		h *= 16777619
	}
	return h
}

// work applies the batches of in to w in order, advancing w before each
// timed event as Sweep does, and sends the items w judges to out (their
// verdicts final, read-only); at the end of the input it flushes w.
func (w *sweeper) work(ctx context.Context, in <-chan *sweepBatch, out chan<- []*item, free chan<- *sweepBatch) error {
	var buf []*item
	w.emitItem = func(it *item) { buf = append(buf, it) }
	ship := func() error {
		if len(buf) == 0 {
			return nil
		}
		select {
		case out <- buf:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		buf = make([]*item, 0, 2*len(buf))
		return nil
	}
	for {
		var b *sweepBatch
		var ok bool
		select {
		case b, ok = <-in:
		case <-ctx.Done():
			return nil
		}
		if !ok {
			return nil // the dispatcher stopped: its error is the run's
		}
		for _, op := range b.ops {
			if op.timed {
				if err := w.advance(op.ts); err != nil {
					return err
				}
			}
			var err error
			switch op.kind {
			case opAuth:
				err = w.addAuth(&b.auth[op.idx])
			case opAuthn:
				err = w.addAuthenticator(&b.authn[op.idx])
			case opAudit:
				err = w.addAirflow(&b.audit[op.idx])
			case opItem:
				it := b.items[op.idx]
				w.s.link(it, insertItem)
				if b.owned[op.idx] {
					w.audits.push(it)
				}
			case opRun:
				err = w.addRun(&b.runs[op.idx])
			}
			if err != nil {
				return err
			}
		}
		if b.timed {
			if err := w.advance(b.wm); err != nil {
				return err
			}
		}
		if b.closed {
			if err := w.flush(); err != nil {
				return err
			}
		}
		b.reset()
		select {
		case free <- b:
		default:
		}
		if ctx.Err() != nil {
			return nil // a judged run may have stopped waiting: emit none of it
		}
		if err := ship(); err != nil {
			return nil
		}
	}
}
