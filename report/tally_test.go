package report

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// groupedSource tallies its rows the way a store may: one group per
// combination of the fields Tally documents as read, the exception-only
// fields blanked for rows that are not exceptions.
type groupedSource struct{ *memSource }

func (g groupedSource) Tallies(ctx context.Context, q Query, fn func(Tally) error) error {
	type key struct {
		day, kind, instance, dag, person, actor, policy string
		verdict, inherited                              model.Verdict
		privileged                                      bool
	}
	groups := map[key]*Tally{}
	var order []key
	err := g.Correlations(ctx, q, func(c model.Correlation) error {
		k := key{day: c.ActionTS.UTC().Format(time.DateOnly), kind: c.Kind, policy: c.PolicyVersion, verdict: c.Verdict,
			inherited: c.InheritedVerdict, privileged: c.Privileged}
		if IsException(c) {
			k.instance, k.dag, k.person = c.Instance, c.DagID, c.Person
			if c.Person == "" {
				k.actor = c.Actor
			}
		}
		t := TallyOf(c)
		if cur := groups[k]; cur != nil {
			cur.Count++
			cur.First, cur.Last = minTime(cur.First, t.First), maxTime(cur.Last, t.Last)
			cur.AssertionsAfter += t.AssertionsAfter
			cur.MaxAssertionAfterMS = max(cur.MaxAssertionAfterMS, t.MaxAssertionAfterMS)
			return nil
		}
		// Only the read fields survive grouping: the rest is blanked.
		t.Row = model.Correlation{Kind: c.Kind, Verdict: c.Verdict, InheritedVerdict: c.InheritedVerdict, Privileged: c.Privileged,
			PolicyVersion: c.PolicyVersion, ActionTS: c.ActionTS, Instance: k.instance, DagID: k.dag, Person: k.person, Actor: k.actor}
		groups[k] = &t
		order = append(order, k)
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(order) - 1; i >= 0; i-- { // any order will do
		if err := fn(*groups[order[i]]); err != nil {
			return err
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestSummarizeEqualsPack: the summary of a period, computed from the rows
// one by one or from grouped tallies, is the summary the evidence pack
// prints for that period (but for the pack's own id, organisation and
// sample).
func TestSummarizeEqualsPack(t *testing.T) {
	for name, src := range map[string]*memSource{"fixture": fixtureSource(), "exceptions": exceptionsSource()} {
		t.Run(name, func(t *testing.T) {
			opts := testOptions()
			_, want := writeFixture(t, src, opts)
			q := opts.query()
			for how, ts := range map[string]TallySource{"rows": RowTallies(src), "grouped": groupedSource{src}} {
				got, cov, err := Summarize(context.Background(), ts, q, opts.ClockSkew)
				require.NoError(t, err, how)
				require.Equal(t, src.cov, cov, how)
				w := want
				w.ReportID, w.Organisation, w.Sample = "", "", SampleInfo{}
				// CC7.3 names the pack's sample; every other control is the same.
				require.Len(t, got.Controls, len(w.Controls))
				for i := range w.Controls {
					if w.Controls[i].ID == "CC7.3" {
						require.Equal(t, w.Controls[i].Status, got.Controls[i].Status, how)
						continue
					}
					require.Equal(t, w.Controls[i], got.Controls[i], how)
				}
				w.Controls, got.Controls = nil, nil
				require.Equal(t, w, got, how)
				require.NotZero(t, got.Exceptions, how)
			}
		})
	}
}

func TestSummarizeRefusesEmptyPeriod(t *testing.T) {
	_, _, err := Summarize(context.Background(), RowTallies(fixtureSource()), Query{From: t0, To: t0}, 0)
	require.Error(t, err)
}

// TestTierOf covers every kind, privilege and verdict.
func TestTierOf(t *testing.T) {
	for _, v := range model.Verdicts {
		for _, kind := range []string{model.KindAudit, model.KindRun} {
			for _, priv := range []bool{false, true} {
				c := model.Correlation{Kind: kind, Privileged: priv, Verdict: v}
				want := TierRun
				switch {
				case kind == model.KindAudit && priv:
					want = TierPrivileged
				case kind == model.KindAudit:
					want = TierHuman
				case v == model.VerdictUnattributed:
					want = TierUnattributed
				}
				require.Equal(t, want, TierOf(c), "%s %v %s", kind, priv, v)
				require.NotEqual(t, "unknown", TierOf(c).Title())
			}
		}
	}
}
