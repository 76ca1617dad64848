package correlation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/model"
)

// Defaults of LiveOptions.
const (
	DefaultLiveBatch         = 5000
	DefaultLiveFlushInterval = time.Second
	DefaultPollOverlap       = 2 * time.Minute
)

// LiveOptions tune a Live correlator. The zero value is usable.
type LiveOptions struct {
	// Now stamps ComputedAt and the current-policy cursor. Default time.Now.
	Now func() time.Time
	// Notifier, when set, is handed each action's latest correlation after
	// it is written: an unverified privileged action fires, and a later
	// update that is verified (a late assertion) resolves it. Default none.
	Notifier *alert.Notifier
	// FinalOnly hands the Notifier only final verdicts and the updates of
	// actions it was already handed (so resolves still flow): provisional
	// verdicts that change within grace never alert. Default false.
	FinalOnly bool
	// BatchSize is how many changed correlations are buffered before Add
	// writes them. Default DefaultLiveBatch.
	BatchSize int
	// FlushInterval is the longest a buffered correlation waits: Add writes
	// the buffer once it is this old. Default DefaultLiveFlushInterval.
	FlushInterval time.Duration
	// PollOverlap is how far before the newest row version already read Poll
	// reads again, for rows whose insert committed late; re-read events are
	// ignored by the engine as redeliveries. Default DefaultPollOverlap.
	PollOverlap time.Duration
	// Floor, when set, returns a row version below which every row this
	// process's writers stored is committed (pipeline.Writes.Floor). Poll
	// then reads only from the floor taken before its previous read — the
	// rows stored since, about once each — and re-reads PollOverlap back at
	// most every PollOverlap/2, for rows other processes stored (a row
	// whose insert committed up to PollOverlap/2 late is still read). After
	// the first, that re-read runs beside the polls: the Poll that finds
	// it done hands its rows over, so the rows this process stores meanwhile
	// do not wait for it.
	Floor func() uint64
	// Logger receives alert hand-off failures. Default discard.
	Logger *slog.Logger
	// OnUpdate, when set, observes every engine update (with the Live's
	// lock held; it must not call back into the Live).
	OnUpdate func(correlate.Update)
}

// LiveStats are a Live correlator's counters.
type LiveStats struct {
	// Engine is the streaming engine's snapshot.
	Engine correlate.Stats
	// Written counts correlation rows written.
	Written int64
	// Final counts the final verdicts written, by verdict.
	Final map[model.Verdict]int
	// AlertErrors counts correlations the Notifier could not queue.
	AlertErrors int
	// Polled counts events read by Poll (re-reads included).
	Polled int64
}

// Live runs the streaming correlator (correlate.Engine) over events as they
// arrive and keeps the correlations table current: every update (a
// provisional verdict, a changed one, the final one) replaces the action's
// row under the Live's policy version. Updates are buffered, coalesced per
// action and written in batches; then they go to the Notifier.
//
// Feed it with Add (ingest), Preload (warm state from stored history) and
// Poll (events stored since the last Poll). Airflow rows and runs without a
// person, or with a provisional one (identity.Provisional), take the one the
// stored identities name for their owner; while that is open, each Poll
// that reads newer rows looks again and hands a person it finds to the
// engine (correlate.Engine.Resolve), which re-judges the action until it
// is final. Authentications stored under a provisional person are held the
// same way and handed to the engine again under the person their subject
// moves to. Verdicts are final by the latest
// event time seen, as in batch order, until Progress says how far each
// source is stored: from then on an action is final only when every source
// has progressed past it, so a source polled slower than another (or
// lagging, like Google's Reports API) cannot leave a verdict decided before
// its events arrived. Close flushes the engine and makes the policy
// current. A Live is safe for concurrent use.
type Live struct {
	w   Store
	p   correlate.Policy
	o   LiveOptions
	eng *correlate.Engine

	mu       sync.Mutex // guards the fields below; held across engine calls
	buf      []model.Correlation
	idx      map[string]int // action id → index in buf
	bufSince time.Time
	floor    time.Time // updates of actions before it are dropped
	notified map[string]struct{}
	final    map[model.Verdict]int
	written  int64
	alertErr int
	polled   int64
	finals   map[string]struct{} // buffered action ids whose update was final
	lastAt   time.Time           // last ComputedAt stamped
	mark     uint64              // newest row version seen by Poll
	visible  uint64              // with Floor: the floor taken before the last read (0: none yet)
	swept    time.Time           // with Floor: when Poll last re-read PollOverlap back
	sweeping chan rowsRead       // with Floor: the re-read under way, if any (receives once)
	closed   bool

	people     enrich.People // the identities stored, as of NewLive or the last Poll that needed them
	peopleRead bool          // a Poll read people
	unresolved []any         // pending Airflow rows and runs whose person is open (none yet, or provisional), and authentications under a provisional person
}

