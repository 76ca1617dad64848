package correlate

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// ordered returns h with each stream sorted by time, ties in a random order.
func ordered(h *history, rng *rand.Rand) *history {
	return &history{
		auth:    sortedByTS(h.auth, rng, func(e *model.AuthEvent) time.Time { return e.TS }),
		authn:   sortedByTS(h.authn, rng, func(e *model.Authenticator) time.Time { return e.TS }),
		airflow: sortedByTS(h.airflow, rng, func(e *model.AirflowEvent) time.Time { return e.TS }),
		runs:    sortedByTS(h.runs, rng, func(e *model.DagRun) time.Time { return e.TS }),
	}
}

func sortedByTS[T any](s []T, rng *rand.Rand, ts func(*T) time.Time) []T {
	out := slices.Clone(s)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	slices.SortStableFunc(out, func(a, b T) int { return ts(&a).Compare(ts(&b)) })
	return out
}

// sweep runs Sweep over h (which must be ordered) and returns its
// correlations sorted like Batch's, and the most authentications, credential
// events and enabling actions it held at any compaction. It runs
// SweepParallel over h too, on 2 and 3 workers, and requires the same
// correlations of it, and each worker to hold no more than Sweep.
func sweep(tb testing.TB, p Policy, h *history) ([]model.Correlation, int) {
	tb.Helper()
	out, held := sweepOn(tb, p, h, 1)
	for _, workers := range []int{2, 3} {
		got, wheld := sweepOn(tb, p, h, workers)
		require.Equal(tb, out, got, "%d workers", workers)
		require.LessOrEqual(tb, wheld, max(held, 16), "%d workers: one worker's state", workers)
	}
	return out, held
}

// sweepOn runs SweepParallel on workers over h, as sweep describes.
func sweepOn(tb testing.TB, p Policy, h *history, workers int) ([]model.Correlation, int) {
	tb.Helper()
	var out []model.Correlation
	held, stop := trackHeld()
	defer stop()
	require.NoError(tb, SweepParallel(context.Background(), p, h.input(), workers, func(c model.Correlation) error {
		out = append(out, c)
		return nil
	}))
	sortCorrelations(out)
	return out, held()
}

// trackHeld sets sweepHook to note the most events one worker held at a
// compaction (workers call it concurrently), returned by held; stop unsets it.
func trackHeld() (held func() int, stop func()) {
	var mu sync.Mutex
	most := 0
	sweepHook = func(w *sweeper) {
		mu.Lock()
		defer mu.Unlock()
		most = max(most, w.held())
	}
	return func() int {
			mu.Lock()
			defer mu.Unlock()
			return most
		}, func() {
			sweepHook = nil
		}
}

// TestSweepMatchesBatch is the differential test of the one-pass
// correlator: random histories, each stream in time order with ties
// shuffled, give exactly Batch's correlations, while the state held stays
// bounded by the lookback and max_age (the histories span many of them).
func TestSweepMatchesBatch(t *testing.T) {
	for seed := range uint64(8) {
		p := diffPolicy()
		switch seed % 4 {
		case 1:
			p = DefaultPolicy()
			p.AAGUID.Deny = []string{aaguidDenied}
		case 2:
			p.MaxAge.Classes = map[model.ActionClass]time.Duration{model.ActionView: 2 * time.Hour, model.ActionTrigger: time.Minute}
			p.TriggerWindow = 10 * time.Minute
		}
		h := generate(rand.New(rand.NewPCG(seed, 11)), genConfig{people: 8, events: 12000, span: 96 * time.Hour, policy: p})
		want := batch(t, p, h)
		rng := rand.New(rand.NewPCG(seed, 12))
		for rep := range 2 {
			got, held := sweep(t, p, ordered(h, rng))
			require.Equal(t, len(want), len(got))
			for i := range want {
				require.Equal(t, want[i], got[i], "seed %d rep %d: %s", seed, rep, want[i].ActionID)
			}
			if p.Lookback < 24*time.Hour {
				require.Less(t, held, len(h.auth)/4, "seed %d: state must expire with the lookback", seed)
			}
		}
	}
}

// TestSweepHandHistory holds Sweep to the hand-written verdicts.
func TestSweepHandHistory(t *testing.T) {
	h, w := handHistory()
	p := handPolicy()
	got, _ := sweep(t, p, ordered(h, rand.New(rand.NewPCG(1, 1))))
	checkHand(t, got, w, p.Version())
	require.Equal(t, batch(t, p, h), got)
}

