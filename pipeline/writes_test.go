package pipeline_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
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

// floorAction is a batch of one human trigger, Airflow event log id id.
func floorAction(id int64) *ingest.Batch {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	return &ingest.Batch{Airflow: []model.AirflowEvent{{Instance: "prod", EventLogID: id, TS: t0.Add(time.Duration(id) * time.Second),
		Event: "trigger", Channel: model.ChannelUI, Action: model.ActionTrigger, Human: true, Privileged: true,
		Actor: "nobody", DagID: "etl", MapIndex: -1}}}
}

// TestWritesFloor: while a write is under way, Floor stays below every
// version it stamps, however many writes start and finish after it; once
// none is under way, Floor is above every version stamped. A Live with the
// Floor reads each row once, the row of a write that committed after a
// newer one included, and re-reads nothing between its overlap sweeps.
func TestWritesFloor(t *testing.T) {
	ctx := context.Background()
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
			go func() { _, err := slowSink.Write(ctx, floorAction(1)); done <- err }()
			<-slow.started
			floor := writes.Floor()
			for id := int64(2); id <= 4; id++ {
				_, err := fast.Write(ctx, floorAction(id))
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
			_, err = fast.Write(ctx, floorAction(5))
			require.NoError(t, err)
			require.Equal(t, 1, poll(), "only the new row")
			require.NoError(t, live.Close(ctx))
			st := live.Stats()
			require.EqualValues(t, 11, st.Polled)
			require.EqualValues(t, 5, st.Engine.Events-st.Engine.Ignored, "each action correlated once")
		})
	}
}

// gatedEvents is a correlation.Store whose EventsSince calls from below a
// version the test sets (the Live's overlap re-reads) wait until the test
// opens the gate (and fail when the test is not there to see them start
// within 10 s: the poll itself is waiting for them).
type gatedEvents struct {
	correlation.Store
	below   atomic.Uint64
	waiting chan struct{} // a gated call arrived
	open    chan struct{}
}

func (g *gatedEvents) EventsSince(ctx context.Context, v uint64, fn func(time.Time, any, uint64)) error {
	if v < g.below.Load() {
		select {
		case g.waiting <- struct{}{}:
		case <-time.After(10 * time.Second):
			return errors.New("the re-read was not started beside the poll (the poll waited for it)")
		}
		<-g.open
	}
	return g.Store.EventsSince(ctx, v, fn)
}

// TestLiveSweepBeside: with Floor, the re-read of PollOverlap back (for rows
// other processes committed late) runs beside the polls — a poll hands over
// the rows this process stored while the re-read waits — and a later poll
// hands over what the re-read found: the late row of another process is
// correlated, every action once.
func TestLiveSweepBeside(t *testing.T) {
	ctx := context.Background()
	for name, w := range engines(t) {
		t.Run(name, func(t *testing.T) {
			writes := pipeline.NewWrites(w.NextVersion)
			fast := writes.Sink(w)
			// Another process's writer, whose rows are stamped with the
			// time the test began: they commit below this Live's floor,
			// as a write that took long to commit does.
			began := time.Now()
			other := &warehouse.Warehouse{S: w.S, Versions: store.NewVersions(func() time.Time { return began })}
			var lastFloor atomic.Uint64
			floor := func() uint64 { f := writes.Floor(); lastFloor.Store(f); return f }
			g := &gatedEvents{Store: w, waiting: make(chan struct{}), open: make(chan struct{})}
			const overlap = 6 * time.Second
			live, err := correlation.NewLive(ctx, g, correlate.DefaultPolicy(), correlation.LiveOptions{Floor: floor, PollOverlap: overlap})
			require.NoError(t, err)
			poll := func() int {
				n, err := live.Poll(ctx)
				require.NoError(t, err)
				return n
			}
			require.Zero(t, poll(), "the first poll reads an empty store")
			swept := time.Now()

			_, err = fast.Write(ctx, floorAction(2))
			require.NoError(t, err)
			require.Equal(t, 1, poll(), "action 2")
			_, err = other.Write(ctx, floorAction(1))
			require.NoError(t, err)
			require.Zero(t, poll(), "action 1 committed below the floor: only a re-read finds it")

			time.Sleep(time.Until(swept.Add(overlap / 2))) // the next poll re-reads
			g.below.Store(lastFloor.Load())                // every read from below the last floor is a re-read
			_, err = fast.Write(ctx, floorAction(3))
			require.NoError(t, err)
			require.Equal(t, 1, poll(), "action 3, while the re-read waits")
			<-g.waiting
			close(g.open)
			var n int
			require.Eventually(t, func() bool { n = poll(); return n > 0 }, 30*time.Second, 10*time.Millisecond, "the re-read's rows")
			require.GreaterOrEqual(t, n, 3, "actions 1, 2 and 3 re-read")
			require.NoError(t, live.Close(ctx))
			st := live.Stats()
			require.EqualValues(t, 3, st.Engine.Events-st.Engine.Ignored, "each action correlated once, action 1 included")
		})
	}
}
