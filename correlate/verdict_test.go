package correlate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

const (
	aaguidYubiKey = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	aaguidDenied  = "deadbeef-0000-4000-8000-000000000001"
	aaguidAllowed = "a11a0000-0000-4000-8000-000000000001"
)

func handPolicy() Policy {
	p := DefaultPolicy()
	p.AAGUID.Deny = []string{aaguidDenied}
	p.AAGUID.Allow = []string{strings2upper(aaguidAllowed)}
	return p
}

func strings2upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// builder makes events with sequential ids.
type builder struct {
	h      history
	nextID int64
}

type authOpt func(*model.AuthEvent)

func factor(f model.Factor) authOpt     { return func(e *model.AuthEvent) { e.Factor = f } }
func hw(b bool) authOpt                 { return func(e *model.AuthEvent) { e.Hardware = model.Bool(b) } }
func hwUnset() authOpt                  { return func(e *model.AuthEvent) { e.Hardware = nil } }
func cred(c string) authOpt             { return func(e *model.AuthEvent) { e.CredentialID = c } }
func category(c model.Category) authOpt { return func(e *model.AuthEvent) { e.Category = c } }
func failed() authOpt                   { return func(e *model.AuthEvent) { e.Outcome = model.OutcomeFailure } }

// auth adds a successful hardware-backed WebAuthn MFA by person at ts,
// modified by opts; it returns the assertion id.
func (b *builder) auth(id, person string, ts time.Time, opts ...authOpt) string {
	e := model.AuthEvent{
		Source: model.SourceOkta, Instance: "corp", EventID: id, TS: ts, Person: person,
		Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn,
		Hardware: model.Bool(true),
	}
	for _, o := range opts {
		o(&e)
	}
	b.h.auth = append(b.h.auth, e)
	return "okta/corp/" + id
}

func (b *builder) register(id, person, credID string, ts time.Time, aaguid, mdl string, hardware *bool) {
	b.h.authn = append(b.h.authn, model.Authenticator{
		Source: model.SourceOkta, Instance: "corp", EventID: id, TS: ts, Person: person,
		Action: model.AuthenticatorRegister, CredentialID: credID, AAGUID: aaguid, Model: mdl, Hardware: hardware,
	})
}

func (b *builder) remove(id, person, credID string, ts time.Time) {
	b.h.authn = append(b.h.authn, model.Authenticator{
		Source: model.SourceOkta, Instance: "corp", EventID: id, TS: ts, Person: person,
		Action: model.AuthenticatorRemove, CredentialID: credID,
	})
}

type actOpt func(*model.AirflowEvent)

func dagID(d string) actOpt          { return func(e *model.AirflowEvent) { e.DagID = d } }
func extra(x string) actOpt          { return func(e *model.AirflowEvent) { e.Extra = x } }
func channel(c model.Channel) actOpt { return func(e *model.AirflowEvent) { e.Channel = c } }
func system() actOpt {
	return func(e *model.AirflowEvent) { e.Human = false; e.Channel = model.ChannelSystem }
}

// act adds a human UI action and returns its action id.
func (b *builder) act(person string, ts time.Time, class model.ActionClass, opts ...actOpt) string {
	b.nextID++
	e := model.AirflowEvent{
		Instance: "af", EventLogID: b.nextID, TS: ts, Event: string(class), Channel: model.ChannelUI,
		Action: class, Human: true, Actor: "okta_" + person, Person: person, MapIndex: -1,
	}
	if person == "" {
		e.Actor = "mystery"
	}
	for _, o := range opts {
		o(&e)
	}
	b.h.airflow = append(b.h.airflow, e)
	return fmt.Sprintf("af:%d", b.nextID)
}

// run adds a DAG run and returns its action id.
func (b *builder) run(dag, runID, runType string, ts time.Time, triggeringUser, person string) string {
	b.h.runs = append(b.h.runs, model.DagRun{
		Instance: "af", DagID: dag, RunID: runID, RunType: runType, TS: ts,
		TriggeringUser: triggeringUser, Person: person, State: "success",
	})
	return "af:" + dag + ":" + runID
}

