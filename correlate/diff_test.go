package correlate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/stretchr/testify/require"
)

// oracleResult is what the reference implementation decides for an action.
type oracleResult struct {
	verdict   model.Verdict
	assertion string
	inherited string
	inhVerd   model.Verdict
	trigger   string
	person    string
}

// oracle is a deliberately naive reference implementation of the verdict
// rules, written from DESIGN.md and the package documentation and sharing no
// code with the correlator: every question is answered by scanning all
// events.
type oracle struct {
	p       Policy
	h       *history
	byActor map[string][]*model.AuthEvent
	audit   map[string]oracleResult
}

func newOracle(p Policy, h *history) *oracle {
	o := &oracle{p: p, h: h, byActor: map[string][]*model.AuthEvent{}, audit: map[string]oracleResult{}}
	for i := range h.auth {
		e := &h.auth[i]
		if e.Person != "" {
			o.byActor[e.Person] = append(o.byActor[e.Person], e)
		}
	}
	return o
}

func (o *oracle) maxAge(c model.ActionClass) time.Duration {
	if d, ok := o.p.MaxAge.Classes[c]; ok {
		return d
	}
	if slices.Contains(o.p.PrivilegedClasses, c) {
		return o.p.MaxAge.Privileged
	}
	return o.p.MaxAge.Other
}

func aid(e *model.AuthEvent) string { return string(e.Source) + "/" + e.Instance + "/" + e.EventID }

func (o *oracle) hardware(a *model.AuthEvent) bool {
	var last *model.Authenticator
	var regs []*model.Authenticator                  // registrations at or before a, latest first
	before := func(x, y *model.Authenticator) bool { // x before y in (ts, id) order
		return x.TS.Before(y.TS) || x.TS.Equal(y.TS) && aidn(x) < aidn(y)
	}
	for i := range o.h.authn {
		r := &o.h.authn[i]
		if a.CredentialID == "" || r.Source != a.Source || r.Instance != a.Instance || r.CredentialID != a.CredentialID {
			continue
		}
		if !r.TS.After(a.TS) {
			if last == nil || before(last, r) {
				last = r
			}
			if r.Action == model.AuthenticatorRegister {
				regs = append(regs, r)
			}
		}
	}
	slices.SortFunc(regs, func(x, y *model.Authenticator) int {
		if before(x, y) {
			return 1
		}
		return -1
	})
	// What the registrations say: the latest one, its blanks filled by earlier ones.
	var regAAGUID string
	var regFactor model.Factor
	var regHW *bool
	for _, r := range regs {
		if regAAGUID == "" {
			regAAGUID = r.AAGUID
		}
		if regFactor == "" {
			regFactor = r.Factor
		}
		if regHW == nil {
			regHW = r.Hardware
		}
	}
	f := a.Factor
	if f == model.FactorWebAuthn && (regFactor == model.FactorPlatform || regFactor == model.FactorPasskeySynced) {
		f = regFactor
	}
	if !slices.Contains(o.p.HardwareFactors, f) {
		return false
	}
	if last != nil && last.Action == model.AuthenticatorRemove {
		return false
	}
	aaguid := strings.ToLower(a.AAGUID)
	if aaguid == "" {
		aaguid = regAAGUID
	}
	lists := canonicalAAGUIDs
	if aaguid != "" && slices.Contains(lists(o.p.AAGUID.Deny), aaguid) {
		return false
	}
	if aaguid != "" && slices.Contains(lists(o.p.AAGUID.Allow), aaguid) {
		return true
	}
	if a.Hardware != nil {
		return *a.Hardware
	}
	if regHW != nil {
		return *regHW
	}
	return false
}

func aidn(r *model.Authenticator) string {
	return string(r.Source) + "/" + r.Instance + "/" + r.EventID
}

// best picks from candidates the latest at or before t, else the earliest after.
func best(cands []*model.AuthEvent, t time.Time) *model.AuthEvent {
	var b, a *model.AuthEvent
	for _, c := range cands {
		if !c.TS.After(t) {
			if b == nil || c.TS.After(b.TS) || c.TS.Equal(b.TS) && aid(c) > aid(b) {
				b = c
			}
		} else if a == nil || c.TS.Before(a.TS) || c.TS.Equal(a.TS) && aid(c) < aid(a) {
			a = c
		}
	}
	if b != nil {
		return b
	}
	return a
}

