package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/pipeline/correlation"
)

// held is an ingest.Sink that holds each Write until released, then writes
// to the store: a write under way while others start and finish.
type held struct {
	ingest.Sink
	started chan struct{}
	release chan struct{}
}

func (h held) Write(ctx context.Context, b *ingest.Batch) (map[ingest.RecordID]string, error) {
	h.started <- struct{}{}
	<-h.release
	return h.Sink.Write(ctx, b)
}

// TestWritesFloor: while a write is under way, Floor stays below every
// version it stamps, however many writes start and finish after it; once
// none is under way, Floor is above every version stamped. A Live with the
// Floor reads each row once, the row of a write that committed after a
// newer one included, and re-reads nothing between its overlap sweeps.
func TestWritesFloor(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	action := func(id int64) *ingest.Batch {
		return &ingest.Batch{Airflow: []model.AirflowEvent{{Instance: "prod", EventLogID: id, TS: t0.Add(time.Duration(id) * time.Second),
			Event: "trigger", Channel: model.ChannelUI, Action: model.ActionTrigger, Human: true, Privileged: true,
			Actor: "nobody", DagID: "etl", MapIndex: -1}}}
	}
	for name, w := range engines(t) {
		t.Run(name, func(t *testing.T) {
			writes := pipeline.NewWrites(w.NextVersion)
			slow := held{Sink: w, started: make(chan struct{}), release: make(chan struct{})}
			slowSink, fast := writes.Sink(slow), writes.Sink(w)
			p := correlate.DefaultPolicy()
			live, err := correlation.NewLive(ctx, w, p, correlation.LiveOptions{Floor: writes.Floor, PollOverlap: time.Hour})
			require.NoError(t, err)
			poll := func() int {
				n, err := live.Poll(ctx)
				require.NoError(t, err)
				return n
			}
			require.Zero(t, poll(), "the first poll sweeps an empty store")

			done := make(chan error)
			go func() { _, err := slowSink.Write(ctx, action(1)); done <- err }()
			<-slow.started
			floor := writes.Floor()
			for id := int64(2); id <= 4; id++ {
				_, err := fast.Write(ctx, action(id))
				require.NoError(t, err)
				require.Equal(t, floor, writes.Floor(), "the slow write is still under way")
			}
			require.Equal(t, 3, poll(), "the rows committed")
			require.Equal(t, 3, poll(), "read again: the slow write held the floor")
			close(slow.release)
			require.NoError(t, <-done)
			after := writes.Floor()
			v, err := w.MaxEventVersion(ctx)
			require.NoError(t, err)
			require.Greater(t, after, v, "no write under way: above every version")
			require.Greater(t, v, floor)
			require.Equal(t, 4, poll(), "the late commit is read")
			require.Zero(t, poll(), "nothing new")
			_, err = fast.Write(ctx, action(5))
			require.NoError(t, err)
			require.Equal(t, 1, poll(), "only the new row")
			require.NoError(t, live.Close(ctx))
			st := live.Stats()
			require.EqualValues(t, 11, st.Polled)
			require.EqualValues(t, 5, st.Engine.Events-st.Engine.Ignored, "each action correlated once")
		})
	}
}
