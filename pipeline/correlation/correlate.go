package correlation

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/model"
)

// Defaults of a Correlate run.
const (
	// DefaultCorrelateWriteRows is how many correlations one insert carries.
	DefaultCorrelateWriteRows = 50_000
	// DefaultLoadPageRows bounds the rows one event read returns: event
	// tables are read in consecutive time windows of about this many rows
	// (the embedded engine hands a query's whole result over at once, and a
	// window is what is sorted by time). With two streams each holding a
	// window and reading the next, it sets most of Correlate's memory.
	DefaultLoadPageRows = 100_000
)

// CorrelateOptions tune Correlate. The zero value correlates
// everything stored, without alerts.
type CorrelateOptions struct {
	// From and To bound the actions correlated, [From, To) by action time.
	// A zero From is the earliest stored action, a zero To just after the
	// latest.
	From, To time.Time
	// Now stamps ComputedAt and the current-policy cursor. Default time.Now.
	Now func() time.Time
	// Notifier, when set, is handed every correlation written; alerts fire
	// for privileged actions that are not verified. Default none.
	Notifier *alert.Notifier
	// Progress, when set, is called after each batch of correlations is
	// written with the number written so far and the total.
	Progress func(done, total int)
	// WriteRows is the number of correlations per insert. Default
	// DefaultCorrelateWriteRows.
	WriteRows int
	// PageRows bounds the rows of one event read. Default DefaultLoadPageRows.
	PageRows int64
	// Workers is how many goroutines correlate, each the people of a hash
	// range (correlate.SweepParallel). Default 1: on 2 cores the engine's
	// reads and inserts run beside the sweep, and a second sweep worker
	// made the sweep faster (no-write run 4.4–4.9 s → 3.2–4.6 s at 1M
	// events) but the whole run slower (7.0–7.7 s → 7.4–9.8 s, quiet
	// machine, docs/benchmarks.md); more pays where cores are spare.
	Workers int
}

// CorrelateResult summarises a Correlate run.
type CorrelateResult struct {
	// Actions is the number of correlations written (actions in the period).
	Actions int
	// Verdicts counts the correlations written by verdict.
	Verdicts map[model.Verdict]int
	// PolicyVersion is the version of the policy the verdicts are under.
	PolicyVersion string
	// From and To are the period correlated, [From, To); both zero when
	// nothing was stored.
	From, To time.Time
	// AlertErrors counts correlations the Notifier could not queue (each is
	// recorded with its error by the Notifier; see alert.ErrQueueFull).
	AlertErrors int
}

// Correlate correlates the stored actions of [o.From, o.To) under p and
// writes one correlation per action, keyed by (policy_version, action_id):
// re-running replaces the rows in place, and a new policy version adds rows
// beside the old ones, which stay queryable. After a successful run p's
// version is the current policy (CurrentPolicy).
//
// It streams: the events are read in time order (see loader) through
// correlate.SweepParallel on o.Workers goroutines, and each correlation is
// written, in batches, as soon as no later event can change it. Memory is bounded by the policy's max_age
// and lookback and the number of people active in them, not by the length
// of the period; reading, correlating and writing run concurrently.
func Correlate(ctx context.Context, w Store, p correlate.Policy, o CorrelateOptions) (CorrelateResult, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if err := p.Validate(); err != nil {
		return CorrelateResult{}, fmt.Errorf("correlate: %w", err)
	}
	res := CorrelateResult{PolicyVersion: p.Version(), Verdicts: map[model.Verdict]int{}}
	if err := w.RecordPolicy(ctx, p, now()); err != nil {
		return res, fmt.Errorf("correlate: %w", err)
	}
	from, to, ok, err := w.ActionBounds(ctx, o.From, o.To)
	if err != nil {
		return res, fmt.Errorf("correlate: %w", err)
	}
	if ok {
		res.From, res.To = from, to
		total := 0
		if o.Progress != nil {
			if total, err = w.CountActions(ctx, from, to); err != nil {
				return res, fmt.Errorf("correlate: %w", err)
			}
		}
		l, err := newLoader(ctx, w, p, from, to, o.PageRows)
		if err != nil {
			return res, fmt.Errorf("correlate: %w", err)
		}
		cw := newCorrelationWriter(ctx, w, model.Millis(now()), o, total, &res)
		workers := max(o.Workers, 1)
		err = correlate.SweepParallel(ctx, p, l.input(), workers, func(c model.Correlation) error {
			if l.failed.Load() {
				// A stream ended early: this verdict may lack its events.
				// Those emitted before were final with every stream open.
				return errReadFailed
			}
			if c.ActionTS.Before(from) || !c.ActionTS.Before(to) {
				return nil // context: judged for the runs that inherit from it
			}
			return cw.add(c)
		})
		werr := cw.close()
		if lerr := l.err(); lerr != nil {
			return res, fmt.Errorf("correlate: %w", lerr)
		}
		if werr != nil {
			return res, fmt.Errorf("correlate: %w", werr)
		}
		if err != nil && !errors.Is(err, errReadFailed) {
			return res, fmt.Errorf("correlate: %w", err)
		}
	}
	if err := w.SetCurrentPolicy(ctx, res.PolicyVersion, now()); err != nil {
		return res, fmt.Errorf("correlate: %w", err)
	}
	return res, nil
}

