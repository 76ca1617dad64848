package correlate

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/stretchr/testify/require"
)

// paced is a history's events as sources that progress at different paces
// deliver them: each source's events in time order, lagging its own delay
// behind the others' — far more than grace.
type paced struct {
	evs   []any
	keys  []int64 // arrival clock of evs[i]: its time plus its source's delay
	src   []SourceKey
	delay map[SourceKey]time.Duration
}

func pace(h *history, rng *rand.Rand, delay map[SourceKey]time.Duration) paced {
	type ev struct {
		key int64
		tie int
		src SourceKey
		ev  any
	}
	var all []ev
	put := func(src SourceKey, ts time.Time, e any) {
		all = append(all, ev{ts.Add(delay[src]).UnixNano(), rng.Int(), src, e})
	}
	// Sign-ins and registrations, audit rows and runs: four feeds, as a
	// collector's streams are (an IdP's log, its inventory; an Airflow
	// deployment's event log, its DAG runs).
	signins, regs := SourceKey{model.SourceOkta, "corp"}, SourceKey{model.SourceOkta, "corp/registrations"}
	audit, runs := SourceKey{model.SourceAirflow, "af"}, SourceKey{model.SourceAirflow, "af/runs"}
	for i := range h.auth {
		put(signins, h.auth[i].TS, &h.auth[i])
	}
	for i := range h.authn {
		put(regs, h.authn[i].TS, &h.authn[i])
	}
	for i := range h.airflow {
		put(audit, h.airflow[i].TS, &h.airflow[i])
	}
	for i := range h.runs {
		put(runs, h.runs[i].TS, &h.runs[i])
	}
	slices.SortFunc(all, func(a, b ev) int {
		if a.key != b.key {
			return int(min(max(a.key-b.key, -1), 1))
		}
		return a.tie - b.tie
	})
	p := paced{delay: delay}
	for _, e := range all {
		p.evs = append(p.evs, e.ev)
		p.keys = append(p.keys, e.key)
		p.src = append(p.src, e.src)
	}
	return p
}

// TestStreamingBySourceProgressMatchesBatch: sources that progress at
// different paces deliver an action's deciding sign-in, registration or
// enabling unpause hours after the action — after the latest event time had
// passed its deadline. Finalising by the latest event time leaves such
// verdicts wrong (the run without Progress proves the test can fail); with
// each source's progress, every verdict is Batch's, nothing is late, and
// state still expires.
func TestStreamingBySourceProgressMatchesBatch(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(3) {
		p := diffPolicy()
		if seed == 2 {
			p = DefaultPolicy()
		}
		h := generate(rand.New(rand.NewPCG(seed, 11)), genConfig{people: 8, events: 6000, span: 72 * time.Hour, policy: p})
		want := batch(t, p, h)
		delay := map[SourceKey]time.Duration{
			{model.SourceOkta, "corp"}:               3 * time.Hour, // a lagging IdP (Google's Reports API)
			{model.SourceOkta, "corp/registrations"}: 90 * time.Minute,
			{model.SourceAirflow, "af"}:              0,
			{model.SourceAirflow, "af/runs"}:         40 * time.Minute,
		}
		pc := pace(h, rand.New(rand.NewPCG(seed, 12)), delay)

		byTime, _, _ := stream(t, p, pc.evs)
		require.NotEqual(t, want, byTime, "seed %d: finalising by the latest event time must get some verdicts wrong here", seed)

		rec := &recorder{}
		e, err := NewEngine(p, rec)
		require.NoError(t, err)
		progress := map[SourceKey]time.Time{}
		for k := range delay {
			progress[k] = time.Time{} // named before anything arrives
		}
		e.Progress(progress)
		finalBeforeFlush := 0
		for i, ev := range pc.evs {
			require.NoError(t, e.Add(ctx, ev))
			if i%50 == 49 || i == len(pc.evs)-1 {
				// Everything before this arrival clock is delivered: each
				// source is complete up to the clock less its delay.
				clock := pc.keys[i] - 1
				for k, d := range delay {
					progress[k] = time.Unix(0, clock).Add(-d)
				}
				e.Progress(progress)
			}
		}
		for _, u := range rec.updates {
			if u.Final {
				finalBeforeFlush++
			}
		}
		st := e.Stats()
		e.Flush()
		got := make([]model.Correlation, 0, len(rec.last))
		finals := map[string]int{}
		for _, u := range rec.updates {
			require.Zero(t, finals[u.ActionID], "update after the final one for %s", u.ActionID)
			if u.Final {
				finals[u.ActionID]++
			}
		}
		for id, u := range rec.last {
			require.True(t, u.Final, "last update of %s is not final", id)
			got = append(got, u.Correlation)
		}
		sortCorrelations(got)
		require.Equal(t, len(want), len(got))
		for i := range want {
			require.Equal(t, want[i], got[i], "seed %d: %s", seed, want[i].ActionID)
		}
		require.Zero(t, st.Late, "seed %d", seed)
		require.Greater(t, finalBeforeFlush, len(want)/2, "seed %d: progress finalises as sources pass", seed)
		require.Equal(t, st.Finality, time.Unix(0, pc.keys[len(pc.keys)-1]-1).UTC().Add(-3*time.Hour), "the slowest source sets the finality watermark")
		if p.Lookback < 24*time.Hour {
			require.Less(t, st.EventsHeld, len(pc.evs)/4, "seed %d: state must expire with the slowest source's progress", seed)
		}
	}
}

// TestEngineProgressIdleSource: a source with no events holds finality only
// until its progress says it is complete past the action; a source named
// without progress holds it entirely.
func TestEngineProgressIdleSource(t *testing.T) {
	p := DefaultPolicy()
	b := &builder{}
	b.act("alice", t0, model.ActionClear)
	b.auth("a1", "alice", t0.Add(-time.Minute))
	act, auth := history1(b)
	e, rec := newTestEngine(t, p)
	idp, idle := SourceKey{model.SourceOkta, "corp"}, SourceKey{model.SourceGoogle, "example.com"}
	af := SourceKey{model.SourceAirflow, "af"}
	e.Progress(map[SourceKey]time.Time{idp: {}, idle: {}, af: {}})
	add(t, e, act, auth, tick(t0.Add(24*time.Hour)))
	require.Equal(t, 1, e.Stats().PendingActions, "no source has progress: nothing is final")
	require.True(t, e.Stats().Finality.IsZero())

	later := t0.Add(24 * time.Hour)
	e.Progress(map[SourceKey]time.Time{idp: later, af: later})
	require.Equal(t, 1, e.Stats().PendingActions, "the idle source has not said how far it is complete")

	deadline := t0.Add(p.ClockSkew + p.Grace)
	e.Progress(map[SourceKey]time.Time{idle: deadline})
	require.Equal(t, 1, e.Stats().PendingActions, "final only once every source is past the deadline")
	e.Progress(map[SourceKey]time.Time{idle: deadline.Add(time.Millisecond), idp: t0}) // progress never moves back
	require.Zero(t, e.Stats().PendingActions)
	require.Equal(t, deadline.Add(time.Millisecond), e.Stats().Finality)
	last := rec.updates[len(rec.updates)-1]
	require.True(t, last.Final)
	require.Equal(t, model.VerdictVerified, last.Verdict)

	// An empty Progress names no source: the latest event time finalises.
	e2, _ := newTestEngine(t, p)
	e2.Progress(nil)
	add(t, e2, act, auth, tick(t0.Add(24*time.Hour)))
	require.Zero(t, e2.Stats().PendingActions)
}
