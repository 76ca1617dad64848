package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// HandT0 is the hand history's reference time.
var HandT0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// HandYubiKey is the AAGUID of the hand history's keys (a YubiKey 5 NFC).
const HandYubiKey = "cb69481e-8ff7-4039-93ec-0a2729a154a8"

// HandHistory is a hand-written history of stored events covering every
// verdict, for the tests of the correlation runs and of what reads their
// verdicts. Want maps each action id in [HandT0−1h, HandT0+1d) to its
// verdict under the default policy; the late assertion (LateAuth) is not in
// it: D2 is no_assertion until it is stored.
type HandHistory struct {
	Auth     []model.AuthEvent
	Authn    []model.Authenticator
	Airflow  []model.AirflowEvent
	Runs     []model.DagRun
	Want     map[string]model.Verdict
	Inherits map[string]string // run action id → enabling action id
	Triggers map[string]string // manual run action id → its trigger's action id
	WeakRun  string            // a manual run whose trigger is weak_factor: it alerts like its trigger
	LateAuth model.AuthEvent
	LateID   string // the action the late assertion verifies
}

// NewHandHistory returns the hand history.
func NewHandHistory() *HandHistory {
	h := &HandHistory{Want: map[string]model.Verdict{}, Inherits: map[string]string{}, Triggers: map[string]string{}}
	reg := func(person, cred string, at time.Time, action string) {
		h.Authn = append(h.Authn, model.Authenticator{Source: model.SourceOkta, Instance: "acme", EventID: "reg-" + cred + "-" + action,
			TS: at, Person: person, Subject: person, Action: action, CredentialID: cred, AAGUID: HandYubiKey, Model: "YubiKey 5 NFC", Hardware: model.Bool(true)})
	}
	key := func(person, cred string, at time.Time) model.AuthEvent {
		return model.AuthEvent{Source: model.SourceOkta, Instance: "acme", EventID: "auth-" + person + "-" + at.Format("150405.000") + "-" + at.Format("0102"),
			TS: at, Person: person, Subject: person, Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, CredentialID: cred}
	}
	pw := func(person string, at time.Time) model.AuthEvent {
		return model.AuthEvent{Source: model.SourceOkta, Instance: "acme", EventID: "pw-" + person + "-" + at.Format("150405"),
			TS: at, Person: person, Subject: person, Category: model.CategoryLogin, Outcome: model.OutcomeSuccess, Factor: model.FactorPassword}
	}
	var logID int64 = 100
	act := func(person, actor string, ch model.Channel, class model.ActionClass, dag, runID string, at time.Time, want model.Verdict) string {
		logID++
		h.Airflow = append(h.Airflow, model.AirflowEvent{Instance: "prod", EventLogID: logID, TS: at, Event: string(class), Channel: ch, Action: class,
			Human: true, Privileged: class != model.ActionView, Actor: actor, Person: person, DagID: dag, RunID: runID, MapIndex: -1})
		id := "prod:" + strconv.FormatInt(logID, 10)
		if want != "" {
			h.Want[id] = want
		}
		return id
	}
	run := func(dag, runID, typ string, at time.Time, want model.Verdict, from string) string {
		h.Runs = append(h.Runs, model.DagRun{Instance: "prod", DagID: dag, RunID: runID, RunType: typ, TS: at, LogicalDate: at, State: "success"})
		id := "prod:" + dag + ":" + runID
		h.Want[id] = want
		if from != "" {
			h.Inherits[id] = from
		}
		return id
	}

	for _, p := range []string{"alice", "bob", "erin", "frank", "gina", "henry", "dave"} {
		reg(p, "cred-"+p, HandT0.Add(-10*24*time.Hour), model.AuthenticatorRegister)
	}
	reg("erin", "cred-erin", HandT0.Add(-time.Hour), model.AuthenticatorRemove) // key registered, then removed

	// verified: alice tapped her key 5 min before a privileged trigger.
	h.Auth = append(h.Auth, key("alice", "cred-alice", HandT0.Add(-5*time.Minute)))
	act("alice", "okta_alice", model.ChannelUI, model.ActionClear, "etl", "", HandT0, model.VerdictVerified)
	// stale: bob's latest tap is 2 h old, max_age 15 min.
	h.Auth = append(h.Auth, key("bob", "cred-bob", HandT0.Add(-2*time.Hour)))
	act("bob", "okta_bob", model.ChannelUI, model.ActionVariable, "", "", HandT0, model.VerdictStale)
	// weak_factor: carol signed in with a password only.
	h.Auth = append(h.Auth, pw("carol", HandT0.Add(-3*time.Minute)))
	act("carol", "carol@acme.test", model.ChannelAPI, model.ActionConn, "", "", HandT0, model.VerdictWeakFactor)
	// no_assertion: dave never authenticated.
	act("dave", "dave", model.ChannelUI, model.ActionDelete, "etl", "", HandT0, model.VerdictNoAssertion)
	// unknown_identity: the actor resolves to nobody.
	act("", "ghost", model.ChannelUI, model.ActionPool, "", "", HandT0, model.VerdictUnknownIdentity)
	// key registered then removed: erin's tap after the removal is not hardware-backed.
	h.Auth = append(h.Auth, key("erin", "cred-erin", HandT0.Add(-10*time.Minute)))
	act("erin", "erin", model.ChannelUI, model.ActionMarkState, "etl", "", HandT0, model.VerdictWeakFactor)
	// clock skew at the edges: an assertion exactly clock_skew (5 s) after the
	// action backs it; one 1 ms later does not.
	h.Auth = append(h.Auth, key("frank", "cred-frank", HandT0.Add(5*time.Second)))
	act("frank", "frank", model.ChannelUI, model.ActionPause, "etl", "", HandT0, model.VerdictVerified)
	h.Auth = append(h.Auth, key("henry", "cred-henry", HandT0.Add(5*time.Second+time.Millisecond)))
	act("henry", "henry", model.ChannelUI, model.ActionPause, "etl", "", HandT0, model.VerdictNoAssertion)
	// a non-privileged view 2 h after alice's tap: within 12 h, verified.
	act("alice", "okta_alice", model.ChannelUI, model.ActionView, "etl", "", HandT0.Add(2*time.Hour), model.VerdictVerified)
	// a task-state row is not an action and not in the population.
	logID++
	h.Airflow = append(h.Airflow, model.AirflowEvent{Instance: "prod", EventLogID: logID, TS: HandT0, Event: "success", Channel: model.ChannelSystem,
		Action: model.ActionTaskState, DagID: "etl", TaskID: "load", MapIndex: -1})

	// inherited: alice unpauses etl (verified), then a scheduled run.
	h.Auth = append(h.Auth, key("alice", "cred-alice", HandT0.Add(50*time.Minute)))
	unpause := act("alice", "okta_alice", model.ChannelUI, model.ActionUnpause, "etl", "", HandT0.Add(time.Hour), model.VerdictVerified)
	run("etl", "scheduled__2026-03-02T11", model.RunScheduled, HandT0.Add(2*time.Hour), model.VerdictInherited, unpause)
	// inherited from an unpause 40 days before the period: outside it and
	// older than the lookback, so its assertion is outside the loaded window.
	h.Auth = append(h.Auth, model.AuthEvent{Source: model.SourceOkta, Instance: "acme", EventID: "auth-alice-old", TS: HandT0.Add(-40*24*time.Hour - time.Minute),
		Person: "alice", Subject: "alice", Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, Hardware: model.Bool(true)})
	oldUnpause := act("alice", "okta_alice", model.ChannelUI, model.ActionUnpause, "reports", "", HandT0.Add(-40*24*time.Hour), "")
	run("reports", "scheduled__2026-03-02T12", model.RunScheduled, HandT0.Add(3*time.Hour), model.VerdictInherited, oldUnpause)
	// unattributed: nobody ever unpaused orphan.
	run("orphan", "scheduled__2026-03-02T12", model.RunScheduled, HandT0.Add(3*time.Hour), model.VerdictUnattributed, "")
	// CLI trigger by gina (OS user gina_os mapped to gina), with its manual run.
	h.Auth = append(h.Auth, key("gina", "cred-gina", HandT0.Add(29*time.Minute)))
	trig := act("gina", "gina_os", model.ChannelCLI, model.ActionTrigger, "etl", "manual__cli", HandT0.Add(30*time.Minute), model.VerdictVerified)
	h.Airflow[len(h.Airflow)-1].Event = "cli_dag_trigger"
	// a manual run is the triggering person's own act: the trigger's verdict, linked.
	h.Triggers[run("etl", "manual__cli", model.RunManual, HandT0.Add(30*time.Minute+10*time.Second), model.VerdictVerified, "")] = trig
	// carol's API trigger (password only) and its run: both weak_factor.
	ctrig := act("carol", "carol@acme.test", model.ChannelAPI, model.ActionTrigger, "adhoc", "manual__carol", HandT0.Add(time.Minute), model.VerdictWeakFactor)
	h.WeakRun = run("adhoc", "manual__carol", model.RunManual, HandT0.Add(time.Minute+2*time.Second), model.VerdictWeakFactor, "")
	h.Triggers[h.WeakRun] = ctrig
	// clock skew at the period's edge: ivan acts 1 s before the period ends
	// and taps 2 s after it; an action exactly at the end is outside.
	reg("ivan", "cred-ivan", HandT0.Add(-10*24*time.Hour), model.AuthenticatorRegister)
	h.Auth = append(h.Auth, key("ivan", "cred-ivan", HandT0.Add(24*time.Hour+2*time.Second)))
	act("ivan", "ivan", model.ChannelAPI, model.ActionVariable, "", "", HandT0.Add(24*time.Hour-time.Second), model.VerdictVerified)
	act("ivan", "ivan", model.ChannelAPI, model.ActionVariable, "", "", HandT0.Add(24*time.Hour), "")
	// late assertion: dave triggers at HandT0+3h; his tap is stored only later.
	h.LateID = act("dave", "dave", model.ChannelUI, model.ActionTrigger, "etl", "", HandT0.Add(3*time.Hour), model.VerdictNoAssertion)
	h.LateAuth = key("dave", "cred-dave", HandT0.Add(3*time.Hour+2*time.Second))
	return h
}

// Until drops the events after end, as if the stream had not reached them.
func (h *HandHistory) Until(end time.Time) *HandHistory {
	c := *h
	c.Auth = filter(h.Auth, func(e model.AuthEvent) bool { return !e.TS.After(end) })
	c.Authn = filter(h.Authn, func(e model.Authenticator) bool { return !e.TS.After(end) })
	c.Airflow = filter(h.Airflow, func(e model.AirflowEvent) bool { return !e.TS.After(end) })
	c.Runs = filter(h.Runs, func(e model.DagRun) bool { return !e.TS.After(end) })
	return &c
}

// filter returns the elements of s that keep keeps.
func filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// Write stores the history (the late assertion excepted) in s.
func (h *HandHistory) Write(t testing.TB, s store.Store) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, store.Authenticators.Write(ctx, s, h.Authn))
	require.NoError(t, store.AuthEvents.Write(ctx, s, h.Auth))
	require.NoError(t, store.AirflowEvents.Write(ctx, s, h.Airflow))
	require.NoError(t, store.DagRuns.Write(ctx, s, h.Runs))
}
