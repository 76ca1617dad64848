package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Share is a count out of a total.
type Share struct {
	Count int64 `json:"count"`
	Of    int64 `json:"of"`
}

// Percent formats the share as a percentage with two decimals, or "n/a" when
// the total is zero.
func (s Share) Percent() string {
	if s.Of == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(100*float64(s.Count)/float64(s.Of), 'f', 2, 64) + "%"
}

// String formats the share as "count of total (percent)".
func (s Share) String() string {
	return fmt.Sprintf("%d of %d (%s)", s.Count, s.Of, s.Percent())
}

// VerdictCount is the number of actions with one verdict.
type VerdictCount struct {
	Verdict    model.Verdict `json:"verdict"`
	Human      int64         `json:"human"`
	Privileged int64         `json:"privileged"`
	Runs       int64         `json:"runs"`
}

// DayCount is one UTC day of the daily series.
type DayCount struct {
	Day         string `json:"day"` // YYYY-MM-DD
	Verified    int64  `json:"verified"`
	NotVerified int64  `json:"not_verified"`
}

// AuthenticatorStats summarises authenticators.csv.
type AuthenticatorStats struct {
	Listed                int64 `json:"listed"`
	Registered            int64 `json:"registered"`
	RegisteredNotHardware int64 `json:"registered_not_hardware"`
	Removed               int64 `json:"removed"`
	Used                  int64 `json:"used"`
	UsedNotHardware       int64 `json:"used_not_hardware"`
	UsedAfterRemoval      int64 `json:"used_after_removal"`
	Hardware              int64 `json:"hardware"`
	NotHardware           int64 `json:"not_hardware"`
	Undecided             int64 `json:"undecided"`
}

// CoverageStats summarises the sources' coverage.
type CoverageStats struct {
	Sources    int   `json:"sources"`
	Events     int64 `json:"events"`
	Gaps       int   `json:"gaps"`
	MissingIDs int64 `json:"missing_ids"`
}

// SampleInfo describes sample.csv.
type SampleInfo struct {
	Size  int    `json:"size"`
	Seed  string `json:"seed"`
	Drawn int    `json:"drawn"`
}

// ExceptionCounts counts exceptions by severity: privileged human actions
// first, then other human actions, then DAG runs attributed to a person (or to
// an unresolved actor), then runs nobody is known to have enabled.
type ExceptionCounts struct {
	PrivilegedHuman int64 `json:"privileged_human"`
	OtherHuman      int64 `json:"other_human"`
	Runs            int64 `json:"runs"`
	Unattributed    int64 `json:"unattributed_runs"`
}

// Total is the number of exceptions counted.
func (e ExceptionCounts) Total() int64 {
	return e.PrivilegedHuman + e.OtherHuman + e.Runs + e.Unattributed
}

func (e *ExceptionCounts) add(tier Tier, n int64) {
	switch tier {
	case TierPrivileged:
		e.PrivilegedHuman += n
	case TierHuman:
		e.OtherHuman += n
	case TierRun:
		e.Runs += n
	default:
		e.Unattributed += n
	}
}

// Of returns the count of tier.
func (e ExceptionCounts) Of(tier Tier) int64 {
	switch tier {
	case TierPrivileged:
		return e.PrivilegedHuman
	case TierHuman:
		return e.OtherHuman
	case TierRun:
		return e.Runs
	}
	return e.Unattributed
}

// Tier is the severity of an exception. The pack lists exceptions most
// severe first: privileged human actions, other human actions, DAG runs
// attributed to a person, then runs nobody is known to have enabled.
type Tier int

// Severity tiers, most severe first.
const (
	TierPrivileged Tier = iota
	TierHuman
	TierRun
	TierUnattributed
	numTiers
)

// Tiers lists the severity tiers, most severe first.
var Tiers = []Tier{TierPrivileged, TierHuman, TierRun, TierUnattributed}

// tierTitles name the severity tiers as the PDF prints them.
var tierTitles = [numTiers]string{
	TierPrivileged:   "Privileged human actions",
	TierHuman:        "Other human actions",
	TierRun:          "DAG runs attributed to a person",
	TierUnattributed: "Runs with no enabling action",
}

// Title names t as the PDF prints it ("Privileged human actions").
func (t Tier) Title() string {
	if t < 0 || t >= numTiers {
		return "unknown"
	}
	return tierTitles[t]
}

