package correlate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
)

// assertion is one successful authentication of a person, kept compact.
type assertion struct {
	ts     int64 // unix ns
	id     string
	cred   string // credKey, "" when the event names no credential
	aaguid string
	factor model.Factor
	hw     int8 // the event's Hardware flag: -1 unset, 0 false, 1 true
}

// credEvent is a registration or removal of a credential.
type credEvent struct {
	ts       int64
	id       string
	register bool
	aaguid   string
	model    string
	factor   model.Factor // what the registration says the credential is ("" unknown)
	hw       int8
}

type person struct {
	auths   []assertion // sorted by (ts, id), unique ids
	pending []*item     // streaming: unfinalised items judged on this person's assertions
}

type dagKey struct{ instance, dag string }

type dag struct {
	unpauses    []*item // enabling actions, sorted by (ts, id)
	backfills   []*item
	triggers    []*item
	pendingRuns []*item // streaming: unfinalised runs of this DAG
}

// item is one action: an audit event or a DAG run.
type item struct {
	base     model.Correlation // identity fields; verdict fields empty
	c        model.Correlation // the current verdict
	ts       int64
	deadline int64 // streaming: finalised once the watermark passes it
	final    bool
	linked   bool // in a dag's enabling lists
	heapIdx  int
	// SweepParallel: closed once the owning worker has judged it, for the
	// runs other workers attribute to it.
	done chan struct{}

	// audit
	class  model.ActionClass
	runIDs []string // run ids a trigger event names

	// run
	run *runInfo
}

type runInfo struct {
	runType        string
	triggeringUser string
	triggeredBy    string
}

func (it *item) isRun() bool { return it.run != nil }

// personOf is whose assertions the item is judged on ("" when none).
func (it *item) personOf() string {
	if it.run != nil && it.run.runType != model.RunManual {
		return ""
	}
	return it.base.Person
}

// state is the indexed event state both correlators evaluate over.
type state struct {
	r       *rules
	persons map[string]*person
	creds   map[string][]credEvent // by credKey, sorted by (ts, id)
	dags    map[dagKey]*dag
	// stop ends a wait for another worker's verdict (SweepParallel).
	stop <-chan struct{}
}

