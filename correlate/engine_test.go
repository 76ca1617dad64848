package correlate

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/stretchr/testify/require"
)

func newTestEngine(tb testing.TB, p Policy) (*Engine, *recorder) {
	tb.Helper()
	rec := &recorder{}
	e, err := NewEngine(p, rec)
	require.NoError(tb, err)
	return e, rec
}

func add(tb testing.TB, e *Engine, evs ...any) {
	tb.Helper()
	for _, ev := range evs {
		require.NoError(tb, e.Add(context.Background(), ev))
	}
}

// tick is an event that only advances the watermark.
func tick(ts time.Time) model.AuthEvent {
	return model.AuthEvent{Source: model.SourceOkta, Instance: "corp", EventID: "tick-" + ts.Format(time.RFC3339Nano), TS: ts, Outcome: model.OutcomeFailure}
}

func history1(b *builder) (model.AirflowEvent, model.AuthEvent) {
	return b.h.airflow[len(b.h.airflow)-1], b.h.auth[len(b.h.auth)-1]
}

func TestEngineLateAssertionRevisesVerdict(t *testing.T) {
	p := DefaultPolicy()
	b := &builder{}
	id := b.act("alice", t0, model.ActionClear)
	a := b.auth("a1", "alice", t0.Add(-time.Minute))
	act, auth := history1(b)
	e, rec := newTestEngine(t, p)

	add(t, e, act)
	require.Len(t, rec.updates, 1)
	require.Equal(t, model.VerdictNoAssertion, rec.updates[0].Verdict)
	require.False(t, rec.updates[0].Final)
	require.Equal(t, 1, e.Stats().PendingActions)

	add(t, e, tick(t0.Add(9*time.Minute)), auth) // 10 min late in event time: within grace
	require.Len(t, rec.updates, 2)
	require.Equal(t, model.VerdictVerified, rec.updates[1].Verdict)
	require.Equal(t, a, rec.updates[1].AssertionID)
	require.False(t, rec.updates[1].Final)

	// an unrelated event does not re-emit.
	add(t, e, tick(t0.Add(10*time.Minute)))
	require.Len(t, rec.updates, 2)

	// the watermark passes t + skew + grace: final.
	add(t, e, tick(t0.Add(10*time.Minute+5*time.Second+time.Millisecond)))
	require.Len(t, rec.updates, 3)
	require.True(t, rec.updates[2].Final)
	require.Equal(t, id, rec.updates[2].ActionID)
	require.Equal(t, model.VerdictVerified, rec.updates[2].Verdict)
	require.Zero(t, e.Stats().PendingActions)
}

// TestEngineGraceEdge: an assertion at exactly t+skew arriving when the
// watermark is exactly t+skew+grace still counts; one event later it would not.
func TestEngineGraceEdge(t *testing.T) {
	p := DefaultPolicy()
	deadline := t0.Add(p.ClockSkew + p.Grace)
	b := &builder{}
	b.act("alice", t0, model.ActionClear)
	b.auth("a1", "alice", t0.Add(p.ClockSkew))
	act, auth := history1(b)

	e, rec := newTestEngine(t, p)
	add(t, e, act, tick(deadline), auth)
	e.Flush()
	require.Equal(t, model.VerdictVerified, rec.last["af:1"].Verdict)
	require.Zero(t, e.Stats().Late)

	e, rec = newTestEngine(t, p)
	add(t, e, act, tick(deadline.Add(time.Millisecond)))
	require.True(t, rec.last["af:1"].Final)
	add(t, e, auth)
	require.Equal(t, model.VerdictNoAssertion, rec.last["af:1"].Verdict, "finalised verdicts stay")
	require.Len(t, rec.updates, 2)
	require.Equal(t, int64(1), e.Stats().Late)
}