// TierOf is the severity tier of exception c.
func TierOf(c model.Correlation) Tier {
	switch {
	case c.Kind != model.KindRun && c.Privileged:
		return TierPrivileged
	case c.Kind != model.KindRun:
		return TierHuman
	case c.Verdict == model.VerdictUnattributed:
		return TierUnattributed
	}
	return TierRun
}

// verdictLabel names c's verdict with the verdict it carries: "inherited
// (stale)" for a run inherited from a stale action.
func verdictLabel(c model.Correlation) string {
	if c.Verdict == model.VerdictInherited && c.InheritedVerdict != "" {
		return string(c.Verdict) + " (" + string(c.InheritedVerdict) + ")"
	}
	return string(c.Verdict)
}

// VerdictExceptions counts the exceptions with one verdict label.
type VerdictExceptions struct {
	Verdict string `json:"verdict"` // e.g. "weak_factor", "inherited (stale)"
	ExceptionCounts
}

// PersonExceptions counts one person's exceptions. An action whose actor
// resolves to no person is counted under the actor, Resolved false.
type PersonExceptions struct {
	Person   string           `json:"person"`
	Resolved bool             `json:"resolved"`
	Verdicts map[string]int64 `json:"verdicts"` // by verdict label
	ExceptionCounts
}

// DAGExceptions counts the exceptions of one DAG ("" DagID: actions on no
// DAG, such as connection and variable changes).
type DAGExceptions struct {
	Instance string `json:"instance"`
	DagID    string `json:"dag_id"`
	ExceptionCounts
}

// UnattributedDAG lists one DAG's runs with no enabling action found.
type UnattributedDAG struct {
	Instance string    `json:"instance"`
	DagID    string    `json:"dag_id"`
	Runs     int64     `json:"runs"`
	First    time.Time `json:"first_run"`
	Last     time.Time `json:"last_run"`
}

// ExceptionStats breaks the exceptions down for section 4 of the PDF; the
// rows are complete (exceptions.csv holds every exception itself).
type ExceptionStats struct {
	ExceptionCounts
	// ByVerdict in verdict order, inherited runs by the verdict they carry.
	ByVerdict []VerdictExceptions `json:"by_verdict"`
	// ByPerson by exceptions, most first (privileged first on a tie).
	ByPerson []PersonExceptions `json:"by_person"`
	// ByDAG by exceptions, most first.
	ByDAG []DAGExceptions `json:"by_dag"`
	// UnattributedDAGs has one entry per DAG with unattributed runs, most runs first.
	UnattributedDAGs []UnattributedDAG `json:"unattributed_by_dag"`
}

// exceptionAgg accumulates ExceptionStats.
type exceptionAgg struct {
	total    ExceptionCounts
	verdicts map[string]*VerdictExceptions
	persons  map[[2]string]*PersonExceptions
	dags     map[[2]string]*DAGExceptions
	unattr   map[[2]string]*UnattributedDAG
}

func newExceptionAgg() *exceptionAgg {
	return &exceptionAgg{
		verdicts: map[string]*VerdictExceptions{},
		persons:  map[[2]string]*PersonExceptions{},
		dags:     map[[2]string]*DAGExceptions{},
		unattr:   map[[2]string]*UnattributedDAG{},
	}
}

func (a *exceptionAgg) add(t Tally) {
	c, n := t.Row, t.Count
	tier := TierOf(c)
	a.total.add(tier, n)
	label := verdictLabel(c)
	v := a.verdicts[label]
	if v == nil {
		v = &VerdictExceptions{Verdict: label}
		a.verdicts[label] = v
	}
	v.add(tier, n)
	dk := [2]string{c.Instance, c.DagID}
	d := a.dags[dk]
	if d == nil {
		d = &DAGExceptions{Instance: c.Instance, DagID: c.DagID}
		a.dags[dk] = d
	}
	d.add(tier, n)
	if tier == TierUnattributed {
		u := a.unattr[dk]
		if u == nil {
			u = &UnattributedDAG{Instance: c.Instance, DagID: c.DagID, First: t.First}
			a.unattr[dk] = u
		}
		u.Runs += n
		if t.First.Before(u.First) {
			u.First = t.First
		}
		if t.Last.After(u.Last) {
			u.Last = t.Last
		}
		return
	}
	pk := [2]string{"person", c.Person}
	if c.Person == "" {
		pk = [2]string{"actor", c.Actor}
	}
	p := a.persons[pk]
	if p == nil {
		p = &PersonExceptions{Person: pk[1], Resolved: c.Person != "", Verdicts: map[string]int64{}}
		a.persons[pk] = p
	}
	p.add(tier, n)
	p.Verdicts[label] += n
}