type want struct {
	verdict   model.Verdict
	assertion string // "" = none
	inherited string
	inhVerd   model.Verdict
	trigger   string // a manual run's trigger action id
	person    string
	aaguid    string
	model     string
	ageMS     *int64
	reason    string // substring
}

func ms(v int64) *int64 { return &v }

// handHistory builds the hand history and the verdict expected for every action.
func handHistory() (*history, map[string]want) {
	b := &builder{}
	w := map[string]want{}
	min := time.Minute

	// alice: a registered YubiKey; verified privileged action.
	b.register("reg-alice", "alice", "c-alice", t0.Add(-10*24*time.Hour), aaguidYubiKey, "YubiKey 5 NFC", model.Bool(true))
	a1 := b.auth("a1", "alice", t0, cred("c-alice"))
	w[b.act("alice", t0.Add(2*min), model.ActionVariable)] = want{verdict: model.VerdictVerified, assertion: a1, aaguid: aaguidYubiKey, model: "YubiKey 5 NFC", ageMS: ms(120000), reason: "hardware-backed webauthn assertion 2m0s before"}
	// alice unpauses "etl" (verified), scheduled and dataset runs inherit it.
	unpause := b.act("alice", t0.Add(1*min), model.ActionUnpause, dagID("etl"))
	w[unpause] = want{verdict: model.VerdictVerified, assertion: a1, aaguid: aaguidYubiKey, model: "YubiKey 5 NFC"}
	w[b.run("etl", "scheduled__early", model.RunScheduled, t0.Add(30*time.Second), "", "")] = want{verdict: model.VerdictUnattributed, reason: "no unpause"}
	w[b.run("etl", "scheduled__1", model.RunScheduled, t0.Add(2*time.Hour), "", "")] = want{verdict: model.VerdictInherited, inherited: unpause, inhVerd: model.VerdictVerified, person: "alice", assertion: a1}
	w[b.run("etl", "dataset__1", model.RunDatasetTriggered, t0.Add(3*time.Hour), "", "")] = want{verdict: model.VerdictInherited, inherited: unpause, inhVerd: model.VerdictVerified, person: "alice"}
	w[b.run("orphan", "scheduled__1", model.RunScheduled, t0.Add(time.Hour), "", "")] = want{verdict: model.VerdictUnattributed}
	// a manual run with a triggering user and no trigger audit row: judged as alice's trigger at the run's time.
	w[b.run("adhoc", "manual__alice", model.RunManual, t0.Add(5*min), "alice@corp", "alice")] = want{verdict: model.VerdictVerified, person: "alice", assertion: a1, ageMS: ms(300000), reason: "judged as a trigger"}
	// ... and one whose triggering user resolved to nobody.
	w[b.run("adhoc", "manual__ghost", model.RunManual, t0.Add(5*min), "ghost", "")] = want{verdict: model.VerdictUnknownIdentity}
	// a manual run with neither: unattributed.
	w[b.run("adhoc", "manual__none", model.RunManual, t0.Add(6*min), "", "")] = want{verdict: model.VerdictUnattributed}
	// alice's API trigger naming its run: the manual run is verified as her own act.
	atrig := b.act("alice", t0.Add(7*min), model.ActionTrigger, channel(model.ChannelAPI), dagID("adhoc"), extra(`{"dag_run_id": "manual__api"}`))
	w[atrig] = want{verdict: model.VerdictVerified, assertion: a1}
	w[b.run("adhoc", "manual__api", model.RunManual, t0.Add(7*min+2*time.Second), "", "")] = want{verdict: model.VerdictVerified, trigger: atrig, person: "alice", assertion: a1, model: "YubiKey 5 NFC", ageMS: ms(420000)}

	// bob: TOTP only; a failed key tap and a session refresh do not count.
	b1 := b.auth("b1", "bob", t0, factor(model.FactorTOTP), hwUnset())
	b.auth("b2", "bob", t0.Add(1*min), failed())
	b.auth("b3", "bob", t0.Add(1*min), category(model.CategorySession), factor(model.FactorNone), hwUnset())
	w[b.act("bob", t0.Add(3*min), model.ActionConn)] = want{verdict: model.VerdictWeakFactor, assertion: b1, reason: "authenticated with totp 3m0s before"}
	// a non-privileged view 6h later is within the 12h max_age: still weak.
	w[b.act("bob", t0.Add(6*time.Hour), model.ActionView)] = want{verdict: model.VerdictWeakFactor, assertion: b1}
	// bob's CLI trigger naming its run in extra; the run inherits weak_factor.
	cli := b.act("bob", t0.Add(2*min), model.ActionTrigger, channel(model.ChannelCLI), dagID("rep"), extra(`{"dag_run_id": "manual__cli1", "conf": {}}`))
	w[cli] = want{verdict: model.VerdictWeakFactor, assertion: b1}
	w[b.run("rep", "manual__cli1", model.RunManual, t0.Add(2*min+3*time.Second), "", "")] = want{verdict: model.VerdictWeakFactor, trigger: cli, person: "bob", assertion: b1, reason: "manual run triggered by " + cli + " (weak_factor)"}
	// a trigger naming another run id does not back a run: unattributed.
	w[b.act("bob", t0.Add(9*min), model.ActionTrigger, dagID("rep"), extra(`{"run_id": "manual__other"}`))] = want{verdict: model.VerdictWeakFactor, assertion: b1}
	w[b.run("rep", "manual__2", model.RunManual, t0.Add(9*min+time.Second), "", "")] = want{verdict: model.VerdictUnattributed}

	// carol: hardware 2h before (stale for privileged, verified for a view), password 1h before.
	c1 := b.auth("c1", "carol", t0.Add(-2*time.Hour))
	b.auth("c2", "carol", t0.Add(-time.Hour), factor(model.FactorPassword), hwUnset(), category(model.CategoryLogin))
	w[b.act("carol", t0, model.ActionView)] = want{verdict: model.VerdictVerified, assertion: c1, reason: "within max_age 12h0m0s"}
	// a password within 15 min but the key 2h ago: weak_factor wins over stale.
	w[b.act("carol", t0.Add(-50*time.Minute), model.ActionClear)] = want{verdict: model.VerdictWeakFactor, reason: "password"}
	w[b.act("carol", t0.Add(90*time.Minute), model.ActionClear, dagID("x"))] = want{verdict: model.VerdictStale, assertion: c1, ageMS: ms(int64(3.5 * 3600 * 1000)), reason: "older than max_age 15m0s"}
	// carol's UI trigger (2.x: no run id) backs a manual run 30s later by time: the run is stale like its trigger.
	ctrig := b.act("carol", t0.Add(10*time.Minute), model.ActionTrigger, dagID("wh"))
	w[ctrig] = want{verdict: model.VerdictStale, assertion: c1}
	w[b.run("wh", "manual__2025-03-01T09:10:30", model.RunManual, t0.Add(10*time.Minute+30*time.Second), "", "")] = want{verdict: model.VerdictStale, trigger: ctrig, person: "carol", assertion: c1}
	// ... but a run more than trigger_window after the trigger is not linked.
	w[b.run("wh", "manual__late", model.RunManual, t0.Add(11*time.Minute+time.Millisecond), "", "")] = want{verdict: model.VerdictUnattributed}

	// dave: only a token reuse in the window and an old password: no_assertion.
	b.auth("d1", "dave", t0.Add(-time.Minute), category(model.CategorySession), factor(model.FactorNone), hwUnset())
	b.auth("d2", "dave", t0.Add(-time.Hour), factor(model.FactorPassword), hwUnset())
	// a session refresh naming the original key, and a login that used no factor, are not authentications.
	b.auth("d3", "dave", t0.Add(-2*time.Minute), category(model.CategorySession))
	b.auth("d4", "dave", t0.Add(-3*time.Minute), category(model.CategoryOther))
	b.auth("d5", "dave", t0.Add(-4*time.Minute), category(model.CategoryLogin), factor(model.FactorNone), hwUnset())
	w[b.act("dave", t0, model.ActionDelete)] = want{verdict: model.VerdictNoAssertion, reason: "no authentication by dave"}

	// erin: a synced passkey; her backfill request and its runs are weak.
	e1 := b.auth("e1", "erin", t0, factor(model.FactorPasskeySynced), hw(false))
	bf := b.act("erin", t0.Add(10*min), model.ActionBackfill, dagID("bf"))
	w[bf] = want{verdict: model.VerdictWeakFactor, assertion: e1}
	w[b.run("bf", "backfill__1", model.RunBackfill, t0.Add(11*min), "", "")] = want{verdict: model.VerdictInherited, inherited: bf, inhVerd: model.VerdictWeakFactor, person: "erin"}
	w[b.run("bf", "backfill__2", model.RunBackfill, t0.Add(5*time.Hour), "", "")] = want{verdict: model.VerdictInherited, inherited: bf, inhVerd: model.VerdictWeakFactor}
	w[b.run("nobf", "backfill__1", model.RunBackfill, t0.Add(11*min), "", "")] = want{verdict: model.VerdictUnattributed, reason: "no backfill request"}
	// an unpause is not a backfill request: scheduled runs do not inherit from backfills and vice versa.
	w[b.run("bf", "scheduled__1", model.RunScheduled, t0.Add(12*min), "", "")] = want{verdict: model.VerdictUnattributed}

	// frank: key registered, tapped at -60m, removed at -55m, then an assertion claims the removed key.
	b.register("reg-frank", "frank", "c-frank", t0.Add(-5*24*time.Hour), aaguidYubiKey, "YubiKey 5C", model.Bool(true))
	f1 := b.auth("f1", "frank", t0.Add(-time.Hour), cred("c-frank"))
	b.remove("rm-frank", "frank", "c-frank", t0.Add(-55*min))
	f2 := b.auth("f2", "frank", t0, cred("c-frank"))
	w[b.act("frank", t0.Add(-58*min), model.ActionPool)] = want{verdict: model.VerdictVerified, assertion: f1, model: "YubiKey 5C"}
	// the tap before the removal still backs an action after it.
	w[b.act("frank", t0.Add(-50*min), model.ActionPool)] = want{verdict: model.VerdictVerified, assertion: f1, reason: "assertion 10m0s before"}
	w[b.act("frank", t0.Add(min), model.ActionPool)] = want{verdict: model.VerdictWeakFactor, assertion: f2, reason: "its credential was removed at 2025-03-01T08:05:00.000Z"}
	w[b.act("frank", t0.Add(20*min), model.ActionPool)] = want{verdict: model.VerdictStale, assertion: f1}

	// gina: the IdP says hardware, but the registration's AAGUID is denied.
	b.register("reg-gina", "gina", "c-gina", t0.Add(-24*time.Hour), aaguidDenied, "Cheap Key", model.Bool(true))
	g1 := b.auth("g1", "gina", t0, cred("c-gina"))
	w[b.act("gina", t0.Add(min), model.ActionMarkState)] = want{verdict: model.VerdictWeakFactor, assertion: g1, aaguid: aaguidDenied, reason: "deny list"}
	// hank: the IdP says not hardware, the event's own AAGUID is allowed.
	h1 := b.auth("h1", "hank", t0, hw(false), func(e *model.AuthEvent) { e.AAGUID = aaguidAllowed })
	w[b.act("hank", t0.Add(min), model.ActionMarkState)] = want{verdict: model.VerdictVerified, assertion: h1, aaguid: aaguidAllowed}
	// judy: the IdP is silent; the registration says hardware. A webauthn
	// assertion with nothing saying hardware is weak (kim).
	b.register("reg-judy", "judy", "c-judy", t0.Add(-time.Hour), aaguidYubiKey, "YubiKey Bio", model.Bool(true))
	j1 := b.auth("j1", "judy", t0, cred("c-judy"), hwUnset())
	w[b.act("judy", t0.Add(min), model.ActionUserAdmin)] = want{verdict: model.VerdictVerified, assertion: j1, model: "YubiKey Bio"}
	k1 := b.auth("k1", "kim", t0, hwUnset())
	w[b.act("kim", t0.Add(min), model.ActionUserAdmin)] = want{verdict: model.VerdictWeakFactor, assertion: k1, reason: "nothing shows it hardware-backed"}

	// mona: only webauthn can be hardware-backed, whatever else the event claims.
	m1 := b.auth("m1", "mona", t0, factor(model.FactorPush), func(e *model.AuthEvent) { e.AAGUID = aaguidAllowed })
	w[b.act("mona", t0.Add(min), model.ActionUserAdmin)] = want{verdict: model.VerdictWeakFactor, assertion: m1}

	// ivan: clock skew and max_age edges (inclusive both ends).
	t1 := t0.Add(24 * time.Hour)
	i1 := b.auth("i1", "ivan", t1.Add(-15*min))
	w[b.act("ivan", t1, model.ActionPause, dagID("y"))] = want{verdict: model.VerdictVerified, assertion: i1, ageMS: ms(900000)}
	w[b.act("ivan", t1.Add(time.Millisecond), model.ActionPause, dagID("y"))] = want{verdict: model.VerdictStale, assertion: i1}
	t3 := t1.Add(time.Hour)
	i2 := b.auth("i2", "ivan", t3.Add(5*time.Second))
	w[b.act("ivan", t3, model.ActionClear)] = want{verdict: model.VerdictVerified, assertion: i2, ageMS: ms(-5000), reason: "5s after the action"}
	w[b.act("ivan", t3.Add(-time.Millisecond), model.ActionClear)] = want{verdict: model.VerdictStale, assertion: i1}
	// when both lie in the window, the latest at or before the action wins over one after it.
	t5 := t1.Add(2 * time.Hour)
	b.auth("i5a", "ivan", t5.Add(3*time.Second))
	i5 := b.auth("i5b", "ivan", t5.Add(-10*min))
	w[b.act("ivan", t5, model.ActionClear)] = want{verdict: model.VerdictVerified, assertion: i5}
	// a weak authentication exactly at t+S is within the window.
	t4 := t1.Add(3 * time.Hour)
	i4 := b.auth("i4", "ivan", t4.Add(5*time.Second), factor(model.FactorPush), hwUnset())
	w[b.act("ivan", t4, model.ActionConn)] = want{verdict: model.VerdictWeakFactor, assertion: i4}

	// leo: lookback edges (30 days).
	l1 := b.auth("l1", "leo", t0.Add(-30*24*time.Hour))
	w[b.act("leo", t0, model.ActionTrigger)] = want{verdict: model.VerdictStale, assertion: l1}
	ltrig := b.act("leo", t0.Add(time.Millisecond), model.ActionTrigger, dagID("lk"))
	w[ltrig] = want{verdict: model.VerdictNoAssertion}
	w[b.run("lk", "manual__leo", model.RunManual, t0.Add(2*time.Second), "", "")] = want{verdict: model.VerdictNoAssertion, trigger: ltrig, person: "leo"}

	// unknown identity, UI and CLI.
	w[b.act("", t0, model.ActionDelete)] = want{verdict: model.VerdictUnknownIdentity, reason: `"mystery"`}
	utrig := b.act("", t0.Add(min), model.ActionTrigger, channel(model.ChannelCLI), dagID("uk"), func(e *model.AirflowEvent) { e.Actor = "airflow" })
	w[utrig] = want{verdict: model.VerdictUnknownIdentity}
	w[b.run("uk", "manual__cli", model.RunManual, t0.Add(min+time.Second), "", "")] = want{verdict: model.VerdictUnknownIdentity, trigger: utrig, reason: `"airflow" maps to no identity`}

	// task-state and other system rows are not actions.
	b.act("", t0.Add(min), model.ActionTaskState, system(), dagID("etl"))
	b.act("", t0.Add(min), model.ActionOther, system())
	b.act("", t0.Add(min), model.ActionTaskState, dagID("etl")) // even if marked human
	// a "run" of one task is not a DAG trigger.
	w[b.act("alice", t0.Add(20*min), model.ActionTrigger, dagID("tt"), func(e *model.AirflowEvent) { e.TaskID = "t1" })] = want{verdict: model.VerdictStale, assertion: a1}
	w[b.run("tt", "manual__tt", model.RunManual, t0.Add(20*min+time.Second), "", "")] = want{verdict: model.VerdictUnattributed}

	return &b.h, w
}