// NewLive returns a Live correlating under p, over the events stored in w.
func NewLive(ctx context.Context, w Store, p correlate.Policy, o LiveOptions) (*Live, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultLiveBatch
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultLiveFlushInterval
	}
	if o.PollOverlap <= 0 {
		o.PollOverlap = DefaultPollOverlap
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Live{w: w, p: p, o: o, idx: map[string]int{}, notified: map[string]struct{}{}, finals: map[string]struct{}{}, final: map[model.Verdict]int{}}
	eng, err := correlate.NewEngine(p, correlate.SinkFunc(l.correlated))
	if err != nil {
		return nil, fmt.Errorf("live correlate: %w", err)
	}
	l.eng = eng
	if l.people, err = enrich.LoadPeople(ctx, w); err != nil {
		return nil, fmt.Errorf("live correlate: %w", err)
	}
	if err := w.RecordPolicy(ctx, p, o.Now()); err != nil {
		return nil, fmt.Errorf("live correlate: %w", err)
	}
	return l, nil
}

// PolicyVersion returns the version the Live's correlations are under.
func (l *Live) PolicyVersion() string { return l.eng.PolicyVersion() }

// correlated is the engine's sink; l.mu is held by the caller of the engine.
func (l *Live) correlated(u correlate.Update) {
	if l.o.OnUpdate != nil {
		l.o.OnUpdate(u)
	}
	if !l.floor.IsZero() && u.ActionTS.Before(l.floor) {
		return
	}
	if u.Final {
		l.final[u.Verdict]++
	}
	if i, ok := l.idx[u.ActionID]; ok {
		l.buf[i] = u.Correlation
	} else {
		if len(l.buf) == 0 {
			l.bufSince = time.Now()
		}
		l.idx[u.ActionID] = len(l.buf)
		l.buf = append(l.buf, u.Correlation)
	}
	if u.Final {
		l.finals[u.ActionID] = struct{}{}
	}
}

// Add feeds one event to the engine: a model.AuthEvent, model.Authenticator,
// model.AirflowEvent or model.DagRun, or a pointer to one (not retained).
// The correlations it changes are written once BatchSize are buffered or
// the oldest has waited FlushInterval (see Sync).
func (l *Live) Add(ctx context.Context, ev any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("live correlate: closed")
	}
	ev = l.resolve(ev)
	if err := l.eng.Add(ctx, ev); err != nil {
		return err
	}
	if len(l.buf) >= l.o.BatchSize || (len(l.buf) > 0 && time.Since(l.bufSince) >= l.o.FlushInterval) {
		return l.syncLocked(ctx)
	}
	return nil
}

// resolve returns ev with the person of its Airflow owner when it was
// stored without one or with a provisional one (a copy: the caller's value
// is not changed), and keeps it among the unresolved while its person is
// open (enrich.People).
func (l *Live) resolve(ev any) any {
	switch v := ev.(type) {
	case *model.AirflowEvent:
		if v != nil {
			return l.resolve(*v)
		}
	case *model.DagRun:
		if v != nil {
			return l.resolve(*v)
		}
	case model.AirflowEvent:
		if l.people.Airflow(&v) {
			l.unresolved = append(l.unresolved, v)
		}
		return v
	case model.DagRun:
		if l.people.Run(&v) {
			l.unresolved = append(l.unresolved, v)
		}
		return v
	case *model.AuthEvent:
		if v != nil && identity.Provisional(v.Person) {
			return l.resolve(*v)
		}
	case model.AuthEvent:
		if l.people.Auth(&v) {
			l.unresolved = append(l.unresolved, v)
		}
		return v
	}
	return ev
}

