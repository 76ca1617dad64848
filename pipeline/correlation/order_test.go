package correlation

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/warehouse"
)

// orderTables are the tables a source-order run fills; emptied between runs.
var orderTables = []string{"raw_records", "dead_letters", "conflicts", "auth_events", "authenticators", "airflow_events",
	"dag_runs", "identities", "correlations", "policies", "alerts"}

// permutations returns every order of xs.
func permutations[T any](xs []T) [][]T {
	if len(xs) <= 1 {
		return [][]T{slices.Clone(xs)}
	}
	var out [][]T
	for i := range xs {
		rest := append(slices.Clone(xs[:i]), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]T{xs[i]}, p...))
		}
	}
	return out
}

// sourceOrders returns the orders TestVerdictsIndependentOfSourceOrder
// ingests the sources in: all 120 with KEYTRAIL_ORDER_ALL=1, else one per
// class of orders that can store different rows. An identity provider's
// rows take their persons from its own records and the operator's mapping
// (imported first), never from another provider's; an Airflow row's person
// is whatever the providers ingested before it name. So what is stored
// depends only on the set of providers before Airflow: 2⁴ = 16 classes, each
// taken here with the providers in both their order and its reverse around
// Airflow.
func sourceOrders(idps []model.Source) [][]model.Source {
	all := permutations(append(slices.Clone(idps), model.SourceAirflow))
	if os.Getenv("KEYTRAIL_ORDER_ALL") == "1" {
		return all
	}
	var out [][]model.Source
	for set := range 1 << len(idps) {
		var before, after []model.Source
		for i, s := range idps {
			if set&(1<<i) != 0 {
				before = append(before, s)
			} else {
				after = append(after, s)
			}
		}
		if set%2 == 1 {
			slices.Reverse(before)
			slices.Reverse(after)
		}
		out = append(out, slices.Concat(before, []model.Source{model.SourceAirflow}, after))
	}
	return out
}