// byCounts orders most exceptions first, then most privileged, then by key.
func byCounts(a, b ExceptionCounts, ka, kb string) bool {
	if a.Total() != b.Total() {
		return a.Total() > b.Total()
	}
	if a.PrivilegedHuman != b.PrivilegedHuman {
		return a.PrivilegedHuman > b.PrivilegedHuman
	}
	return ka < kb
}

func (a *exceptionAgg) finish() ExceptionStats {
	st := ExceptionStats{ExceptionCounts: a.total}
	order := map[string]int{}
	for i, v := range model.Verdicts {
		order[string(v)] = i
	}
	rank := func(label string) (int, string) {
		v, inner, _ := strings.Cut(label, " (")
		r, ok := order[v]
		if !ok {
			r = len(order)
		}
		return r, inner
	}
	for _, v := range a.verdicts {
		st.ByVerdict = append(st.ByVerdict, *v)
	}
	sort.Slice(st.ByVerdict, func(i, j int) bool {
		ri, ii := rank(st.ByVerdict[i].Verdict)
		rj, ij := rank(st.ByVerdict[j].Verdict)
		if ri != rj {
			return ri < rj
		}
		return ii < ij
	})
	for _, p := range a.persons {
		st.ByPerson = append(st.ByPerson, *p)
	}
	sort.Slice(st.ByPerson, func(i, j int) bool {
		x, y := st.ByPerson[i], st.ByPerson[j]
		return byCounts(x.ExceptionCounts, y.ExceptionCounts, x.Person, y.Person)
	})
	for _, d := range a.dags {
		st.ByDAG = append(st.ByDAG, *d)
	}
	sort.Slice(st.ByDAG, func(i, j int) bool {
		x, y := st.ByDAG[i], st.ByDAG[j]
		return byCounts(x.ExceptionCounts, y.ExceptionCounts, x.Instance+"\x00"+x.DagID, y.Instance+"\x00"+y.DagID)
	})
	for _, u := range a.unattr {
		st.UnattributedDAGs = append(st.UnattributedDAGs, *u)
	}
	sort.Slice(st.UnattributedDAGs, func(i, j int) bool {
		x, y := st.UnattributedDAGs[i], st.UnattributedDAGs[j]
		if x.Runs != y.Runs {
			return x.Runs > y.Runs
		}
		return x.Instance+"\x00"+x.DagID < y.Instance+"\x00"+y.DagID
	})
	if st.ByVerdict == nil {
		st.ByVerdict = []VerdictExceptions{}
	}
	if st.ByPerson == nil {
		st.ByPerson = []PersonExceptions{}
	}
	if st.ByDAG == nil {
		st.ByDAG = []DAGExceptions{}
	}
	if st.UnattributedDAGs == nil {
		st.UnattributedDAGs = []UnattributedDAG{}
	}
	return st
}

// Control statuses.
const (
	StatusEffective  = "effective"  // the test found no exception
	StatusExceptions = "exceptions" // the test found exceptions, listed in the pack
	StatusNoData     = "no data"    // nothing in the period to test
)

// ControlResult maps one control to the evidence in the pack and its result.
type ControlResult struct {
	Framework string `json:"framework"` // "SOC 2" or "ISO/IEC 27001:2022"
	ID        string `json:"id"`
	Title     string `json:"title"`
	Evidence  string `json:"evidence"` // pack file(s)
	Test      string `json:"test"`
	Result    string `json:"result"`
	Status    string `json:"status"`
}

// Summary is the report model: every number and finding the PDF prints. It is
// computed while rows stream and never holds the population.
type Summary struct {
	ReportID            string             `json:"report_id"`
	Organisation        string             `json:"organisation"`
	Scope               string             `json:"scope"`
	PeriodFrom          time.Time          `json:"period_from"`
	PeriodTo            time.Time          `json:"period_to"`
	Actions             int64              `json:"actions"`
	HumanVerified       Share              `json:"human_verified"`
	PrivilegedVerified  Share              `json:"privileged_verified"`
	RunsAttributed      Share              `json:"runs_attributed"`
	RunsVerified        Share              `json:"runs_verified"`
	Exceptions          int64              `json:"exceptions"`
	ExceptionsBy        ExceptionStats     `json:"exceptions_by"`
	ByVerdict           []VerdictCount     `json:"by_verdict"`
	Daily               []DayCount         `json:"daily"`
	AssertionsAfter     int64              `json:"assertions_after_action"`
	MaxAssertionAfterMS int64              `json:"max_assertion_after_ms"`
	PolicyVersions      []string           `json:"policy_versions"`
	Authenticators      AuthenticatorStats `json:"authenticators"`
	Coverage            CoverageStats      `json:"coverage"`
	Sample              SampleInfo         `json:"sample"`
	Controls            []ControlResult    `json:"controls"`
}