func (o *oracle) human(person string, t time.Time, class model.ActionClass) oracleResult {
	if person == "" {
		return oracleResult{verdict: model.VerdictUnknownIdentity}
	}
	m, s := o.maxAge(class), o.p.ClockSkew
	var hw, weak, old []*model.AuthEvent
	for _, a := range o.byActor[person] {
		if a.Outcome != model.OutcomeSuccess || a.Factor == model.FactorNone || !a.Principal.Human() ||
			(a.Category != model.CategoryLogin && a.Category != model.CategoryMFA) {
			continue
		}
		isHW := o.hardware(a)
		switch {
		case !a.TS.Before(t.Add(-m)) && !a.TS.After(t.Add(s)):
			if isHW {
				hw = append(hw, a)
			} else {
				weak = append(weak, a)
			}
		case isHW && a.TS.Before(t.Add(-m)) && !a.TS.Before(t.Add(-o.p.Lookback)):
			old = append(old, a)
		}
	}
	if a := best(hw, t); a != nil {
		return oracleResult{verdict: model.VerdictVerified, assertion: aid(a), person: person}
	}
	if a := best(weak, t); a != nil {
		return oracleResult{verdict: model.VerdictWeakFactor, assertion: aid(a), person: person}
	}
	if a := best(old, t); a != nil {
		return oracleResult{verdict: model.VerdictStale, assertion: aid(a), person: person}
	}
	return oracleResult{verdict: model.VerdictNoAssertion, person: person}
}

func oid(e *model.AirflowEvent) string { return fmt.Sprintf("%s:%d", e.Instance, e.EventLogID) }

func (o *oracle) run(r *model.DagRun) oracleResult {
	inherit := func(e *model.AirflowEvent) oracleResult {
		src := o.audit[oid(e)]
		return oracleResult{verdict: model.VerdictInherited, inherited: oid(e), inhVerd: src.verdict, person: src.person, assertion: src.assertion}
	}
	latest := func(class model.ActionClass) *model.AirflowEvent {
		var b *model.AirflowEvent
		for i := range o.h.airflow {
			e := &o.h.airflow[i]
			if !e.Human || e.Action != class || e.Instance != r.Instance || e.DagID != r.DagID || e.TS.After(r.TS.Add(o.p.ClockSkew)) {
				continue
			}
			if b == nil || e.TS.After(b.TS) || e.TS.Equal(b.TS) && oid(e) > oid(b) {
				b = e
			}
		}
		return b
	}
	switch r.RunType {
	case model.RunManual:
		var b *model.AirflowEvent
		bExact := false
		for i := range o.h.airflow {
			e := &o.h.airflow[i]
			if !e.Human || e.Action != model.ActionTrigger || e.TaskID != "" || e.Instance != r.Instance || e.DagID != r.DagID ||
				e.TS.Before(r.TS.Add(-o.p.TriggerWindow)) || e.TS.After(r.TS.Add(o.p.ClockSkew)) {
				continue
			}
			ids := []string{}
			if e.RunID != "" {
				ids = append(ids, e.RunID)
			}
			var x map[string]any
			if json.Unmarshal([]byte(e.Extra), &x) == nil {
				for _, k := range []string{"dag_run_id", "run_id"} {
					if v, ok := x[k].(string); ok && v != "" {
						ids = append(ids, v)
					}
				}
			}
			exact := slices.Contains(ids, r.RunID)
			if len(ids) > 0 && !exact {
				continue
			}
			if r.Person != "" && e.Person != "" && e.Person != r.Person {
				continue
			}
			rank := func(e *model.AirflowEvent, exact bool) string {
				// smaller is better: exact, then before (latest, smaller id), then after (earliest, smaller id)
				ex := "1"
				if exact {
					ex = "0"
				}
				if !e.TS.After(r.TS) {
					return fmt.Sprintf("%s0%020d%s", ex, r.TS.Sub(e.TS), oid(e))
				}
				return fmt.Sprintf("%s1%020d%s", ex, e.TS.Sub(r.TS), oid(e))
			}
			if b == nil || rank(e, exact) < rank(b, bExact) {
				b, bExact = e, exact
			}
		}
		if b != nil { // the triggering person's own act: the trigger's verdict
			src := o.audit[oid(b)]
			return oracleResult{verdict: src.verdict, trigger: oid(b), person: src.person, assertion: src.assertion}
		}
		if r.TriggeringUser != "" || r.Person != "" {
			return o.human(r.Person, r.TS, model.ActionTrigger)
		}
		return oracleResult{verdict: model.VerdictUnattributed}
	case model.RunBackfill:
		if e := latest(model.ActionBackfill); e != nil {
			return inherit(e)
		}
	default:
		if e := latest(model.ActionUnpause); e != nil {
			return inherit(e)
		}
	}
	return oracleResult{verdict: model.VerdictUnattributed}
}

