package storetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestZooKeeper starts a private ZooKeeper, and requires that Stop leaves no
// process listening and no directory behind.
func TestZooKeeper(t *testing.T) {
	z, err := StartZooKeeper()
	if err != nil {
		Missing(t, "ZooKeeper: %v", err)
	}
	require.Equal(t, "imok", fourLetter(z.Addr(), "ruok"))
	require.True(t, serving(z.Addr()), "started means serving sessions, not only answering ruok")
	z.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitDown(ctx, z.Port)
	require.NoError(t, ctx.Err(), "the port is closed after Stop")
	_, err = os.Stat(z.Dir)
	require.True(t, os.IsNotExist(err), "the directory is removed")
}
