package clickhouse_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

func clusterBackend(t *testing.T) storetest.Backend {
	c := storetest.SharedCluster(t)
	return storetest.Backend{
		Name: "cluster",
		Open: func(tb testing.TB, db string) store.Store {
			s, err := store.Open(context.Background(), c.URL(db))
			require.NoError(tb, err)
			tb.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// TestClusterConformance runs the conformance suite on 2 shards × 2
// replicas: the same tests, through Distributed tables over replicated ones.
func TestClusterConformance(t *testing.T) {
	storetest.Run(t, clusterBackend(t))
}
