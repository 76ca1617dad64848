package correlation

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
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// t0 is the hand history's reference time.
var t0 = storetest.HandT0

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// stored returns the correlations of version, by action id.
func stored(t testing.TB, w *warehouse.Warehouse, version string) map[string]model.Correlation {
	t.Helper()
	out := map[string]model.Correlation{}
	err := store.Correlations.Read(context.Background(), w.S, "WHERE policy_version = ?", []any{version}, func(c model.Correlation) error {
		out[c.ActionID] = c
		return nil
	})
	require.NoError(t, err)
	return out
}

func rawCount(t testing.TB, w *warehouse.Warehouse, version string) int64 {
	n, err := store.CountRows(context.Background(), w.S, "SELECT count() FROM correlations FINAL WHERE policy_version = ?", version)
	require.NoError(t, err)
	return n
}

func checkVerdicts(t *testing.T, h *storetest.HandHistory, got map[string]model.Correlation) {
	t.Helper()
	for id, v := range h.Want {
		c, ok := got[id]
		if !ok {
			t.Errorf("action %s: no correlation", id)
			continue
		}
		if c.Verdict != v {
			t.Errorf("action %s: verdict %s, want %s (%s)", id, c.Verdict, v, c.Reason)
		}
		if from, ok := h.Inherits[id]; ok {
			require.Equal(t, from, c.InheritedFrom, id)
			require.Equal(t, model.VerdictVerified, c.InheritedVerdict, id)
		}
		require.Equal(t, h.Triggers[id], c.TriggerActionID, "%s: only a manual run names its trigger", id)
		if trig, ok := h.Triggers[id]; ok {
			require.Empty(t, c.InheritedFrom, id)
			require.Equal(t, got[trig].Verdict, c.Verdict, "%s carries its trigger's verdict", id)
			require.Equal(t, got[trig].Person, c.Person, id)
		}
	}
	for id := range got {
		_, ok := h.Want[id]
		require.True(t, ok, "unexpected correlation %s", id)
	}
}

