package warehouse

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/evidence"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
)

// TestExceptionMacros holds {{exception}} and {{tier}} to report.IsException
// and report.TierOf over every kind, privilege, verdict and inherited
// verdict, on both engines.
func TestExceptionMacros(t *testing.T) {
	ctx := context.Background()
	var cs []model.Correlation
	want := map[string][2]int64{}
	for _, kind := range []string{model.KindAudit, model.KindRun} {
		for _, priv := range []bool{false, true} {
			for _, v := range model.Verdicts {
				for _, inh := range append([]model.Verdict{""}, model.Verdicts...) {
					c := model.Correlation{ActionID: fmt.Sprintf("%s/%v/%s/%s", kind, priv, v, inh), ActionTS: repFrom, Kind: kind, Privileged: priv,
						Verdict: v, InheritedVerdict: inh, PolicyVersion: "macros"}
					cs = append(cs, c)
					exc := int64(0)
					if report.IsException(c) {
						exc = 1
					}
					want[c.ActionID] = [2]int64{exc, int64(report.TierOf(c))}
				}
			}
		}
	}
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, store.Correlations.Write(ctx, w.S, cs))
			rows, err := w.S.Query(ctx, exceptionMacros.Replace("SELECT action_id, toInt64({{exception}}), toInt64({{tier}}), toInt64({{unattributed}}) FROM correlations FINAL WHERE policy_version = ?"), "macros")
			require.NoError(t, err)
			defer rows.Close()
			n := 0
			for rows.Next() {
				var id string
				var exc, tier, unattr int64
				require.NoError(t, rows.Scan(&id, &exc, &tier, &unattr))
				require.Equal(t, want[id], [2]int64{exc, tier}, id)
				require.Equal(t, tier == int64(report.TierUnattributed), unattr == 1, id)
				n++
			}
			require.NoError(t, rows.Err())
			require.Equal(t, len(want), n)
		})
	}
}

// TestOverviewEqualsPack: the console's overview of a period (one aggregate
// query) is the summary the evidence pack computes from its rows, and its
// numbers are those of the pack's files.
func TestOverviewEqualsPack(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seedHistory(t, w)
			api := w.API()
			q := report.Query{From: repFrom, To: repTo}
			ov, err := api.Overview(ctx, "", q)
			require.NoError(t, err)
			require.Equal(t, repPolicy, ov.PolicyVersion)
			src, err := w.ReportSource(ctx, "")
			require.NoError(t, err)
			want, cov, err := report.Summarize(ctx, report.RowTallies(src), q, 0)
			require.NoError(t, err)
			require.Equal(t, want, ov.Summary)
			require.Equal(t, cov, ov.Coverage)
			require.NotZero(t, ov.Summary.Exceptions)
			require.NotEmpty(t, ov.Summary.ExceptionsBy.UnattributedDAGs)
			require.NotZero(t, ov.Summary.Coverage.Gaps)

			dir := t.TempDir()
			_, err = w.Report(ctx, reportOptions(repKey), dir, nil)
			require.NoError(t, err)
			exc := readCSV(t, filepath.Join(dir, report.FileExceptions))
			require.EqualValues(t, len(exc)-1, ov.Summary.Exceptions)
			pop := readCSV(t, filepath.Join(dir, report.FilePopulationCSV))
			require.EqualValues(t, len(pop)-1, ov.Summary.Actions)

			// A period without actions, and a store without a policy.
			empty, err := api.Overview(ctx, "", report.Query{From: repTo.AddDate(1, 0, 0), To: repTo.AddDate(1, 1, 0)})
			require.NoError(t, err)
			require.Zero(t, empty.Summary.Actions)
			latest, err := api.LatestAction(ctx, "")
			require.NoError(t, err)
			require.Equal(t, repTo, latest, "the latest action (seedHistory's edge of the period)")
		})
	}
}

