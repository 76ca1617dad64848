package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keytrail/keytrail/evidence"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
)

// Bounds of the pages.
const (
	DefaultPeriodDays = 30   // a period when none is asked for, ending with the latest action's day
	MaxPeriodDays     = 3660 // the longest period a page summarises
	topRows           = 20   // rows of the overview's by-person, by-DAG and per-DAG tables
	datalistRows      = 200  // suggestions in a filter field
	exceptionPageRows = 50
)

// period is a page's half-open UTC period [From, To) and Airflow scope. The
// forms show To as its last day, inclusive.
type period struct {
	From, To time.Time
	Instance string
}

// FromDay and ToDay are the form values: the first and the last day.
func (p period) FromDay() string { return p.From.Format(time.DateOnly) }
func (p period) ToDay() string   { return p.To.AddDate(0, 0, -1).Format(time.DateOnly) }

// Days is the period's length.
func (p period) Days() int { return int(p.To.Sub(p.From).Hours() / 24) }

func (p period) query() report.Query {
	return report.Query{From: p.From, To: p.To, Instance: p.Instance}
}

// values are the period's query parameters.
func (p period) values() url.Values {
	v := url.Values{"from": {p.FromDay()}, "to": {p.ToDay()}}
	if p.Instance != "" {
		v.Set("instance", p.Instance)
	}
	return v
}

func badRequest(format string, args ...any) error {
	return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf(format, args...))
}

// parseDay reads a YYYY-MM-DD form value.
func parseDay(name, v string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, badRequest("%s %q: want a date, YYYY-MM-DD", name, v)
	}
	return t.UTC(), nil
}

// periodOf reads from and to (the last day, inclusive) and instance; a
// missing end defaults to DefaultPeriodDays ending on the latest action's
// day (or today).
func (c *Console) periodOf(ec echo.Context) (period, error) {
	q := ec.Request().URL.Query()
	p := period{Instance: strings.TrimSpace(q.Get("instance"))}
	var err error
	if v := q.Get("to"); v != "" {
		t, err := parseDay("to", v)
		if err != nil {
			return p, err
		}
		p.To = t.AddDate(0, 0, 1)
	} else {
		last, err := c.d.Reader.LatestAction(ec.Request().Context(), "")
		if err != nil {
			return p, err
		}
		if last.IsZero() {
			last = c.d.Now()
		}
		p.To = last.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	if v := q.Get("from"); v != "" {
		if p.From, err = parseDay("from", v); err != nil {
			return p, err
		}
	} else {
		p.From = p.To.AddDate(0, 0, -DefaultPeriodDays)
	}
	switch {
	case !p.To.After(p.From):
		return p, badRequest("the period ends (%s) before it starts (%s)", p.ToDay(), p.FromDay())
	case p.Days() > MaxPeriodDays:
		return p, badRequest("the period is %d days long; at most %d", p.Days(), MaxPeriodDays)
	}
	return p, nil
}

// overviewCache keeps recent overviews for a short while: an overview is
// one aggregate query over the period, and people page back and forth.
type overviewCache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[report.Query]cachedOverview
}

type cachedOverview struct {
	ov evidence.Overview
	at time.Time
}

const overviewCacheSize = 32

func newOverviewCache(ttl time.Duration, now func() time.Time) *overviewCache {
	return &overviewCache{ttl: ttl, now: now, m: map[report.Query]cachedOverview{}}
}

func (oc *overviewCache) get(ctx context.Context, r Reader, q report.Query) (evidence.Overview, error) {
	now := oc.now()
	oc.mu.Lock()
	e, ok := oc.m[q]
	oc.mu.Unlock()
	if ok && now.Sub(e.at) < oc.ttl {
		return e.ov, nil
	}
	ov, err := r.Overview(ctx, "", q)
	if err != nil {
		return ov, err
	}
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if len(oc.m) >= overviewCacheSize {
		for k, v := range oc.m {
			if now.Sub(v.at) >= oc.ttl || len(oc.m) >= overviewCacheSize {
				delete(oc.m, k)
			}
		}
	}
	oc.m[q] = cachedOverview{ov: ov, at: now}
	return ov, nil
}

// overviewPage is the overview's data.
type overviewPage struct {
	Period        period
	PolicyVersion string
	S             report.Summary
	Coverage      []model.SourceCoverage
	Chart         chart
	ByPerson      []report.PersonExceptions
	ByDAG         []report.DAGExceptions
	Unattributed  []report.UnattributedDAG
	More          map[string]int
	Instances     []string
	// Links are the exceptions page's URLs for the period, by filter.
	Query string
}