func TestCorrelateHandHistory(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := storetest.NewHandHistory()
			h.Write(t, w.S)
			p := correlate.DefaultPolicy()
			now := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
			from, to := t0.Add(-time.Hour), t0.Add(24*time.Hour)
			var progress [][2]int
			res, err := Correlate(ctx, w, p, CorrelateOptions{From: from, To: to, Now: func() time.Time { return now }, WriteRows: 5,
				Progress: func(d, n int) { progress = append(progress, [2]int{d, n}) }})
			require.NoError(t, err)
			require.Equal(t, len(h.Want), res.Actions)
			require.Equal(t, p.Version(), res.PolicyVersion)
			require.Len(t, progress, (len(h.Want)+4)/5)
			require.Equal(t, [2]int{len(h.Want), len(h.Want)}, progress[len(progress)-1])
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
			require.NoError(t, store.AuthEvents.Write(ctx, w.S, []model.AuthEvent{h.LateAuth}))
			res2, err := Correlate(ctx, w, p, CorrelateOptions{From: from, To: to})
			require.NoError(t, err)
			require.Equal(t, res.Actions, res2.Actions)
			require.EqualValues(t, res.Actions, rawCount(t, w, p.Version()))
			h.Want[h.LateID] = model.VerdictVerified
			checkVerdicts(t, h, stored(t, w, p.Version()))

			// zero bounds correlate everything stored: the old unpause too.
			res3, err := Correlate(ctx, w, p, CorrelateOptions{})
			require.NoError(t, err)
			require.Equal(t, res.Actions+2, res3.Actions, "plus the old unpause and the action at the period's end")

			// a new policy version writes beside the old one.
			p2 := correlate.DefaultPolicy()
			p2.MaxAge.Privileged = 3 * time.Hour
			res4, err := Correlate(ctx, w, p2, CorrelateOptions{From: from, To: to})
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

func newNotifier(t testing.TB, w *warehouse.Warehouse, url string) *alert.Notifier {
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
			h := storetest.NewHandHistory()
			h.Write(t, w.S)
			wh := newWebhook(t)
			n := newNotifier(t, w, wh.srv.URL)
			p := correlate.DefaultPolicy()
			res, err := Correlate(ctx, w, p, CorrelateOptions{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour), Notifier: n})
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
			require.Contains(t, firing, h.WeakRun, "a manual run alerts like its weak trigger")
			require.Contains(t, body, `"trigger_action_id":"`+h.Triggers[h.WeakRun]+`"`)
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
			h := storetest.NewHandHistory().Until(t0.Add(3 * time.Hour))
			h.Write(t, w.S)
			wh := newWebhook(t)
			n := newNotifier(t, w, wh.srv.URL)
			p := correlate.DefaultPolicy()
			l, err := NewLive(ctx, w, p, LiveOptions{Notifier: n, BatchSize: 1})
			require.NoError(t, err)
			// state warm from the stored history; actions before t0+3h are batch's.
			require.NoError(t, l.Preload(ctx, t0.Add(3*time.Hour)))
			got := stored(t, w, p.Version())
			require.Equal(t, model.VerdictNoAssertion, got[h.LateID].Verdict, "provisional verdict written")
			_, old := got["prod:101"]
			require.False(t, old, "actions before since are not written")
			require.NoError(t, n.Flush(ctx))
			require.Contains(t, wh.all(), `"`+h.LateID+`"`)

			// the late assertion arrives (ingest calls Add) and flips the verdict.
			require.NoError(t, l.Add(ctx, &h.LateAuth))
			require.NoError(t, l.Sync(ctx))
			c := stored(t, w, p.Version())[h.LateID]
			require.Equal(t, model.VerdictVerified, c.Verdict, c.Reason)
			require.Equal(t, "okta/acme/"+h.LateAuth.EventID, c.AssertionID)

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

			alerts, err := store.Alerts.All(ctx, w.S, "WHERE action_id = ?", h.LateID)
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
func randomEvents(rng *rand.Rand, n int, base time.Time, span time.Duration) *storetest.HandHistory {
	vocab := map[string][]string{
		"Source":               {string(model.SourceOkta), string(model.SourceEntra)},
		"Instance":             {"acme", "prod"},
		"Person":               {"", "p1", "p2", "p3", "p4"},
		"AirflowEvent.Person":  {"", "p1", "p2", "p3", "p4", "p9"}, // p9 never signs in
		"Category":             {string(model.CategoryLogin), string(model.CategoryMFA), string(model.CategorySession), ""},
		"Outcome":              {string(model.OutcomeSuccess), string(model.OutcomeSuccess), string(model.OutcomeFailure)},
		"Factor":               {string(model.FactorWebAuthn), string(model.FactorWebAuthn), string(model.FactorPassword), string(model.FactorTOTP), string(model.FactorNone), string(model.FactorPasskeySynced), string(model.FactorPlatform), ""},
		"Principal":            {"", string(model.PrincipalUser), string(model.PrincipalUser), string(model.PrincipalService), string(model.PrincipalSystem)},
		"AAGUID":               {"", "", storetest.HandYubiKey, "00000000-0000-0000-0000-000000000001"},
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
	h := &storetest.HandHistory{}
	for range n {
		var a model.AuthEvent
		var r model.Authenticator
		var e model.AirflowEvent
		var d model.DagRun
		fill(reflect.ValueOf(&a).Elem())
		fill(reflect.ValueOf(&r).Elem())
		fill(reflect.ValueOf(&e).Elem())
		fill(reflect.ValueOf(&d).Elem())
		h.Auth, h.Authn, h.Airflow, h.Runs = append(h.Auth, a), append(h.Authn, r), append(h.Airflow, e), append(h.Runs, d)
	}
	return h
}

// TestCorrelateMatchesBatch is the differential test of the store path:
// random events with every column filled are stored, and Correlate (time
// windows, narrow projections, row filters, correlate.SweepParallel on 1
// and on 3 workers) must write, for
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
			h.Write(t, w.S)
			p := correlate.DefaultPolicy()
			p.Lookback = 20 * time.Hour // the period's context window is exercised
			p.TriggerWindow = 2 * time.Hour
			p.AAGUID.Deny = []string{"00000000-0000-0000-0000-000000000001"}
			from, to := base.Add(30*time.Hour), base.Add(54*time.Hour)
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
			// one worker, and more workers than the machine's cores: each
			// run rewrites every row, the later run's rows are read.
			for _, workers := range []int{1, 3} {
				res, err := Correlate(ctx, w, p, CorrelateOptions{From: from, To: to, WriteRows: 100, PageRows: 200, Workers: workers})
				require.NoError(t, err)
				got := stored(t, w, p.Version())
				require.Equal(t, len(want), res.Actions)
				require.Len(t, got, len(want))
				for id, c := range want {
					g := got[id]
					g.ComputedAt = time.Time{}
					require.Equal(t, c, g, "%d workers: %s", workers, id)
				}
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
			h.Write(t, w.S)
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
			_, err = Correlate(ctx, w, p, CorrelateOptions{From: from, To: to, WriteRows: 10, PageRows: 1, Progress: func(int, int) {
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
func storedInput(t testing.TB, w *warehouse.Warehouse) correlate.Input {
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
