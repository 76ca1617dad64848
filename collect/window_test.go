package collect_test

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/collect"
)

// windows is a WindowReader that records the windows it is asked for and
// pages each in two.
type windows struct {
	clock clockwork.Clock
	asked []asked
}

type asked struct{ from, to, at time.Time }

func (w *windows) ReadWindow(_ context.Context, from, to time.Time, page string) ([]bus.Record, string, error) {
	if page == "" {
		w.asked = append(w.asked, asked{from, to, w.clock.Now()})
		return nil, "2", nil
	}
	return nil, "", nil
}

// TestWindowStream: the fresh pass reads [head, now) as time passes, the
// settling pass reads the same time again once it is Lag old; each pass's
// windows join without a gap, from the start on, and a restart from any
// saved cursor reads the same windows. Complete never moves back, and
// every minute before it was read after it was lag old.
func TestWindowStream(t *testing.T) {
	start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		lag      time.Duration
		backlog  time.Duration // the clock starts this far after start
		interval time.Duration
		restart  bool
	}{
		{"no lag", 0, 0, time.Minute, false},
		{"lag", 10 * time.Minute, 0, time.Minute, false},
		{"lag and backlog", time.Hour, 6 * time.Hour, 5 * time.Minute, false},
		{"restart after every page", 30 * time.Minute, 2 * time.Hour, time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clockwork.NewFakeClockAt(start.Add(tc.backlog))
			r := &windows{clock: clock}
			s := collect.NewWindowStream("w", r, collect.WindowConfig{Start: start, Lag: tc.lag}, clock)
			cursor := ""
			var complete time.Time
			end := start.Add(tc.backlog + 3*time.Hour)
			for clock.Now().Before(end) {
				p, err := s.Next(context.Background(), cursor)
				require.NoError(t, err)
				require.False(t, p.Position.After(clock.Now()))
				require.False(t, p.Complete.Before(complete), "complete moved back")
				require.False(t, p.Complete.After(p.Position))
				if p.Complete.After(start) {
					require.False(t, p.Complete.After(clock.Now().Add(-tc.lag)), "complete within the lag window")
				}
				if tc.lag == 0 {
					require.Equal(t, p.Position, p.Complete)
				}
				complete = p.Complete
				cursor = p.Cursor
				if tc.restart {
					s = collect.NewWindowStream("w", r, collect.WindowConfig{Start: start, Lag: tc.lag}, clock)
				}
				if !p.More {
					clock.Advance(tc.interval)
				}
			}
			now := clock.Now()
			for _, w := range r.asked {
				require.True(t, w.from.Before(w.to), "window %v is empty", w)
				require.False(t, w.to.After(w.at), "window %v reaches past the time it was read", w)
			}
			// Every minute up to the last interval was read, and read again
			// once it was lag old.
			for m := start; m.Before(now.Add(-tc.interval)); m = m.Add(time.Minute) {
				var read, settled bool
				for _, w := range r.asked {
					if !m.Before(w.from) && m.Before(w.to) {
						read = true
						if !w.at.Before(m.Add(tc.lag)) {
							settled = true
						}
					}
				}
				require.True(t, read, "%s never read", m)
				if m.Before(now.Add(-tc.lag-tc.interval)) || m.Before(complete) {
					require.True(t, settled, "%s not read again once %s old", m, tc.lag)
				}
			}
		})
	}
}
