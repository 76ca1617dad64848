package emulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAccelerated checks the demo clock's pace: Now runs speed times real
// time from its start, and its timers, tickers and sleeps last their demo
// duration divided by speed (never less).
func TestAccelerated(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	const speed = 3600 // a demo hour per real second
	c := NewAccelerated(start, speed)
	require.Equal(t, 100*time.Millisecond, c.Real(6*time.Minute))

	began := time.Now()
	for name, wait := range map[string]func(){
		"timer":     func() { <-c.NewTimer(3 * time.Minute).Chan() },
		"after":     func() { <-c.After(3 * time.Minute) },
		"sleep":     func() { c.Sleep(3 * time.Minute) },
		"ticker":    func() { tk := c.NewTicker(3 * time.Minute); <-tk.Chan(); tk.Stop() },
		"afterfunc": func() { done := make(chan struct{}); c.AfterFunc(3*time.Minute, func() { close(done) }); <-done },
	} {
		t0 := time.Now()
		wait()
		require.GreaterOrEqual(t, time.Since(t0), 50*time.Millisecond, name)
	}
	elapsed := time.Since(began)
	now := c.Now()
	require.False(t, now.Before(start.Add(time.Duration(float64(elapsed)*speed))), "Now runs at speed")
	require.Less(t, c.Since(start), time.Duration(float64(elapsed+time.Second)*speed))

	tm := c.NewTimer(time.Hour)
	require.True(t, tm.Stop())
	require.True(t, !tm.Reset(time.Minute))
	<-tm.Chan()
}