// resolvePending hands the engine the person of each pending action whose
// owner the identities now name differently — it had none, or a
// provisional one that moved (correlate.Engine.Resolve) — and each
// authentication held under a provisional person that moved, again under
// the person it moved to (the engine re-judges that person's pending
// actions). It forgets those it can no longer change: settled, finalised,
// or (an authentication) older than any pending action can look back.
func (l *Live) resolvePending(ctx context.Context) error {
	if len(l.unresolved) == 0 {
		return nil
	}
	wm := l.eng.Stats().Finality
	horizon := l.p.Grace + 2*l.p.ClockSkew // an action is final this long after its time
	keep := l.unresolved[:0]
	var err error
	for _, ev := range l.unresolved {
		var ts time.Time
		open, moved, auth := false, false, false
		reach := horizon
		switch v := ev.(type) {
		case model.AirflowEvent:
			was := v.Person
			ts, open = v.TS, l.people.Airflow(&v)
			ev, moved = v, v.Person != was
		case model.DagRun:
			was := v.Person
			ts, open = v.TS, l.people.Run(&v)
			ev, moved = v, v.Person != was
		case model.AuthEvent:
			was := v.Person
			ts, open = v.TS, l.people.Auth(&v)
			ev, moved, auth = v, v.Person != was, true
			reach += l.p.Lookback // an assertion counts for actions up to lookback after it
		}
		switch {
		case moved && auth && err == nil:
			err = l.eng.Add(ctx, ev)
		case moved && !auth:
			l.eng.Resolve(ev)
		}
		if open && !ts.Add(reach).Before(wm) {
			keep = append(keep, ev)
		}
	}
	clear(l.unresolved[len(keep):])
	l.unresolved = keep
	return err
}

// Sync writes the buffered correlations now and hands them to the Notifier.
func (l *Live) Sync(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncLocked(ctx)
}

func (l *Live) syncLocked(ctx context.Context) error {
	if len(l.buf) == 0 {
		return nil
	}
	stamp := model.Millis(l.o.Now())
	if !stamp.After(l.lastAt) { // the Notifier drops correlations older than the last seen
		stamp = l.lastAt.Add(time.Millisecond)
	}
	l.lastAt = stamp
	for i := range l.buf {
		l.buf[i].ComputedAt = stamp
	}
	if err := l.w.WriteCorrelations(ctx, l.buf); err != nil {
		return fmt.Errorf("live correlate: %w", err)
	}
	l.written += int64(len(l.buf))
	if n := l.o.Notifier; n != nil {
		for _, c := range l.buf {
			if l.o.FinalOnly {
				_, was := l.notified[c.ActionID]
				if _, final := l.finals[c.ActionID]; !was && !final {
					continue
				}
			}
			if c.Privileged {
				l.notified[c.ActionID] = struct{}{}
			}
			if err := n.Handle(ctx, c); err != nil {
				l.alertErr++
				l.o.Logger.WarnContext(ctx, "alert not queued", "action_id", c.ActionID, "err", err)
			}
		}
	}
	for id := range l.finals {
		delete(l.notified, id) // no update follows a final one
	}
	clear(l.finals)
	l.buf = l.buf[:0]
	clear(l.idx)
	return nil
}