func checkHand(t *testing.T, got []model.Correlation, w map[string]want, version string) {
	t.Helper()
	m := byID(got)
	require.Len(t, got, len(w), "every action and nothing else")
	for id, x := range w {
		c, ok := m[id]
		require.True(t, ok, "no correlation for %s", id)
		require.Equal(t, x.verdict, c.Verdict, "%s: %s", id, c.Reason)
		require.Equal(t, version, c.PolicyVersion)
		require.NotEmpty(t, c.Reason, id)
		if x.reason != "" {
			require.Contains(t, c.Reason, x.reason, id)
		}
		switch x.verdict {
		case model.VerdictNoAssertion, model.VerdictUnknownIdentity, model.VerdictUnattributed:
			require.Empty(t, c.AssertionID, id)
			require.True(t, c.AssertionTS.IsZero(), id)
		}
		if x.assertion != "" {
			require.Equal(t, x.assertion, c.AssertionID, id)
			require.False(t, c.AssertionTS.IsZero(), id)
			require.NotEmpty(t, c.Factor, id)
		}
		if x.verdict == model.VerdictInherited {
			require.Equal(t, x.inherited, c.InheritedFrom, id)
			require.Equal(t, x.inhVerd, c.InheritedVerdict, id)
			require.Equal(t, model.KindRun, c.Kind)
		} else {
			require.Empty(t, c.InheritedFrom, id)
			require.Empty(t, c.InheritedVerdict, id)
		}
		require.Equal(t, x.trigger, c.TriggerActionID, "%s: a manual run names its trigger, nothing else does", id)
		if x.person != "" {
			require.Equal(t, x.person, c.Person, id)
		}
		if x.aaguid != "" {
			require.Equal(t, x.aaguid, c.AuthenticatorAAGUID, id)
		}
		if x.model != "" {
			require.Equal(t, x.model, c.AuthenticatorModel, id)
		}
		if x.ageMS != nil {
			require.Equal(t, *x.ageMS, c.AssertionAgeMS, id)
		}
	}
}

