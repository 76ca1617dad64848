package warehouse

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// t0 is the hand history's reference time.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const yubikey = "cb69481e-8ff7-4039-93ec-0a2729a154a8"

// handHistory is a history covering every verdict. want maps each action id
// in [t0−1h, t0+1d) to its verdict under the default policy; the late
// assertion (lateAuth) is not in it: D2 is no_assertion until it is stored.
type handHistory struct {
	auth     []model.AuthEvent
	authn    []model.Authenticator
	airflow  []model.AirflowEvent
	runs     []model.DagRun
	want     map[string]model.Verdict
	inherits map[string]string // run action id → enabling action id
	triggers map[string]string // manual run action id → its trigger's action id
	weakRun  string            // a manual run whose trigger is weak_factor: it alerts like its trigger
	lateAuth model.AuthEvent
	lateID   string // the action the late assertion verifies
}

func newHandHistory() *handHistory {
	h := &handHistory{want: map[string]model.Verdict{}, inherits: map[string]string{}, triggers: map[string]string{}}
	reg := func(person, cred string, at time.Time, action string) {
		h.authn = append(h.authn, model.Authenticator{Source: model.SourceOkta, Instance: "acme", EventID: "reg-" + cred + "-" + action,
			TS: at, Person: person, Subject: person, Action: action, CredentialID: cred, AAGUID: yubikey, Model: "YubiKey 5 NFC", Hardware: model.Bool(true)})
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
		h.airflow = append(h.airflow, model.AirflowEvent{Instance: "prod", EventLogID: logID, TS: at, Event: string(class), Channel: ch, Action: class,
			Human: true, Privileged: class != model.ActionView, Actor: actor, Person: person, DagID: dag, RunID: runID, MapIndex: -1})
		id := "prod:" + itoa(logID)
		if want != "" {
			h.want[id] = want
		}
		return id
	}
	run := func(dag, runID, typ string, at time.Time, want model.Verdict, from string) string {
		h.runs = append(h.runs, model.DagRun{Instance: "prod", DagID: dag, RunID: runID, RunType: typ, TS: at, LogicalDate: at, State: "success"})
		id := "prod:" + dag + ":" + runID
		h.want[id] = want
		if from != "" {
			h.inherits[id] = from
		}
		return id
	}

	for _, p := range []string{"alice", "bob", "erin", "frank", "gina", "henry", "dave"} {
		reg(p, "cred-"+p, t0.Add(-10*24*time.Hour), model.AuthenticatorRegister)
	}
	reg("erin", "cred-erin", t0.Add(-time.Hour), model.AuthenticatorRemove) // key registered, then removed

	// verified: alice tapped her key 5 min before a privileged trigger.
	h.auth = append(h.auth, key("alice", "cred-alice", t0.Add(-5*time.Minute)))
	act("alice", "okta_alice", model.ChannelUI, model.ActionClear, "etl", "", t0, model.VerdictVerified)
	// stale: bob's latest tap is 2 h old, max_age 15 min.
	h.auth = append(h.auth, key("bob", "cred-bob", t0.Add(-2*time.Hour)))
	act("bob", "okta_bob", model.ChannelUI, model.ActionVariable, "", "", t0, model.VerdictStale)
	// weak_factor: carol signed in with a password only.
	h.auth = append(h.auth, pw("carol", t0.Add(-3*time.Minute)))
	act("carol", "carol@acme.test", model.ChannelAPI, model.ActionConn, "", "", t0, model.VerdictWeakFactor)
	// no_assertion: dave never authenticated.
	act("dave", "dave", model.ChannelUI, model.ActionDelete, "etl", "", t0, model.VerdictNoAssertion)
	// unknown_identity: the actor resolves to nobody.
	act("", "ghost", model.ChannelUI, model.ActionPool, "", "", t0, model.VerdictUnknownIdentity)
	// key registered then removed: erin's tap after the removal is not hardware-backed.
	h.auth = append(h.auth, key("erin", "cred-erin", t0.Add(-10*time.Minute)))
	act("erin", "erin", model.ChannelUI, model.ActionMarkState, "etl", "", t0, model.VerdictWeakFactor)
	// clock skew at the edges: an assertion exactly clock_skew (5 s) after the
	// action backs it; one 1 ms later does not.
	h.auth = append(h.auth, key("frank", "cred-frank", t0.Add(5*time.Second)))
	act("frank", "frank", model.ChannelUI, model.ActionPause, "etl", "", t0, model.VerdictVerified)
	h.auth = append(h.auth, key("henry", "cred-henry", t0.Add(5*time.Second+time.Millisecond)))
	act("henry", "henry", model.ChannelUI, model.ActionPause, "etl", "", t0, model.VerdictNoAssertion)
	// a non-privileged view 2 h after alice's tap: within 12 h, verified.
	act("alice", "okta_alice", model.ChannelUI, model.ActionView, "etl", "", t0.Add(2*time.Hour), model.VerdictVerified)
	// a task-state row is not an action and not in the population.
	logID++
	h.airflow = append(h.airflow, model.AirflowEvent{Instance: "prod", EventLogID: logID, TS: t0, Event: "success", Channel: model.ChannelSystem,
		Action: model.ActionTaskState, DagID: "etl", TaskID: "load", MapIndex: -1})

	// inherited: alice unpauses etl (verified), then a scheduled run.
	h.auth = append(h.auth, key("alice", "cred-alice", t0.Add(50*time.Minute)))
	unpause := act("alice", "okta_alice", model.ChannelUI, model.ActionUnpause, "etl", "", t0.Add(time.Hour), model.VerdictVerified)
	run("etl", "scheduled__2026-03-02T11", model.RunScheduled, t0.Add(2*time.Hour), model.VerdictInherited, unpause)
	// inherited from an unpause 40 days before the period: outside it and
	// older than the lookback, so its assertion is outside the loaded window.
	h.auth = append(h.auth, model.AuthEvent{Source: model.SourceOkta, Instance: "acme", EventID: "auth-alice-old", TS: t0.Add(-40*24*time.Hour - time.Minute),
		Person: "alice", Subject: "alice", Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, Hardware: model.Bool(true)})
	oldUnpause := act("alice", "okta_alice", model.ChannelUI, model.ActionUnpause, "reports", "", t0.Add(-40*24*time.Hour), "")
	run("reports", "scheduled__2026-03-02T12", model.RunScheduled, t0.Add(3*time.Hour), model.VerdictInherited, oldUnpause)
	// unattributed: nobody ever unpaused orphan.
	run("orphan", "scheduled__2026-03-02T12", model.RunScheduled, t0.Add(3*time.Hour), model.VerdictUnattributed, "")
	// CLI trigger by gina (OS user gina_os mapped to gina), with its manual run.
	h.auth = append(h.auth, key("gina", "cred-gina", t0.Add(29*time.Minute)))
	trig := act("gina", "gina_os", model.ChannelCLI, model.ActionTrigger, "etl", "manual__cli", t0.Add(30*time.Minute), model.VerdictVerified)
	h.airflow[len(h.airflow)-1].Event = "cli_dag_trigger"
	// a manual run is the triggering person's own act: the trigger's verdict, linked.
	h.triggers[run("etl", "manual__cli", model.RunManual, t0.Add(30*time.Minute+10*time.Second), model.VerdictVerified, "")] = trig
	// carol's API trigger (password only) and its run: both weak_factor.
	ctrig := act("carol", "carol@acme.test", model.ChannelAPI, model.ActionTrigger, "adhoc", "manual__carol", t0.Add(time.Minute), model.VerdictWeakFactor)
	h.weakRun = run("adhoc", "manual__carol", model.RunManual, t0.Add(time.Minute+2*time.Second), model.VerdictWeakFactor, "")
	h.triggers[h.weakRun] = ctrig
	// clock skew at the period's edge: ivan acts 1 s before the period ends
	// and taps 2 s after it; an action exactly at the end is outside.
	reg("ivan", "cred-ivan", t0.Add(-10*24*time.Hour), model.AuthenticatorRegister)
	h.auth = append(h.auth, key("ivan", "cred-ivan", t0.Add(24*time.Hour+2*time.Second)))
	act("ivan", "ivan", model.ChannelAPI, model.ActionVariable, "", "", t0.Add(24*time.Hour-time.Second), model.VerdictVerified)
	act("ivan", "ivan", model.ChannelAPI, model.ActionVariable, "", "", t0.Add(24*time.Hour), "")
	// late assertion: dave triggers at t0+3h; his tap is stored only later.
	h.lateID = act("dave", "dave", model.ChannelUI, model.ActionTrigger, "etl", "", t0.Add(3*time.Hour), model.VerdictNoAssertion)
	h.lateAuth = key("dave", "cred-dave", t0.Add(3*time.Hour+2*time.Second))
	return h
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// until drops the events after end, as if the stream had not reached them.
func (h *handHistory) until(end time.Time) *handHistory {
	c := *h
	c.auth = filter(h.auth, func(e model.AuthEvent) bool { return !e.TS.After(end) })
	c.authn = filter(h.authn, func(e model.Authenticator) bool { return !e.TS.After(end) })
	c.airflow = filter(h.airflow, func(e model.AirflowEvent) bool { return !e.TS.After(end) })
	c.runs = filter(h.runs, func(e model.DagRun) bool { return !e.TS.After(end) })
	return &c
}

func filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func (h *handHistory) write(t testing.TB, w *Warehouse) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, store.Authenticators.Write(ctx, w.S, h.authn))
	require.NoError(t, store.AuthEvents.Write(ctx, w.S, h.auth))
	require.NoError(t, store.AirflowEvents.Write(ctx, w.S, h.airflow))
	require.NoError(t, store.DagRuns.Write(ctx, w.S, h.runs))
}