// errReadFailed stops a correlation run whose event reads failed; the read
// errors are what the run reports.
var errReadFailed = errors.New("event read failed")

// correlationWriter writes a run's correlations in batches as they come,
// two inserts in flight (the embedded engine runs one at a time; the other
// is being encoded), and hands each written batch to the Notifier. After
// the first failure add returns it, so the run stops.
type correlationWriter struct {
	w     Store
	o     CorrelateOptions
	res   *CorrelateResult
	total int
	stamp time.Time
	size  int
	buf   []model.Correlation

	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex // guards res and errs
	errs   []error
}

func newCorrelationWriter(ctx context.Context, w Store, stamp time.Time, o CorrelateOptions, total int, res *CorrelateResult) *correlationWriter {
	size := o.WriteRows
	if size <= 0 {
		size = DefaultCorrelateWriteRows
	}
	ctx, cancel := context.WithCancel(ctx)
	return &correlationWriter{w: w, o: o, res: res, total: total, stamp: stamp, size: size,
		buf: make([]model.Correlation, 0, size), ctx: ctx, cancel: cancel, sem: make(chan struct{}, 2)}
}

func (cw *correlationWriter) add(c model.Correlation) error {
	c.ComputedAt = cw.stamp
	cw.buf = append(cw.buf, c)
	if len(cw.buf) < cw.size {
		return nil
	}
	return cw.flush()
}

// flush starts writing the buffered batch once fewer than two are in flight.
func (cw *correlationWriter) flush() error {
	select {
	case cw.sem <- struct{}{}:
	case <-cw.ctx.Done():
	}
	if err := cw.err(); err != nil {
		return err
	}
	if err := cw.ctx.Err(); err != nil {
		<-cw.sem
		return err
	}
	part := cw.buf
	cw.buf = make([]model.Correlation, 0, cw.size)
	cw.wg.Add(1)
	go func() {
		defer cw.wg.Done()
		defer func() { <-cw.sem }()
		err := cw.w.WriteCorrelations(cw.ctx, part)
		alertErrs := 0
		if err == nil && cw.o.Notifier != nil {
			for _, c := range part {
				if cw.o.Notifier.Handle(cw.ctx, c) != nil {
					alertErrs++
				}
			}
		}
		cw.mu.Lock()
		defer cw.mu.Unlock()
		if err != nil {
			cw.errs = append(cw.errs, err)
			cw.cancel()
			return
		}
		for _, c := range part {
			cw.res.Verdicts[c.Verdict]++
		}
		cw.res.Actions += len(part)
		cw.res.AlertErrors += alertErrs
		if cw.o.Progress != nil {
			cw.o.Progress(cw.res.Actions, max(cw.total, cw.res.Actions))
		}
	}()
	return nil
}

func (cw *correlationWriter) err() error {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return errors.Join(cw.errs...)
}

// close writes what is buffered, waits for the writes in flight and
// returns the first failure.
func (cw *correlationWriter) close() error {
	var err error
	if len(cw.buf) > 0 {
		err = cw.flush()
	}
	cw.wg.Wait()
	cw.cancel()
	if werr := cw.err(); werr != nil {
		return werr
	}
	return err
}

