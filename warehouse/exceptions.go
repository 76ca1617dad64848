package warehouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/evidence"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
)

// exceptionSQL is report.IsException over a correlations row, and tierSQL
// report.TierOf; TestExceptionMacros holds them to the Go definitions over
// every kind, privilege, verdict and inherited verdict.
var (
	exceptionSQL = "(NOT (verdict = '" + string(model.VerdictVerified) + "' OR (verdict = '" + string(model.VerdictInherited) +
		"' AND inherited_verdict = '" + string(model.VerdictVerified) + "')))"
	tierSQL = fmt.Sprintf("multiIf(kind != '%s' AND privileged = 1, %d, kind != '%s', %d, verdict = '%s', %d, %d)",
		model.KindRun, report.TierPrivileged, model.KindRun, report.TierHuman, model.VerdictUnattributed, report.TierUnattributed, report.TierRun)
	exceptionMacros = strings.NewReplacer(
		"{{exception}}", exceptionSQL,
		"{{tier}}", tierSQL,
		"{{unattributed}}", "("+tierSQL+" = "+strconv.Itoa(int(report.TierUnattributed))+")",
	)
)

// Tallies implements report.TallySource: the period's correlations grouped
// in the engine on what report.Summarize reads (query correlation_tallies),
// so a summary costs one aggregate query whatever the population's size.
func (r *ReportSource) Tallies(ctx context.Context, q report.Query, fn func(report.Tally) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.query(ctx, "correlation_tallies", r.vals(q), func(rs store.Rows) error {
		var t report.Tally
		c := &t.Row
		err := rs.Scan(&c.Kind, &c.Verdict, &c.InheritedVerdict, &c.Privileged, &c.PolicyVersion, &c.Instance, &c.DagID, &c.Person, &c.Actor,
			&t.Count, &t.First, &t.Last, &t.AssertionsAfter, &t.MaxAssertionAfterMS)
		if err != nil {
			return fmt.Errorf("report query correlation_tallies: %w", err)
		}
		t.First, t.Last = t.First.UTC(), t.Last.UTC()
		c.ActionTS = t.First
		return fn(t)
	})
}

var _ report.TallySource = (*ReportSource)(nil)

// Overview returns the summary of q under policyVersion ("" = current):
// report.Summarize over the engine's tallies, the authenticator inventory
// and the coverage — the numbers the evidence pack of q prints.
func (a *API) Overview(ctx context.Context, policyVersion string, q report.Query) (evidence.Overview, error) {
	src, err := a.w.ReportSource(ctx, policyVersion)
	if err != nil {
		return evidence.Overview{}, err
	}
	s, cov, err := report.Summarize(ctx, src, q, 0)
	if err != nil {
		return evidence.Overview{}, err
	}
	return evidence.Overview{PolicyVersion: src.PolicyVersion(), Summary: s, Coverage: cov}, nil
}

// MaxUnattributedDAGs bounds the DAGs an exception page groups
// unattributed runs under.
const MaxUnattributedDAGs = 500