// stored returns the correlations of version, by action id.
func stored(t testing.TB, w *Warehouse, version string) map[string]model.Correlation {
	t.Helper()
	out := map[string]model.Correlation{}
	err := store.Correlations.Read(context.Background(), w.S, "WHERE policy_version = ?", []any{version}, func(c model.Correlation) error {
		out[c.ActionID] = c
		return nil
	})
	require.NoError(t, err)
	return out
}

func rawCount(t testing.TB, w *Warehouse, version string) int64 {
	n, err := store.CountRows(context.Background(), w.S, "SELECT count() FROM correlations FINAL WHERE policy_version = ?", version)
	require.NoError(t, err)
	return n
}

func checkVerdicts(t *testing.T, h *handHistory, got map[string]model.Correlation) {
	t.Helper()
	for id, v := range h.want {
		c, ok := got[id]
		if !ok {
			t.Errorf("action %s: no correlation", id)
			continue
		}
		if c.Verdict != v {
			t.Errorf("action %s: verdict %s, want %s (%s)", id, c.Verdict, v, c.Reason)
		}
		if from, ok := h.inherits[id]; ok {
			require.Equal(t, from, c.InheritedFrom, id)
			require.Equal(t, model.VerdictVerified, c.InheritedVerdict, id)
		}
		require.Equal(t, h.triggers[id], c.TriggerActionID, "%s: only a manual run names its trigger", id)
		if trig, ok := h.triggers[id]; ok {
			require.Empty(t, c.InheritedFrom, id)
			require.Equal(t, got[trig].Verdict, c.Verdict, "%s carries its trigger's verdict", id)
			require.Equal(t, got[trig].Person, c.Person, id)
		}
	}
	for id := range got {
		_, ok := h.want[id]
		require.True(t, ok, "unexpected correlation %s", id)
	}
}