func TestHandHistoryBatch(t *testing.T) {
	h, w := handHistory()
	p := handPolicy()
	got := batch(t, p, h)
	checkHand(t, got, w, p.Version())

	m := byID(got)
	// class and privilege come from the policy.
	c := m["af:1"]
	require.Equal(t, model.ActionVariable, c.Action)
	require.True(t, c.Privileged)
	require.Equal(t, model.KindAudit, c.Kind)
	require.Equal(t, t0.Add(2*time.Minute), c.ActionTS)
	require.True(t, c.ComputedAt.IsZero())
	for _, c := range got {
		switch {
		case c.Action == model.ActionView:
			require.False(t, c.Privileged)
		case c.Kind == model.KindRun:
			require.Equal(t, model.ActionRun, c.Action)
		}
	}
	require.True(t, m["af:rep:manual__cli1"].Privileged, "manual runs are privileged")
	require.False(t, m["af:etl:scheduled__1"].Privileged, "scheduled runs are not")
	require.Equal(t, model.ChannelCLI, m["af:rep:manual__cli1"].Channel)
}

// TestHandHistoryStreaming feeds the hand history in time order, in random
// orders with delays up to grace, and with every delay 0 or exactly grace.
func TestHandHistoryStreaming(t *testing.T) {
	h, w := handHistory()
	p := handPolicy()
	want := batch(t, p, h)
	rng := rand.New(rand.NewPCG(1, 2))
	for mode := range 3 {
		for rep := range 4 {
			got, _, _ := stream(t, p, arrival(h.all(), rng, p.Grace, mode))
			checkHand(t, got, w, p.Version())
			require.Equal(t, want, got, "mode %d rep %d", mode, rep)
		}
	}
}

