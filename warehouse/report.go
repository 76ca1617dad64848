package warehouse

import (
	"context"
	"crypto/ed25519"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
)

//go:embed report.sql
var reportSQL string

// Names of the queries a ReportSource runs besides report.QueryCorrelations,
// report.QueryAuthenticators and report.QueryCoverage.
const (
	QueryCorrelationsEstimate = "correlations_estimate"
	QueryCoverageCursors      = "coverage_cursors"
	QueryCoverageIDCount      = "coverage_id_count"
	QueryCoverageIDs          = "coverage_ids"
)

// DefaultIDStreamWindow is ReportSource.IDStreamWindow's default.
const DefaultIDStreamWindow = 1 << 16

// reportQuery is one query of report.sql: its text for a dialect and the names
// of its ? placeholders, in order.
type reportQuery struct {
	name   string
	sql    string
	params []string
}

// parseReportSQL splits report.sql into its named queries and expands the
// dialect macros.
func parseReportSQL(d store.Dialect) map[string]reportQuery { return parseSQL(reportSQL, d) }

// parseSQL splits text, a file of queries each after a "-- name:" line (and
// an optional "-- params:" line), into its named queries and expands the
// macros {{correlation_columns}}, {{ms action_ts}}, {{day action_ts}},
// {{exception}}, {{tier}} and {{unattributed}}.
func parseSQL(text string, d store.Dialect) map[string]reportQuery {
	out := map[string]reportQuery{}
	var cur *reportQuery
	var body []string
	flush := func() {
		if cur != nil {
			cur.sql = strings.TrimSpace(strings.Join(body, "\n"))
			out[cur.name] = *cur
		}
		body = nil
	}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "-- name:"):
			flush()
			cur = &reportQuery{name: strings.TrimSpace(strings.TrimPrefix(line, "-- name:"))}
		case strings.HasPrefix(line, "-- params:"):
			if cur != nil {
				cur.params = strings.Fields(strings.TrimPrefix(line, "-- params:"))
			}
		case strings.HasPrefix(line, "--"):
		default:
			if cur != nil {
				body = append(body, line)
			}
		}
	}
	flush()
	for name, q := range out {
		q.sql = strings.ReplaceAll(q.sql, "{{correlation_columns}}", store.Correlations.Select())
		q.sql = strings.ReplaceAll(q.sql, "{{ms action_ts}}", msCol(d, "action_ts"))
		q.sql = strings.ReplaceAll(q.sql, "{{day action_ts}}", d.Day("action_ts"))
		q.sql = exceptionMacros.Replace(q.sql)
		out[name] = q
	}
	return out
}

// ReportSource is the report.Source of a store: the correlations of one policy
// version, the authenticator inventory and the source coverage. Build it with
// Warehouse.ReportSource; the zero value is not usable.
//
// Correlations reads the period's population in one ordered query whose rows
// stream in blocks, so memory does not grow with the period.
type ReportSource struct {
	w      *Warehouse
	policy string
	q      map[string]reportQuery

	// IDStreamWindow is the widest event_log_id range whose ids are listed
	// rather than bisected further when it has gaps; default 65 536.
	IDStreamWindow int64
	// Cursors, when set, replaces the collector positions read from the store
	// (keyed "<source>/<instance>"); VerifyReport pins them to the manifest's.
	Cursors map[string]string
	// Progress, when set, is called as correlations stream with the rows read
	// so far and an estimate of the total (the rows in scope before
	// replaced copies are merged away; it may exceed the final count).
	Progress func(done, total int64)
}

// ReportSource returns the report source for policyVersion; "" means the
// current policy (CurrentPolicy). When nothing has been correlated yet the
// policy is "" and the population is empty.
func (w *Warehouse) ReportSource(ctx context.Context, policyVersion string) (*ReportSource, error) {
	if policyVersion == "" {
		v, err := w.CurrentPolicy(ctx)
		if err != nil {
			return nil, err
		}
		policyVersion = v
	}
	return &ReportSource{w: w, policy: policyVersion, q: parseReportSQL(w.S.Dialect())}, nil
}