func TestCorrelateHandHistory(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHandHistory()
			h.write(t, w)
			p := correlate.DefaultPolicy()
			now := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
			from, to := t0.Add(-time.Hour), t0.Add(24*time.Hour)
			var progress [][2]int
			res, err := w.Correlate(ctx, p, CorrelateOptions{From: from, To: to, Now: func() time.Time { return now }, WriteRows: 5,
				Progress: func(d, n int) { progress = append(progress, [2]int{d, n}) }})
			require.NoError(t, err)
			require.Equal(t, len(h.want), res.Actions)
			require.Equal(t, p.Version(), res.PolicyVersion)
			require.Len(t, progress, (len(h.want)+4)/5)
			require.Equal(t, [2]int{len(h.want), len(h.want)}, progress[len(progress)-1])
			got := stored(t, w, p.Version())
			checkVerdicts(t, h, got)
			sum := 0
			for v, n := range res.Verdicts {
				sum += n
				require.Positive(t, n, v)
			}
			require.Equal(t, res.Actions, sum)
			require.Len(t, res.Verdicts, len(model.Verdicts), "every verdict is covered")
			c := got["prod:101"]
			require.Equal(t, now, c.ComputedAt.UTC())
			require.Equal(t, "okta/acme/auth-alice-095500.000-0302", c.AssertionID)
			require.Equal(t, int64(5*60*1000), c.AssertionAgeMS)
			require.Equal(t, "YubiKey 5 NFC", c.AuthenticatorModel)
			cur, err := w.CurrentPolicy(ctx)
			require.NoError(t, err)
			require.Equal(t, p.Version(), cur)

			// re-running is idempotent; the late assertion flips dave's trigger.
			require.NoError(t, store.AuthEvents.Write(ctx, w.S, []model.AuthEvent{h.lateAuth}))
			res2, err := w.Correlate(ctx, p, CorrelateOptions{From: from, To: to})
			require.NoError(t, err)
			require.Equal(t, res.Actions, res2.Actions)
			require.EqualValues(t, res.Actions, rawCount(t, w, p.Version()))
			h.want[h.lateID] = model.VerdictVerified
			checkVerdicts(t, h, stored(t, w, p.Version()))

			// zero bounds correlate everything stored: the old unpause too.
			res3, err := w.Correlate(ctx, p, CorrelateOptions{})
			require.NoError(t, err)
			require.Equal(t, res.Actions+2, res3.Actions, "plus the old unpause and the action at the period's end")

			// a new policy version writes beside the old one.
			p2 := correlate.DefaultPolicy()
			p2.MaxAge.Privileged = 3 * time.Hour
			res4, err := w.Correlate(ctx, p2, CorrelateOptions{From: from, To: to})
			require.NoError(t, err)
			require.NotEqual(t, p.Version(), res4.PolicyVersion)
			require.EqualValues(t, res3.Actions, rawCount(t, w, p.Version()), "old version kept")
			require.EqualValues(t, res4.Actions, rawCount(t, w, p2.Version()))
			require.Equal(t, model.VerdictVerified, stored(t, w, p2.Version())["prod:102"].Verdict, "bob's 2 h old tap counts under max_age 3h")
			cur, err = w.CurrentPolicy(ctx)
			require.NoError(t, err)
			require.Equal(t, p2.Version(), cur)
		})
	}
}

