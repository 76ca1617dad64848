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
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
)

// CountActions returns the number of actions in [from, to): human audit
// events and DAG runs.
func (w *Warehouse) CountActions(ctx context.Context, from, to time.Time) (int, error) {
	n, err := store.CountRows(ctx, w.S, "SELECT toInt64((SELECT count() FROM airflow_events FINAL WHERE ts >= ? AND ts < ? AND "+auditCond+
		") + (SELECT count() FROM dag_runs FINAL WHERE ts >= ? AND ts < ?))", from, to, model.ActionTaskState, from, to)
	if err != nil {
		return 0, fmt.Errorf("count actions: %w", err)
	}
	return int(n), nil
}

// WriteCorrelations inserts cs (distinct action ids of one policy) as one batch.
func (w *Warehouse) WriteCorrelations(ctx context.Context, cs []model.Correlation) error {
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

// ActionBounds resolves a correlation period: zero ends become the stored
// actions' earliest time and just after their latest. ok is false when the
// period is empty.
func (w *Warehouse) ActionBounds(ctx context.Context, from, to time.Time) (time.Time, time.Time, bool, error) {
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
// correlator applies them again). TestCorrelateMatchesBatch (package
// pipeline/correlation) holds these to what correlate uses: a verdict from
// them equals one from every column.
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

// StreamAuthentications streams the authentications that can back an
// action (successful logins and MFA steps with a factor, by a person) with
// ts in [lo, hi), in time order, read in windows of about pageRows rows (see
// streamByTime).
func (w *Warehouse) StreamAuthentications(ctx context.Context, lo, hi time.Time, pageRows int64) iter.Seq2[model.AuthEvent, error] {
	return streamByTime(ctx, w, correlateAuth, authCond, authArgs, lo, hi, pageRows, func(e *model.AuthEvent) time.Time { return e.TS })
}

// StreamAuthenticatorChanges streams the registrations and removals of
// credentials with ts in [lo, hi), in time order (see streamByTime).
func (w *Warehouse) StreamAuthenticatorChanges(ctx context.Context, lo, hi time.Time, pageRows int64) iter.Seq2[model.Authenticator, error] {
	return streamByTime(ctx, w, correlateAuthenticators, authenticatorCond, authenticatorArgs, lo, hi, pageRows,
		func(e *model.Authenticator) time.Time { return e.TS })
}

// StreamAuditActions streams the human Airflow audit rows (task states
// excluded) with ts in [lo, hi), in time order (see streamByTime).
func (w *Warehouse) StreamAuditActions(ctx context.Context, lo, hi time.Time, pageRows int64) iter.Seq2[model.AirflowEvent, error] {
	return streamByTime(ctx, w, correlateAirflow, auditCond, auditArgs, lo, hi, pageRows, func(e *model.AirflowEvent) time.Time { return e.TS })
}

// StreamRuns streams the DAG runs with ts in [lo, hi), in time order (see
// streamByTime).
func (w *Warehouse) StreamRuns(ctx context.Context, lo, hi time.Time, pageRows int64) iter.Seq2[model.DagRun, error] {
	return streamByTime(ctx, w, correlateRuns, "", nil, lo, hi, pageRows, func(e *model.DagRun) time.Time { return e.TS })
}

// Enablers returns the latest unpause and backfill request of each DAG
// before before, by time (the columns StreamAuditActions reads).
func (w *Warehouse) Enablers(ctx context.Context, before time.Time) ([]model.AirflowEvent, error) {
	sub := "SELECT instance, dag_id, action, max(ts) FROM airflow_events FINAL " +
		"WHERE human = 1 AND dag_id != '' AND action IN (?, ?) AND ts < ? GROUP BY instance, dag_id, action"
	args := []any{string(model.ActionUnpause), string(model.ActionBackfill), before}
	where := "WHERE human = 1 AND dag_id != '' AND action IN (?, ?) AND ts < ? AND (instance, dag_id, action, ts) GLOBAL IN (" + sub + ") ORDER BY ts, event_log_id"
	en, err := correlateAirflow.All(ctx, w.S, where, append(append([]any{}, args...), args...)...)
	if err != nil {
		return nil, fmt.Errorf("load enabling actions: %w", err)
	}
	return en, nil
}

// AuthenticationsOf returns, by time, the authentications (as
// StreamAuthentications selects them) of each person in spans with ts in
// the person's span [span[0], span[1]), in one read.
func (w *Warehouse) AuthenticationsOf(ctx context.Context, spans map[string][2]time.Time) ([]model.AuthEvent, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	people := slices.Sorted(maps.Keys(spans))
	// a disjunction of per-person spans.
	terms := make([]string, len(people))
	spanArgs := make([]any, 0, 3*len(people))
	for i, person := range people {
		terms[i] = "(person = ? AND ts >= ? AND ts < ?)"
		spanArgs = append(spanArgs, person, spans[person][0], spans[person][1])
	}
	var out []model.AuthEvent
	err := correlateAuth.Read(ctx, w.S, "WHERE "+authCond+" AND ("+strings.Join(terms, " OR ")+") ORDER BY ts",
		append(slices.Clone(authArgs), spanArgs...), func(a model.AuthEvent) error {
			out = append(out, a)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("load authentications before the enabling actions: %w", err)
	}
	return out, nil
}

// tsWindow is a sub-range [from, to) of a windowed read.
type tsWindow struct {
	from, to time.Time
	rows     int64
}

// windows splits [lo, hi) into windows of about pageRows rows of table
// (by an hourly histogram; an hour is never split).
func (w *Warehouse) windows(ctx context.Context, table, cond string, args []any, lo, hi time.Time, pageRows int64) ([]tsWindow, error) {
	ms := msCol(w.S.Dialect(), "ts")
	q := "SELECT toInt64(intDiv(" + ms + ", 3600000)) AS h, toInt64(count()) FROM " + store.QuoteIdent(table) +
		" WHERE ts >= ? AND ts < ?" + and(cond) + " GROUP BY h ORDER BY h"
	rows, err := w.S.Query(ctx, q, append([]any{lo, hi}, args...)...)
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
		if cur.rows > 0 && cur.rows+n > pageRows && start.After(cur.from) {
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

// streamByTime streams table's rows with ts in [lo, hi) matching cond,
// ordered by ts (ties in any order), one time window of about pageRows rows
// per query; the next window is read while the consumer takes the current
// one. Each window is sorted here, by the reading goroutine, rather than by
// the engine, which serialises every query of the embedded store. A read
// error, or ctx's end, is yielded once with a zero value and ends the
// stream.
func streamByTime[T any](ctx context.Context, w *Warehouse, t store.Table[T], cond string, args []any, lo, hi time.Time, pageRows int64, ts func(*T) time.Time) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		ws, err := w.windows(ctx, t.Name, cond, args, lo, hi, pageRows)
		if err != nil {
			yield(zero, err)
			return
		}
		type page struct {
			rows  []T
			order []int32 // rows by time
			err   error
		}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		pages := make(chan page, 1)
		go func() {
			defer close(pages)
			for _, win := range ws {
				rows := make([]T, 0, win.rows)
				err := t.Read(rctx, w.S, "WHERE ts >= ? AND ts < ?"+and(cond),
					append([]any{win.from, win.to}, args...), func(v T) error { rows = append(rows, v); return nil })
				keys := make([]int64, len(rows))
				order := make([]int32, len(rows))
				for i := range rows {
					keys[i], order[i] = ts(&rows[i]).UnixNano(), int32(i)
				}
				slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(keys[a], keys[b]) })
				select {
				case pages <- page{rows, order, err}:
				case <-rctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
		for p := range pages {
			if p.err != nil {
				yield(zero, p.err)
				return
			}
			for _, i := range p.order {
				if !yield(p.rows[i], nil) {
					return
				}
			}
		}
		if err := ctx.Err(); err != nil {
			yield(zero, err)
		}
	}
}

// eventTables are the tables EventsSince reads, in the order their rows of
// equal time are fed.
var eventTables = []string{store.Authenticators.Name, store.AuthEvents.Name, store.AirflowEvents.Name, store.DagRuns.Name}

// MaxEventVersion returns the newest row version of the event tables
// (authenticators, sign-ins, Airflow audit rows, DAG runs).
func (w *Warehouse) MaxEventVersion(ctx context.Context) (uint64, error) {
	var out uint64
	for _, t := range eventTables {
		rows, err := w.S.Query(ctx, "SELECT toUInt64(max(version)) FROM "+store.QuoteIdent(t))
		if err != nil {
			return 0, fmt.Errorf("newest version of %s: %w", t, err)
		}
		var v uint64
		if rows.Next() {
			err = rows.Scan(&v)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
		if err != nil {
			return 0, fmt.Errorf("newest version of %s: %w", t, err)
		}
		out = max(out, v)
	}
	return out, nil
}

// EventsSince reads the rows of the event tables whose version is at least
// v, without FINAL (a re-read or replayed row is a redelivery), and hands
// each to fn as a pointer to its own copy of the model value, with its time
// and version: authenticators, then sign-ins, Airflow audit rows and DAG
// runs. Every table is read; their errors are joined.
func (w *Warehouse) EventsSince(ctx context.Context, v uint64, fn func(ts time.Time, ev any, version uint64)) error {
	s := w.S
	return errors.Join(
		readSince(ctx, s, store.Authenticators, v, func(v model.Authenticator, ver uint64) { fn(v.TS, &v, ver) }),
		readSince(ctx, s, store.AuthEvents, v, func(v model.AuthEvent, ver uint64) { fn(v.TS, &v, ver) }),
		readSince(ctx, s, store.AirflowEvents, v, func(v model.AirflowEvent, ver uint64) { fn(v.TS, &v, ver) }),
		readSince(ctx, s, store.DagRuns, v, func(v model.DagRun, ver uint64) { fn(v.TS, &v, ver) }),
	)
}

// readSince reads the rows of t whose version is at least v, without FINAL.
func readSince[T any](ctx context.Context, s store.Store, t store.Table[T], v uint64, fn func(T, uint64)) error {
	q := "SELECT " + t.Select() + " FROM " + store.QuoteIdent(t.Name) + " WHERE version >= ?"
	err := t.ReadQuery(ctx, s, q, []any{v}, func(val T, ver uint64) error { fn(val, ver); return nil })
	if err != nil {
		return fmt.Errorf("poll %s: %w", t.Name, err)
	}
	return nil
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
