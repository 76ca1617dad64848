//go:build !nochdb

package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/dashboards"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// query is one SQL query a dashboard makes: a panel's target, a variable's
// options, or the alert rule's.
type query struct {
	dash  dashboards.Dashboard
	name  string // "<dashboard uid>/<panel title>" or "<uid>/variable <name>"
	panel dashboards.Panel
	sql   string
}

// generated renders the dashboards and the alert rule for d and parses them;
// for the embedded engine's dialect they are the committed files.
func generated(tb testing.TB, d store.Dialect) ([]dashboards.Dashboard, alertRuleFile) {
	tb.Helper()
	files, err := dashboards.Generate(d)
	require.NoError(tb, err)
	var ds []dashboards.Dashboard
	for name, b := range files {
		if strings.HasPrefix(name, "json/") {
			db, err := dashboards.Parse(b)
			require.NoError(tb, err, name)
			db.File = name
			ds = append(ds, db)
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].UID < ds[j].UID })
	return ds, decodeAlertRule(tb, files[dashboards.AlertFile])
}

// sqlQueries lists every ClickHouse query of ds and the alert rule.
func sqlQueries(ds []dashboards.Dashboard, alert alertRuleFile) []query {
	var out []query
	for _, d := range ds {
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				var sql string
				_ = json.Unmarshal(v.Query, &sql)
				out = append(out, query{dash: d, name: d.UID + "/variable " + v.Name, sql: sql})
			}
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL != "" {
					out = append(out, query{dash: d, name: d.UID + "/" + p.Title, panel: p, sql: tg.RawSQL})
				}
			}
		}
	}
	return append(out, query{name: "alert/" + dashboards.AlertRuleUID, sql: alert.query().Model.RawSQL})
}

// allVars selects All in every variable of d (the textbox its default).
func allVars(d dashboards.Dashboard) dashboards.Vars {
	vs := dashboards.Vars{}
	for _, v := range d.Templating.List {
		var q string
		_ = json.Unmarshal(v.Query, &q)
		if v.IncludeAll {
			vs[v.Name] = dashboards.Var{All: true, Multi: true}
		} else {
			vs[v.Name] = dashboards.Var{Values: []string{q}}
		}
	}
	return vs
}

// expand does what Grafana and the plugin do to q's SQL before ClickHouse
// runs it, for the range [from, to] and the variables vs.
func expand(tb testing.TB, q query, vs dashboards.Vars, from, to time.Time) string {
	tb.Helper()
	sql, err := vs.Interpolate(q.sql)
	require.NoError(tb, err, q.name)
	r, err := q.panel.TimeRange(from, to)
	require.NoError(tb, err, q.name)
	sql, err = r.Expand(sql)
	require.NoError(tb, err, q.name)
	require.NotContains(tb, sql, "$", "%s: everything is expanded", q.name)
	return sql
}

// result is a query's rows with their column names.
type result struct {
	cols []string
	rows [][]any
}

func (r result) col(name string) int {
	for i, c := range r.cols {
		if c == name {
			return i
		}
	}
	return -1
}

func run(tb testing.TB, s store.Store, sql string) result {
	tb.Helper()
	rs, err := s.Query(context.Background(), sql)
	require.NoError(tb, err, sql)
	defer rs.Close()
	res := result{cols: rs.Columns()}
	for rs.Next() {
		res.rows = append(res.rows, append([]any(nil), rs.Values()...))
	}
	require.NoError(tb, rs.Err(), sql)
	return res
}

// toFloat returns a numeric value as float64; false for anything else.
func toFloat(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

func isNumber(v any) bool { _, ok := toFloat(v); return ok }

// num returns a numeric value as float64.
func num(tb testing.TB, v any) float64 {
	tb.Helper()
	f, ok := toFloat(v)
	require.True(tb, ok, "not a number: %#v", v)
	return f
}

// cell renders a value the same way whichever engine returned it: times to
// the second in UTC (18.16 holds milliseconds as Int64 and the panels read
// them as DateTime), numbers without their Go type.
func cell(v any) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		rv = rv.Elem()
		v = rv.Interface()
	}
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.UTC().Truncate(time.Second).Format(time.DateTime)
	case float32, float64:
		f, _ := toFloat(x)
		return fmt.Sprintf("%.9g", f)
	}
	if f, ok := toFloat(v); ok {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprint(v)
}