// webhook is a local HTTP endpoint collecting alert payloads.
type webhook struct {
	mu     sync.Mutex
	bodies []string
	srv    *httptest.Server
}

func newWebhook(t testing.TB) *webhook {
	wh := &webhook{}
	wh.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		wh.mu.Lock()
		wh.bodies = append(wh.bodies, string(b))
		wh.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(wh.srv.Close)
	return wh
}

func (wh *webhook) all() string {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return strings.Join(wh.bodies, "\n")
}

func newNotifier(t testing.TB, w *Warehouse, url string) *alert.Notifier {
	cfg, err := alert.Load(strings.NewReader("retry: {attempts: 2, initial_backoff: 10ms}\nrate_limit: {max: 1000, burst: 100}\ntargets:\n  - name: hook\n    webhook:\n      url: " + url + "\n"))
	require.NoError(t, err)
	n, err := alert.New(cfg, alert.Options{Recorder: w.AlertRecorder(), HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	require.NoError(t, err)
	return n
}

func TestCorrelateAlerts(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHandHistory()
			h.write(t, w)
			wh := newWebhook(t)
			n := newNotifier(t, w, wh.srv.URL)
			p := correlate.DefaultPolicy()
			res, err := w.Correlate(ctx, p, CorrelateOptions{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour), Notifier: n})
			require.NoError(t, err)
			require.Zero(t, res.AlertErrors)
			require.NoError(t, n.Close(ctx))
			got := stored(t, w, p.Version())
			body := wh.all()
			var firing []string
			for id, c := range got {
				bad := c.Privileged && alert.Unverified(c)
				require.Equal(t, bad, strings.Contains(body, `"`+id+`"`), "action %s (%s, privileged %v) alerted", id, c.Verdict, c.Privileged)
				if bad {
					firing = append(firing, id)
				}
			}
			require.NotEmpty(t, firing)
			require.Contains(t, firing, h.weakRun, "a manual run alerts like its weak trigger")
			require.Contains(t, body, `"trigger_action_id":"`+h.triggers[h.weakRun]+`"`)
			alerts, err := store.Alerts.All(ctx, w.S, "ORDER BY action_id")
			require.NoError(t, err)
			require.Len(t, alerts, len(firing))
			for _, a := range alerts {
				require.Equal(t, model.AlertFiring, a.Status)
				require.Equal(t, "hook", a.Target)
				require.False(t, a.SentAt.IsZero(), "alert %s delivered", a.ActionID)
				require.Contains(t, firing, a.ActionID)
			}
		})
	}
}