// TestEngineRunWaitsForTriggerVerdict: a run's trigger may lie a clock skew
// after it and its assertion another skew after that; the run is not
// finalised before the trigger's verdict is.
func TestEngineRunWaitsForTriggerVerdict(t *testing.T) {
	p := DefaultPolicy()
	b := &builder{}
	runID := b.run("d", "manual__1", model.RunManual, t0, "", "")
	trig := b.act("alice", t0.Add(p.ClockSkew), model.ActionTrigger, dagID("d"))
	b.auth("a1", "alice", t0.Add(2*p.ClockSkew))
	h := &b.h
	e, rec := newTestEngine(t, p)
	add(t, e, h.runs[0], h.airflow[0])
	require.Equal(t, model.VerdictNoAssertion, rec.last[runID].Verdict, "a manual run carries its trigger's verdict")
	require.Equal(t, trig, rec.last[runID].TriggerActionID)
	add(t, e, tick(t0.Add(2*p.ClockSkew+p.Grace)), h.auth[0])
	add(t, e, tick(t0.Add(3*p.ClockSkew+p.Grace)))
	e.Flush()
	require.Equal(t, model.VerdictVerified, rec.last[trig].Verdict)
	require.Equal(t, model.VerdictVerified, rec.last[runID].Verdict, "the trigger's late assertion verifies the run too")
	require.Equal(t, trig, rec.last[runID].TriggerActionID)
	require.Empty(t, rec.last[runID].InheritedFrom)
	require.Equal(t, batch(t, p, h), mustFinals(t, rec))
}

func mustFinals(tb testing.TB, rec *recorder) []model.Correlation {
	tb.Helper()
	var out []model.Correlation
	for _, u := range rec.last {
		require.True(tb, u.Final)
		out = append(out, u.Correlation)
	}
	sortCorrelations(out)
	return out
}

// TestEngineUnpauseRevisesRuns: a run arriving before its unpause, and the
// unpause's verdict changing later, both re-emit the run.
func TestEngineUnpauseRevisesRuns(t *testing.T) {
	p := DefaultPolicy()
	b := &builder{}
	run := b.run("etl", "scheduled__1", model.RunScheduled, t0.Add(time.Minute), "", "")
	up := b.act("alice", t0, model.ActionUnpause, dagID("etl"))
	b.auth("a1", "alice", t0.Add(-time.Minute))
	h := &b.h
	e, rec := newTestEngine(t, p)
	add(t, e, h.runs[0])
	require.Equal(t, model.VerdictUnattributed, rec.last[run].Verdict)
	add(t, e, h.airflow[0])
	require.Equal(t, model.VerdictInherited, rec.last[run].Verdict)
	require.Equal(t, up, rec.last[run].InheritedFrom)
	require.Equal(t, model.VerdictNoAssertion, rec.last[run].InheritedVerdict)
	add(t, e, h.auth[0])
	require.Equal(t, model.VerdictVerified, rec.last[run].InheritedVerdict)
	require.Equal(t, model.VerdictVerified, rec.last[up].Verdict)
	var runUpdates []model.Verdict
	for _, u := range rec.updates {
		if u.ActionID == run {
			runUpdates = append(runUpdates, u.InheritedVerdict)
		}
	}
	require.Equal(t, []model.Verdict{"", model.VerdictNoAssertion, model.VerdictVerified}, runUpdates)
}

// TestEngineRegistrationRevisesVerdict: a registration (or removal) arriving
// late re-judges the people whose assertions used the credential, even when
// the registration names no person.
func TestEngineRegistrationRevisesVerdict(t *testing.T) {
	p := DefaultPolicy()
	b := &builder{}
	b.register("reg", "", "c1", t0.Add(-time.Hour), aaguidYubiKey, "YubiKey 5", model.Bool(true))
	b.auth("a1", "judy", t0, cred("c1"), hwUnset())
	b.act("judy", t0.Add(time.Minute), model.ActionConn)
	b.remove("rm", "", "c1", t0.Add(-time.Minute))
	h := &b.h
	e, rec := newTestEngine(t, p)
	add(t, e, h.auth[0], h.airflow[0])
	require.Equal(t, model.VerdictWeakFactor, rec.last["af:1"].Verdict)
	add(t, e, h.authn[0])
	require.Equal(t, model.VerdictVerified, rec.last["af:1"].Verdict)
	require.Equal(t, "YubiKey 5", rec.last["af:1"].AuthenticatorModel)
	add(t, e, h.authn[1])
	require.Equal(t, model.VerdictWeakFactor, rec.last["af:1"].Verdict)
	require.Contains(t, rec.last["af:1"].Reason, "removed")
}