// Preload feeds the stored events that the actions from since on depend on
// (as Correlate would load them for [since, now]), in time order, so the
// engine's state is warm. Correlations of actions before since are the batch
// correlator's: their updates are dropped, now and later. Preload also sets
// Poll's starting point to the rows stored when it began.
func (l *Live) Preload(ctx context.Context, since time.Time) error {
	mark, err := l.w.MaxEventVersion(ctx)
	if err != nil {
		return fmt.Errorf("live preload: %w", err)
	}
	since = model.Millis(since)
	ld, err := newLoader(ctx, l.w, l.p, since, farFuture, 0)
	if err != nil {
		return fmt.Errorf("live preload: %w", err)
	}
	l.mu.Lock()
	l.floor = since
	l.mark = max(l.mark, mark)
	l.mu.Unlock()
	for ev := range ld.merged() {
		if err := l.Add(ctx, ev); err != nil {
			return fmt.Errorf("live preload: %w", err)
		}
	}
	if err := ld.err(); err != nil {
		return fmt.Errorf("live preload: %w", err)
	}
	return l.Sync(ctx)
}

// Poll feeds the events stored since the previous Poll (or Preload) to the
// engine, in time order, and writes the correlations they change. It
// returns the number of events read; events already seen are read again
// within PollOverlap (with Floor: only on some polls, see LiveOptions) and
// ignored by the engine.
func (l *Live) Poll(ctx context.Context) (int, error) {
	l.mu.Lock()
	mark, visible, swept := l.mark, l.visible, l.swept
	l.mu.Unlock()
	from := uint64(0)
	if ov := uint64(l.o.PollOverlap.Milliseconds()); mark > ov {
		from = mark - ov
	}
	var floor uint64
	sweep := true
	if l.o.Floor != nil {
		floor = l.o.Floor() // before the read: what it reads includes every row below
		if visible > 0 {
			// The re-read of PollOverlap back runs beside the polls;
			// this one reads what was stored since the last floor.
			if now := time.Now(); now.Sub(swept) >= l.o.PollOverlap/2 {
				l.startSweep(ctx, from, now)
			}
			from, sweep = visible, false
		} else {
			swept = time.Now()
		}
	}
	var r rowsRead
	r.newest = mark
	if err := l.w.EventsSince(ctx, from, r.see); err != nil {
		return 0, fmt.Errorf("live poll: %w", err)
	}
	evs, newest := r.evs, r.newest
	if sr, ok := l.sweepDone(); ok {
		if sr.err != nil {
			return 0, fmt.Errorf("live poll: re-read %v back: %w", l.o.PollOverlap, sr.err)
		}
		evs, newest, sweep = append(evs, sr.evs...), max(newest, sr.newest), true
	}
	slices.SortStableFunc(evs, func(a, b timed) int { return a.ts.Compare(b.ts) })
	// The identities stored with (before) the rows just read name the
	// owners of rows without a settled person, now or of earlier polls.
	// Identities are learned from identity providers' rows (the enricher
	// stores them before the rows of the same write), so they are read
	// again only when such rows came — or on a sweep, for a mapping
	// imported meanwhile.
	l.mu.Lock()
	open := len(l.unresolved) > 0 || slices.ContainsFunc(evs, func(t timed) bool { return ownerless(t.ev) })
	learned := sweep || !l.peopleRead || slices.ContainsFunc(evs, func(t timed) bool { return fromIdP(t.ev) })
	reload := open && learned
	l.mu.Unlock()
	if reload {
		pp, err := enrich.LoadPeople(ctx, l.w)
		if err != nil {
			return 0, fmt.Errorf("live poll: %w", err)
		}
		l.mu.Lock()
		l.people, l.peopleRead = pp, true
		l.mu.Unlock()
	}
	// What the identities now name is handed over before the new rows
	// come, which may finalise the actions it changes.
	l.mu.Lock()
	err := l.resolvePending(ctx)
	l.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("live poll: %w", err)
	}
	for _, ev := range evs {
		if err := l.Add(ctx, ev.ev); err != nil {
			return 0, fmt.Errorf("live poll: %w", err)
		}
	}
	l.mu.Lock()
	l.mark = max(l.mark, newest)
	if l.o.Floor != nil {
		l.visible = max(l.visible, floor)
		if visible == 0 {
			l.swept = swept
		}
	}
	l.polled += int64(len(evs))
	l.mu.Unlock()
	return len(evs), l.Sync(ctx)
}