func (c *Console) overview(ec echo.Context) error {
	p, err := c.periodOf(ec)
	if err != nil {
		return err
	}
	ov, err := c.cache.get(ec.Request().Context(), c.d.Reader, p.query())
	if err != nil {
		return err
	}
	s := ov.Summary
	e := s.ExceptionsBy
	d := overviewPage{Period: p, PolicyVersion: ov.PolicyVersion, S: s, Coverage: ov.Coverage, Chart: newChart(s.Daily),
		ByPerson: e.ByPerson[:min(len(e.ByPerson), topRows)], ByDAG: e.ByDAG[:min(len(e.ByDAG), topRows)],
		Unattributed: e.UnattributedDAGs[:min(len(e.UnattributedDAGs), topRows)],
		More: map[string]int{"person": max(0, len(e.ByPerson)-topRows), "dag": max(0, len(e.ByDAG)-topRows),
			"unattributed": max(0, len(e.UnattributedDAGs)-topRows)},
		Instances: airflowInstances(ov.Coverage, p.Instance), Query: p.values().Encode()}
	return c.page(ec, "overview", "Overview", "overview", d, 0)
}

// airflowInstances lists the Airflow instances of cov (and current, when set).
func airflowInstances(cov []model.SourceCoverage, current string) []string {
	var out []string
	for _, c := range cov {
		if c.Source == model.SourceAirflow {
			out = append(out, c.Instance)
		}
	}
	if current != "" && !slices.Contains(out, current) {
		out = append(out, current)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// severity is a value of the severity filter.
type severity struct {
	Value string
	Tier  report.Tier
}

// severities are the severity filter's values.
var severities = []severity{{"privileged", report.TierPrivileged}, {"human", report.TierHuman}, {"run", report.TierRun}, {"unattributed", report.TierUnattributed}}

// exceptionFilter is the exceptions page's filter as the form holds it.
type exceptionFilter struct {
	Period   period
	Verdict  string
	Severity string
	Class    string
	Person   string
	DagID    string
}

// exceptionFilterOf reads the filter from the query.
func (c *Console) exceptionFilterOf(ec echo.Context) (exceptionFilter, evidence.Filter, error) {
	p, err := c.periodOf(ec)
	if err != nil {
		return exceptionFilter{}, evidence.Filter{}, err
	}
	q := ec.Request().URL.Query()
	ef := exceptionFilter{Period: p, Verdict: q.Get("verdict"), Severity: q.Get("severity"), Class: q.Get("class"),
		Person: strings.TrimSpace(q.Get("person")), DagID: strings.TrimSpace(q.Get("dag_id"))}
	f := evidence.Filter{From: p.From, To: p.To, Instance: p.Instance, Person: ef.Person, DagID: ef.DagID, Exceptions: true}
	if ef.Verdict != "" {
		v := model.Verdict(ef.Verdict)
		if !slices.Contains(exceptionVerdicts(), v) {
			return ef, f, badRequest("verdict %q: want one of %v", ef.Verdict, exceptionVerdicts())
		}
		f.Verdicts = []model.Verdict{v}
	}
	if ef.Severity != "" {
		i := slices.IndexFunc(severities, func(s severity) bool { return s.Value == ef.Severity })
		if i < 0 {
			return ef, f, badRequest("severity %q: want privileged, human, run or unattributed", ef.Severity)
		}
		f.Tiers = []report.Tier{severities[i].Tier}
	}
	if ef.Class != "" {
		a := model.ActionClass(ef.Class)
		if !slices.Contains(model.ActionClasses, a) {
			return ef, f, badRequest("class %q: want one of %v", ef.Class, model.ActionClasses)
		}
		f.Actions = []model.ActionClass{a}
	}
	return ef, f, nil
}

// exceptionVerdicts are the verdicts an exception can have.
func exceptionVerdicts() []model.Verdict {
	return slices.DeleteFunc(slices.Clone(model.Verdicts), func(v model.Verdict) bool { return v == model.VerdictVerified })
}

// values are the filter's query parameters.
func (f exceptionFilter) values() url.Values {
	v := f.Period.values()
	for k, x := range map[string]string{"verdict": f.Verdict, "severity": f.Severity, "class": f.Class, "person": f.Person, "dag_id": f.DagID} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// Active reports whether any filter beyond the period is set.
func (f exceptionFilter) Active() bool {
	return f.Verdict != "" || f.Severity != "" || f.Class != "" || f.Person != "" || f.DagID != "" || f.Period.Instance != ""
}

type option struct{ Value, Label string }

// exceptionsPage is the exceptions page's data.
type exceptionsPage struct {
	F          exceptionFilter
	Verdicts   []option
	Severities []option
	Classes    []option
	Persons    []string
	Instances  []string
	DAGs       []string
	P          evidence.ExceptionPage
	Total      int64
	NextURL    string
	FirstURL   string
	CSVURL     string
	OnFirst    bool
}

func (c *Console) exceptions(ec echo.Context) error {
	ef, f, err := c.exceptionFilterOf(ec)
	if err != nil {
		return err
	}
	var after *evidence.ExceptionCursor
	if v := ec.QueryParam("after"); v != "" {
		cur, err := evidence.ParseExceptionCursor(v)
		if err != nil {
			return badRequest("this page link is not one the console made")
		}
		after = &cur
	}
	f.Limit = exceptionPageRows
	ctx := ec.Request().Context()
	pg, err := c.d.Reader.Exceptions(ctx, f, after)
	if err != nil {
		return err
	}
	ov, err := c.cache.get(ctx, c.d.Reader, report.Query{From: ef.Period.From, To: ef.Period.To})
	if err != nil {
		return err
	}
	d := exceptionsPage{F: ef, P: pg, Total: pg.Counts.Total(), OnFirst: after == nil}
	for _, v := range exceptionVerdicts() {
		d.Verdicts = append(d.Verdicts, option{string(v), string(v)})
	}
	for _, s := range severities {
		d.Severities = append(d.Severities, option{s.Value, s.Tier.Title()})
	}
	for _, a := range model.ActionClasses {
		d.Classes = append(d.Classes, option{string(a), string(a)})
	}
	for i, p := range ov.Summary.ExceptionsBy.ByPerson {
		if i == datalistRows {
			break
		}
		d.Persons = append(d.Persons, p.Person)
	}
	for _, dg := range ov.Summary.ExceptionsBy.ByDAG {
		if dg.DagID != "" && len(d.DAGs) < datalistRows && !slices.Contains(d.DAGs, dg.DagID) {
			d.DAGs = append(d.DAGs, dg.DagID)
		}
	}
	d.Instances = airflowInstances(ov.Coverage, ef.Period.Instance)
	v := ef.values()
	d.CSVURL = "/exceptions.csv?" + v.Encode()
	d.FirstURL = "/exceptions?" + v.Encode()
	if pg.Next != nil {
		v.Set("after", pg.Next.String())
		d.NextURL = "/exceptions?" + v.Encode()
	}
	return c.page(ec, "exceptions", "Exceptions", "exceptions", d, 0)
}

// exceptionsCSV streams the filtered exceptions in the pack's exceptions.csv
// form: its header, columns and (action time, action id) order; without a
// filter it is the pack's file of the same period.
func (c *Console) exceptionsCSV(ec echo.Context) error {
	ef, f, err := c.exceptionFilterOf(ec)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("exceptions_%s_%s.csv", ef.Period.FromDay(), ef.Period.ToDay())
	h := ec.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	ec.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(ec.Response())
	if err := w.Write(report.PopulationHeader); err != nil {
		return err
	}
	err = c.d.Reader.Stream(ec.Request().Context(), f, func(cr model.Correlation) error { return report.WriteCSVRow(w, cr) })
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err != nil {
		// The header is sent: the truncated download ends without its last
		// line, and the log says why.
		c.log.Error("exceptions csv cut short", "err", err)
	}
	return nil
}

// recordView is a raw record with its digests.
type recordView struct {
	*evidence.Record
	Text       string // the bytes as text (indented when JSON)
	Recomputed string // SHA-256 of the bytes as stored
	Match      bool
}

func viewRecord(r *evidence.Record) *recordView {
	if r == nil {
		return nil
	}
	v := &recordView{Record: r, Recomputed: model.SHA256Hex(r.Raw)}
	v.Match = v.Recomputed == r.SHA256
	var js any
	if json.Unmarshal(r.Raw, &js) == nil {
		if b, err := json.MarshalIndent(js, "", "  "); err == nil {
			v.Text = string(b)
		}
	}
	if v.Text == "" {
		v.Text = strings.ToValidUTF8(string(r.Raw), "\uFFFD")
	}
	return v
}

// actionPage is the action page's data.
type actionPage struct {
	C                  model.Correlation
	Chain              evidence.Chain
	Tier               report.Tier
	Exception          bool
	AuditRecord        *recordView
	AssertionRecord    *recordView
	RegistrationRecord *recordView
	PolicyText         string
	APIPath            string
}

func (c *Console) action(ec echo.Context) error {
	id, err := url.PathUnescape(ec.Param("action_id"))
	if err != nil || id == "" {
		return badRequest("bad action id")
	}
	ctx := ec.Request().Context()
	ch, err := c.d.Reader.Chain(ctx, "", id)
	if err != nil {
		return err
	}
	d := actionPage{C: ch.Correlation, Chain: ch, Tier: report.TierOf(ch.Correlation), Exception: report.IsException(ch.Correlation),
		AuditRecord: viewRecord(ch.AuditRecord), AssertionRecord: viewRecord(ch.AssertionRecord),
		RegistrationRecord: viewRecord(ch.RegistrationRecord), APIPath: "/v1/actions/" + url.PathEscape(id)}
	if v := ch.Correlation.PolicyVersion; v != "" {
		text, ok, err := c.d.Reader.PolicyText(ctx, v)
		if err != nil {
			return err
		}
		if ok {
			d.PolicyText = text
		}
	}
	return c.page(ec, "action", "Action "+id, "exceptions", d, 0)
}