func newState(r *rules) *state {
	return &state{r: r, persons: map[string]*person{}, creds: map[string][]credEvent{}, dags: map[dagKey]*dag{}}
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func tri(b *bool) int8 {
	switch {
	case b == nil:
		return -1
	case *b:
		return 1
	}
	return 0
}

func credKey(src model.Source, instance, credID string) string {
	if credID == "" {
		return ""
	}
	return string(src) + "/" + instance + "/" + credID
}

// isAuthentication reports whether e is a successful authentication of a
// person: events of services and of the provider itself count for no one.
func isAuthentication(e *model.AuthEvent) bool {
	return e.Outcome == model.OutcomeSuccess &&
		(e.Category == model.CategoryLogin || e.Category == model.CategoryMFA) &&
		e.Factor != model.FactorNone && e.Principal.Human()
}

func toAssertion(e *model.AuthEvent) assertion {
	return assertion{
		ts:     nanos(e.TS),
		id:     string(e.Source) + "/" + e.Instance + "/" + e.EventID,
		cred:   credKey(e.Source, e.Instance, e.CredentialID),
		aaguid: strings.ToLower(e.AAGUID),
		factor: e.Factor,
		hw:     tri(e.Hardware),
	}
}

func toCredEvent(a *model.Authenticator) (string, credEvent, bool) {
	k := credKey(a.Source, a.Instance, a.CredentialID)
	if k == "" || (a.Action != model.AuthenticatorRegister && a.Action != model.AuthenticatorRemove) {
		return "", credEvent{}, false
	}
	return k, credEvent{
		ts:       nanos(a.TS),
		id:       string(a.Source) + "/" + a.Instance + "/" + a.EventID,
		register: a.Action == model.AuthenticatorRegister,
		aaguid:   strings.ToLower(a.AAGUID),
		model:    a.Model,
		factor:   a.Factor,
		hw:       tri(a.Hardware),
	}, true
}

// isAction reports whether e is a human action.
func isAction(e *model.AirflowEvent) bool {
	return e.Human && e.Action != model.ActionTaskState
}

func auditID(e *model.AirflowEvent) string {
	return e.Instance + ":" + strconv.FormatInt(e.EventLogID, 10)
}

func runID(r *model.DagRun) string { return r.Instance + ":" + r.DagID + ":" + r.RunID }

func (s *state) newAuditItem(e *model.AirflowEvent) *item { return newAuditItem(s.r, e) }

// newAuditItem makes the item of audit action e under r.
func newAuditItem(r *rules, e *model.AirflowEvent) *item {
	class := e.Action
	if class == "" {
		class = model.ActionOther
	}
	it := &item{
		ts:    nanos(e.TS),
		class: class,
		base: model.Correlation{
			ActionID:      auditID(e),
			ActionTS:      fromNanos(nanos(e.TS)),
			Instance:      e.Instance,
			Kind:          model.KindAudit,
			Channel:       e.Channel,
			Action:        class,
			Privileged:    r.privileged[class],
			DagID:         e.DagID,
			RunID:         e.RunID,
			Actor:         e.Actor,
			Person:        e.Person,
			PolicyVersion: r.version,
		},
	}
	it.deadline = it.ts + r.skew + r.grace
	if class == model.ActionTrigger && e.DagID != "" && e.TaskID == "" {
		it.runIDs = triggerRunIDs(e)
	}
	it.linked = enabling(e)
	return it
}

// triggerRunIDs returns the run ids a trigger event names: its RunID and the
// dag_run_id / run_id of its Extra JSON object.
func triggerRunIDs(e *model.AirflowEvent) []string {
	var ids []string
	if e.RunID != "" {
		ids = append(ids, e.RunID)
	}
	if strings.Contains(e.Extra, "run_id") {
		var m map[string]any
		if json.Unmarshal([]byte(e.Extra), &m) == nil {
			for _, k := range []string{"dag_run_id", "run_id"} {
				if v, ok := m[k].(string); ok && v != "" && !slices.Contains(ids, v) {
					ids = append(ids, v)
				}
			}
		}
	}
	return ids
}

func (s *state) newRunItem(r *model.DagRun) *item {
	it := &item{
		ts:  nanos(r.TS),
		run: &runInfo{runType: r.RunType, triggeringUser: r.TriggeringUser, triggeredBy: r.TriggeredBy},
		base: model.Correlation{
			ActionID:      runID(r),
			ActionTS:      fromNanos(nanos(r.TS)),
			Instance:      r.Instance,
			Kind:          model.KindRun,
			Channel:       runChannel(r),
			Action:        model.ActionRun,
			DagID:         r.DagID,
			RunID:         r.RunID,
			Actor:         r.TriggeringUser,
			Person:        r.Person,
			PolicyVersion: s.r.version,
		},
	}
	switch r.RunType {
	case model.RunManual:
		it.base.Privileged = s.r.privileged[model.ActionTrigger]
	case model.RunBackfill:
		it.base.Privileged = s.r.privileged[model.ActionBackfill]
	}
	it.deadline = it.ts + 2*s.r.skew + s.r.grace
	return it
}

func runChannel(r *model.DagRun) model.Channel {
	switch r.TriggeredBy {
	case "ui":
		return model.ChannelUI
	case "rest_api":
		return model.ChannelAPI
	case "cli":
		return model.ChannelCLI
	case "":
		if r.RunType == model.RunManual {
			return ""
		}
	}
	return model.ChannelSystem
}

// judge recomputes it.c and reports whether it changed.
func (s *state) judge(it *item) bool {
	old := it.c
	c := it.base
	if it.isRun() {
		s.judgeRun(it, &c)
	} else {
		s.judgeHuman(&c, it.ts, it.class, it.base.Actor)
	}
	it.c = c
	return !sameCorrelation(old, c)
}

func sameCorrelation(a, b model.Correlation) bool {
	return a.ActionTS.Equal(b.ActionTS) && a.AssertionTS.Equal(b.AssertionTS) &&
		a.Verdict == b.Verdict && a.Person == b.Person && a.Actor == b.Actor &&
		a.TriggerActionID == b.TriggerActionID && a.InheritedFrom == b.InheritedFrom && a.InheritedVerdict == b.InheritedVerdict &&
		a.AssertionID == b.AssertionID && a.AssertionAgeMS == b.AssertionAgeMS &&
		a.Factor == b.Factor && a.AuthenticatorAAGUID == b.AuthenticatorAAGUID &&
		a.AuthenticatorModel == b.AuthenticatorModel && a.Channel == b.Channel &&
		a.Reason == b.Reason && a.ActionID == b.ActionID && a.PolicyVersion == b.PolicyVersion
}

// credentialAt describes the credential of a at a's time.
type credentialAt struct {
	aaguid    string
	model     string
	factor    model.Factor // what its registration says the credential is ("" unknown)
	regHW     int8
	removed   bool
	removedAt int64
}

func (s *state) credentialAt(a *assertion) credentialAt {
	ci := credentialAt{aaguid: a.aaguid, regHW: -1}
	if a.cred == "" {
		return ci
	}
	evs := s.creds[a.cred]
	if len(evs) == 0 {
		return ci
	}
	// evs[:n] are at or before the assertion.
	n, _ := slices.BinarySearchFunc(evs, a.ts+1, func(e credEvent, t int64) int { return cmp.Compare(e.ts, t) })
	if n > 0 && !evs[n-1].register {
		ci.removed, ci.removedAt = true, evs[n-1].ts
	}
	// The latest registration at or before the assertion describes the
	// credential; what it leaves blank (an Okta unsuspend names no AAGUID)
	// comes from the credential's earlier registrations.
	aaguid, regHW := "", int8(-1)
	for i := n - 1; i >= 0; i-- {
		r := &evs[i]
		if !r.register {
			continue
		}
		if aaguid == "" {
			aaguid = r.aaguid
		}
		if ci.model == "" {
			ci.model = r.model
		}
		if ci.factor == "" {
			ci.factor = r.factor
		}
		if regHW < 0 {
			regHW = r.hw
		}
	}
	if ci.aaguid == "" {
		ci.aaguid = aaguid
	}
	ci.regHW = regHW
	return ci
}

// factorOf is what a's credential is: the registration's platform or
// synced-passkey finding wins over a sign-in that names only WebAuthn (a
// sign-in often carries no AAGUID; its registration does, and may arrive
// after it).
func factorOf(a *assertion, ci *credentialAt) model.Factor {
	if a.factor == model.FactorWebAuthn && (ci.factor == model.FactorPlatform || ci.factor == model.FactorPasskeySynced) {
		return ci.factor
	}
	return a.factor
}

// hardware decides whether a is hardware-backed, with the factor its
// credential authenticates as; when it is not but its credential is a
// WebAuthn one, why explains it.
func (s *state) hardware(a *assertion, ci *credentialAt) (factor model.Factor, ok bool, why string) {
	factor = factorOf(a, ci)
	if !s.r.hwFactor[factor] {
		switch factor {
		case model.FactorPlatform:
			why = "device-bound platform credential"
			if ci.model != "" {
				why += " (" + ci.model + ")"
			}
			why += ", not a security key; policy hardware_factors does not name platform"
		case model.FactorPasskeySynced:
			why = "synced passkey"
			if ci.model != "" {
				why += " (" + ci.model + ")"
			}
			why += ", not bound to one device"
		}
		return factor, false, why
	}
	ok, why = s.hardwareBits(a, ci)
	return factor, ok, why
}

// hardwareBits decides whether an assertion of a hardware factor is
// hardware-backed.
func (s *state) hardwareBits(a *assertion, ci *credentialAt) (ok bool, why string) {
	switch {
	case ci.removed:
		return false, fmt.Sprintf("its credential was removed at %s, before the assertion", fmtTime(ci.removedAt))
	case ci.aaguid != "" && s.r.deny[ci.aaguid]:
		return false, fmt.Sprintf("AAGUID %s is on the policy's deny list", ci.aaguid)
	case ci.aaguid != "" && s.r.allow[ci.aaguid]:
		return true, ""
	case a.hw >= 0:
		if a.hw == 1 {
			return true, ""
		}
		return false, "the identity provider does not report it hardware-backed"
	case ci.regHW >= 0:
		if ci.regHW == 1 {
			return true, ""
		}
		return false, "its registration is not hardware-backed"
	}
	return false, "nothing shows it hardware-backed"
}

func fmtTime(ns int64) string { return fromNanos(ns).Format("2006-01-02T15:04:05.000Z07:00") }

func fmtAge(ns int64) string {
	if ns < 0 {
		return time.Duration(-ns).String() + " after"
	}
	return time.Duration(ns).String() + " before"
}

// pick is one assertion chosen in a window with its credential.
type pick struct {
	a      *assertion
	ci     credentialAt
	factor model.Factor // what the credential authenticates as (see factorOf)
	why    string       // why a WebAuthn-capable assertion is not hardware-backed
}

// judgeHuman fills the verdict of a human action by c.Person at t.
func (s *state) judgeHuman(c *model.Correlation, t int64, class model.ActionClass, actor string) {
	if c.Person == "" {
		c.Verdict = model.VerdictUnknownIdentity
		c.Reason = fmt.Sprintf("Airflow actor %q maps to no identity-provider person", actor)
		return
	}
	maxAge := s.r.maxAgeOf(class)
	p := s.persons[c.Person]
	var auths []assertion
	if p != nil {
		auths = p.auths
	}
	lo, hi := t-maxAge, t+s.r.skew
	i0, _ := slices.BinarySearchFunc(auths, lo, cmpTS)
	i1, _ := slices.BinarySearchFunc(auths, hi+1, cmpTS)
	var hwBefore, hwAfter, weakBefore, weakAfter *pick
	for i := i1 - 1; i >= i0; i-- {
		a := &auths[i]
		ci := s.credentialAt(a)
		factor, hw, why := s.hardware(a, &ci)
		pk := &pick{a: a, ci: ci, factor: factor, why: why}
		switch {
		case a.ts > t && hw:
			hwAfter = pk
		case a.ts > t:
			weakAfter = pk
		case hw && hwBefore == nil:
			hwBefore = pk
		case !hw && weakBefore == nil:
			weakBefore = pk
		}
		if hwBefore != nil && weakBefore != nil {
			break
		}
	}
	hw := cmp.Or(hwBefore, hwAfter)
	if hw != nil {
		c.Verdict = model.VerdictVerified
		s.setAssertion(c, t, hw)
		c.Reason = fmt.Sprintf("hardware-backed %s assertion %s the action, within max_age %s", hw.factor, fmtAge(t-hw.a.ts), time.Duration(maxAge))
		return
	}
	if weak := cmp.Or(weakBefore, weakAfter); weak != nil {
		c.Verdict = model.VerdictWeakFactor
		s.setAssertion(c, t, weak)
		factor := string(weak.factor)
		if factor == "" {
			factor = "an unknown factor"
		}
		c.Reason = fmt.Sprintf("authenticated with %s %s the action but with no hardware-backed assertion within max_age %s", factor, fmtAge(t-weak.a.ts), time.Duration(maxAge))
		if weak.why != "" {
			c.Reason += "; " + weak.why
		}
		return
	}
	// stale: the latest hardware-backed assertion in [t-lookback, t-maxAge).
	floor := t - s.r.lookback
	for i := i0 - 1; i >= 0 && auths[i].ts >= floor; i-- {
		a := &auths[i]
		ci := s.credentialAt(a)
		if factor, ok, _ := s.hardware(a, &ci); ok {
			c.Verdict = model.VerdictStale
			s.setAssertion(c, t, &pick{a: a, ci: ci, factor: factor})
			c.Reason = fmt.Sprintf("latest hardware-backed assertion is %s old, older than max_age %s", time.Duration(t-a.ts), time.Duration(maxAge))
			return
		}
	}
	c.Verdict = model.VerdictNoAssertion
	c.Reason = fmt.Sprintf("no authentication by %s within max_age %s and no hardware-backed assertion within lookback %s", c.Person, time.Duration(maxAge), time.Duration(s.r.lookback))
}

func cmpTS(a assertion, t int64) int { return cmp.Compare(a.ts, t) }

func (s *state) setAssertion(c *model.Correlation, t int64, pk *pick) {
	c.AssertionID = pk.a.id
	c.AssertionTS = fromNanos(pk.a.ts)
	c.AssertionAgeMS = time.Duration(t - pk.a.ts).Milliseconds()
	c.Factor = pk.factor
	c.AuthenticatorAAGUID = pk.ci.aaguid
	c.AuthenticatorModel = pk.ci.model
}

// judgeRun fills the verdict of a DAG run.
func (s *state) judgeRun(it *item, c *model.Correlation) {
	d := s.dags[dagKey{it.base.Instance, it.base.DagID}]
	t := it.ts
	switch it.run.runType {
	case model.RunManual:
		if src := s.matchTrigger(d, it); src != nil {
			s.await(src)
			triggeredBy(c, src)
			return
		}
		if it.run.triggeringUser != "" || it.base.Person != "" {
			s.judgeHuman(c, t, model.ActionTrigger, it.run.triggeringUser)
			c.Reason = "manual run with a triggering user and no trigger audit event, judged as a trigger at the run's time: " + c.Reason
			return
		}
		c.Verdict = model.VerdictUnattributed
		c.Reason = fmt.Sprintf("manual run with no triggering user and no trigger audit event within %s before it", time.Duration(s.r.trigWin))
	case model.RunBackfill:
		if src := latestAtOrBefore(d, func(d *dag) []*item { return d.backfills }, t+s.r.skew); src != nil {
			s.await(src)
			inherit(c, src, fmt.Sprintf("backfill run requested by %s", src.base.ActionID))
			return
		}
		c.Verdict = model.VerdictUnattributed
		c.Reason = "backfill run with no backfill request of the DAG before it"
	default:
		if src := latestAtOrBefore(d, func(d *dag) []*item { return d.unpauses }, t+s.r.skew); src != nil {
			s.await(src)
			inherit(c, src, fmt.Sprintf("%s run enabled by unpause %s", runTypeName(it.run.runType), src.base.ActionID))
			return
		}
		c.Verdict = model.VerdictUnattributed
		c.Reason = fmt.Sprintf("%s run with no unpause of the DAG before it", runTypeName(it.run.runType))
	}
}

// await waits until src's verdict is final when another worker judges it
// (SweepParallel), or until s.stop.
func (s *state) await(src *item) {
	if src.done != nil {
		select {
		case <-src.done:
		case <-s.stop:
		}
	}
}

func runTypeName(t string) string {
	if t == "" {
		return "untyped"
	}
	return t
}

// triggeredBy gives manual run c the verdict of its trigger audit event src:
// the run is the triggering person's own act, linked by TriggerActionID.
func triggeredBy(c *model.Correlation, src *item) {
	sc := &src.c
	carry(c, sc)
	c.Verdict = sc.Verdict
	c.TriggerActionID = sc.ActionID
	c.Reason = fmt.Sprintf("manual run triggered by %s (%s): %s", sc.ActionID, sc.Verdict, sc.Reason)
}

// inherit makes c, a run nobody triggered by hand, inherit the verdict of the
// action src that enabled it.
func inherit(c *model.Correlation, src *item, reason string) {
	sc := &src.c
	carry(c, sc)
	c.Verdict = model.VerdictInherited
	c.InheritedFrom = sc.ActionID
	c.InheritedVerdict = sc.Verdict
	c.Reason = reason + " (" + string(sc.Verdict) + "): " + sc.Reason
}

// carry copies to run c the person and backing assertion of the action sc
// it is attributed to.
func carry(c, sc *model.Correlation) {
	c.Person = sc.Person
	if c.Actor == "" {
		c.Actor = sc.Actor
	}
	if c.Channel == "" {
		c.Channel = sc.Channel
	}
	c.AssertionID = sc.AssertionID
	c.AssertionTS = sc.AssertionTS
	c.AssertionAgeMS = sc.AssertionAgeMS
	c.Factor = sc.Factor
	c.AuthenticatorAAGUID = sc.AuthenticatorAAGUID
	c.AuthenticatorModel = sc.AuthenticatorModel
}

func cmpItem(a, b *item) int {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	return strings.Compare(a.base.ActionID, b.base.ActionID)
}

func latestAtOrBefore(d *dag, list func(*dag) []*item, t int64) *item {
	if d == nil {
		return nil
	}
	l := list(d)
	n, _ := slices.BinarySearchFunc(l, t+1, func(it *item, t int64) int { return cmp.Compare(it.ts, t) })
	if n == 0 {
		return nil
	}
	return l[n-1]
}

// matchTrigger finds the trigger audit event of manual run it.
func (s *state) matchTrigger(d *dag, it *item) *item {
	if d == nil {
		return nil
	}
	t := it.ts
	lo, hi := t-s.r.trigWin, t+s.r.skew
	l := d.triggers
	i0, _ := slices.BinarySearchFunc(l, lo, func(x *item, t int64) int { return cmp.Compare(x.ts, t) })
	var best *item
	bestExact := false
	for i := i0; i < len(l) && l[i].ts <= hi; i++ {
		x := l[i]
		exact := false
		if len(x.runIDs) > 0 {
			if !slices.Contains(x.runIDs, it.base.RunID) {
				continue
			}
			exact = true
		}
		if it.base.Person != "" && x.base.Person != "" && x.base.Person != it.base.Person {
			continue
		}
		if best == nil || better(x, exact, best, bestExact, t) {
			best, bestExact = x, exact
		}
	}
	return best
}

// better orders trigger candidates: naming the run id, then at or before the
// run (latest first), then after it (earliest first); l is scanned in (ts, id)
// order so ties keep the first.
func better(x *item, xExact bool, b *item, bExact bool, t int64) bool {
	if xExact != bExact {
		return xExact
	}
	xb, bb := x.ts <= t, b.ts <= t
	if xb != bb {
		return xb
	}
	if xb {
		return x.ts > b.ts
	}
	return x.ts < b.ts
}

// insertAssertion adds a to p in order; false if its id is already there.
func insertAssertion(p *person, a assertion) bool {
	i, found := slices.BinarySearchFunc(p.auths, a, func(x, y assertion) int {
		if c := cmp.Compare(x.ts, y.ts); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	if found {
		return false
	}
	p.auths = slices.Insert(p.auths, i, a)
	return true
}

func cmpCred(x, y credEvent) int {
	if c := cmp.Compare(x.ts, y.ts); c != 0 {
		return c
	}
	return strings.Compare(x.id, y.id)
}

func insertItem(l []*item, it *item) []*item {
	i, _ := slices.BinarySearchFunc(l, it, cmpItem)
	return slices.Insert(l, i, it)
}

func (s *state) dagOf(k dagKey) *dag {
	d := s.dags[k]
	if d == nil {
		d = &dag{}
		s.dags[k] = d
	}
	return d
}

func (s *state) personOf(id string) *person {
	p := s.persons[id]
	if p == nil {
		p = &person{}
		s.persons[id] = p
	}
	return p
}

// link adds an enabling audit item to its DAG's lists.
func (s *state) link(it *item, insert func([]*item, *item) []*item) *dag {
	d := s.dagOf(dagKey{it.base.Instance, it.base.DagID})
	switch it.class {
	case model.ActionUnpause:
		d.unpauses = insert(d.unpauses, it)
	case model.ActionBackfill:
		d.backfills = insert(d.backfills, it)
	case model.ActionTrigger:
		d.triggers = insert(d.triggers, it)
	}
	return d
}