// TestPolicyChangesVerdicts shows the same history judged under other policies.
func TestPolicyChangesVerdicts(t *testing.T) {
	h, _ := handHistory()
	// without the deny list gina is verified; without the allow list hank is weak.
	p := DefaultPolicy()
	m := byID(batch(t, p, h))
	gina, hank := "", ""
	for id, c := range m {
		switch c.Person {
		case "gina":
			gina = id
		case "hank":
			hank = id
		}
	}
	require.Equal(t, model.VerdictVerified, m[gina].Verdict)
	require.Equal(t, model.VerdictWeakFactor, m[hank].Verdict)
	// counting platform credentials (still needs Hardware) changes nothing for erin.
	p.HardwareFactors = append(p.HardwareFactors, model.FactorPlatform)
	m = byID(batch(t, p, h))
	require.Equal(t, model.VerdictWeakFactor, m["af:bf:backfill__1"].InheritedVerdict)
	// a longer privileged max_age makes carol's clear verified.
	p = DefaultPolicy()
	p.MaxAge.Classes = map[model.ActionClass]time.Duration{model.ActionClear: 4 * time.Hour}
	for _, c := range batch(t, p, h) {
		if c.Person == "carol" && c.Action == model.ActionClear {
			require.Equal(t, model.VerdictVerified, c.Verdict)
		}
	}
}