func (o *oracle) all() map[string]oracleResult {
	out := map[string]oracleResult{}
	for i := range o.h.airflow {
		e := &o.h.airflow[i]
		if !e.Human || e.Action == model.ActionTaskState {
			continue
		}
		res := o.human(e.Person, e.TS, e.Action)
		o.audit[oid(e)] = res
		out[oid(e)] = res
	}
	for i := range o.h.runs {
		r := &o.h.runs[i]
		out[fmt.Sprintf("%s:%s:%s", r.Instance, r.DagID, r.RunID)] = o.run(r)
	}
	return out
}

func checkOracle(t *testing.T, p Policy, h *history, got []model.Correlation) map[model.Verdict]int {
	t.Helper()
	want := newOracle(p, h).all()
	require.Len(t, got, len(want))
	counts := map[model.Verdict]int{}
	for _, c := range got {
		w, ok := want[c.ActionID]
		require.True(t, ok, c.ActionID)
		g := oracleResult{verdict: c.Verdict, assertion: c.AssertionID, inherited: c.InheritedFrom, inhVerd: c.InheritedVerdict, trigger: c.TriggerActionID, person: c.Person}
		if w.verdict == model.VerdictUnknownIdentity || w.verdict == model.VerdictUnattributed {
			g.person = ""
		}
		require.Equal(t, w, g, "%s (%s): %s", c.ActionID, c.ActionTS, c.Reason)
		counts[c.Verdict]++
		if c.Verdict == model.VerdictInherited {
			counts["inherited_"+c.InheritedVerdict]++
		}
		if c.TriggerActionID != "" {
			counts["manual_"+c.Verdict]++
		}
	}
	return counts
}

// diffPolicy is a policy with a short lookback so that streaming expiry is
// exercised many times within a generated history.
func diffPolicy() Policy {
	p := DefaultPolicy()
	p.MaxAge.Other = time.Hour
	p.Lookback = 3 * time.Hour
	p.AAGUID.Deny = []string{aaguidDenied}
	p.AAGUID.Allow = []string{aaguidAllowed}
	return p
}

// TestBatchMatchesOracle checks Batch against the naive reference on random
// histories: every verdict rule, edge and tie-break must agree.
func TestBatchMatchesOracle(t *testing.T) {
	for seed := range uint64(6) {
		p := diffPolicy()
		if seed%2 == 1 {
			p = DefaultPolicy()
			p.AAGUID.Deny = []string{aaguidDenied}
		}
		if seed%3 == 2 {
			p.HardwareFactors = append(p.HardwareFactors, model.FactorPlatform)
		}
		h := generate(rand.New(rand.NewPCG(seed, 42)), genConfig{people: 6, events: 4000, span: 36 * time.Hour, policy: p})
		counts := checkOracle(t, p, h, batch(t, p, h))
		t.Logf("seed %d: %v", seed, counts)
		for _, v := range model.Verdicts {
			require.Positive(t, counts[v], "seed %d: no %s verdict; the generator must cover every verdict", seed, v)
		}
		for _, v := range []model.Verdict{model.VerdictVerified, model.VerdictWeakFactor, model.VerdictStale, model.VerdictNoAssertion, model.VerdictUnknownIdentity} {
			require.Positive(t, counts["inherited_"+v], "seed %d: no run inherited %s", seed, v)
			require.Positive(t, counts["manual_"+v], "seed %d: no manual run with a %s trigger", seed, v)
		}
	}
}

// TestStreamingMatchesBatch is the differential test: random histories fed
// to the engine in shuffled arrival orders (each event at most grace late)
// give exactly Batch's correlations.
func TestStreamingMatchesBatch(t *testing.T) {
	for seed := range uint64(4) {
		p := diffPolicy()
		switch seed {
		case 2:
			p.HardwareFactors = append(p.HardwareFactors, model.FactorPlatform)
		case 3:
			p = DefaultPolicy()
		}
		h := generate(rand.New(rand.NewPCG(seed, 7)), genConfig{people: 8, events: 8000, span: 72 * time.Hour, policy: p})
		want := batch(t, p, h)
		rng := rand.New(rand.NewPCG(seed, 99))
		for mode := range 3 {
			for rep := range 2 {
				evs := arrival(h.all(), rng, p.Grace, mode)
				got, e, rec := stream(t, p, evs)
				require.Equal(t, len(want), len(got))
				for i := range want {
					require.Equal(t, want[i], got[i], "seed %d mode %d rep %d: %s", seed, mode, rep, want[i].ActionID)
				}
				st := e.Stats()
				require.Zero(t, st.Late)
				require.Equal(t, int64(len(evs)), st.Events)
				if p.Lookback < 24*time.Hour {
					require.Less(t, st.EventsHeld, len(evs)/4, "state must expire with the lookback")
				}
				if mode != 0 {
					require.Greater(t, len(rec.updates), 2*len(got), "out-of-order arrival must revise some verdicts")
				}
			}
		}
	}
}