func (r result) lines() []string {
	out := make([]string, len(r.rows))
	for i, row := range r.rows {
		cells := make([]string, len(row))
		for j, v := range row {
			cells[j] = r.cols[j] + "=" + cell(v)
		}
		out[i] = strings.Join(cells, " ")
	}
	return out
}

// fieldNames are the fields a panel's configuration names: overrides by
// name, the fields its data links read, and the fields a stat reduces.
func fieldNames(p dashboards.Panel) []string {
	var out []string
	links := p.FieldConfig.Defaults.Links
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.ID == "byName" {
			out = append(out, o.Matcher.Options)
		}
		for _, prop := range o.Properties {
			if prop.ID == "links" {
				var ls []dashboards.Link
				if err := json.Unmarshal(prop.Value, &ls); err == nil {
					links = append(links, ls...)
				}
			}
		}
	}
	for _, l := range links {
		for _, m := range dataFieldRE.FindAllStringSubmatch(l.URL, -1) {
			out = append(out, m[1])
		}
	}
	if f := p.Options.ReduceOptions.Fields; f != "" {
		inner := strings.TrimSuffix(strings.TrimPrefix(f, "/^"), "$/")
		inner = strings.TrimSuffix(strings.TrimPrefix(inner, "("), ")")
		out = append(out, strings.Split(inner, "|")...)
	}
	return out
}

var dataFieldRE = regexp.MustCompile(`\$\{__data\.fields\.(\w+)(?::\w+)?\}`)

// checkShape checks that a panel's result has the columns the panel uses.
func checkShape(t *testing.T, q query, res result) {
	t.Helper()
	for _, f := range fieldNames(q.panel) {
		require.GreaterOrEqual(t, res.col(f), 0, "%s: the panel's configuration names field %q; the query returns %v", q.name, f, res.cols)
	}
	switch q.panel.Type {
	case "timeseries":
		require.Equal(t, "time", res.cols[0], "%s: a time series' first column is its time", q.name)
		for _, row := range res.rows {
			_, ok := row[0].(time.Time)
			require.True(t, ok, "%s: time is a time: %#v", q.name, row[0])
		}
		require.True(t, hasNumber(res), "%s: a time series has a value column: %v", q.name, res.cols)
		var prev time.Time
		for _, row := range res.rows { // sqlds turns long frames wide only when sorted by time
			ts := row[0].(time.Time)
			require.False(t, ts.Before(prev), "%s: rows ordered by time", q.name)
			prev = ts
		}
	case "piechart":
		require.Len(t, res.cols, 2, "%s: a pie chart reads one label and one value", q.name)
		require.True(t, hasNumber(res), q.name)
	case "stat":
		require.Len(t, res.rows, 1, "%s: a stat reads one row", q.name)
	}
}

func hasNumber(res result) bool {
	for _, row := range res.rows {
		for _, v := range row {
			if isNumber(v) {
				return true
			}
		}
	}
	return len(res.rows) == 0
}

// truth is what keytrail's own reader says about the current policy's
// correlations, for checking the panels' numbers.
type truth struct {
	all []model.Correlation
}

func readTruth(t *testing.T, s store.Store) truth {
	t.Helper()
	ctx := context.Background()
	v, err := warehouse.New(s).CurrentPolicy(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, v)
	var tr truth
	require.NoError(t, store.Correlations.Read(ctx, s, "WHERE policy_version = ?", []any{v}, func(c model.Correlation) error {
		tr.all = append(tr.all, c)
		return nil
	}))
	return tr
}

// within reports whether ts passes $__timeFilter for [from, to] (whole
// seconds) on an engine of dialect d: DateTime64 compares milliseconds,
// 18.16's panels compare the time truncated to the second.
func within(d store.Dialect, ts, from, to time.Time) bool {
	if !d.DateTime64 {
		ts = ts.Truncate(time.Second)
	}
	return !ts.Before(from.Truncate(time.Second)) && !ts.After(to.Truncate(time.Second))
}