// TestExceptionPages: the exception pages, followed to the end, list every
// exception but the unattributed runs, most severe first, each tier in
// time order; counts and per-DAG groups agree with the summary; filters
// keep what they name; and the exceptions streamed in time order are the
// pack's exceptions.csv byte for byte.
func TestExceptionPages(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seeded := seedHistory(t, w)
			api := w.API()
			inPeriod := sortedCorrelations(seeded, "")
			pages := func(f evidence.Filter) ([]model.Correlation, evidence.ExceptionPage) {
				t.Helper()
				var all []model.Correlation
				var first evidence.ExceptionPage
				var after *evidence.ExceptionCursor
				for i := 0; ; i++ {
					if after != nil { // the cursor survives its text form
						c, err := evidence.ParseExceptionCursor(after.String())
						require.NoError(t, err)
						after = &c
					}
					p, err := api.Exceptions(ctx, f, after)
					require.NoError(t, err)
					if i == 0 {
						first = p
					}
					require.Equal(t, first.Counts, p.Counts)
					all = append(all, p.Items...)
					if p.Next == nil {
						return all, first
					}
					require.Len(t, p.Items, f.Limit)
					after = p.Next
				}
			}
			expect := func(keep func(model.Correlation) bool) []model.Correlation {
				var out []model.Correlation
				for _, c := range inPeriod {
					if report.IsException(c) && report.TierOf(c) != report.TierUnattributed && keep(c) {
						out = append(out, c)
					}
				}
				slices.SortStableFunc(out, func(a, b model.Correlation) int { return int(report.TierOf(a)) - int(report.TierOf(b)) })
				return out
			}
			ids := func(cs []model.Correlation) []string {
				out := make([]string, len(cs))
				for i, c := range cs {
					out[i] = c.ActionID
				}
				return out
			}

			ov, err := api.Overview(ctx, "", report.Query{From: repFrom, To: repTo})
			require.NoError(t, err)
			got, p := pages(evidence.Filter{From: repFrom, To: repTo, Limit: 3})
			require.Equal(t, ids(expect(func(model.Correlation) bool { return true })), ids(got))
			require.Equal(t, ov.Summary.ExceptionsBy.ExceptionCounts, p.Counts)
			require.Equal(t, ov.Summary.ExceptionsBy.UnattributedDAGs, p.Unattributed)

			for _, tc := range []struct {
				name string
				f    evidence.Filter
				keep func(model.Correlation) bool
			}{
				{"verdict", evidence.Filter{Verdicts: []model.Verdict{model.VerdictStale, model.VerdictInherited}},
					func(c model.Correlation) bool {
						return c.Verdict == model.VerdictStale || c.Verdict == model.VerdictInherited
					}},
				{"instance", evidence.Filter{Instance: "staging"}, func(c model.Correlation) bool { return c.Instance == "staging" }},
				{"person", evidence.Filter{Person: hostile[2] + "@example.com"}, func(c model.Correlation) bool { return c.Person == hostile[2]+"@example.com" }},
				{"dag", evidence.Filter{DagID: "etl_" + hostile[4]}, func(c model.Correlation) bool { return c.DagID == "etl_"+hostile[4] }},
				{"class", evidence.Filter{Actions: []model.ActionClass{model.ActionTrigger}}, func(c model.Correlation) bool { return c.Action == model.ActionTrigger }},
				{"tier", evidence.Filter{Tiers: []report.Tier{report.TierHuman}}, func(c model.Correlation) bool { return report.TierOf(c) == report.TierHuman }},
			} {
				f := tc.f
				f.From, f.To, f.Limit = repFrom, repTo, 2
				got, _ := pages(f)
				want := expect(tc.keep)
				require.NotEmpty(t, want, tc.name)
				require.Equal(t, ids(want), ids(got), tc.name)
			}
			_, err = api.Exceptions(ctx, evidence.Filter{From: repFrom, To: repTo, Instance: "nowhere"}, nil)
			require.NoError(t, err)

			// Streamed in time order: the pack's exceptions.csv.
			dir := t.TempDir()
			_, err = w.Report(ctx, reportOptions(repKey), dir, nil)
			require.NoError(t, err)
			var buf bytes.Buffer
			cw := csv.NewWriter(&buf)
			require.NoError(t, cw.Write(report.PopulationHeader))
			require.NoError(t, api.Stream(ctx, evidence.Filter{From: repFrom, To: repTo, Exceptions: true}, func(c model.Correlation) error {
				return report.WriteCSVRow(cw, c)
			}))
			cw.Flush()
			pack, err := os.ReadFile(filepath.Join(dir, report.FileExceptions))
			require.NoError(t, err)
			require.Equal(t, string(pack), buf.String())
		})
	}
}

// TestStreamPages: Stream reads every row across its keyset pages.
func TestStreamPages(t *testing.T) {
	ctx := context.Background()
	w := stores(t)["chdb"]
	var cs []model.Correlation
	for i := range StreamPageRows + 7 {
		cs = append(cs, model.Correlation{ActionID: fmt.Sprintf("p:%06d", i), ActionTS: repFrom.Add(time.Duration(i/3) * time.Second),
			Kind: model.KindAudit, Verdict: model.VerdictVerified, PolicyVersion: "stream"})
	}
	require.NoError(t, store.Correlations.Write(ctx, w.S, cs))
	var got []string
	require.NoError(t, w.API().Stream(ctx, evidence.Filter{PolicyVersion: "stream"}, func(c model.Correlation) error {
		got = append(got, c.ActionID)
		return nil
	}))
	require.Len(t, got, len(cs))
	require.True(t, slices.IsSorted(got))
}