// loader streams the events correlate.Sweep needs for actions in [from, to)
// (see correlate.Input), each stream in time order:
//
//   - authentications in [from − trigger_window − lookback, to + 2·clock_skew]
//     (the oldest trigger of a run in the period is trigger_window before it,
//     and its assertion may be lookback older; an assertion may lie a skew
//     after its action, and a run's trigger a skew after the run);
//   - Airflow audit events in [from − trigger_window, to + clock_skew], plus
//     the latest unpause and backfill request of every DAG before that, with
//     the authentications of their people around them (their verdict is
//     what a run inherits);
//   - every registration and removal up to the end of the period;
//   - DAG runs in [from, to).
//
// Only the columns and rows the correlator uses are read (see Store).
// Airflow rows and runs stored without a person take the one their owner
// resolves to under the identities stored when the loader starts (people):
// a row stored before the identity provider's record that names its owner
// is judged as if it had come after it. So do authentications stored under
// a provisional person (identity.Provisional): their subject's email person
// now.
// Read errors end the stream and are kept; err returns them after the
// consumer is done.
type loader struct {
	ctx      context.Context
	w        Store
	pageRows int64
	people   enrich.People // resolves Airflow rows stored before their identity

	authLo, authHi time.Time
	auditLo        time.Time
	auditHi        time.Time
	runLo, runHi   time.Time

	enablers    []model.AirflowEvent // latest unpause/backfill before auditLo
	enablerAuth []model.AuthEvent    // their people's authentications before authLo

	mu     sync.Mutex
	errs   []error
	failed atomic.Bool // a stream ended early: what follows lacks its events
}

// farFuture bounds open-ended reads; both timestamp types hold it.
var farFuture = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

func newLoader(ctx context.Context, w Store, p correlate.Policy, from, to time.Time, pageRows int64) (*loader, error) {
	if pageRows <= 0 {
		pageRows = DefaultLoadPageRows
	}
	skew := p.ClockSkew
	l := &loader{
		ctx: ctx, w: w, pageRows: pageRows,
		authLo:  from.Add(-p.TriggerWindow - p.Lookback),
		authHi:  to.Add(2*skew + time.Millisecond),
		auditLo: from.Add(-p.TriggerWindow),
		auditHi: to.Add(skew + time.Millisecond),
		runLo:   from,
		runHi:   to,
	}
	var err error
	if l.people, err = enrich.LoadPeople(ctx, w); err != nil {
		return nil, err
	}
	if err := l.loadEnablers(p); err != nil {
		return nil, err
	}
	return l, nil
}

// loadEnablers reads the latest unpause and backfill request of each DAG
// before the audit window, and the authentications their verdicts need.
func (l *loader) loadEnablers(p correlate.Policy) error {
	en, err := l.w.Enablers(l.ctx, l.auditLo)
	if err != nil {
		return err
	}
	for i := range en {
		l.people.Airflow(&en[i])
	}
	l.enablers = en
	// per person, the span of authentications the enablers' verdicts need
	// that the main window does not hold.
	spans := map[string][2]time.Time{}
	for _, e := range en {
		if e.Person == "" {
			continue
		}
		lo, hi := e.TS.Add(-p.Lookback), e.TS.Add(p.ClockSkew+time.Millisecond)
		if hi.After(l.authLo) {
			hi = l.authLo
		}
		if !lo.Before(hi) {
			continue
		}
		if sp, ok := spans[e.Person]; ok {
			lo, hi = minTime(lo, sp[0]), maxTime(hi, sp[1])
		}
		spans[e.Person] = [2]time.Time{lo, hi}
	}
	// authentications stored under a name the person went by before an
	// email named it are the person's too.
	names := l.people.ProvisionalNames()
	for person, sp := range maps.Clone(spans) {
		for _, name := range names[person] {
			if old, ok := spans[name]; ok {
				sp = [2]time.Time{minTime(sp[0], old[0]), maxTime(sp[1], old[1])}
			}
			spans[name] = sp
		}
	}
	if l.enablerAuth, err = l.w.AuthenticationsOf(l.ctx, spans); err != nil {
		return err
	}
	for i := range l.enablerAuth {
		l.people.Auth(&l.enablerAuth[i])
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (l *loader) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
	l.failed.Store(true)
}

// err returns the read errors met while streaming.
func (l *loader) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errs...)
}