func (tr truth) count(d store.Dialect, from, to time.Time, keep func(model.Correlation) bool) int {
	n := 0
	for _, c := range tr.all {
		if within(d, c.ActionTS, from, to) && keep(c) {
			n++
		}
	}
	return n
}

func privilegedException(c model.Correlation) bool { return c.Privileged && report.IsException(c) }

// nondeterministic queries depend on the wall clock (now()), so engines
// filled at different moments may differ.
var nondeterministic = map[string]bool{
	dashboards.PipelineUID + "/Collector cursors": true,
	dashboards.PipelineUID + "/Correlator lag":    true,
}

// mayBeEmpty are panels the demo organisation gives no rows.
var mayBeEmpty = map[string]bool{}

// TestPanelQueries fills the embedded engine and a ClickHouse 18.16 server
// with the same demo organisation (ingested and correlated as keytrail demo
// does), then runs every panel's query, every variable's and the alert
// rule's, expanded as Grafana and the ClickHouse plugin expand them, on each:
// each returns rows with the columns its panel uses, the key numbers equal
// what keytrail's own reader and the evidence pack's rule give, and both
// engines return the same rows.
func TestPanelQueries(t *testing.T) {
	o := newOrg(t)
	from, to := o.span()
	results := map[string]map[string][]string{}
	for _, e := range engines(t) {
		t.Run(e.name, func(t *testing.T) {
			o.fill(t, e.s)
			d := e.s.Dialect()
			ds, alert := generated(t, d)
			tr := readTruth(t, e.s)
			results[e.name] = map[string][]string{}
			byName := map[string]result{}
			for _, q := range sqlQueries(ds, alert) {
				vs := allVars(q.dash)
				if strings.HasPrefix(q.name, "alert/") {
					continue // checked below over its own 5-minute window
				}
				res := run(t, e.s, expand(t, q, vs, from, to))
				if !mayBeEmpty[q.name] {
					require.NotEmpty(t, res.rows, "%s: the demo organisation exercises every panel", q.name)
				}
				checkShape(t, q, res)
				byName[q.name] = res
				results[e.name][q.name] = res.lines()
			}
			checkNumbers(t, d, tr, byName, from, to)
			checkDemo(t, o, tr, byName)
			checkVariables(t, e.s, ds, tr, from, to)
			checkAlert(t, e.s, alert, tr)
		})
	}
	require.Len(t, results, 2)
	for name, rows := range results["chdb"] {
		if nondeterministic[name] {
			continue
		}
		require.Equal(t, rows, results["clickhouse"][name], "%s: the embedded engine and ClickHouse 18.16 return the same rows", name)
	}
}

// value is the single value of column col in a one-row result.
func value(t *testing.T, res result, col string) float64 {
	t.Helper()
	require.Len(t, res.rows, 1)
	i := res.col(col)
	require.GreaterOrEqual(t, i, 0, col)
	return num(t, res.rows[0][i])
}

