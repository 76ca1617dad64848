package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProcessCrashed: a process that exits on its own after start-up is
// crashed; one stopped through kill, or still running, is not.
func TestProcessCrashed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  string
		kill    bool
		crashed bool
	}{
		{name: "exits on its own", script: "sleep 0.2", crashed: true},
		{name: "still running", script: "sleep 30", crashed: false},
		{name: "killed", script: "sleep 30", kill: true, crashed: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &process{name: tc.name, dir: t.TempDir(), argv: []string{"/bin/sh", "-c", tc.script}, ready: func() bool { return true }}
			require.NoError(t, p.start(5*time.Second))
			defer p.kill()
			if tc.kill {
				p.kill()
			}
			time.Sleep(time.Second)
			require.Equal(t, tc.crashed, p.crashed())
		})
	}
}
