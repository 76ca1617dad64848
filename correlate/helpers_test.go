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

// history is a set of events of the four kinds.
type history struct {
	auth    []model.AuthEvent
	authn   []model.Authenticator
	airflow []model.AirflowEvent
	runs    []model.DagRun
}

func (h *history) input() Input { return SliceInput(h.auth, h.authn, h.airflow, h.runs) }

// all returns every event with its time, in a stable order.
func (h *history) all() []timed {
	out := make([]timed, 0, len(h.auth)+len(h.authn)+len(h.airflow)+len(h.runs))
	for i := range h.auth {
		out = append(out, timed{h.auth[i].TS, &h.auth[i]})
	}
	for i := range h.authn {
		out = append(out, timed{h.authn[i].TS, &h.authn[i]})
	}
	for i := range h.airflow {
		out = append(out, timed{h.airflow[i].TS, &h.airflow[i]})
	}
	for i := range h.runs {
		out = append(out, timed{h.runs[i].TS, &h.runs[i]})
	}
	return out
}

type timed struct {
	ts time.Time
	ev any
}

// arrival returns the events in an arrival order where each is delayed by at
// most maxDelay of event time: sorted by time + delay. mode 0 is time order,
// 1 uniform random delays, 2 delays of exactly 0 or maxDelay.
func arrival(events []timed, rng *rand.Rand, maxDelay time.Duration, mode int) []any {
	type keyed struct {
		key int64
		i   int
	}
	ks := make([]keyed, len(events))
	for i, e := range events {
		var d int64
		switch mode {
		case 1:
			d = rng.Int64N(int64(maxDelay) + 1)
		case 2:
			if rng.IntN(2) == 0 {
				d = int64(maxDelay)
			}
		}
		ks[i] = keyed{e.ts.UnixNano() + d, i}
	}
	perm := rng.Perm(len(ks)) // random tie order
	rank := make([]int, len(ks))
	for r, i := range perm {
		rank[i] = r
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return rank[a.i] - rank[b.i]
	})
	out := make([]any, len(ks))
	for j, k := range ks {
		out[j] = events[k.i].ev
	}
	return out
}

// recorder is a Sink keeping every update.
type recorder struct {
	updates []Update
	last    map[string]Update
}

func (r *recorder) Correlated(u Update) {
	if r.last == nil {
		r.last = map[string]Update{}
	}
	r.updates = append(r.updates, u)
	r.last[u.ActionID] = u
}

// stream feeds events to a new engine in the given order, flushes, checks
// the update protocol, and returns the final correlation of every action,
// sorted like Batch's.
func stream(tb testing.TB, p Policy, events []any) ([]model.Correlation, *Engine, *recorder) {
	tb.Helper()
	rec := &recorder{}
	e, err := NewEngine(p, rec)
	require.NoError(tb, err)
	ctx := context.Background()
	for _, ev := range events {
		require.NoError(tb, e.Add(ctx, ev))
	}
	e.Flush()
	require.Zero(tb, e.Stats().PendingActions)
	finals := map[string]int{}
	for _, u := range rec.updates {
		require.Zero(tb, finals[u.ActionID], "update after the final one for %s", u.ActionID)
		if u.Final {
			finals[u.ActionID]++
		}
	}
	out := make([]model.Correlation, 0, len(rec.last))
	for id, u := range rec.last {
		require.True(tb, u.Final, "last update of %s is not final", id)
		out = append(out, u.Correlation)
	}
	sortCorrelations(out)
	return out, e, rec
}

func sortCorrelations(cs []model.Correlation) {
	slices.SortFunc(cs, func(a, b model.Correlation) int {
		if c := a.ActionTS.Compare(b.ActionTS); c != 0 {
			return c
		}
		if a.ActionID < b.ActionID {
			return -1
		}
		if a.ActionID > b.ActionID {
			return 1
		}
		return 0
	})
}

func batch(tb testing.TB, p Policy, h *history) []model.Correlation {
	tb.Helper()
	out, err := Batch(context.Background(), p, h.input())
	require.NoError(tb, err)
	return out
}

func byID(cs []model.Correlation) map[string]model.Correlation {
	m := make(map[string]model.Correlation, len(cs))
	for _, c := range cs {
		m[c.ActionID] = c
	}
	return m
}

func rngFor(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
