package warehouse

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/evidence"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

//go:embed api.sql
var apiSQL string

// ErrNotFound is returned for an action the store does not hold.
var ErrNotFound = evidence.ErrNotFound

// Open ends of an API period: the store's time types hold both.
var (
	apiMinTime = time.Unix(0, 0).UTC()
	apiMaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// API reads what `keytrail serve` serves: correlation pages, evidence
// chains, coverage and store statistics. Build it with Warehouse.API.
type API struct {
	w *Warehouse
	q map[string]reportQuery
}

// API returns the API reader of w.
func (w *Warehouse) API() *API { return &API{w: w, q: parseSQL(apiSQL, w.S.Dialect())} }

// namedArgs binds vals to q's placeholders by name.
func namedArgs(q reportQuery, vals map[string]any) []any {
	out := make([]any, len(q.params))
	for i, p := range q.params {
		v, ok := vals[p]
		if !ok {
			panic("warehouse: query " + q.name + " has no value for " + p) // a .sql defect
		}
		out[i] = v
	}
	return out
}

// policy returns version, or the current policy when it is "".
func (a *API) policy(ctx context.Context, version string) (string, error) {
	if version != "" {
		return version, nil
	}
	return a.w.CurrentPolicy(ctx)
}

func period(from, to time.Time) (time.Time, time.Time) {
	if from.IsZero() {
		from = apiMinTime
	}
	if to.IsZero() {
		to = apiMaxTime
	}
	return model.Millis(from), model.Millis(to)
}

// Correlations returns one page of the correlations f selects, in (action
// time, action id) order: a keyset page, stable while rows are added.
func (a *API) Correlations(ctx context.Context, f evidence.Filter) (evidence.Page, error) {
	version, err := a.policy(ctx, f.PolicyVersion)
	if err != nil || version == "" {
		return evidence.Page{PolicyVersion: version}, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = evidence.DefaultLimit
	}
	return a.page(ctx, version, f, min(limit, evidence.MaxLimit))
}

// page reads the page of limit correlations of version f selects.
func (a *API) page(ctx context.Context, version string, f evidence.Filter, limit int) (evidence.Page, error) {
	page := evidence.Page{PolicyVersion: version}
	from, to := period(f.From, f.To)
	after := evidence.Cursor{TS: from}
	if f.After != nil {
		after = *f.After
		after.TS = model.Millis(after.TS)
	}
	vals := map[string]any{"policy_version": version, "from": from, "to": to, "after_ts": after.TS, "after_id": after.ActionID,
		"limit": int64(limit + 1)}
	sql, args := a.compose("correlations_page", f, vals, "page_order")
	items, err := a.scanCorrelations(ctx, sql, args)
	if err != nil {
		return page, fmt.Errorf("correlations page: %w", err)
	}
	page.Items = items
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.Next = &evidence.Cursor{TS: last.ActionTS, ActionID: last.ActionID}
	}
	return page, nil
}

// scanCorrelations runs a query of correlation columns.
func (a *API) scanCorrelations(ctx context.Context, sql string, args []any) ([]model.Correlation, error) {
	rows, err := a.w.S.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Correlation
	for rows.Next() {
		c, err := store.Correlations.Scan(rows)
		if err != nil {
			return nil, err
		}
		c.AssertionTS = zeroEpoch(c.AssertionTS)
		out = append(out, c)
	}
	return out, rows.Err()
}

// compose joins the query base, the filter fragments f selects and tail,
// binding vals (f's values are added to it) to their placeholders.
func (a *API) compose(base string, f evidence.Filter, vals map[string]any, tail string) (string, []any) {
	parts := []string{base}
	if len(f.Verdicts) > 0 {
		vs := make([]string, len(f.Verdicts))
		for i, v := range f.Verdicts {
			vs[i] = string(v)
		}
		vals["verdicts"] = vs
		parts = append(parts, "filter_verdicts")
	}
	for _, p := range []struct{ name, v string }{{"person", f.Person}, {"instance", f.Instance}, {"dag_id", f.DagID}} {
		if p.v != "" {
			vals[p.name] = p.v
			parts = append(parts, "filter_"+p.name)
		}
	}
	if f.Privileged != nil {
		vals["privileged"] = uint8(0)
		if *f.Privileged {
			vals["privileged"] = uint8(1)
		}
		parts = append(parts, "filter_privileged")
	}
	if len(f.Actions) > 0 {
		as := make([]string, len(f.Actions))
		for i, v := range f.Actions {
			as[i] = string(v)
		}
		vals["actions"] = as
		parts = append(parts, "filter_actions")
	}
	switch {
	case len(f.Tiers) > 0:
		ts := make([]int64, len(f.Tiers))
		for i, t := range f.Tiers {
			ts[i] = int64(t)
		}
		vals["tiers"] = ts
		parts = append(parts, "filter_tiers")
	case f.Exceptions:
		parts = append(parts, "filter_exceptions")
	}
	if tail != "" {
		parts = append(parts, tail)
	}
	var sql []string
	var args []any
	for _, p := range parts {
		q := a.q[p]
		sql = append(sql, q.sql)
		args = append(args, namedArgs(q, vals)...)
	}
	return strings.Join(sql, "\n"), args
}