// TestSweepStaleAfterCompaction: an old hardware-backed assertion followed
// by many weak ones is still what an action exactly the lookback later is
// stale on, after the weak ones around it were compacted away (a compaction
// runs as that action arrives); past the lookback it is gone.
func TestSweepStaleAfterCompaction(t *testing.T) {
	p := DefaultPolicy()
	p.Lookback = 48 * time.Hour
	b := &builder{}
	key := b.auth("key", "alice", t0)
	for i := range 200 {
		b.auth("pw"+strconv.Itoa(i), "alice", t0.Add(time.Duration(i+1)*10*time.Minute), factor(model.FactorPassword), hwUnset())
	}
	stale := b.act("alice", t0.Add(p.Lookback), model.ActionClear) // the lookback's edge: still stale
	gone := b.act("alice", t0.Add(49*time.Hour), model.ActionClear)
	got, _ := sweep(t, p, ordered(&b.h, rand.New(rand.NewPCG(2, 2))))
	require.Equal(t, batch(t, p, &b.h), got)
	m := byID(got)
	require.Equal(t, model.VerdictStale, m[stale].Verdict)
	require.Equal(t, key, m[stale].AssertionID)
	require.Equal(t, model.VerdictNoAssertion, m[gone].Verdict)
}

func TestSweepErrors(t *testing.T) {
	ev := func(id int64, ts time.Time) model.AirflowEvent {
		return model.AirflowEvent{Instance: "af", EventLogID: id, TS: ts, Human: true, Action: model.ActionView, Person: "p"}
	}
	errEmit := errors.New("emit failed")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := generate(rand.New(rand.NewPCG(3, 3)), genConfig{people: 4, events: 10000, span: 24 * time.Hour})
	for name, tc := range map[string]struct {
		ctx  context.Context
		p    Policy
		h    *history
		emit error
		want error
	}{
		"invalid policy":   {p: Policy{}, h: &history{}, want: ErrPolicy},
		"out of order":     {h: &history{airflow: []model.AirflowEvent{ev(1, t0), ev(2, t0.Add(-time.Millisecond))}}, want: ErrOutOfOrder},
		"no time":          {h: &history{airflow: []model.AirflowEvent{ev(1, t0), ev(2, time.Time{})}}, want: ErrNoTime},
		"emit fails":       {h: &history{airflow: []model.AirflowEvent{ev(1, t0)}}, emit: errEmit, want: errEmit},
		"context canceled": {ctx: ctx, h: ordered(big, rand.New(rand.NewPCG(4, 4))), want: context.Canceled},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.ctx == nil {
				tc.ctx = context.Background()
			}
			if tc.p.MaxAge.Privileged == 0 && name != "invalid policy" {
				tc.p = DefaultPolicy()
			}
			for _, workers := range []int{1, 2} {
				err := SweepParallel(tc.ctx, tc.p, tc.h.input(), workers, func(model.Correlation) error { return tc.emit })
				require.ErrorIs(t, err, tc.want, "%d workers", workers)
			}
		})
	}
	// an ignored event without a time (a failed sign-in) is no error, as in Batch.
	h := &history{auth: []model.AuthEvent{{Source: model.SourceOkta, EventID: "x", Outcome: model.OutcomeFailure}}}
	for _, workers := range []int{1, 2} {
		require.NoError(t, SweepParallel(context.Background(), DefaultPolicy(), h.input(), workers, func(model.Correlation) error { return nil }))
	}
}

// TestSweepIgnoresCopies: an action delivered twice at its time is judged once.
func TestSweepIgnoresCopies(t *testing.T) {
	h, _ := handHistory()
	once := batch(t, handPolicy(), h)
	dup := ordered(&history{
		auth:    append(slices.Clone(h.auth), h.auth...),
		authn:   append(slices.Clone(h.authn), h.authn...),
		airflow: append(slices.Clone(h.airflow), h.airflow...),
		runs:    append(slices.Clone(h.runs), h.runs...),
	}, rand.New(rand.NewPCG(6, 6)))
	got, _ := sweep(t, handPolicy(), dup)
	require.Equal(t, once, got)
}