func TestBatchErrors(t *testing.T) {
	_, err := Batch(context.Background(), Policy{}, Input{})
	require.ErrorIs(t, err, ErrPolicy)
	h := &history{airflow: []model.AirflowEvent{{Instance: "af", EventLogID: 1, Human: true, Action: model.ActionView}}}
	_, err = Batch(context.Background(), DefaultPolicy(), h.input())
	require.ErrorIs(t, err, ErrNoTime)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := generate(rand.New(rand.NewPCG(3, 3)), genConfig{people: 4, events: 10000, span: 24 * time.Hour})
	_, err = Batch(ctx, DefaultPolicy(), g.input())
	require.ErrorIs(t, err, context.Canceled)
	out, err := Batch(context.Background(), DefaultPolicy(), Input{})
	require.NoError(t, err)
	require.Empty(t, out)
}

func TestBatchDeduplicates(t *testing.T) {
	h, _ := handHistory()
	once := batch(t, handPolicy(), h)
	dup := &history{
		auth:    append(append([]model.AuthEvent{}, h.auth...), h.auth...),
		authn:   append(append([]model.Authenticator{}, h.authn...), h.authn...),
		airflow: append(append([]model.AirflowEvent{}, h.airflow...), h.airflow...),
		runs:    append(append([]model.DagRun{}, h.runs...), h.runs...),
	}
	require.Equal(t, once, batch(t, handPolicy(), dup))
	// and the engine ignores redeliveries.
	evs := append(h.all(), dup.all()...)
	got, e, _ := stream(t, handPolicy(), arrival(evs, rand.New(rand.NewPCG(5, 5)), 0, 0))
	require.Equal(t, once, got)
	require.Positive(t, e.Stats().Ignored)
}