// Chain returns the evidence behind the verdict of actionID under
// policyVersion ("" = current): the correlation, the audit row or run and
// its raw record, how the actor resolves, the assertion relied on with its
// raw record and resolution, the credential's registration with its raw
// record, and the correlation a run inherits from. ErrNotFound when the
// action has no correlation.
func (a *API) Chain(ctx context.Context, policyVersion, actionID string) (evidence.Chain, error) {
	var ch evidence.Chain
	version, err := a.policy(ctx, policyVersion)
	if err != nil {
		return ch, err
	}
	cs, err := store.Correlations.All(ctx, a.w.S, "WHERE policy_version = ? AND action_id = ?", version, actionID)
	if err != nil {
		return ch, err
	}
	if len(cs) == 0 {
		return ch, fmt.Errorf("action %q: %w", actionID, ErrNotFound)
	}
	c := cs[0]
	c.AssertionTS = zeroEpoch(c.AssertionTS)
	ch.Correlation = c
	res, err := a.w.Resolver(ctx, nil)
	if err != nil {
		return ch, err
	}
	switch c.Kind {
	case model.KindRun:
		runs, err := store.DagRuns.All(ctx, a.w.S, "WHERE instance = ? AND dag_id = ? AND run_id = ?", c.Instance, c.DagID, c.RunID)
		if err != nil {
			return ch, err
		}
		if len(runs) > 0 {
			r := runs[0]
			ch.Run = &r
			if ch.AuditRecord, err = a.record(ctx, model.SourceAirflow, r.Instance, r.RawSHA256); err != nil {
				return ch, err
			}
		}
	default:
		logID, perr := strconv.ParseInt(strings.TrimPrefix(c.ActionID, c.Instance+":"), 10, 64)
		if perr != nil {
			break // not an audit action id: no audit row to show
		}
		evs, err := store.AirflowEvents.All(ctx, a.w.S, "WHERE instance = ? AND event_log_id = ?", c.Instance, logID)
		if err != nil {
			return ch, err
		}
		if len(evs) > 0 {
			e := evs[0]
			ch.Audit = &e
			if ch.AuditRecord, err = a.record(ctx, model.SourceAirflow, e.Instance, e.RawSHA256); err != nil {
				return ch, err
			}
		}
	}
	ch.Identity = explainAirflow(res, c)
	if c.InheritedFrom != "" {
		inh, err := store.Correlations.All(ctx, a.w.S, "WHERE policy_version = ? AND action_id = ?", version, c.InheritedFrom)
		if err != nil {
			return ch, err
		}
		if len(inh) > 0 {
			ch.Inherited = &inh[0]
		}
	}
	if c.AssertionID == "" {
		return ch, nil
	}
	src, rest, _ := strings.Cut(c.AssertionID, "/")
	inst, eventID, _ := strings.Cut(rest, "/")
	evs, err := store.AuthEvents.All(ctx, a.w.S, "WHERE source = ? AND instance = ? AND event_id = ?", src, inst, eventID)
	if err != nil || len(evs) == 0 {
		return ch, err
	}
	ae := evs[0]
	ch.Assertion = &ae
	if ch.AssertionRecord, err = a.record(ctx, ae.Source, ae.Instance, ae.RawSHA256); err != nil {
		return ch, err
	}
	ch.AssertionIdentity = explainIdP(res, ae)
	if ae.CredentialID == "" {
		return ch, nil
	}
	regs, err := store.Authenticators.All(ctx, a.w.S,
		"WHERE source = ? AND instance = ? AND credential_id = ? AND action IN ('register', 'remove') AND ts <= ? ORDER BY ts DESC LIMIT 1",
		string(ae.Source), ae.Instance, ae.CredentialID, ae.TS)
	if err != nil || len(regs) == 0 {
		return ch, err
	}
	reg := regs[0]
	ch.Registration = &reg
	ch.RegistrationRecord, err = a.record(ctx, reg.Source, reg.Instance, reg.RawSHA256)
	return ch, err
}

