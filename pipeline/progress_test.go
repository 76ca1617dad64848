package pipeline_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/memory"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// TestCorrelatorSourcesAtDifferentPaces: the organisation's sources are
// collected at different paces — the identity providers eight hours behind
// the Airflow deployments (Google's Reports API lists activities that
// late), one deployment two hours behind the others — so an action's
// deciding sign-in, registration or enabling unpause is stored hours after
// the action, long after the latest event time passed its deadline. The
// streaming correlator (the real Live on chDB, fed through the in-process
// bus and sink) polls after each step. Finalising by the latest event time
// leaves verdicts that a batch correlate over the same rows does not give;
// with each source's progress (pipeline.Progress over the collectors'
// completeness) every verdict equals batch and the generator's intent, and
// verdicts still become final while the sources run.
func TestCorrelatorSourcesAtDifferentPaces(t *testing.T) {
	o := smallOrg(t)
	p := correlate.DefaultPolicy()
	for _, byProgress := range []bool{false, true} {
		name := "by the latest event time"
		if byProgress {
			name = "by each source's progress"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := embedded(t)
			o.mapping(t, w)
			b := memory.New(0)
			sub := b.Subscribe()
			t.Cleanup(func() { sub.Close(); b.Close() })
			sink := pipeline.NewSink(pipeline.SinkConfig{MaxWait: 10 * time.Millisecond}, sub, newWriter(t, w), pipeline.Options{})
			sctx, stopSink := context.WithCancel(ctx)
			sinkDone := make(chan error, 1)
			go func() { sinkDone <- sink.Run(sctx) }()

			// One feed per source instance, its events in time order.
			groups := map[pipeline.Key][][]bus.Record{}
			for _, recs := range o.files {
				if len(recs) > 0 {
					k := pipeline.Key{Source: recs[0].Source, Instance: recs[0].Instance}
					groups[k] = append(groups[k], recs)
				}
			}
			type feed struct {
				key  pipeline.Key
				name string
				lag  time.Duration
				evs  []timedRecord
				next int
			}
			var feeds []*feed
			var statuses []model.SourceStatus
			for _, k := range slices.SortedFunc(maps.Keys(groups), func(a, b pipeline.Key) int {
				return cmp.Compare(string(a.Source)+"/"+a.Instance, string(b.Source)+"/"+b.Instance)
			}) {
				f := &feed{key: k, name: string(k.Source) + "-" + k.Instance, evs: timedEvents(t, groups[k])}
				switch {
				case k.Source != model.SourceAirflow:
					f.lag = 8 * time.Hour
				case k.Instance == "af-legacy":
					f.lag = 2 * time.Hour
				}
				feeds = append(feeds, f)
				statuses = append(statuses, model.SourceStatus{Name: f.name, Type: string(k.Source), Source: k.Source, Instance: k.Instance})
			}
			require.Greater(t, len(feeds), 3)

			// Each feed's collector reports how far it is complete.
			st := pipeline.NewStatus(statuses)
			var mu sync.Mutex
			complete := map[string]time.Time{}
			names := make([]string, 0, len(feeds))
			for _, f := range feeds {
				names = append(names, f.name)
				st.Probe(f.name, func() pipeline.CollectorState {
					mu.Lock()
					defer mu.Unlock()
					return pipeline.CollectorState{Complete: complete[f.name]}
				})
			}
			progress := pipeline.NewProgress(st, names, nil)

			live, err := correlation.NewLive(ctx, w, p, correlation.LiveOptions{PollOverlap: 10 * time.Second})
			require.NoError(t, err)
			stored := func() map[correlate.SourceKey]time.Time {
				if !byProgress {
					return nil
				}
				sp, err := progress.Stored(ctx)
				require.NoError(t, err)
				return sp
			}
			if sp := stored(); sp != nil {
				require.NoError(t, live.Progress(ctx, sp))
			}
			require.NoError(t, live.Preload(ctx, o.manifest.Start.Add(-24*time.Hour)))

			var last time.Time
			for _, f := range feeds {
				if at := f.evs[len(f.evs)-1].at; at.After(last) {
					last = at
				}
			}
			finalEarly := 0
			for clock := o.manifest.Start; !clock.After(last.Add(9 * time.Hour)); clock = clock.Add(20 * time.Minute) {
				for _, f := range feeds { // each collector publishes what it has reached, 25 a page
					upTo := clock.Add(-f.lag)
					var page []bus.Record
					for f.next < len(f.evs) && !f.evs[f.next].at.After(upTo) {
						page = append(page, f.evs[f.next].rec)
						f.next++
						if len(page) == 25 || f.next == len(f.evs) || f.evs[f.next].at.After(upTo) {
							require.NoError(t, b.Publish(ctx, page...)) // returns once stored
							page = nil
						}
					}
					mu.Lock()
					complete[f.name] = upTo
					mu.Unlock()
				}
				sp := stored() // before the poll: it reads all of it
				_, err := live.Poll(ctx)
				require.NoError(t, err)
				if sp != nil {
					require.NoError(t, live.Progress(ctx, sp))
				}
			}
			for _, f := range feeds {
				require.Equal(t, len(f.evs), f.next, "%s published everything", f.name)
			}
			for _, n := range live.Stats().Final {
				finalEarly += n
			}
			require.NoError(t, live.Close(ctx))
			stopSink()
			require.NoError(t, <-sinkDone)
			requireStoredOnce(t, w, o)

			streamed := correlations(t, w, live.PolicyVersion())
			_, err = correlation.Correlate(ctx, w, p, correlation.CorrelateOptions{})
			require.NoError(t, err)
			batch := correlations(t, w, live.PolicyVersion())
			require.Equal(t, len(batch), len(streamed))
			var diff []string
			for id, c := range batch {
				s := streamed[id]
				if s.Verdict != c.Verdict || s.AssertionID != c.AssertionID || s.TriggerActionID != c.TriggerActionID ||
					s.InheritedFrom != c.InheritedFrom || s.InheritedVerdict != c.InheritedVerdict || s.Reason != c.Reason {
					diff = append(diff, fmt.Sprintf("%s: streaming %s, batch %s", id, s.Verdict, c.Verdict))
				}
			}
			slices.Sort(diff)
			if !byProgress {
				require.NotEmpty(t, diff, "sources hours apart must leave some verdicts final before their deciding event arrived")
				t.Logf("by the latest event time: %d of %d verdicts differ from batch, e.g. %v", len(diff), len(batch), diff[:min(3, len(diff))])
				return
			}
			require.Empty(t, diff, "streaming verdicts that differ from batch, of %d", len(batch))
			require.Greater(t, finalEarly, len(batch)/2, "verdicts become final while the sources run")
			for _, it := range o.org.Intents() {
				require.Equal(t, it.Verdict, streamed[it.ActionID].Verdict, "%s: intent", it.ActionID)
			}
		})
	}
}