// TestSweepCompactionEdges compacts exactly when a run is one instant from
// final: its trigger lies exactly trigger_window before it, and the
// unpause and backfill request it could inherit from are the latest of
// many, at the run plus clock skew, with later ones beside them. Each must
// survive the compaction.
func TestSweepCompactionEdges(t *testing.T) {
	p := DefaultPolicy()
	every := p.MaxAge.Other / 4 // the compaction cadence: the longest max_age / 4
	w := t0.Add(every)          // the compaction: the first event is at t0
	tr := w.Add(-2 * p.ClockSkew)
	b := &builder{}
	b.auth("tick0", "", t0)
	b.auth("key", "alice", tr.Add(-p.TriggerWindow-time.Minute))
	trig := b.act("alice", tr.Add(-p.TriggerWindow), model.ActionTrigger, dagID("etl"))
	manual := b.run("etl", "manual__1", model.RunManual, tr, "", "alice")
	for i := range 3 {
		b.act("alice", t0.Add(time.Duration(i+1)*time.Minute), model.ActionUnpause, dagID("rep"))
		b.act("alice", t0.Add(time.Duration(i+1)*time.Minute), model.ActionBackfill, dagID("bf"))
	}
	// the latest at or before the run plus clock skew counts; one just after does not.
	unpause := b.act("alice", tr.Add(p.ClockSkew), model.ActionUnpause, dagID("rep"))
	backfill := b.act("alice", tr.Add(p.ClockSkew), model.ActionBackfill, dagID("bf"))
	b.act("alice", tr.Add(p.ClockSkew+time.Millisecond), model.ActionUnpause, dagID("rep"))
	b.act("alice", tr.Add(p.ClockSkew+time.Millisecond), model.ActionBackfill, dagID("bf"))
	sched := b.run("rep", "scheduled__1", model.RunScheduled, tr, "", "")
	bf := b.run("bf", "backfill__1", model.RunBackfill, tr, "", "")
	b.auth("tick1", "", w, failed())
	b.auth("tick2", "", w.Add(time.Hour), failed())
	var compactions []time.Time
	sweepHook = func(s *sweeper) { compactions = append(compactions, fromNanos(s.wm)) }
	got, err := func() ([]model.Correlation, error) {
		defer func() { sweepHook = nil }()
		var out []model.Correlation
		err := Sweep(context.Background(), p, ordered(&b.h, rand.New(rand.NewPCG(7, 7))).input(), func(c model.Correlation) error {
			out = append(out, c)
			return nil
		})
		sortCorrelations(out)
		return out, err
	}()
	require.NoError(t, err)
	require.Contains(t, compactions, w)
	require.Equal(t, batch(t, p, &b.h), got)
	m := byID(got)
	require.Equal(t, trig, m[manual].TriggerActionID) // a manual run carries its trigger's verdict
	require.Equal(t, unpause, m[sched].InheritedFrom)
	require.Equal(t, backfill, m[bf].InheritedFrom)
}

// TestSweepParallelInheritsAcrossWorkers: runs owned by one worker take the
// verdicts of enabling actions another worker judges — a scheduled run its
// unpause, a backfill run its request, a manual run without a person its
// trigger — each a verdict that needed the enabler's person's assertions.
func TestSweepParallelInheritsAcrossWorkers(t *testing.T) {
	p := DefaultPolicy()
	// two people on different workers of two, the runs' worker a third.
	alice, bob := "alice", "bob"
	for personHash(alice)%2 == personHash(bob)%2 {
		bob += "+"
	}
	b := &builder{}
	key := b.auth("key", alice, t0)
	b.auth("pw", bob, t0, factor(model.FactorPassword), hwUnset())
	unpause := b.act(alice, t0.Add(time.Minute), model.ActionUnpause, dagID("rep"))
	backfill := b.act(alice, t0.Add(time.Minute), model.ActionBackfill, dagID("bf"))
	trig := b.act(alice, t0.Add(2*time.Minute), model.ActionTrigger, dagID("etl"))
	weak := b.act(bob, t0.Add(2*time.Minute), model.ActionUnpause, dagID("rep2"))
	sched := b.run("rep", "scheduled__1", model.RunScheduled, t0.Add(3*time.Minute), "", bob)
	bf := b.run("bf", "backfill__1", model.RunBackfill, t0.Add(3*time.Minute), "", bob)
	manual := b.run("etl", "manual__1", model.RunManual, t0.Add(3*time.Minute), "", "")
	sched2 := b.run("rep2", "scheduled__1", model.RunScheduled, t0.Add(3*time.Minute), "", alice)
	got, _ := sweep(t, p, ordered(&b.h, rand.New(rand.NewPCG(9, 9))))
	require.Equal(t, batch(t, p, &b.h), got)
	m := byID(got)
	for run, src := range map[string]string{sched: unpause, bf: backfill} {
		require.Equal(t, src, m[run].InheritedFrom, run)
		require.Equal(t, model.VerdictVerified, m[run].InheritedVerdict, run)
		require.Equal(t, key, m[run].AssertionID, run)
	}
	require.Equal(t, trig, m[manual].TriggerActionID)
	require.Equal(t, model.VerdictVerified, m[manual].Verdict)
	require.Equal(t, weak, m[sched2].InheritedFrom)
	require.Equal(t, model.VerdictWeakFactor, m[sched2].InheritedVerdict)
}