func TestLiveLateAssertion(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			// the stream has reached dave's trigger; his tap is yet to come.
			h := newHandHistory().until(t0.Add(3 * time.Hour))
			h.write(t, w)
			wh := newWebhook(t)
			n := newNotifier(t, w, wh.srv.URL)
			p := correlate.DefaultPolicy()
			l, err := w.NewLive(ctx, p, LiveOptions{Notifier: n, BatchSize: 1})
			require.NoError(t, err)
			// state warm from the stored history; actions before t0+3h are batch's.
			require.NoError(t, l.Preload(ctx, t0.Add(3*time.Hour)))
			got := stored(t, w, p.Version())
			require.Equal(t, model.VerdictNoAssertion, got[h.lateID].Verdict, "provisional verdict written")
			_, old := got["prod:101"]
			require.False(t, old, "actions before since are not written")
			require.NoError(t, n.Flush(ctx))
			require.Contains(t, wh.all(), `"`+h.lateID+`"`)

			// the late assertion arrives (ingest calls Add) and flips the verdict.
			require.NoError(t, l.Add(ctx, &h.lateAuth))
			require.NoError(t, l.Sync(ctx))
			c := stored(t, w, p.Version())[h.lateID]
			require.Equal(t, model.VerdictVerified, c.Verdict, c.Reason)
			require.Equal(t, "okta/acme/"+h.lateAuth.EventID, c.AssertionID)

			// Poll sees rows stored later (here: a new action by alice).
			ev := model.AirflowEvent{Instance: "prod", EventLogID: 900, TS: t0.Add(3*time.Hour + time.Minute), Event: "clear", Channel: model.ChannelUI,
				Action: model.ActionClear, Human: true, Actor: "okta_alice", Person: "alice", DagID: "etl", MapIndex: -1}
			require.NoError(t, store.AirflowEvents.Write(ctx, w.S, []model.AirflowEvent{ev}))
			nread, err := l.Poll(ctx)
			require.NoError(t, err)
			require.Positive(t, nread)
			require.Equal(t, model.VerdictStale, stored(t, w, p.Version())["prod:900"].Verdict)

			require.NoError(t, l.Close(ctx))
			require.NoError(t, n.Close(ctx))
			st := l.Stats()
			require.Equal(t, 1, st.Final[model.VerdictVerified], "dave's trigger final verified")
			cur, err := w.CurrentPolicy(ctx)
			require.NoError(t, err)
			require.Equal(t, p.Version(), cur)

			alerts, err := store.Alerts.All(ctx, w.S, "WHERE action_id = ?", h.lateID)
			require.NoError(t, err)
			require.Len(t, alerts, 1)
			require.Equal(t, model.AlertResolved, alerts[0].Status, "the late assertion resolved the alert")
			require.Contains(t, wh.all(), "resolved")
		})
	}
}

