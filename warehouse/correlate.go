package warehouse

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
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
	// DefaultLoadPageRows bounds the rows one event read returns: the
	// embedded engine hands a query's whole result over at once, so event
	// tables are read in consecutive time windows of about this many rows.
	DefaultLoadPageRows = 200_000
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

// Correlate correlates the stored actions of [o.From, o.To) under p with
// correlate.Batch and writes one correlation per action, keyed by
// (policy_version, action_id): re-running replaces the rows in place, and a
// new policy version adds rows beside the old ones, which stay queryable.
// After a successful run p's version is the current policy (CurrentPolicy).
// Events are streamed from the store in time windows; Batch keeps its
// compact state and the correlations of the run in memory.
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
		l, err := w.newLoader(ctx, p, from, to, o.PageRows)
		if err != nil {
			return res, fmt.Errorf("correlate: %w", err)
		}
		cs, err := correlate.Batch(ctx, p, l.input())
		if lerr := l.err(); lerr != nil {
			return res, fmt.Errorf("correlate: %w", lerr)
		}
		if err != nil {
			return res, fmt.Errorf("correlate: %w", err)
		}
		// keep the actions of [from, to): Batch also judged the context events.
		lo := sortSearchTS(cs, from)
		hi := sortSearchTS(cs, to)
		cs = cs[lo:hi]
		if err := w.writeCorrelationRun(ctx, cs, now, o, &res); err != nil {
			return res, err
		}
	}
	if err := w.SetCurrentPolicy(ctx, res.PolicyVersion, now()); err != nil {
		return res, fmt.Errorf("correlate: %w", err)
	}
	return res, nil
}

// sortSearchTS returns the index of the first correlation at or after t in
// cs, which is sorted by ActionTS.
func sortSearchTS(cs []model.Correlation, t time.Time) int {
	i, _ := slices.BinarySearchFunc(cs, t, func(c model.Correlation, t time.Time) int { return c.ActionTS.Compare(t) })
	return i
}

// writeCorrelationRun writes cs in batches, two inserts in flight (the
// embedded engine runs one at a time; the other is being encoded), and hands
// each written batch to the Notifier.
func (w *Warehouse) writeCorrelationRun(ctx context.Context, cs []model.Correlation, now func() time.Time, o CorrelateOptions, res *CorrelateResult) error {
	batch := o.WriteRows
	if batch <= 0 {
		batch = DefaultCorrelateWriteRows
	}
	stamp := model.Millis(now())
	for i := range cs {
		cs[i].ComputedAt = stamp
		res.Verdicts[cs[i].Verdict]++
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 2)
	)
	for start := 0; start < len(cs); start += batch {
		part := cs[start:min(start+batch, len(cs))]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := w.writeCorrelations(ctx, part)
			alertErrs := 0
			if err == nil && o.Notifier != nil {
				for _, c := range part {
					if o.Notifier.Handle(ctx, c) != nil {
						alertErrs++
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				cancel()
				return
			}
			res.Actions += len(part)
			res.AlertErrors += alertErrs
			if o.Progress != nil {
				o.Progress(res.Actions, len(cs))
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	if len(errs) > 0 {
		return fmt.Errorf("correlate: %w", errors.Join(errs...))
	}
	return nil
}

// writeCorrelations inserts cs (distinct action ids of one policy) as one
// columnar batch.
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

// loader streams the events correlate.Batch needs for actions in [from, to)
// (see correlate.Input):
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
// Every stream is ordered by time. Read errors end the stream and are kept;
// err returns them after the consumer is done.
type loader struct {
	ctx      context.Context
	w        *Warehouse
	pageRows int64

	authLo, authHi time.Time
	auditLo        time.Time
	auditHi        time.Time
	runLo, runHi   time.Time

	enablers    []model.AirflowEvent // latest unpause/backfill before auditLo
	enablerAuth []model.AuthEvent    // their people's authentications before authLo

	mu   sync.Mutex
	errs []error
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
	en, err := store.AirflowEvents.All(ctx, s, where, append(append([]any{}, args...), args...)...)
	if err != nil {
		return fmt.Errorf("load enabling actions: %w", err)
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
	people := make([]string, 0, len(spans))
	for person := range spans {
		people = append(people, person)
	}
	slices.Sort(people)
	for _, person := range people {
		sp := spans[person]
		err := store.AuthEvents.Read(ctx, s, "WHERE person = ? AND ts >= ? AND ts < ?", []any{person, sp.lo, sp.hi}, func(a model.AuthEvent) error {
			l.enablerAuth = append(l.enablerAuth, a)
			return nil
		})
		if err != nil {
			return fmt.Errorf("load authentications before %s: %w", person, err)
		}
	}
	slices.SortFunc(l.enablerAuth, func(a, b model.AuthEvent) int { return a.TS.Compare(b.TS) })
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
	return prefixed(l.enablerAuth, windowed(l, store.AuthEvents, "", nil, l.authLo, l.authHi, "event_id"))
}

func (l *loader) airflow() iter.Seq[model.AirflowEvent] {
	return prefixed(l.enablers, windowed(l, store.AirflowEvents, "human = 1", nil, l.auditLo, l.auditHi, "event_log_id"))
}

func (l *loader) runs() iter.Seq[model.DagRun] {
	return windowed(l, store.DagRuns, "", nil, l.runLo, l.runHi, "run_id")
}

func (l *loader) authenticators() iter.Seq[model.Authenticator] {
	return windowed(l, store.Authenticators, "action IN (?, ?)", []any{model.AuthenticatorRegister, model.AuthenticatorRemove}, time.UnixMilli(0).UTC(), l.authHi, "event_id")
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
// ts then tie, one time window per query; the next window is read while the
// consumer takes the current one. Errors are recorded in l.
func windowed[T any](l *loader, t store.Table[T], cond string, args []any, lo, hi time.Time, tie string) iter.Seq[T] {
	return func(yield func(T) bool) {
		ws, err := l.windows(t.Name, cond, args, lo, hi)
		if err != nil {
			l.fail(err)
			return
		}
		type page struct {
			rows []T
			err  error
		}
		ctx, cancel := context.WithCancel(l.ctx)
		defer cancel()
		pages := make(chan page, 1)
		go func() {
			defer close(pages)
			for _, win := range ws {
				rows := make([]T, 0, win.rows)
				err := t.Read(ctx, l.w.S, "WHERE ts >= ? AND ts < ?"+and(cond)+" ORDER BY ts, "+store.QuoteIdent(tie),
					append([]any{win.from, win.to}, args...), func(v T) error { rows = append(rows, v); return nil })
				select {
				case pages <- page{rows, err}:
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
			for i := range p.rows {
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