// correlations reads the correlations under policy version v, by action.
func correlations(t testing.TB, w *warehouse.Warehouse, v string) map[string]model.Correlation {
	t.Helper()
	out := map[string]model.Correlation{}
	require.NoError(t, store.Correlations.Read(context.Background(), w.S, "WHERE policy_version = ?", []any{v}, func(c model.Correlation) error {
		out[c.ActionID] = c
		return nil
	}))
	return out
}

// TestBusOffsetsCovers: a mark is passed when the stored offsets reach it
// in every partition that held records when it was taken.
func TestBusOffsetsCovers(t *testing.T) {
	mark := pipeline.BusOffsets{"okta": {0: 10, 1: 0}, "airflow": {0: 3}}
	for _, tc := range []struct {
		name   string
		stored pipeline.BusOffsets
		want   bool
	}{
		{"reached everywhere", pipeline.BusOffsets{"okta": {0: 10, 1: -1}, "airflow": {0: 3}}, true},
		{"past it", pipeline.BusOffsets{"okta": {0: 12, 1: 4}, "airflow": {0: 9}}, true},
		{"one partition behind", pipeline.BusOffsets{"okta": {0: 9}, "airflow": {0: 3}}, false},
		{"a topic never committed", pipeline.BusOffsets{"okta": {0: 10}}, false},
		{"nothing committed", pipeline.BusOffsets{"okta": {0: -1}, "airflow": {0: -1}}, false},
		{"empty partitions need nothing", pipeline.BusOffsets{"okta": {0: 10}, "airflow": {0: 3}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.stored.Covers(mark))
		})
	}
	require.True(t, pipeline.BusOffsets{}.Covers(pipeline.BusOffsets{"t": {0: 0}}), "an empty bus is passed")
}