// Exceptions returns one page of the exceptions f selects (f.Exceptions is
// implied), most severe first (evidence.ExceptionPage), after the cursor
// when one is given, with the filter's counts per tier and its
// unattributed runs grouped per DAG. f.After is not read.
func (a *API) Exceptions(ctx context.Context, f evidence.Filter, after *evidence.ExceptionCursor) (evidence.ExceptionPage, error) {
	version, err := a.policy(ctx, f.PolicyVersion)
	page := evidence.ExceptionPage{PolicyVersion: version, Unattributed: []report.UnattributedDAG{}}
	if err != nil || version == "" {
		return page, err
	}
	f.Exceptions = true
	limit := f.Limit
	if limit <= 0 {
		limit = evidence.DefaultLimit
	}
	limit = min(limit, evidence.MaxLimit)
	from, to := period(f.From, f.To)
	cur := evidence.ExceptionCursor{Tier: report.TierPrivileged, Cursor: evidence.Cursor{TS: from}}
	if after != nil {
		cur = *after
		cur.TS = model.Millis(cur.TS)
	}
	vals := func() map[string]any {
		return map[string]any{"policy_version": version, "from": from, "to": to}
	}

	v := vals()
	v["after_tier"], v["after_ts"], v["after_id"], v["limit"] = int64(cur.Tier), cur.TS, cur.ActionID, int64(limit+1)
	sql, args := a.compose("exceptions_page", f, v, "exceptions_page_order")
	if page.Items, err = a.scanCorrelations(ctx, sql, args); err != nil {
		return page, fmt.Errorf("exceptions page: %w", err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.Next = &evidence.ExceptionCursor{Tier: report.TierOf(last), Cursor: evidence.Cursor{TS: last.ActionTS, ActionID: last.ActionID}}
	}

	sql, args = a.compose("exceptions_tiers", f, vals(), "exceptions_tiers_group")
	err = a.scan(ctx, sql, args, func(rs store.Rows) error {
		var tier uint64
		var n int64
		if err := rs.Scan(&tier, &n); err != nil {
			return err
		}
		switch report.Tier(tier) {
		case report.TierPrivileged:
			page.Counts.PrivilegedHuman = n
		case report.TierHuman:
			page.Counts.OtherHuman = n
		case report.TierRun:
			page.Counts.Runs = n
		default:
			page.Counts.Unattributed = n
		}
		return nil
	})
	if err != nil {
		return page, fmt.Errorf("exceptions by tier: %w", err)
	}

	v = vals()
	v["limit"] = int64(MaxUnattributedDAGs)
	sql, args = a.compose("exceptions_unattributed", f, v, "exceptions_unattributed_group")
	err = a.scan(ctx, sql, args, func(rs store.Rows) error {
		var u report.UnattributedDAG
		if err := rs.Scan(&u.Instance, &u.DagID, &u.Runs, &u.First, &u.Last); err != nil {
			return err
		}
		u.First, u.Last = u.First.UTC(), u.Last.UTC()
		page.Unattributed = append(page.Unattributed, u)
		return nil
	})
	if err != nil {
		return page, fmt.Errorf("unattributed runs by DAG: %w", err)
	}
	return page, nil
}

// scan runs sql and calls fn for each row.
func (a *API) scan(ctx context.Context, sql string, args []any, fn func(store.Rows) error) error {
	rows, err := a.w.S.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// StreamPageRows is the page size Stream reads the store in.
const StreamPageRows = 10_000

// Stream calls fn for every correlation f selects, in (action time, action
// id) order — the order of the evidence pack's files — reading keyset pages
// of StreamPageRows. f.Limit and f.After are not read.
func (a *API) Stream(ctx context.Context, f evidence.Filter, fn func(model.Correlation) error) error {
	version, err := a.policy(ctx, f.PolicyVersion)
	if err != nil || version == "" {
		return err
	}
	f.After = nil
	for {
		page, err := a.page(ctx, version, f, StreamPageRows)
		if err != nil {
			return err
		}
		for _, c := range page.Items {
			if err := fn(c); err != nil {
				return err
			}
		}
		if page.Next == nil {
			return nil
		}
		f.After = page.Next
	}
}

// LatestAction returns the time of the latest action correlated under
// policyVersion ("" = current); zero when there is none.
func (a *API) LatestAction(ctx context.Context, policyVersion string) (time.Time, error) {
	version, err := a.policy(ctx, policyVersion)
	if err != nil || version == "" {
		return time.Time{}, err
	}
	q := a.q["latest_action"]
	var t time.Time
	err = a.scan(ctx, q.sql, namedArgs(q, map[string]any{"policy_version": version}), func(rs store.Rows) error { return rs.Scan(&t) })
	if err != nil {
		return time.Time{}, fmt.Errorf("latest action: %w", err)
	}
	return zeroEpoch(t), nil
}

// PolicyText returns the canonical text recorded for a policy version (see
// Warehouse.PolicyText).
func (a *API) PolicyText(ctx context.Context, version string) (string, bool, error) {
	return a.w.PolicyText(ctx, version)
}