// input returns the loader's streams as a correlate.Input.
func (l *loader) input() correlate.Input {
	return correlate.Input{
		Auth:           l.auth(),
		Authenticators: l.authenticators(),
		Airflow:        l.airflow(),
		Runs:           l.runs(),
	}
}

func (l *loader) auth() iter.Seq[model.AuthEvent] {
	return prefixed(l.enablerAuth, mapSeq(checked(l, l.w.StreamAuthentications(l.ctx, l.authLo, l.authHi, l.pageRows)),
		func(e model.AuthEvent) model.AuthEvent {
			l.people.Auth(&e)
			return e
		}))
}

func (l *loader) airflow() iter.Seq[model.AirflowEvent] {
	return prefixed(l.enablers, mapSeq(checked(l, l.w.StreamAuditActions(l.ctx, l.auditLo, l.auditHi, l.pageRows)),
		func(e model.AirflowEvent) model.AirflowEvent {
			l.people.Airflow(&e)
			return e
		}))
}

func (l *loader) runs() iter.Seq[model.DagRun] {
	return mapSeq(checked(l, l.w.StreamRuns(l.ctx, l.runLo, l.runHi, l.pageRows)),
		func(r model.DagRun) model.DagRun {
			l.people.Run(&r)
			return r
		})
}

func (l *loader) authenticators() iter.Seq[model.Authenticator] {
	return checked(l, l.w.StreamAuthenticatorChanges(l.ctx, time.UnixMilli(0).UTC(), l.authHi, l.pageRows))
}

// prefixed yields head, then tail.
func prefixed[T any](head []T, tail iter.Seq[T]) iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, v := range head {
			if !yield(v) {
				return
			}
		}
		tail(yield)
	}
}

// checked yields the values of seq until it yields an error, which it
// records in l.
func checked[T any](l *loader, seq iter.Seq2[T, error]) iter.Seq[T] {
	return func(yield func(T) bool) {
		for v, err := range seq {
			if err != nil {
				l.fail(err)
				return
			}
			if !yield(v) {
				return
			}
		}
	}
}

// timed is an event with its time, for merging streams.
type timed struct {
	ts time.Time
	ev any
}

// merged yields the events of the loader's four streams in time order
// (stable across streams: authenticators, authentications, audit events,
// runs), each as a pointer to its model value, for the streaming engine.
func (l *loader) merged() iter.Seq[any] {
	return func(yield func(any) bool) {
		type src struct {
			next func() (timed, bool)
			stop func()
			cur  timed
			ok   bool
		}
		pull := func(seq iter.Seq[timed]) *src {
			n, stop := iter.Pull(seq)
			return &src{next: n, stop: stop}
		}
		srcs := []*src{
			pull(mapSeq(l.authenticators(), func(v model.Authenticator) timed { return timed{v.TS, &v} })),
			pull(mapSeq(l.auth(), func(v model.AuthEvent) timed { return timed{v.TS, &v} })),
			pull(mapSeq(l.airflow(), func(v model.AirflowEvent) timed { return timed{v.TS, &v} })),
			pull(mapSeq(l.runs(), func(v model.DagRun) timed { return timed{v.TS, &v} })),
		}
		for _, s := range srcs {
			defer s.stop()
			s.cur, s.ok = s.next()
		}
		for {
			var best *src
			for _, s := range srcs {
				if s.ok && (best == nil || s.cur.ts.Before(best.cur.ts)) {
					best = s
				}
			}
			if best == nil {
				return
			}
			if !yield(best.cur.ev) {
				return
			}
			best.cur, best.ok = best.next()
		}
	}
}

func mapSeq[T, U any](seq iter.Seq[T], f func(T) U) iter.Seq[U] {
	return func(yield func(U) bool) {
		for v := range seq {
			if !yield(f(v)) {
				return
			}
		}
	}
}
