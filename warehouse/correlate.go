package warehouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
)

// Defaults of the correlation adapter.
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

// CorrelateOptions tune Warehouse.Correlate. The zero value correlates
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
// correlate.Sweep, and each correlation is written, in batches, as soon as
// no later event can change it. Memory is bounded by the policy's max_age
// and lookback and the number of people active in them, not by the length
// of the period; reading, correlating and writing run concurrently.
func (w *Warehouse) Correlate(ctx context.Context, p correlate.Policy, o CorrelateOptions) (CorrelateResult, error) {
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
	from, to, ok, err := w.actionBounds(ctx, o.From, o.To)
	if err != nil {
		return res, fmt.Errorf("correlate: %w", err)
	}
	if ok {
		res.From, res.To = from, to
		total := 0
		if o.Progress != nil {
			if total, err = w.countActions(ctx, from, to); err != nil {
				return res, fmt.Errorf("correlate: %w", err)
			}
		}
		l, err := w.newLoader(ctx, p, from, to, o.PageRows)
		if err != nil {
			return res, fmt.Errorf("correlate: %w", err)
		}
		cw := w.newCorrelationWriter(ctx, model.Millis(now()), o, total, &res)
		err = correlate.Sweep(ctx, p, l.input(), func(c model.Correlation) error {
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

// countActions returns the number of actions in [from, to): human audit
// events and DAG runs.
func (w *Warehouse) countActions(ctx context.Context, from, to time.Time) (int, error) {
	n, err := store.CountRows(ctx, w.S, "SELECT toInt64((SELECT count() FROM airflow_events FINAL WHERE ts >= ? AND ts < ? AND "+auditCond+
		") + (SELECT count() FROM dag_runs FINAL WHERE ts >= ? AND ts < ?))", from, to, model.ActionTaskState, from, to)
	if err != nil {
		return 0, fmt.Errorf("count actions: %w", err)
	}
	return int(n), nil
}

// correlationWriter writes a run's correlations in batches as they come,
// two inserts in flight (the embedded engine runs one at a time; the other
// is being encoded), and hands each written batch to the Notifier. After
// the first failure add returns it, so the run stops.
type correlationWriter struct {
	w     *Warehouse
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

func (w *Warehouse) newCorrelationWriter(ctx context.Context, stamp time.Time, o CorrelateOptions, total int, res *CorrelateResult) *correlationWriter {
	size := o.WriteRows
	if size <= 0 {
		size = DefaultCorrelateWriteRows
	}
	ctx, cancel := context.WithCancel(ctx)
	return &correlationWriter{w: w, o: o, res: res, total: total, stamp: stamp, size: size,
		ctx: ctx, cancel: cancel, sem: make(chan struct{}, 2)}
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
		err := cw.w.writeCorrelations(cw.ctx, part)
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

// writeCorrelations inserts cs (distinct action ids of one policy) as one batch.
func (w *Warehouse) writeCorrelations(ctx context.Context, cs []model.Correlation) error {
	v := w.versions().Next()
	for _, part := range byMonth(cs) { // an insert may span at most 100 months
		if err := store.Correlations.WriteVersion(ctx, w.S, part, v); err != nil {
			return fmt.Errorf("write %d correlations: %w", len(cs), err)
		}
	}
	return nil
}

// msCol is the timestamp column col as Int64 milliseconds for d.
func msCol(d store.Dialect, col string) string {
	if d.DateTime64 {
		return "toUnixTimestamp64Milli(" + col + ")"
	}
	return col
}

// actionBounds resolves a correlation period: zero ends become the stored
// actions' earliest time and just after their latest. ok is false when the
// period is empty.
func (w *Warehouse) actionBounds(ctx context.Context, from, to time.Time) (time.Time, time.Time, bool, error) {
	from, to = model.Millis(from), model.Millis(to)
	if from.IsZero() || to.IsZero() {
		lo, hi, n, err := w.tsRange(ctx, store.AirflowEvents.Name, "human = 1")
		if err != nil {
			return from, to, false, err
		}
		rlo, rhi, rn, err := w.tsRange(ctx, store.DagRuns.Name, "1 = 1")
		if err != nil {
			return from, to, false, err
		}
		if n == 0 && rn == 0 {
			return from, to, false, nil
		}
		if n == 0 || (rn > 0 && rlo < lo) {
			lo = rlo
		}
		if n == 0 || (rn > 0 && rhi > hi) {
			hi = rhi
		}
		if from.IsZero() {
			from = time.UnixMilli(lo).UTC()
		}
		if to.IsZero() {
			to = time.UnixMilli(hi + 1).UTC()
		}
	}
	return from, to, from.Before(to), nil
}

// tsRange returns the earliest and latest ts (ms) and the row count of table
// rows matching cond (a constant condition without placeholders).
func (w *Warehouse) tsRange(ctx context.Context, table, cond string) (lo, hi, n int64, err error) {
	ms := msCol(w.S.Dialect(), "ts")
	rows, err := w.S.Query(ctx, "SELECT toInt64(count()), toInt64(min("+ms+")), toInt64(max("+ms+")) FROM "+store.QuoteIdent(table)+" WHERE "+cond)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("time range of %s: %w", table, err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&n, &lo, &hi); err != nil {
			return 0, 0, 0, fmt.Errorf("time range of %s: %w", table, err)
		}
	}
	return lo, hi, n, rows.Err()
}

// The columns the correlator reads, and the conditions of the rows that can
// matter to it (correlate's isAuthentication, toCredEvent and isAction; the
// correlator applies them again). TestCorrelateMatchesBatch holds these to
// what correlate uses: a verdict from them equals one from every column.
var (
	correlateAuth = projection(store.AuthEvents, []string{"source", "instance", "event_id", "ts", "person", "category", "outcome",
		"factor", "hardware", "aaguid", "credential_id", "principal"})
	correlateAuthenticators = projection(store.Authenticators, []string{"source", "instance", "event_id", "ts", "person", "action",
		"credential_id", "aaguid", "model", "hardware", "factor"})
	correlateAirflow = projection(store.AirflowEvents, []string{"instance", "event_log_id", "ts", "event", "channel", "action", "human",
		"actor", "person", "dag_id", "task_id", "run_id", "extra"})
	correlateRuns = projection(store.DagRuns, []string{"instance", "dag_id", "run_id", "run_type", "triggered_by", "triggering_user",
		"person", "ts"})
)

const (
	authCond          = "outcome = ? AND category IN (?, ?) AND factor != ? AND person != ''"
	authenticatorCond = "action IN (?, ?) AND credential_id != ''"
	auditCond         = "human = 1 AND action != ?"
)

var (
	authArgs          = []any{string(model.OutcomeSuccess), string(model.CategoryLogin), string(model.CategoryMFA), string(model.FactorNone)}
	authenticatorArgs = []any{model.AuthenticatorRegister, model.AuthenticatorRemove}
	auditArgs         = []any{string(model.ActionTaskState)}
)

// projection is t reading only columns (and, when t is versioned, its
// version, with FINAL).
func projection[T any](t store.Table[T], columns []string) store.Table[T] {
	p := store.Table[T]{Name: t.Name, Versioned: t.Versioned}
	for _, c := range columns {
		i := slices.Index(t.Columns, c)
		if i < 0 || i >= len(t.Fields) {
			panic("projection: no column " + c + " in " + t.Name)
		}
		p.Fields = append(p.Fields, t.Fields[i])
		p.Columns = append(p.Columns, c)
	}
	if t.Versioned {
		p.Columns = append(p.Columns, "version")
	}
	return p
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
// Only the columns and rows the correlator uses are read (see correlateAuth).
// Airflow rows and runs stored without a person take the one their owner
// resolves to under the identities stored when the loader starts (people):
// a row stored before the identity provider's record that names its owner
// is judged as if it had come after it.
// Read errors end the stream and are kept; err returns them after the
// consumer is done.
type loader struct {
	ctx      context.Context
	w        *Warehouse
	pageRows int64
	people   people // resolves Airflow rows stored before their identity

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

func (w *Warehouse) newLoader(ctx context.Context, p correlate.Policy, from, to time.Time, pageRows int64) (*loader, error) {
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
	if l.people, err = w.people(ctx); err != nil {
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
	ctx, s := l.ctx, l.w.S
	sub := "SELECT instance, dag_id, action, max(ts) FROM airflow_events FINAL " +
		"WHERE human = 1 AND dag_id != '' AND action IN (?, ?) AND ts < ? GROUP BY instance, dag_id, action"
	args := []any{string(model.ActionUnpause), string(model.ActionBackfill), l.auditLo}
	where := "WHERE human = 1 AND dag_id != '' AND action IN (?, ?) AND ts < ? AND (instance, dag_id, action, ts) GLOBAL IN (" + sub + ") ORDER BY ts, event_log_id"
	en, err := correlateAirflow.All(ctx, s, where, append(append([]any{}, args...), args...)...)
	if err != nil {
		return fmt.Errorf("load enabling actions: %w", err)
	}
	for i := range en {
		l.people.airflow(&en[i])
	}
	l.enablers = en
	// per person, the span of authentications the enablers' verdicts need
	// that the main window does not hold.
	type span struct{ lo, hi time.Time }
	spans := map[string]span{}
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
			lo, hi = minTime(lo, sp.lo), maxTime(hi, sp.hi)
		}
		spans[e.Person] = span{lo, hi}
	}
	if len(spans) == 0 {
		return nil
	}
	people := slices.Sorted(maps.Keys(spans))
	// one read for all of them: a disjunction of per-person spans.
	terms := make([]string, len(people))
	spanArgs := make([]any, 0, 3*len(people))
	for i, person := range people {
		terms[i] = "(person = ? AND ts >= ? AND ts < ?)"
		spanArgs = append(spanArgs, person, spans[person].lo, spans[person].hi)
	}
	err = correlateAuth.Read(ctx, s, "WHERE "+authCond+" AND ("+strings.Join(terms, " OR ")+") ORDER BY ts",
		append(slices.Clone(authArgs), spanArgs...), func(a model.AuthEvent) error {
			l.enablerAuth = append(l.enablerAuth, a)
			return nil
		})
	if err != nil {
		return fmt.Errorf("load authentications before the enabling actions: %w", err)
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
	return prefixed(l.enablerAuth, windowed(l, correlateAuth, authCond, authArgs, l.authLo, l.authHi,
		func(e *model.AuthEvent) time.Time { return e.TS }))
}

func (l *loader) airflow() iter.Seq[model.AirflowEvent] {
	return prefixed(l.enablers, mapSeq(windowed(l, correlateAirflow, auditCond, auditArgs, l.auditLo, l.auditHi,
		func(e *model.AirflowEvent) time.Time { return e.TS }), func(e model.AirflowEvent) model.AirflowEvent {
		l.people.airflow(&e)
		return e
	}))
}

func (l *loader) runs() iter.Seq[model.DagRun] {
	return mapSeq(windowed(l, correlateRuns, "", nil, l.runLo, l.runHi, func(e *model.DagRun) time.Time { return e.TS }),
		func(r model.DagRun) model.DagRun {
			l.people.run(&r)
			return r
		})
}

func (l *loader) authenticators() iter.Seq[model.Authenticator] {
	return windowed(l, correlateAuthenticators, authenticatorCond, authenticatorArgs, time.UnixMilli(0).UTC(), l.authHi,
		func(e *model.Authenticator) time.Time { return e.TS })
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

// tsWindow is a sub-range [from, to) of a windowed read.
type tsWindow struct {
	from, to time.Time
	rows     int64
}

// windows splits [lo, hi) into windows of about l.pageRows rows of table
// (by an hourly histogram; an hour is never split).
func (l *loader) windows(table, cond string, args []any, lo, hi time.Time) ([]tsWindow, error) {
	ms := msCol(l.w.S.Dialect(), "ts")
	q := "SELECT toInt64(intDiv(" + ms + ", 3600000)) AS h, toInt64(count()) FROM " + store.QuoteIdent(table) +
		" WHERE ts >= ? AND ts < ?" + and(cond) + " GROUP BY h ORDER BY h"
	rows, err := l.w.S.Query(l.ctx, q, append([]any{lo, hi}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("histogram of %s: %w", table, err)
	}
	defer rows.Close()
	var out []tsWindow
	cur := tsWindow{from: lo}
	for rows.Next() {
		var h, n int64
		if err := rows.Scan(&h, &n); err != nil {
			return nil, fmt.Errorf("histogram of %s: %w", table, err)
		}
		start := time.UnixMilli(h * 3600000).UTC()
		if cur.rows > 0 && cur.rows+n > l.pageRows && start.After(cur.from) {
			cur.to = start
			out = append(out, cur)
			cur = tsWindow{from: start}
		}
		cur.rows += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("histogram of %s: %w", table, err)
	}
	if cur.rows > 0 {
		cur.to = hi
		out = append(out, cur)
	}
	return out, nil
}

func and(cond string) string {
	if cond == "" {
		return ""
	}
	return " AND (" + cond + ")"
}

// windowed streams table's rows with ts in [lo, hi) matching cond, ordered by
// ts (ties in any order), one time window per query; the next window is read
// while the consumer takes the current one. Each window is sorted here, by
// the reading goroutine, rather than by the engine, which serialises every
// query of the embedded store. Errors are recorded in l.
func windowed[T any](l *loader, t store.Table[T], cond string, args []any, lo, hi time.Time, ts func(*T) time.Time) iter.Seq[T] {
	return func(yield func(T) bool) {
		ws, err := l.windows(t.Name, cond, args, lo, hi)
		if err != nil {
			l.fail(err)
			return
		}
		type page struct {
			rows  []T
			order []int32 // rows by time
			err   error
		}
		ctx, cancel := context.WithCancel(l.ctx)
		defer cancel()
		pages := make(chan page, 1)
		go func() {
			defer close(pages)
			for _, win := range ws {
				rows := make([]T, 0, win.rows)
				err := t.Read(ctx, l.w.S, "WHERE ts >= ? AND ts < ?"+and(cond),
					append([]any{win.from, win.to}, args...), func(v T) error { rows = append(rows, v); return nil })
				keys := make([]int64, len(rows))
				order := make([]int32, len(rows))
				for i := range rows {
					keys[i], order[i] = ts(&rows[i]).UnixNano(), int32(i)
				}
				slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(keys[a], keys[b]) })
				select {
				case pages <- page{rows, order, err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
		for p := range pages {
			if p.err != nil {
				l.fail(p.err)
				return
			}
			for _, i := range p.order {
				if !yield(p.rows[i]) {
					return
				}
			}
		}
		if err := l.ctx.Err(); err != nil {
			l.fail(err)
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

// ExportCorrelations streams the correlations of policyVersion ("" = the
// current policy) whose action time lies in [from, to), ordered by action
// time then id, to fn; zero ends are open. It returns the version read,
// which is "" when nothing has been correlated. It reads through
// ReportSource, so an export and an evidence pack's population agree.
func (w *Warehouse) ExportCorrelations(ctx context.Context, policyVersion string, from, to time.Time, fn func(model.Correlation) error) (string, error) {
	src, err := w.ReportSource(ctx, policyVersion)
	if err != nil {
		return "", err
	}
	version := src.PolicyVersion()
	if version == "" {
		return "", nil
	}
	if from.IsZero() || to.IsZero() {
		ms := msCol(w.S.Dialect(), "action_ts")
		rows, err := w.S.Query(ctx, "SELECT toInt64(count()), toInt64(min("+ms+")), toInt64(max("+ms+")) FROM correlations WHERE policy_version = ?", version)
		if err != nil {
			return version, fmt.Errorf("export correlations: %w", err)
		}
		var n, lo, hi int64
		if rows.Next() {
			err = rows.Scan(&n, &lo, &hi)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
		if err != nil {
			return version, fmt.Errorf("export correlations: %w", err)
		}
		if n == 0 {
			return version, nil
		}
		if from.IsZero() {
			from = time.UnixMilli(lo).UTC()
		}
		if to.IsZero() {
			to = time.UnixMilli(hi + 1).UTC()
		}
	}
	if !from.Before(to) {
		return version, nil
	}
	if err := src.Correlations(ctx, report.Query{From: from, To: to}, fn); err != nil {
		return version, fmt.Errorf("export correlations: %w", err)
	}
	return version, nil
}