// randomEvents fills every field of n events of each kind by reflection:
// from a small vocabulary where the field's values mean something to the
// correlator (so that verdicts of every kind come out), else from a pool of
// arbitrary values. Times lie in [base, base+span), in milliseconds.
func randomEvents(rng *rand.Rand, n int, base time.Time, span time.Duration) *handHistory {
	vocab := map[string][]string{
		"Source":               {string(model.SourceOkta), string(model.SourceEntra)},
		"Instance":             {"acme", "prod"},
		"Person":               {"", "p1", "p2", "p3", "p4"},
		"AirflowEvent.Person":  {"", "p1", "p2", "p3", "p4", "p9"}, // p9 never signs in
		"Category":             {string(model.CategoryLogin), string(model.CategoryMFA), string(model.CategorySession), ""},
		"Outcome":              {string(model.OutcomeSuccess), string(model.OutcomeSuccess), string(model.OutcomeFailure)},
		"Factor":               {string(model.FactorWebAuthn), string(model.FactorWebAuthn), string(model.FactorPassword), string(model.FactorTOTP), string(model.FactorNone), string(model.FactorPasskeySynced), string(model.FactorPlatform), ""},
		"Principal":            {"", string(model.PrincipalUser), string(model.PrincipalUser), string(model.PrincipalService), string(model.PrincipalSystem)},
		"AAGUID":               {"", "", yubikey, "00000000-0000-0000-0000-000000000001"},
		"CredentialID":         {"", "c1", "c2", "c3"},
		"Authenticator.Action": {model.AuthenticatorRegister, model.AuthenticatorRemove, "other"},
		"AirflowEvent.Action": {string(model.ActionTrigger), string(model.ActionTrigger), string(model.ActionUnpause), string(model.ActionBackfill),
			string(model.ActionView), string(model.ActionClear), string(model.ActionTaskState), string(model.ActionPause)},
		"Channel":        {string(model.ChannelUI), string(model.ChannelAPI), string(model.ChannelCLI)},
		"DagID":          {"", "d1", "d2"},
		"TaskID":         {"", "", "", "t1"},
		"Extra":          {"", "", `{"run_id": "r1"}`, `{"dag_run_id": "r2"}`, "[('dag_id', 'd1')]"},
		"RunType":        {model.RunManual, model.RunScheduled, model.RunBackfill, model.RunDatasetTriggered, ""},
		"TriggeredBy":    {"", "ui", "rest_api", "cli"},
		"TriggeringUser": {"", "", "u1"},
		"Model":          {"", "YubiKey 5"},
	}
	var id int64
	fill := func(v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			f, name := v.Field(i), t.Field(i).Name
			switch {
			case name == "EventID":
				id++
				f.SetString("e" + itoa(id))
			case name == "RunID": // runs are keyed by it: many, and some named by triggers
				if t.Name() == "DagRun" || rng.IntN(2) == 0 {
					f.SetString("r" + itoa(rng.Int64N(50)))
				}
			case name == "EventLogID":
				id++
				f.SetInt(id)
			case f.Kind() == reflect.String:
				vs := vocab[t.Name()+"."+name]
				if vs == nil {
					vs = vocab[name]
				}
				if vs == nil {
					vs = []string{"", "x", "y"}
				}
				f.SetString(vs[rng.IntN(len(vs))])
			case f.Kind() == reflect.Bool:
				f.SetBool(rng.IntN(5) != 0)
			case f.Kind() == reflect.Int64:
				f.SetInt(rng.Int64N(3) - 1)
			case f.Type() == reflect.TypeFor[*bool]():
				if k := rng.IntN(3); k < 2 {
					f.Set(reflect.ValueOf(model.Bool(k == 1)))
				}
			case f.Type() == reflect.TypeFor[time.Time]():
				f.Set(reflect.ValueOf(base.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond)))
			case f.Type() == reflect.TypeFor[[]string]():
				f.Set(reflect.ValueOf([]string{"x"}[:rng.IntN(2)]))
			}
		}
	}
	h := &handHistory{}
	for range n {
		var a model.AuthEvent
		var r model.Authenticator
		var e model.AirflowEvent
		var d model.DagRun
		fill(reflect.ValueOf(&a).Elem())
		fill(reflect.ValueOf(&r).Elem())
		fill(reflect.ValueOf(&e).Elem())
		fill(reflect.ValueOf(&d).Elem())
		h.auth, h.authn, h.airflow, h.runs = append(h.auth, a), append(h.authn, r), append(h.airflow, e), append(h.runs, d)
	}
	return h
}