// TestVerdictsIndependentOfSourceOrder ingests a small demo organisation's
// sources — Okta, Entra ID, Google, Keycloak and Airflow, after the
// operator's mapping — in different orders (sourceOrders), and requires the
// same correlation of every action each time, from each of the three ways
// verdicts are made:
//
//   - batch: Correlate after the last source;
//   - ingest --correlate: after each source, ResolveOwners and a Live
//     preloaded from the earliest event the source brought (or the earliest
//     action whose owner it identified) — as cmd/keytrail does;
//   - streaming: one Live polling after each source (its grace spans the
//     organisation's period, so arrival order within it is tolerated).
//
// An Airflow row stored before the identity provider's record that names its
// person must not stay unknown_identity.
func TestVerdictsIndependentOfSourceOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	org, err := demo.Generate(demo.Config{People: 8, Days: 2, Seed: 5, ViewsPerDay: 2, TasksPerDAG: 1,
		Instances: []demo.Instance{{Name: "af-prod", Version: demo.Airflow31, Shape: demo.ShapeNDJSON, DAGs: 4},
			{Name: "af-legacy", Version: demo.Airflow210, Shape: demo.ShapeNDJSON, DAGs: 4}}})
	require.NoError(t, err)
	m, err := org.WriteFiles(dir, nil)
	require.NoError(t, err)
	t.Logf("%d files, %d records", len(m.Files), m.Expected.Stored)
	f, err := os.Open(filepath.Join(dir, m.Mapping))
	require.NoError(t, err)
	mapping, err := identity.ParseMapping(f)
	f.Close()
	require.NoError(t, err)
	bySource := map[model.Source][]demo.FileInfo{}
	for _, fi := range m.Files {
		bySource[fi.Source] = append(bySource[fi.Source], fi)
	}
	providers := []model.Source{model.SourceOkta, model.SourceEntra, model.SourceGoogle, model.SourceKeycloak, model.SourceAirflow}
	for _, s := range providers {
		require.NotEmpty(t, bySource[s], "the demo writes %s", s)
	}
	normalizer := func(s model.Source) ingest.Normalizer {
		n, err := sources.Normalizer(s)
		require.NoError(t, err)
		return n
	}

	batchP := correlate.DefaultPolicy()
	ingestP := correlate.DefaultPolicy()
	ingestP.Grace = 11 * time.Minute // its own version
	liveP := correlate.DefaultPolicy()
	liveP.Grace = 30 * 24 * time.Hour // longer than the period: any arrival order is on time
	read := func(t *testing.T, w *warehouse.Warehouse, p correlate.Policy) map[string]model.Correlation {
		got := stored(t, w, p.Version())
		for id, c := range got {
			c.ComputedAt, c.PolicyVersion = time.Time{}, ""
			got[id] = c
		}
		return got
	}

	perms := sourceOrders(providers[:4])
	require.Len(t, permutations(providers), 120)
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var want map[string]model.Correlation
			for _, perm := range perms {
				start := time.Now()
				for _, tbl := range orderTables {
					require.NoError(t, w.S.Exec(ctx, "TRUNCATE TABLE "+tbl))
				}
				require.NoError(t, w.ImportIdentities(ctx, slices.Clone(mapping), time.Now()))
				enr, err := enrich.New(ctx, w, nil)
				require.NoError(t, err)
				live, err := NewLive(ctx, w, liveP, LiveOptions{})
				require.NoError(t, err)
				resolved := 0
				for _, src := range perm {
					var earliest time.Time
					for _, fi := range bySource[src] {
						data, err := os.ReadFile(filepath.Join(dir, fi.Path))
						require.NoError(t, err)
						in := &ingest.Ingester{Normalizer: normalizer(src), Instance: fi.Instance, Sink: w, Enricher: enr,
							Stored: func(_ context.Context, b *ingest.Batch) error {
								for _, ts := range batchTimes(b) {
									if earliest.IsZero() || ts.Before(earliest) {
										earliest = ts
									}
								}
								return nil
							}}
						_, err = in.Ingest(ctx, fi.Path, data)
						require.NoError(t, err)
					}
					_, err := live.Poll(ctx)
					require.NoError(t, err)

					n, first, err := enrich.ResolveOwners(ctx, w)
					require.NoError(t, err)
					resolved += n
					since := earliest
					if !first.IsZero() && first.Before(since) {
						since = first
					}
					il, err := NewLive(ctx, w, ingestP, LiveOptions{})
					require.NoError(t, err)
					require.NoError(t, il.Preload(ctx, since.Add(-ingestP.ClockSkew)))
					require.NoError(t, il.Close(ctx))
				}
				require.NoError(t, live.Close(ctx))
				_, err = Correlate(ctx, w, batchP, CorrelateOptions{})
				require.NoError(t, err)

				batch := read(t, w, batchP)
				if want == nil {
					want = batch
					counts := map[model.Verdict]int{}
					for _, c := range want {
						counts[c.Verdict]++
					}
					t.Logf("%d actions: %v", len(want), counts)
					require.Positive(t, counts[model.VerdictVerified])
				}
				if perm[0] == model.SourceAirflow {
					require.Positive(t, resolved, "%v: Airflow rows stored before their identity", perm)
				}
				require.Equal(t, want, batch, "batch correlate, order %v", perm)
				require.Equal(t, want, read(t, w, ingestP), "ingest --correlate, order %v", perm)
				require.Equal(t, want, read(t, w, liveP), "streaming, order %v", perm)
				t.Logf("%v: same verdicts (%s)", perm, time.Since(start).Round(time.Millisecond))
			}
		})
	}
}

// batchTimes returns the event times of b.
func batchTimes(b *ingest.Batch) []time.Time {
	var out []time.Time
	for _, v := range b.Auth {
		out = append(out, v.TS)
	}
	for _, v := range b.Authenticators {
		out = append(out, v.TS)
	}
	for _, v := range b.Airflow {
		out = append(out, v.TS)
	}
	for _, v := range b.Runs {
		out = append(out, v.TS)
	}
	return out
}