// rowsRead is the rows of one read of the store (a poll's or a re-read's)
// and their newest version.
type rowsRead struct {
	evs      []timed
	newest   uint64
	err      error
	canceled bool // err came from the read's context ending
}

func (r *rowsRead) see(ts time.Time, ev any, v uint64) {
	r.evs = append(r.evs, timed{ts, ev})
	r.newest = max(r.newest, v)
}

// startSweep starts the re-read of the rows from version from on in the
// background, unless one is under way, and notes now as its start. It
// reads on ctx: a Poll after ctx ended finds it failed and starts another.
func (l *Live) startSweep(ctx context.Context, from uint64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sweeping != nil {
		return
	}
	l.swept = now
	done := make(chan rowsRead, 1)
	l.sweeping = done
	go func() {
		var r rowsRead
		r.err = l.w.EventsSince(ctx, from, r.see)
		r.canceled = r.err != nil && ctx.Err() != nil
		done <- r
	}()
}

// sweepDone takes the background re-read's rows once it ended. A re-read
// that failed is started again by a later Poll (swept is reset); one whose
// context ended is dropped without an error.
func (l *Live) sweepDone() (rowsRead, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sweeping == nil {
		return rowsRead{}, false
	}
	select {
	case r := <-l.sweeping:
		l.sweeping = nil
		if r.err != nil {
			l.swept = time.Time{}
			if r.canceled {
				return rowsRead{}, false
			}
		}
		return r, true
	default:
		return rowsRead{}, false
	}
}

// ownerless reports whether ev is an Airflow row or run stored without a
// settled person — none, or a provisional one its owner may name otherwise
// now —, or an authentication stored under a provisional person.
func ownerless(ev any) bool {
	switch v := ev.(type) {
	case *model.AuthEvent:
		return v.Principal.Human() && identity.Provisional(v.Person)
	case *model.AirflowEvent:
		_, _, ok := enrich.AirflowOwner(v)
		return ok
	case *model.DagRun:
		_, _, ok := enrich.RunOwner(v)
		return ok
	}
	return false
}

// fromIdP reports whether ev is an identity provider's row: one the
// enricher may have learned an identity from.
func fromIdP(ev any) bool {
	switch ev.(type) {
	case *model.AuthEvent, *model.Authenticator:
		return true
	}
	return false
}

// Follow polls every interval until ctx is done, then returns nil (the
// caller then calls Close with a live context). A poll error ends it.
func (l *Live) Follow(ctx context.Context, interval time.Duration, onPoll func(n int)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := l.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if onPoll != nil {
			onPoll(n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Progress tells the engine how far each source's events are stored
// (correlate.Engine.Progress): from the first call on, an action is final
// only once every source named has progressed past it, whatever the order
// in which the sources' events arrived. Call it with what was stored before
// the last Poll read the store. It writes the verdicts it finalised.
func (l *Live) Progress(ctx context.Context, p map[correlate.SourceKey]time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("live correlate: closed")
	}
	l.eng.Progress(p)
	return l.syncLocked(ctx)
}

// Stats returns the Live's counters.
func (l *Live) Stats() LiveStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LiveStats{
		Engine:      l.eng.Stats(),
		Written:     l.written,
		Final:       maps.Clone(l.final),
		AlertErrors: l.alertErr,
		Polled:      l.polled,
	}
}

// Close finalises every pending action (correlate.Engine.Flush), writes
// what is buffered, and makes the Live's policy version current. Add fails
// afterwards. The Notifier is the caller's to flush and close.
func (l *Live) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.eng.Flush()
	if err := l.syncLocked(ctx); err != nil {
		return err
	}
	l.closed = true
	if err := l.w.SetCurrentPolicy(ctx, l.eng.PolicyVersion(), l.o.Now()); err != nil {
		return fmt.Errorf("live correlate: %w", err)
	}
	return nil
}