// TestCorrelateMatchesBatch is the differential test of the store path:
// random events with every column filled are stored, and Correlate (time
// windows, narrow projections, row filters, correlate.Sweep) must write, for
// each action of a period in their middle, exactly the correlation
// correlate.Batch gives over every stored event read back with every column.
// A correlator that starts reading a column the projections leave out
// fails here.
func TestCorrelateMatchesBatch(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			h := randomEvents(rand.New(rand.NewPCG(13, 13)), 3000, base, 72*time.Hour)
			h.write(t, w)
			p := correlate.DefaultPolicy()
			p.Lookback = 20 * time.Hour // the period's context window is exercised
			p.TriggerWindow = 2 * time.Hour
			p.AAGUID.Deny = []string{"00000000-0000-0000-0000-000000000001"}
			from, to := base.Add(30*time.Hour), base.Add(54*time.Hour)
			res, err := w.Correlate(ctx, p, CorrelateOptions{From: from, To: to, WriteRows: 100, PageRows: 200})
			require.NoError(t, err)

			all, err := correlate.Batch(ctx, p, storedInput(t, w))
			require.NoError(t, err)
			want := map[string]model.Correlation{}
			counts := map[model.Verdict]int{}
			for _, c := range all {
				if !c.ActionTS.Before(from) && c.ActionTS.Before(to) {
					want[c.ActionID] = c
					counts[c.Verdict]++
				}
			}
			t.Logf("%d actions: %v", len(want), counts)
			for _, v := range model.Verdicts {
				require.Positive(t, counts[v], "the random history covers %s", v)
			}
			got := stored(t, w, p.Version())
			require.Equal(t, len(want), res.Actions)
			require.Len(t, got, len(want))
			for id, c := range want {
				g := got[id]
				g.ComputedAt = time.Time{}
				require.Equal(t, c, g, id)
			}
		})
	}
}

// TestCorrelateReadFailure: when an event read fails mid-run (here the
// authentications table is dropped after the first batch is written),
// Correlate fails, and every correlation it wrote before is the one a
// complete run gives: nothing judged without its events is written.
func TestCorrelateReadFailure(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			h := randomEvents(rand.New(rand.NewPCG(17, 17)), 2000, base, 72*time.Hour)
			h.write(t, w)
			p := correlate.DefaultPolicy()
			p.Lookback = 20 * time.Hour
			from, to := base.Add(24*time.Hour), base.Add(72*time.Hour)
			want, err := correlate.Batch(ctx, p, storedInput(t, w))
			require.NoError(t, err)
			wantByID := map[string]model.Correlation{}
			for _, c := range want {
				wantByID[c.ActionID] = c
			}

			dropped := false
			_, err = w.Correlate(ctx, p, CorrelateOptions{From: from, To: to, WriteRows: 10, PageRows: 1, Progress: func(int, int) {
				if !dropped {
					dropped = true
					require.NoError(t, w.S.Exec(ctx, "DROP TABLE auth_events"))
				}
			}})
			require.Error(t, err)
			require.True(t, dropped)
			got := stored(t, w, p.Version())
			require.NotEmpty(t, got)
			require.Less(t, len(got), len(wantByID))
			for id, c := range got {
				c.ComputedAt = time.Time{}
				require.Equal(t, wantByID[id], c, id)
			}
			cur, err := w.CurrentPolicy(ctx)
			require.NoError(t, err)
			require.Empty(t, cur, "a failed run does not make its policy current")
		})
	}
}

// storedInput reads every stored event back with every column.
func storedInput(t testing.TB, w *Warehouse) correlate.Input {
	ctx := context.Background()
	auth, err := store.AuthEvents.All(ctx, w.S, "")
	require.NoError(t, err)
	authn, err := store.Authenticators.All(ctx, w.S, "")
	require.NoError(t, err)
	airflow, err := store.AirflowEvents.All(ctx, w.S, "")
	require.NoError(t, err)
	runs, err := store.DagRuns.All(ctx, w.S, "")
	require.NoError(t, err)
	return correlate.SliceInput(auth, authn, airflow, runs)
}
