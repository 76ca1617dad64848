package live

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/demo"
)

// TestConfigDefaults checks how a live run's pace follows from its
// config: the period and its tail play in Duration unless Speed is given,
// the period ends before now, and the collectors' poll settings are real
// waits scaled into demo time.
func TestConfigDefaults(t *testing.T) {
	now := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		in        Config
		speed     float64
		start     time.Time
		poll      string
		validates bool
	}{
		{"defaults", Config{Dir: "/x", Org: demo.Config{People: 20, Days: 3}}, float64(77*time.Hour) / float64(time.Minute),
			time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), "{interval: 2h34m0s, timeout: 30s, initial_backoff: 7m42s, max_backoff: 2h34m0s, max_rate_limit_wait: 6h25m0s}", true},
		{"speed given", Config{Dir: "/x", Speed: 600, Org: demo.Config{People: 8, Days: 1}}, 600,
			time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), "{interval: 20m0s, timeout: 30s, initial_backoff: 1m0s, max_backoff: 20m0s, max_rate_limit_wait: 50m0s}", true},
		{"no dir", Config{Org: demo.Config{People: 8, Days: 1}}, 0, time.Time{}, "", false},
		{"too few people", Config{Dir: "/x", Org: demo.Config{People: 3, Days: 1}}, 0, time.Time{}, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.in.withDefaults(now)
			if !c.validates {
				require.Error(t, got.Validate())
				return
			}
			require.NoError(t, got.Validate())
			require.InDelta(t, c.speed, got.Speed, 0.001)
			require.Equal(t, c.start, got.Org.Start)
			require.Equal(t, LiveViewsPerDay, got.Org.ViewsPerDay)
			require.Equal(t, LiveTasksPerDAG, got.Org.TasksPerDAG)
			require.Equal(t, c.poll, pollConfig(got))
		})
	}
}