func checkNumbers(t *testing.T, d store.Dialect, tr truth, got map[string]result, from, to time.Time) {
	t.Helper()
	count := func(keep func(model.Correlation) bool) int { return tr.count(d, from, to, keep) }
	share := func(n, of int) float64 { return float64(n) / float64(of) }

	privExc := count(privilegedException)
	priv := count(func(c model.Correlation) bool { return c.Privileged })
	audit := count(func(c model.Correlation) bool { return c.Kind == model.KindAudit })
	auditOK := count(func(c model.Correlation) bool { return c.Kind == model.KindAudit && !report.IsException(c) })
	require.Positive(t, privExc, "the demo has privileged exceptions")
	require.Positive(t, priv-privExc, "the demo has verified privileged actions")

	ov := dashboards.OverviewUID + "/"
	require.EqualValues(t, privExc, value(t, got[ov+"Privileged exceptions"], "exceptions"))
	require.InDelta(t, share(priv-privExc, priv), value(t, got[ov+"Privileged actions verified"], "verified_share"), 1e-9)
	require.InDelta(t, share(auditOK, audit), value(t, got[ov+"Human actions verified"], "verified_share"), 1e-9)

	// Per day, the coverage chart's shares are the reader's.
	type day struct{ audit, auditOK, priv, privOK int }
	days := map[string]*day{}
	for _, c := range tr.all {
		if !within(d, c.ActionTS, from, to) {
			continue
		}
		k := c.ActionTS.UTC().Format(time.DateOnly)
		if days[k] == nil {
			days[k] = &day{}
		}
		if c.Kind == model.KindAudit {
			days[k].audit++
			if !report.IsException(c) {
				days[k].auditOK++
			}
		}
		if c.Privileged {
			days[k].priv++
			if !report.IsException(c) {
				days[k].privOK++
			}
		}
	}
	cov := got[ov+"Verified share per day"]
	require.Len(t, cov.rows, len(days))
	for _, row := range cov.rows {
		dd := days[row[0].(time.Time).UTC().Format(time.DateOnly)]
		require.NotNil(t, dd)
		require.InDelta(t, share(dd.auditOK, dd.audit), num(t, row[cov.col("human_verified_share")]), 1e-9)
		require.InDelta(t, share(dd.privOK, dd.priv), num(t, row[cov.col("privileged_verified_share")]), 1e-9)
	}

	// The exceptions list is exactly the privileged exceptions, newest first.
	list := got[dashboards.ExceptionsUID+"/"+dashboards.ExceptionsListTitle]
	var want []string
	for _, c := range tr.all {
		if within(d, c.ActionTS, from, to) && privilegedException(c) {
			want = append(want, c.ActionID)
		}
	}
	require.Less(t, len(want), 1000)
	var ids []string
	for _, row := range list.rows {
		ids = append(ids, row[list.col("action_id")].(string))
	}
	require.ElementsMatch(t, want, ids)
	require.EqualValues(t, privExc, value(t, got[dashboards.ExceptionsUID+"/Privileged exceptions"], "exceptions"))

	// Top people: the first row's privileged exceptions is the most anyone has.
	per := map[string]int{}
	for _, c := range tr.all {
		if within(d, c.ActionTS, from, to) && privilegedException(c) {
			who := c.Person
			if who == "" {
				who = "unresolved: " + c.Actor
			}
			per[who]++
		}
	}
	most := 0
	for _, n := range per {
		most = max(most, n)
	}
	top := got[ov+"Top people by exceptions"]
	require.EqualValues(t, most, num(t, top.rows[0][top.col("privileged_exceptions")]))

	// The people-by-strongest pie sums to the inventory's people.
	keys := dashboards.KeysUID + "/"
	sum := 0.0
	for _, row := range got[keys+"People by strongest credential"].rows {
		sum += num(t, row[1])
	}
	require.EqualValues(t, len(got[keys+"Credential inventory per person"].rows), sum)

	// The correlator's newest correlated action is the reader's.
	var newest time.Time
	for _, c := range tr.all {
		if c.ActionTS.After(newest) {
			newest = c.ActionTS
		}
	}
	lag := got[dashboards.PipelineUID+"/Correlator lag"]
	require.Equal(t, newest.UTC().Truncate(time.Second), lag.rows[0][lag.col("newest_correlated")].(time.Time).UTC().Truncate(time.Second))
	require.GreaterOrEqual(t, value(t, lag, "lag_seconds"), 0.0)
}

// sumBy sums column col of res per value of column by.
func sumBy(t *testing.T, res result, by, col string) map[string]float64 {
	t.Helper()
	b, c := res.col(by), res.col(col)
	require.GreaterOrEqual(t, b, 0, by)
	require.GreaterOrEqual(t, c, 0, col)
	out := map[string]float64{}
	for _, row := range res.rows {
		out[cell(row[b])] += num(t, row[c])
	}
	return out
}

func total(m map[string]float64) float64 {
	n := 0.0
	for _, v := range m {
		n += v
	}
	return n
}