func TestEngineLateActionIsFinalAtOnce(t *testing.T) {
	p := DefaultPolicy()
	b := &builder{}
	b.act("alice", t0, model.ActionView)
	e, rec := newTestEngine(t, p)
	add(t, e, tick(t0.Add(time.Hour)), b.h.airflow[0])
	require.Len(t, rec.updates, 1)
	require.True(t, rec.updates[0].Final)
	require.Equal(t, int64(1), e.Stats().Late)
	// a redelivery is ignored.
	add(t, e, b.h.airflow[0], &b.h.airflow[0])
	require.Len(t, rec.updates, 1)
	require.Equal(t, int64(3), e.Stats().Ignored) // the tick (a failed authentication) and the two redeliveries
}

func TestEngineExpiresState(t *testing.T) {
	p := DefaultPolicy()
	p.Lookback = time.Hour
	p.MaxAge.Other = time.Hour
	b := &builder{}
	for i := range 50 {
		b.auth("x"+string(rune('a'+i%26))+string(rune('a'+i/26)), "old", t0.Add(time.Duration(i)*time.Second))
	}
	b.act("old", t0.Add(time.Minute), model.ActionUnpause, dagID("etl"))
	b.act("old", t0.Add(time.Minute), model.ActionTrigger, dagID("etl"))
	b.register("reg", "old", "c1", t0, aaguidYubiKey, "k", model.Bool(true))
	e, _ := newTestEngine(t, p)
	for _, ev := range b.h.all() {
		add(t, e, ev.ev)
	}
	st := e.Stats()
	require.Equal(t, 1, st.TrackedPersons)
	require.Equal(t, 50+3, st.EventsHeld)

	// two hours later: the person, their assertions and the trigger are gone;
	// the DAG keeps its latest unpause and the credential its registration.
	later := &builder{}
	later.auth("n1", "new", t0.Add(3*time.Hour))
	add(t, e, later.h.auth[0])
	st = e.Stats()
	require.Equal(t, 1, st.TrackedPersons)
	require.Equal(t, 1+1+1, st.EventsHeld)
	require.Equal(t, 1, st.Credentials)
	require.Equal(t, 1, st.DAGs)
	require.Zero(t, st.PendingActions)
	require.Equal(t, t0.Add(3*time.Hour), st.Watermark)

	// a scheduled run much later still inherits from the old unpause.
	rec := &recorder{}
	e.sink = rec
	r := model.DagRun{Instance: "af", DagID: "etl", RunID: "s1", RunType: model.RunScheduled, TS: t0.Add(3 * time.Hour)}
	add(t, e, r)
	require.Equal(t, "af:1", rec.last["af:etl:s1"].InheritedFrom)
}

func TestEngineErrors(t *testing.T) {
	_, err := NewEngine(Policy{}, &recorder{})
	require.ErrorIs(t, err, ErrPolicy)
	_, err = NewEngine(DefaultPolicy(), nil)
	require.Error(t, err)

	e, rec := newTestEngine(t, DefaultPolicy())
	require.ErrorIs(t, e.Add(context.Background(), "hello"), ErrUnsupported)
	require.ErrorIs(t, e.Add(context.Background(), model.AuthEvent{}), ErrNoTime)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.True(t, errors.Is(e.Add(ctx, tick(t0)), context.Canceled))
	require.Zero(t, e.Stats().Events)
	require.Empty(t, rec.updates)
	require.Equal(t, DefaultPolicy().Version(), e.PolicyVersion())
}