// PolicyVersion returns the policy version whose correlations the source reads.
func (r *ReportSource) PolicyVersion() string { return r.policy }

var _ report.Source = (*ReportSource)(nil)

// args binds the named values to q's placeholders.
func (r *ReportSource) args(q reportQuery, vals map[string]any) []any { return namedArgs(q, vals) }

func (r *ReportSource) vals(q report.Query) map[string]any {
	return map[string]any{
		"policy_version": r.policy,
		"from":           model.Millis(q.From),
		"to":             model.Millis(q.To),
		"instance":       q.Instance,
	}
}

// query runs the named query with vals and calls fn for each row.
func (r *ReportSource) query(ctx context.Context, name string, vals map[string]any, fn func(store.Rows) error) error {
	q := r.q[name]
	rows, err := r.w.S.Query(ctx, q.sql, r.args(q, vals)...)
	if err != nil {
		return fmt.Errorf("report query %s: %w", name, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report query %s: %w", name, err)
	}
	return nil
}

// progressEvery is how many correlations pass between Progress calls.
const progressEvery = 1 << 16

// estimate counts the correlations in scope without FINAL, for Progress.
func (r *ReportSource) estimate(ctx context.Context, q report.Query) (int64, error) {
	var n int64
	err := r.query(ctx, QueryCorrelationsEstimate, r.vals(q), func(rs store.Rows) error { return rs.Scan(&n) })
	return n, err
}

// Correlations implements report.Source: one query ordered by action time
// and id, streamed row by row into fn.
func (r *ReportSource) Correlations(ctx context.Context, q report.Query, fn func(model.Correlation) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var total int64
	if r.Progress != nil {
		n, err := r.estimate(ctx, q)
		if err != nil {
			return err
		}
		total = n
	}
	sc := store.Correlations.NewScanner()
	var done int64
	err := r.query(ctx, report.QueryCorrelations, r.vals(q), func(rs store.Rows) error {
		c, err := sc.Scan(rs)
		if err != nil {
			return fmt.Errorf("report query %s: %w", report.QueryCorrelations, err)
		}
		if done++; r.Progress != nil && done%progressEvery == 0 {
			r.Progress(done, total)
		}
		return fn(c)
	})
	if err != nil {
		return err
	}
	if r.Progress != nil {
		r.Progress(done, total)
	}
	return ctx.Err()
}

// zeroEpoch maps the engines' empty aggregate of a time (the epoch) to the zero time.
func zeroEpoch(t time.Time) time.Time {
	if t.IsZero() || t.UnixMilli() == 0 {
		return time.Time{}
	}
	return t.UTC()
}

// triState decodes 0 = unknown, 1 = false, 2 = true.
func triState(v int64) *bool {
	switch v {
	case 1:
		return model.Bool(false)
	case 2:
		return model.Bool(true)
	}
	return nil
}

// Authenticators implements report.Source.
func (r *ReportSource) Authenticators(ctx context.Context, q report.Query, fn func(report.AuthenticatorRow) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.query(ctx, report.QueryAuthenticators, r.vals(q), func(rs store.Rows) error {
		var a report.AuthenticatorRow
		var hw, be int64
		err := rs.Scan(&a.Person, &a.Email, &a.Source, &a.Instance, &a.CredentialID, &a.AAGUID, &a.Model, &hw, &be,
			&a.RegisteredAt, &a.RemovedAt, &a.FirstUsedAt, &a.LastUsedAt, &a.Uses)
		if err != nil {
			return fmt.Errorf("report query %s: %w", report.QueryAuthenticators, err)
		}
		a.Hardware, a.BackupEligible = triState(hw), triState(be)
		a.RegisteredAt, a.RemovedAt = zeroEpoch(a.RegisteredAt), zeroEpoch(a.RemovedAt)
		a.FirstUsedAt, a.LastUsedAt = zeroEpoch(a.FirstUsedAt), zeroEpoch(a.LastUsedAt)
		return fn(a)
	})
}

// CollectorName is the cursors row of a source instance's collector.
func CollectorName(src model.Source, instance string) string { return string(src) + "/" + instance }

// Coverage implements report.Source. For Airflow, IDRanges are the runs of
// event_log_ids stored for the instance between the lowest and the highest id
// seen in the period (whatever their time), and IDGaps the ids missing between
// them: an id the audit log numbered but keytrail never received.
func (r *ReportSource) Coverage(ctx context.Context, q report.Query) ([]model.SourceCoverage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type idSpan struct{ lo, hi int64 }
	var out []model.SourceCoverage
	var spans []idSpan
	err := r.query(ctx, report.QueryCoverage, r.vals(q), func(rs store.Rows) error {
		var c model.SourceCoverage
		var lo, hi int64
		if err := rs.Scan(&c.Source, &c.Instance, &c.First, &c.Last, &c.Events, &lo, &hi); err != nil {
			return fmt.Errorf("report query %s: %w", report.QueryCoverage, err)
		}
		c.First, c.Last = model.Millis(c.First), model.Millis(c.Last)
		out = append(out, c)
		spans = append(spans, idSpan{lo, hi})
		return nil
	})
	if err != nil {
		return nil, err
	}
	cursors := r.Cursors
	if cursors == nil {
		cursors = map[string]string{}
		err = r.query(ctx, QueryCoverageCursors, nil, func(rs store.Rows) error {
			var name, pos string
			if err := rs.Scan(&name, &pos); err != nil {
				return fmt.Errorf("report query %s: %w", QueryCoverageCursors, err)
			}
			cursors[name] = pos
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for i := range out {
		c := &out[i]
		c.Cursor = cursors[CollectorName(c.Source, c.Instance)]
		if c.Source != model.SourceAirflow {
			continue
		}
		ranges, err := r.idRanges(ctx, c.Instance, spans[i].lo, spans[i].hi)
		if err != nil {
			return nil, err
		}
		c.IDRanges = ranges
		for j := 1; j < len(ranges); j++ {
			c.IDGaps = append(c.IDGaps, model.IDRange{From: ranges[j-1].To + 1, To: ranges[j].From - 1})
		}
	}
	return out, nil
}

func (r *ReportSource) streamWindow() int64 {
	if r.IDStreamWindow > 0 {
		return r.IDStreamWindow
	}
	return DefaultIDStreamWindow
}

// idRanges returns the runs of stored event_log_ids of instance in [lo, hi].
// A window whose distinct id count equals its width is one run and costs one
// count; otherwise it is halved, and listed once it is IDStreamWindow wide.
func (r *ReportSource) idRanges(ctx context.Context, instance string, lo, hi int64) ([]model.IDRange, error) {
	streamWin := r.streamWindow()
	var out []model.IDRange
	add := func(a, b int64) {
		if n := len(out); n > 0 && out[n-1].To+1 == a {
			out[n-1].To = b
			return
		}
		out = append(out, model.IDRange{From: a, To: b})
	}
	var walk func(a, b int64) error
	walk = func(a, b int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		vals := map[string]any{"instance": instance, "lo": a, "hi": b}
		var n int64
		err := r.query(ctx, QueryCoverageIDCount, vals, func(rs store.Rows) error { return rs.Scan(&n) })
		if err != nil {
			return err
		}
		switch {
		case n == 0:
			return nil
		case n == b-a+1:
			add(a, b)
			return nil
		case b-a+1 <= streamWin:
			return r.query(ctx, QueryCoverageIDs, vals, func(rs store.Rows) error {
				var id int64
				if err := rs.Scan(&id); err != nil {
					return fmt.Errorf("report query %s: %w", QueryCoverageIDs, err)
				}
				add(id, id)
				return nil
			})
		}
		mid := a + (b-a)/2
		if err := walk(a, mid); err != nil {
			return err
		}
		return walk(mid+1, b)
	}
	if err := walk(lo, hi); err != nil {
		return nil, err
	}
	return out, nil
}

// Queries implements report.Source: the text of every query the source runs,
// with its parameters. The coverage id queries run per Airflow instance over
// event_log_id windows.
func (r *ReportSource) Queries(q report.Query) []model.ManifestQuery {
	vals := map[string]string{
		"policy_version": r.policy,
		"from":           report.FormatTime(q.From),
		"to":             report.FormatTime(q.To),
		"instance":       q.Instance,
		"lo":             "lowest event_log_id of the window (per Airflow instance in coverage)",
		"hi":             "highest event_log_id of the window",
	}
	notes := map[string]string{
		QueryCorrelationsEstimate: "sizes the progress display only (counts replaced copies too); nothing in the pack comes from it",
		QueryCoverageIDCount:      "distinct ids in [lo, hi]; a window with as many ids as its width has no gap, else it is halved",
		QueryCoverageIDs:          "lists the ids of a window with a gap once it is at most " + strconv.FormatInt(r.streamWindow(), 10) + " ids wide",
	}
	names := []string{QueryCorrelationsEstimate, report.QueryCorrelations, report.QueryAuthenticators, report.QueryCoverage, QueryCoverageCursors, QueryCoverageIDCount, QueryCoverageIDs}
	out := make([]model.ManifestQuery, 0, len(names))
	for _, name := range names {
		rq := r.q[name]
		p := map[string]string{}
		seen := map[string]bool{}
		var order []string
		for _, n := range rq.params {
			if !seen[n] {
				p[n] = vals[n]
				seen[n] = true
			}
			order = append(order, n)
		}
		if len(order) > 0 {
			p["bind_order"] = strings.Join(order, ", ")
		}
		if n, ok := notes[name]; ok {
			p["note"] = n
		}
		out = append(out, model.ManifestQuery{Name: name, SQL: rq.sql, Params: p})
	}
	return out
}

// Report writes the evidence pack for opts into dir (see report.Write) from the
// correlations of opts.PolicyVersion ("" = the current policy, which the
// manifest then records), and records it in the reports table. progress may be nil.
func (w *Warehouse) Report(ctx context.Context, opts report.Options, dir string, progress func(done, total int64)) (model.Manifest, error) {
	src, err := w.ReportSource(ctx, opts.PolicyVersion)
	if err != nil {
		return model.Manifest{}, err
	}
	src.Progress = progress
	opts.PolicyVersion = src.PolicyVersion()
	opts.PolicyText = ""
	if opts.PolicyVersion != "" {
		text, ok, err := w.PolicyText(ctx, opts.PolicyVersion)
		if err != nil {
			return model.Manifest{}, fmt.Errorf("report: %w", err)
		}
		if ok {
			if err := checkPolicyText(text, opts.PolicyVersion); err != nil {
				return model.Manifest{}, fmt.Errorf("report: %w", err)
			}
			opts.PolicyText = text
		}
	}
	m, err := report.Write(ctx, src, opts, dir)
	if err != nil {
		return model.Manifest{}, err
	}
	body, err := os.ReadFile(filepath.Join(dir, report.FileManifest))
	if err != nil {
		return m, fmt.Errorf("read written manifest: %w", err)
	}
	rec := store.ReportRecord{
		ReportID:       m.ReportID,
		GeneratedAt:    m.GeneratedAt,
		PeriodFrom:     m.PeriodFrom,
		PeriodTo:       m.PeriodTo,
		Scope:          m.Scope,
		PolicyVersion:  m.PolicyVersion,
		Manifest:       string(body),
		ManifestSHA256: model.SHA256Hex(body),
	}
	if err := store.Reports.Write(ctx, w.S, []store.ReportRecord{rec}); err != nil {
		return m, fmt.Errorf("record report %s: %w", m.ReportID, err)
	}
	return m, nil
}

// VerifyReport verifies the pack in dir (report.VerifyWithSource) against this
// store: the correlations of the manifest's policy version, and the coverage
// with the collector cursors pinned to the manifest's (a cursor is where a
// collector stood when the pack was made; it moves on afterwards). notes lists
// what is worth knowing but is no mismatch: moved cursors, and whether the
// reports table holds this manifest. trusted are the keys that authenticate
// the signer (report.Verify).
func (w *Warehouse) VerifyReport(ctx context.Context, dir string, trusted []ed25519.PublicKey) (res report.Result, notes []string, err error) {
	var m model.Manifest
	body, rerr := os.ReadFile(filepath.Join(dir, report.FileManifest))
	if rerr == nil {
		_ = json.Unmarshal(body, &m) // report.Verify reports a bad manifest
	}
	src, err := w.ReportSource(ctx, m.PolicyVersion)
	if err != nil {
		return res, nil, err
	}
	if m.PolicyVersion == "" {
		src.policy = "" // an empty policy in the manifest is not "current"
	}
	pinned := map[string]string{}
	for _, c := range m.Coverage {
		pinned[CollectorName(c.Source, c.Instance)] = c.Cursor
	}
	src.Cursors = pinned
	if m.PeriodFrom.IsZero() || m.PeriodTo.IsZero() || !m.PeriodTo.After(m.PeriodFrom) {
		// A damaged manifest names no period to recompute: check the files
		// and the signature only, and say why the store was not queried.
		res, err = report.Verify(dir, trusted)
		if err != nil {
			return res, nil, err
		}
		res.OK = false
		res.Differences = append(res.Differences, report.Difference{File: report.FileManifest, Detail: "names no valid period, so the store was not queried"})
		return res, nil, nil
	}
	res, err = report.VerifyWithSource(ctx, dir, trusted, src)
	if err != nil {
		return res, nil, err
	}
	live := map[string]string{}
	err = src.query(ctx, QueryCoverageCursors, nil, func(rs store.Rows) error {
		var name, pos string
		if err := rs.Scan(&name, &pos); err != nil {
			return err
		}
		live[name] = pos
		return nil
	})
	if err != nil {
		return res, nil, err
	}
	names := make([]string, 0, len(pinned))
	for n := range pinned {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if pinned[n] != live[n] {
			notes = append(notes, fmt.Sprintf("collector %s has moved on since the pack was made: %q then, %q now", n, pinned[n], live[n]))
		}
	}
	if m.PolicyText != "" {
		if err := checkPolicyText(m.PolicyText, m.PolicyVersion); err != nil {
			res.OK = false
			res.Differences = append(res.Differences, report.Difference{File: report.FileManifest, Detail: err.Error()})
		}
		switch text, ok, err := w.PolicyText(ctx, m.PolicyVersion); {
		case err != nil:
			return res, notes, err
		case !ok:
			notes = append(notes, fmt.Sprintf("policy %s has no text recorded in this store", m.PolicyVersion))
		case text != m.PolicyText:
			res.OK = false
			res.Differences = append(res.Differences, report.Difference{File: report.FileManifest, Detail: fmt.Sprintf("policy_text differs from the text this store records for policy %s", m.PolicyVersion)})
		}
	}
	if rerr == nil && m.ReportID != "" {
		recs, err := store.Reports.All(ctx, w.S, "WHERE report_id = ?", m.ReportID)
		switch {
		case err != nil:
			return res, notes, err
		case len(recs) == 0:
			notes = append(notes, fmt.Sprintf("report %s is not recorded in this store's reports table", m.ReportID))
		case recs[0].ManifestSHA256 != model.SHA256Hex(body):
			notes = append(notes, fmt.Sprintf("report %s is recorded in this store with a different manifest (SHA-256 %s)", m.ReportID, recs[0].ManifestSHA256))
		}
	}
	return res, notes, nil
}

// checkPolicyText reports whether text is the rule of policy version: it
// loads (strictly) to a policy with that version.
func checkPolicyText(text, version string) error {
	p, err := correlate.LoadPolicy(strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("policy text of %s does not load: %w", version, err)
	}
	if v := p.Version(); v != version {
		return fmt.Errorf("policy text loads to version %s, not %s", v, version)
	}
	return nil
}