// checkDemo holds panels to what the demo organisation was generated to
// contain (its manifest's expectations and its people's postures) and to
// what fill added.
func checkDemo(t *testing.T, o *org, tr truth, got map[string]result) {
	t.Helper()
	exp := o.manifest.Expected
	ov, keys, pl := dashboards.OverviewUID+"/", dashboards.KeysUID+"/", dashboards.PipelineUID+"/"

	// Every verdict the generator intended, and the reader's counts.
	verdicts := sumBy(t, got[ov+"Verdicts by day"], "verdict", "actions")
	want := map[string]float64{}
	for v, n := range exp.Verdicts {
		if n > 0 {
			want[string(v)] = float64(n)
		}
	}
	require.Equal(t, want, verdicts, "verdicts by day sum to the demo's intended verdicts")
	require.EqualValues(t, len(tr.all), total(verdicts))
	runs := sumBy(t, got[ov+"DAG runs: attributed vs unattributed"], "attribution", "runs")
	require.EqualValues(t, exp.Runs, total(runs), "every DAG run the demo made")
	require.EqualValues(t, exp.Verdicts[model.VerdictUnattributed]+exp.Verdicts[model.VerdictUnknownIdentity]-
		countAll(tr, func(c model.Correlation) bool {
			return c.Kind == model.KindAudit && c.Verdict == model.VerdictUnknownIdentity
		}),
		runs["unattributed"])

	// The store's side of the pipeline: records stored, dead letters, and the
	// one conflict fill wrote.
	require.EqualValues(t, exp.Stored, total(sumBy(t, got[pl+"Records stored per source"], "source", "records")))
	require.EqualValues(t, exp.DeadLetters, total(sumBy(t, got[pl+"Dead letters per source"], "source", "dead_letters")))
	require.Equal(t, map[string]float64{"okta": 1}, sumBy(t, got[pl+"Conflicts per source"], "source", "conflicts"))
	dl := got[pl+"Latest dead letters"]
	require.Len(t, dl.rows, min(exp.DeadLetters, 100))

	// Alert delivery: the replaced copy of al-1 collapses, al-2 was resolved.
	ad := got[pl+"Alert delivery by target"]
	require.Equal(t, []string{
		"target=alertmanager firing=0 resolved=1 undelivered=0 max_attempts=1 latest_error=",
		"target=webhook firing=1 resolved=0 undelivered=1 max_attempts=2 latest_error=HTTP 503",
	}, ad.lines())

	// Keys: every person is in the inventory; a security key is the
	// strongest credential of people whose posture is a hardware key and of
	// no one else (a hardware posture's key may be undecided where the
	// provider's registration names no AAGUID).
	inv := got[keys+"Credential inventory per person"]
	people := map[string]string{}
	for _, row := range inv.rows {
		people[row[inv.col("person")].(string)] = row[inv.col("strongest")].(string)
	}
	withKey, withoutKey := 0, 0
	for _, p := range o.people {
		strongest, ok := people[p.ID]
		require.True(t, ok, "%s is in the inventory", p.ID)
		if p.Posture == demo.PostureHardware {
			require.Contains(t, []string{"security_key", "undecided"}, strongest, "%s: posture %s", p.ID, p.Posture)
		} else {
			require.NotEqual(t, "security_key", strongest, "%s: posture %s", p.ID, p.Posture)
		}
		if strongest == "security_key" {
			withKey++
		} else {
			withoutKey++
		}
	}
	require.Positive(t, withKey, "the demo has people with a security key")
	require.Len(t, got[keys+"People without a security key"].rows, withoutKey)
}

func countAll(tr truth, keep func(model.Correlation) bool) int {
	n := 0
	for _, c := range tr.all {
		if keep(c) {
			n++
		}
	}
	return n
}