// aggregator accumulates the Summary row by row.
type aggregator struct {
	s         Summary
	verdicts  map[model.Verdict]*VerdictCount
	days      map[string]*DayCount
	policies  map[string]bool
	exc       *exceptionAgg
	from, to  time.Time
	clockSkew time.Duration
}

func newAggregator(from, to time.Time, skew time.Duration) *aggregator {
	a := &aggregator{
		verdicts:  map[model.Verdict]*VerdictCount{},
		days:      map[string]*DayCount{},
		policies:  map[string]bool{},
		exc:       newExceptionAgg(),
		from:      from,
		to:        to,
		clockSkew: skew,
	}
	for _, v := range model.Verdicts {
		a.verdicts[v] = &VerdictCount{Verdict: v}
	}
	return a
}

func (a *aggregator) addCorrelation(c model.Correlation) { a.addTally(TallyOf(c)) }

// addTally counts t.Count correlations like t.Row (see Tally for the fields read).
func (a *aggregator) addTally(t Tally) {
	c, n := t.Row, t.Count
	s := &a.s
	s.Actions += n
	vc, ok := a.verdicts[c.Verdict]
	if !ok {
		vc = &VerdictCount{Verdict: c.Verdict}
		a.verdicts[c.Verdict] = vc
	}
	ok = !IsException(c)
	if c.Kind == model.KindRun {
		vc.Runs += n
		s.RunsAttributed.Of += n
		s.RunsVerified.Of += n
		if c.Verdict != model.VerdictUnattributed && c.Verdict != model.VerdictUnknownIdentity {
			s.RunsAttributed.Count += n
		}
		if ok {
			s.RunsVerified.Count += n
		}
	} else {
		vc.Human += n
		s.HumanVerified.Of += n
		if c.Verdict == model.VerdictVerified {
			s.HumanVerified.Count += n
		}
		if c.Privileged {
			vc.Privileged += n
			s.PrivilegedVerified.Of += n
			if c.Verdict == model.VerdictVerified {
				s.PrivilegedVerified.Count += n
			}
		}
	}
	if !ok {
		s.Exceptions += n
		a.exc.add(t)
	}
	day := t.First.UTC().Format(time.DateOnly)
	d := a.days[day]
	if d == nil {
		d = &DayCount{Day: day}
		a.days[day] = d
	}
	if ok {
		d.Verified += n
	} else {
		d.NotVerified += n
	}
	if t.AssertionsAfter > 0 {
		s.AssertionsAfter += t.AssertionsAfter
		s.MaxAssertionAfterMS = max(s.MaxAssertionAfterMS, t.MaxAssertionAfterMS)
	}
	if c.PolicyVersion != "" {
		a.policies[c.PolicyVersion] = true
	}
}

func (a *aggregator) addAuthenticator(r AuthenticatorRow) {
	st := &a.s.Authenticators
	st.Listed++
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(a.from) && t.Before(a.to) }
	notHW := r.Hardware != nil && !*r.Hardware
	switch {
	case r.Hardware == nil:
		st.Undecided++
	case *r.Hardware:
		st.Hardware++
	default:
		st.NotHardware++
	}
	if in(r.RegisteredAt) {
		st.Registered++
		if notHW {
			st.RegisteredNotHardware++
		}
	}
	if in(r.RemovedAt) {
		st.Removed++
	}
	if r.Uses > 0 {
		st.Used++
		if notHW {
			st.UsedNotHardware++
		}
		if !r.RemovedAt.IsZero() && r.LastUsedAt.After(r.RemovedAt) {
			st.UsedAfterRemoval++
		}
	}
}

func (a *aggregator) addCoverage(cov []model.SourceCoverage) {
	st := &a.s.Coverage
	st.Sources = len(cov)
	for _, c := range cov {
		st.Events += c.Events
		st.Gaps += len(c.IDGaps)
		for _, g := range c.IDGaps {
			st.MissingIDs += g.To - g.From + 1
		}
	}
}

// maxFilledDays bounds the zero-filled daily series; longer periods list only
// the days with actions.
const maxFilledDays = 3660