// record returns the raw record of source and instance whose SHA-256 is
// sha; nil when none is stored.
func (a *API) record(ctx context.Context, source model.Source, instance, sha string) (*evidence.Record, error) {
	if sha == "" {
		return nil, nil
	}
	q := a.q["raw_record"]
	rows, err := a.w.S.Query(ctx, q.sql, namedArgs(q, map[string]any{"source": string(source), "instance": instance, "sha256": sha})...)
	if err != nil {
		return nil, fmt.Errorf("raw record: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var r evidence.Record
	if err := rows.Scan(&r.Source, &r.Instance, &r.EventID, &r.TS, &r.ReceivedAt, &r.Raw, &r.SHA256); err != nil {
		return nil, fmt.Errorf("raw record: %w", err)
	}
	return &r, rows.Err()
}

// explainAirflow says how c's actor resolves (a manual run's triggering
// user, an audit row's owner).
func explainAirflow(r *identity.Resolver, c model.Correlation) evidence.Resolution {
	if c.Actor == "" {
		return evidence.Resolution{Person: c.Person}
	}
	person, rule := r.ExplainAirflow(c.Actor, c.Channel)
	out := evidence.Resolution{Person: person, Source: model.SourceAirflow, Subject: c.Actor, Rule: rule}
	switch rule {
	case "":
	case identity.RuleMapping:
		out.Origin = model.OriginMapping
	case identity.RuleMappingCLI:
		out.Origin, out.Subject = model.OriginMapping, identity.CLIPrefix+c.Actor
	default:
		out.Origin = model.OriginInferred
	}
	return out
}

// explainIdP says how an authentication's subject resolves: the identity
// row of its subject or email (a mapping row wins).
func explainIdP(r *identity.Resolver, e model.AuthEvent) *evidence.Resolution {
	out := &evidence.Resolution{Person: r.ResolveIdP(e.Source, e.Subject, e.Email), Source: e.Source, Subject: e.Subject}
	var best *model.Identity
	for _, id := range r.Identities() {
		if id.Source != e.Source || id.Person != out.Person {
			continue
		}
		if !strings.EqualFold(id.Subject, e.Subject) && !strings.EqualFold(id.Subject, e.Email) {
			continue
		}
		if best == nil || id.Origin == model.OriginMapping {
			best = &id
		}
	}
	switch {
	case best == nil:
		out.Rule = "no identity row: the person is the subject's email, else <source>:<subject>"
	case best.Origin == model.OriginMapping:
		out.Origin, out.Subject, out.Rule = model.OriginMapping, best.Subject, "mapping row "+string(best.Source)+" "+best.Subject
	default:
		out.Origin, out.Subject, out.Rule = model.OriginInferred, best.Subject,
			"inferred from the provider's user id and email (the person is the lower-cased email when there is one)"
	}
	return out
}

// Coverage returns verified shares of [from, to) grouped by g, under
// policyVersion ("" = current).
func (a *API) Coverage(ctx context.Context, policyVersion string, from, to time.Time, g evidence.GroupBy) (evidence.Coverage, error) {
	out := evidence.Coverage{GroupBy: g}
	group, ok := a.q["coverage_group_"+string(g)]
	if !ok {
		return out, fmt.Errorf("coverage: unknown grouping %q", g)
	}
	version, err := a.policy(ctx, policyVersion)
	if err != nil || version == "" {
		return out, err
	}
	out.PolicyVersion = version
	from, to = period(from, to)
	q := a.q["coverage"]
	rows, err := a.w.S.Query(ctx, strings.ReplaceAll(q.sql, "{{group}}", group.sql),
		namedArgs(q, map[string]any{"policy_version": version, "from": from, "to": to})...)
	if err != nil {
		return out, fmt.Errorf("coverage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r evidence.CoverageRow
		if err := rows.Scan(&r.Key, &r.Actions, &r.Verified, &r.InheritedVerified, &r.Unattributed); err != nil {
			return out, fmt.Errorf("coverage: %w", err)
		}
		r.Exceptions = r.Actions - r.Verified - r.InheritedVerified - r.Unattributed
		out.Rows = append(out.Rows, r)
	}
	return out, rows.Err()
}

// Stats returns store-wide counts for metrics: the current policy's
// verdicts, dead letters by source, alerts by status and delivery, and the
// collectors' cursors.
func (a *API) Stats(ctx context.Context) (evidence.Stats, error) {
	st := evidence.Stats{Verdicts: map[model.Verdict]int64{}, DeadLetters: map[model.Source]int64{}}
	version, err := a.w.CurrentPolicy(ctx)
	if err != nil {
		return st, err
	}
	st.PolicyVersion = version
	scan := func(name string, vals map[string]any, fn func(store.Rows) error) error {
		q := a.q[name]
		rows, err := a.w.S.Query(ctx, q.sql, namedArgs(q, vals)...)
		if err != nil {
			return fmt.Errorf("stats %s: %w", name, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				return fmt.Errorf("stats %s: %w", name, err)
			}
		}
		return rows.Err()
	}
	if version != "" {
		err = scan("stats_verdicts", map[string]any{"policy_version": version}, func(rs store.Rows) error {
			var v string
			var n int64
			err := rs.Scan(&v, &n)
			st.Verdicts[model.Verdict(v)] = n
			return err
		})
		if err != nil {
			return st, err
		}
	}
	err = scan("stats_dead_letters", nil, func(rs store.Rows) error {
		var s string
		var n int64
		err := rs.Scan(&s, &n)
		st.DeadLetters[model.Source(s)] = n
		return err
	})
	if err != nil {
		return st, err
	}
	err = scan("stats_alerts", nil, func(rs store.Rows) error {
		var c evidence.AlertCount
		var sent uint64
		err := rs.Scan(&c.Status, &sent, &c.N)
		c.Sent = sent == 1
		st.Alerts = append(st.Alerts, c)
		return err
	})
	if err != nil {
		return st, err
	}
	st.Cursors, err = store.Cursors.All(ctx, a.w.S, "WHERE collector != ? ORDER BY collector", CurrentPolicyCursor)
	return st, err
}