func TestEngineConcurrentUse(t *testing.T) {
	h := generate(rngFor(11), genConfig{people: 4, events: 3000, span: 12 * time.Hour})
	var mu sync.Mutex
	n := 0
	e, err := NewEngine(DefaultPolicy(), SinkFunc(func(Update) { mu.Lock(); n++; mu.Unlock() }))
	require.NoError(t, err)
	evs := arrival(h.all(), rngFor(12), 0, 0)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(evs); i += 4 {
				require.NoError(t, e.Add(context.Background(), evs[i]))
				_ = e.Stats()
			}
		})
	}
	wg.Wait()
	e.Flush()
	require.Positive(t, n)
	require.Equal(t, int64(len(evs)), e.Stats().Events)
}

func TestEngineNilPointer(t *testing.T) {
	e, _ := newTestEngine(t, DefaultPolicy())
	var a *model.AuthEvent
	require.ErrorIs(t, e.Add(context.Background(), a), ErrUnsupported)
}

// TestEngineResolve: every Airflow action and DAG run of the hand history
// (every verdict) arrives without its person, in arrival orders with delays
// within grace, and its person is learned after it (Resolve, a few events
// later, before the watermark passes grace after it): the final verdicts
// equal Batch's over the history with persons.
// Without Resolve they would not; an action already final keeps its verdict.
func TestEngineResolve(t *testing.T) {
	p := DefaultPolicy()
	h, _ := handHistory()
	want := batch(t, p, h)
	ownerless := func(ev any) (any, time.Time, bool) {
		switch v := ev.(type) {
		case *model.AirflowEvent:
			c := *v
			c.Person = ""
			return c, v.TS, v.Person != ""
		case *model.DagRun:
			c := *v
			c.Person = ""
			return c, v.TS, v.Person != ""
		case *model.AuthEvent:
			return ev, v.TS, false
		case *model.Authenticator:
			return ev, v.TS, false
		}
		return ev, time.Time{}, false
	}
	for mode := range 3 {
		for _, lag := range []int{0, 1, 3} {
			evs := arrival(h.all(), rngFor(uint64(10*mode+lag)), p.Grace/2, mode)
			rec := &recorder{}
			e, err := NewEngine(p, rec)
			require.NoError(t, err)
			var learn []timed // resolved lag events after they arrive
			stripped, resolved := 0, 0
			resolve := func(ev any) {
				if e.Resolve(ev) { // not for a redelivered copy
					resolved++
					require.False(t, e.Resolve(ev), "it has a person now")
				}
			}
			var wm time.Time // the latest event time added
			for _, ev := range evs {
				in, ts, named := ownerless(ev)
				if ts.After(wm) {
					wm = ts
				}
				for len(learn) > 0 && (len(learn) > lag || !learn[0].ts.Add(p.Grace).After(wm)) {
					resolve(learn[0].ev)
					learn = learn[1:]
				}
				require.NoError(t, e.Add(context.Background(), in))
				if named {
					stripped++
					learn = append(learn, timed{ts, ev})
				}
			}
			for _, l := range learn {
				resolve(l.ev)
			}
			e.Flush()
			require.Positive(t, stripped)
			require.Positive(t, resolved)
			require.Equal(t, want, mustFinals(t, rec), "mode %d, lag %d", mode, lag)
		}
	}

	// without Resolve the stripped actions are unknown_identity.
	b := &builder{}
	id := b.act("alice", t0, model.ActionClear)
	b.auth("a1", "alice", t0.Add(-time.Minute))
	act, auth := history1(b)
	bare := act
	bare.Person = ""
	e, rec := newTestEngine(t, p)
	add(t, e, auth, bare)
	require.Equal(t, model.VerdictUnknownIdentity, rec.last[id].Verdict)
	require.True(t, e.Resolve(&act))
	require.Equal(t, model.VerdictVerified, rec.last[id].Verdict)
	require.False(t, rec.last[id].Final)

	// a finalised action keeps its verdict.
	e, rec = newTestEngine(t, p)
	add(t, e, auth, bare, tick(t0.Add(p.ClockSkew+p.Grace+time.Millisecond)))
	require.True(t, rec.last[id].Final)
	require.False(t, e.Resolve(act))
	require.Equal(t, model.VerdictUnknownIdentity, rec.last[id].Verdict)
	require.False(t, e.Resolve(model.AuthEvent{}), "not an action")
}