// checkVariables runs the Exceptions dashboard with one verdict, one instance
// and one DAG chosen, and checks the panels narrow to them.
func checkVariables(t *testing.T, s store.Store, ds []dashboards.Dashboard, tr truth, from, to time.Time) {
	t.Helper()
	d := s.Dialect()
	var exc dashboards.Dashboard
	for _, db := range ds {
		if db.UID == dashboards.ExceptionsUID {
			exc = db
		}
	}
	var q query
	for _, p := range exc.Panels {
		if p.Title == "Privileged exceptions" {
			q = query{dash: exc, name: p.Title, panel: p, sql: p.Targets[0].RawSQL}
		}
	}
	require.NotEmpty(t, q.sql)
	var pick model.Correlation
	for _, c := range tr.all {
		if within(d, c.ActionTS, from, to) && privilegedException(c) && c.DagID != "" {
			pick = c
			break
		}
	}
	require.NotEmpty(t, pick.ActionID)
	for _, tc := range []struct {
		name string
		vars map[string][]string
		keep func(model.Correlation) bool
	}{
		{"verdict", map[string][]string{"verdict": {string(pick.Verdict)}}, func(c model.Correlation) bool { return c.Verdict == pick.Verdict }},
		{"two verdicts", map[string][]string{"verdict": {string(pick.Verdict), "unattributed"}},
			func(c model.Correlation) bool {
				return c.Verdict == pick.Verdict || c.Verdict == model.VerdictUnattributed
			}},
		{"instance", map[string][]string{"instance": {pick.Instance}}, func(c model.Correlation) bool { return c.Instance == pick.Instance }},
		{"dag", map[string][]string{"instance": {pick.Instance}, "dag": {pick.DagID}},
			func(c model.Correlation) bool { return c.Instance == pick.Instance && c.DagID == pick.DagID }},
		{"empty selection is all", map[string][]string{"verdict": nil}, func(model.Correlation) bool { return true }},
	} {
		vs := allVars(exc)
		for k, v := range tc.vars {
			vs[k] = dashboards.Var{Values: v, Multi: true}
		}
		res := run(t, s, expand(t, q, vs, from, to))
		want := tr.count(d, from, to, func(c model.Correlation) bool { return privilegedException(c) && tc.keep(c) })
		require.Positive(t, want, tc.name)
		require.EqualValues(t, want, value(t, res, "exceptions"), tc.name)
	}
	// The DAG variable's options narrow to the chosen instance.
	for _, v := range exc.Templating.List {
		if v.Name != "dag" {
			continue
		}
		var sql string
		require.NoError(t, json.Unmarshal(v.Query, &sql))
		vs := allVars(exc)
		vs["instance"] = dashboards.Var{Values: []string{pick.Instance}, Multi: true}
		res := run(t, s, expand(t, query{name: "dag variable", sql: sql}, vs, from, to))
		want := map[string]bool{}
		for _, c := range tr.all {
			if within(d, c.ActionTS, from, to) && c.Instance == pick.Instance && c.DagID != "" {
				want[c.DagID] = true
			}
		}
		var got []string
		for _, row := range res.rows {
			got = append(got, row[0].(string))
		}
		require.Len(t, got, len(want))
		for _, g := range got {
			require.True(t, want[g], g)
		}
	}
}

// checkAlert evaluates the alert rule's query as Grafana would at a moment
// just after a privileged exception (it counts it), and at one with no
// privileged action in the 5 minutes before (zero: the rule is normal).
func checkAlert(t *testing.T, s store.Store, alert alertRuleFile, tr truth) {
	t.Helper()
	d := s.Dialect()
	a := alert.query()
	window := time.Duration(a.RelativeTimeRange.From) * time.Second
	q := query{name: "alert", sql: a.Model.RawSQL}
	var quiet, busy time.Time
	for _, c := range tr.all {
		if privilegedException(c) && busy.IsZero() {
			busy = c.ActionTS.Truncate(time.Second).Add(2 * time.Second)
		}
	}
	// A quiet moment: an hour before the first privileged action.
	first := time.Now()
	for _, c := range tr.all {
		if c.Privileged && c.ActionTS.Before(first) {
			first = c.ActionTS
		}
	}
	quiet = first.Add(-time.Hour).Truncate(time.Second)
	for _, now := range []time.Time{busy, quiet} {
		res := run(t, s, expand(t, q, dashboards.Vars{}, now.Add(-window), now))
		require.Len(t, res.cols, 1, "one numeric value for the reduce expression")
		want := tr.count(d, now.Add(-window), now, privilegedException)
		require.EqualValues(t, want, value(t, res, res.cols[0]), "alert at %s", now)
		if now.Equal(busy) {
			require.Positive(t, want)
		} else {
			require.Zero(t, want)
		}
	}
}

// TestPanelQueriesEmptyStore runs every query on freshly migrated stores of
// both engines: a new install shows empty panels, not errors.
func TestPanelQueriesEmptyStore(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(7 * 24 * time.Hour)
	for _, e := range engines(t) {
		t.Run(e.name, func(t *testing.T) {
			ds, alert := generated(t, e.s.Dialect())
			for _, q := range sqlQueries(ds, alert) {
				run(t, e.s, expand(t, q, allVars(q.dash), from, to))
			}
		})
	}
}