// finish completes the summary: sorted series, verdict table and controls.
func (a *aggregator) finish() Summary {
	s := a.s
	s.ByVerdict = nil
	for _, v := range model.Verdicts {
		s.ByVerdict = append(s.ByVerdict, *a.verdicts[v])
	}
	var extra []string
	for v := range a.verdicts {
		if !containsVerdict(model.Verdicts, v) {
			extra = append(extra, string(v))
		}
	}
	sort.Strings(extra)
	for _, v := range extra {
		s.ByVerdict = append(s.ByVerdict, *a.verdicts[model.Verdict(v)])
	}
	if days := a.to.Sub(a.from).Hours() / 24; days > 0 && days <= maxFilledDays {
		for d := a.from.UTC().Truncate(24 * time.Hour); d.Before(a.to); d = d.AddDate(0, 0, 1) {
			k := d.Format(time.DateOnly)
			if a.days[k] == nil {
				a.days[k] = &DayCount{Day: k}
			}
		}
	}
	s.Daily = make([]DayCount, 0, len(a.days))
	for _, d := range a.days {
		s.Daily = append(s.Daily, *d)
	}
	sort.Slice(s.Daily, func(i, j int) bool { return s.Daily[i].Day < s.Daily[j].Day })
	s.PolicyVersions = make([]string, 0, len(a.policies))
	for p := range a.policies {
		s.PolicyVersions = append(s.PolicyVersions, p)
	}
	sort.Strings(s.PolicyVersions)
	s.ExceptionsBy = a.exc.finish()
	s.Controls = controls(&s, a.clockSkew)
	return s
}

func containsVerdict(vs []model.Verdict, v model.Verdict) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Summary) verdict(v model.Verdict) VerdictCount {
	for _, c := range s.ByVerdict {
		if c.Verdict == v {
			return c
		}
	}
	return VerdictCount{Verdict: v}
}

// status grades a result: no data when total is zero, else effective when bad is zero.
func status(total, bad int64) string {
	switch {
	case total == 0:
		return StatusNoData
	case bad == 0:
		return StatusEffective
	}
	return StatusExceptions
}

// Files of an evidence pack.
const (
	FilePopulationCSV   = "population.csv"
	FilePopulationJSONL = "population.jsonl"
	FileExceptions      = "exceptions.csv"
	FileAuthenticators  = "authenticators.csv"
	FileSample          = "sample.csv"
	FilePDF             = "evidence.pdf"
	FileManifest        = "manifest.json"
	FileSignature       = "manifest.sig"
)

// exceptionsResult states the exceptions by severity and by verdict; the
// parts add up to the total.
func exceptionsResult(s *Summary) string {
	e := s.ExceptionsBy
	var verdicts []string
	counts := map[string]int64{}
	var order []string
	for _, v := range e.ByVerdict {
		label := v.Verdict
		if strings.HasPrefix(label, string(model.VerdictInherited)+" ") {
			label = "inherited from a non-verified action"
		}
		if _, ok := counts[label]; !ok {
			order = append(order, label)
		}
		counts[label] += v.Total()
	}
	for _, l := range order {
		verdicts = append(verdicts, fmt.Sprintf("%s %d", l, counts[l]))
	}
	return fmt.Sprintf("%s listed: %d privileged and %d other human actions, %s attributed to a person, %s with no enabling action; by verdict: %s",
		plural(s.Exceptions, "exception"), e.PrivilegedHuman, e.OtherHuman, plural(e.Runs, "DAG run"), plural(e.Unattributed, "run"),
		nonEmpty(strings.Join(verdicts, ", "), "none"))
}

// plural formats n and noun, adding "s" unless n is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}

