package report

import (
	"fmt"
	"sort"
	"strconv"
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
	from, to  time.Time
	clockSkew time.Duration
}

func newAggregator(from, to time.Time, skew time.Duration) *aggregator {
	a := &aggregator{
		verdicts:  map[model.Verdict]*VerdictCount{},
		days:      map[string]*DayCount{},
		policies:  map[string]bool{},
		from:      from,
		to:        to,
		clockSkew: skew,
	}
	for _, v := range model.Verdicts {
		a.verdicts[v] = &VerdictCount{Verdict: v}
	}
	return a
}

func (a *aggregator) addCorrelation(c model.Correlation) {
	s := &a.s
	s.Actions++
	vc, ok := a.verdicts[c.Verdict]
	if !ok {
		vc = &VerdictCount{Verdict: c.Verdict}
		a.verdicts[c.Verdict] = vc
	}
	ok = !IsException(c)
	if c.Kind == model.KindRun {
		vc.Runs++
		s.RunsAttributed.Of++
		s.RunsVerified.Of++
		if c.Verdict != model.VerdictUnattributed && c.Verdict != model.VerdictUnknownIdentity {
			s.RunsAttributed.Count++
		}
		if ok {
			s.RunsVerified.Count++
		}
	} else {
		vc.Human++
		s.HumanVerified.Of++
		if c.Verdict == model.VerdictVerified {
			s.HumanVerified.Count++
		}
		if c.Privileged {
			vc.Privileged++
			s.PrivilegedVerified.Of++
			if c.Verdict == model.VerdictVerified {
				s.PrivilegedVerified.Count++
			}
		}
	}
	if !ok {
		s.Exceptions++
	}
	day := c.ActionTS.UTC().Format(time.DateOnly)
	d := a.days[day]
	if d == nil {
		d = &DayCount{Day: day}
		a.days[day] = d
	}
	if ok {
		d.Verified++
	} else {
		d.NotVerified++
	}
	if hasAssertion(c) && c.AssertionAgeMS < 0 {
		s.AssertionsAfter++
		s.MaxAssertionAfterMS = max(s.MaxAssertionAfterMS, -c.AssertionAgeMS)
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
	excResult := fmt.Sprintf("%d exceptions listed (%d stale, %d weak factor, %d no assertion, %d unknown identity, %d unattributed runs)",
		s.Exceptions, s.verdict(model.VerdictStale).Human, weak.Human, s.verdict(model.VerdictNoAssertion).Human,
		unknownN, s.verdict(model.VerdictUnattributed).Runs)
	regResult := fmt.Sprintf("%d keys registered, %d of them not hardware-backed", au.Registered, au.RegisteredNotHardware)
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
			fmt.Sprintf("%d keys removed, %d used after removal; %d actions with unknown identity", au.Removed, au.UsedAfterRemoval, unknownN),
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
			fmt.Sprintf("%d keys used, %d of them not hardware-backed", au.Used, au.UsedNotHardware), status(au.Used, au.UsedNotHardware)},
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
			fmt.Sprintf("%d sources, %d events, %d gaps (%d missing ids)", cov.Sources, cov.Events, cov.Gaps, cov.MissingIDs),
			status(int64(cov.Sources), gapsBad)},
		{iso, "A.8.16", "Monitoring activities", FileExceptions,
			"every action not backed by a hardware key is detected and listed", excResult, status(s.Actions, s.Exceptions)},
		{iso, "A.8.17", "Clock synchronisation", FilePopulationCSV,
			fmt.Sprintf("assertions timestamped after their action stay within the clock skew (%s)", skew),
			fmt.Sprintf("%d assertions after their action, at most %s", s.AssertionsAfter, formatAge(s.MaxAssertionAfterMS)+" s"),
			status(s.HumanVerified.Of+s.RunsVerified.Of, clockBad)},
	}
}