// controls derives the SOC 2 and ISO/IEC 27001 control results from s.
func controls(s *Summary, skew time.Duration) []ControlResult {
	const soc, iso = "SOC 2", "ISO/IEC 27001:2022"
	priv, human := s.PrivilegedVerified, s.HumanVerified
	unknown := s.verdict(model.VerdictUnknownIdentity)
	unknownN := unknown.Human + unknown.Runs
	weak := s.verdict(model.VerdictWeakFactor)
	au := s.Authenticators
	cov := s.Coverage

	privResult := "privileged actions verified: " + priv.String()
	privTest := "each privileged action is backed by the actor's hardware-key assertion within max_age"
	humanResult := "human actions verified: " + human.String()
	excResult := exceptionsResult(s)
	regResult := fmt.Sprintf("%s registered, %d of them not hardware-backed", plural(au.Registered, "key"), au.RegisteredNotHardware)
	skewMS := skew.Milliseconds()
	clockBad := int64(0)
	if s.MaxAssertionAfterMS > skewMS {
		clockBad = 1
	}
	gapsBad := int64(cov.Gaps)
	if cov.Sources == 0 {
		gapsBad = 0
	}

	return []ControlResult{
		{soc, "CC6.1", "Logical access security", FilePopulationCSV, privTest, privResult, status(priv.Of, priv.Of-priv.Count)},
		{soc, "CC6.2", "Registration and authorisation of credentials", FileAuthenticators,
			"keys registered in the period are hardware-backed", regResult, status(au.Registered, au.RegisteredNotHardware)},
		{soc, "CC6.3", "Modification and removal of access", FileAuthenticators + ", " + FilePopulationCSV,
			"removed keys are not used afterwards; every Airflow actor maps to an IdP identity",
			fmt.Sprintf("%s removed, %d used after removal; %s with unknown identity", plural(au.Removed, "key"), au.UsedAfterRemoval, plural(unknownN, "action")),
			status(s.Actions+au.Listed, au.UsedAfterRemoval+unknownN)},
		{soc, "CC6.6", "Authentication at the system boundary", FilePopulationCSV,
			"each human UI/API/CLI action is backed by a hardware-key assertion", humanResult, status(human.Of, human.Of-human.Count)},
		{soc, "CC7.2", "Monitoring for anomalies", FileExceptions,
			"every action not backed by a hardware key is detected and listed", excResult, status(s.Actions, s.Exceptions)},
		{soc, "CC7.3", "Evaluation of security events", FileExceptions + ", " + FileSample,
			"exceptions are available for evaluation; a reproducible sample is drawn",
			fmt.Sprintf("%d exceptions to evaluate; sample of %d drawn with seed %q", s.Exceptions, s.Sample.Drawn, s.Sample.Seed),
			status(s.Actions, s.Exceptions)},
		{iso, "A.5.15", "Access control", FilePopulationCSV, privTest, privResult, status(priv.Of, priv.Of-priv.Count)},
		{iso, "A.5.16", "Identity management", FilePopulationCSV,
			"every Airflow actor resolves to a person in the IdP",
			fmt.Sprintf("%d of %d actions with unknown identity", unknownN, s.Actions), status(s.Actions, unknownN)},
		{iso, "A.5.17", "Authentication information", FileAuthenticators,
			"keys used in the period are hardware-backed",
			fmt.Sprintf("%s used, %d of them not hardware-backed", plural(au.Used, "key"), au.UsedNotHardware), status(au.Used, au.UsedNotHardware)},
		{iso, "A.5.18", "Access rights", FileAuthenticators,
			"key registrations and removals in the period are recorded; removed keys are not used",
			fmt.Sprintf("%d registered, %d removed, %d used after removal", au.Registered, au.Removed, au.UsedAfterRemoval),
			status(au.Listed, au.UsedAfterRemoval)},
		{iso, "A.8.2", "Privileged access rights", FilePopulationCSV, privTest, privResult, status(priv.Of, priv.Of-priv.Count)},
		{iso, "A.8.5", "Secure authentication", FilePopulationCSV,
			"human actions are backed by phishing-resistant hardware-key authentication",
			fmt.Sprintf("%s; %d with a weak factor", humanResult, weak.Human), status(human.Of, human.Of-human.Count)},
		{iso, "A.8.15", "Logging", FileManifest,
			"every source is covered; Airflow event_log_id ranges have no gaps",
			fmt.Sprintf("%s, %s, %s (%s)", plural(int64(cov.Sources), "source"), plural(cov.Events, "event"), plural(int64(cov.Gaps), "gap"), plural(cov.MissingIDs, "missing id")),
			status(int64(cov.Sources), gapsBad)},
		{iso, "A.8.16", "Monitoring activities", FileExceptions,
			"every action not backed by a hardware key is detected and listed", excResult, status(s.Actions, s.Exceptions)},
		{iso, "A.8.17", "Clock synchronisation", FilePopulationCSV,
			fmt.Sprintf("assertions timestamped after their action stay within the clock skew (%s)", skew),
			fmt.Sprintf("%s after their action, at most %s", plural(s.AssertionsAfter, "assertion"), formatAge(s.MaxAssertionAfterMS)+" s"),
			status(s.HumanVerified.Of+s.RunsVerified.Of, clockBad)},
	}
}
