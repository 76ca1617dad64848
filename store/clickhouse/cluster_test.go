package clickhouse_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/schema"
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

// TestClusterURL covers the cluster part of the store URL: the settings every
// connection carries (overridable in the URL), and the errors of a cluster
// the server does not know or a malformed parameter, none carrying the
// password.
func TestClusterURL(t *testing.T) {
	ctx := context.Background()
	c := storetest.SharedCluster(t)
	settings := func(s store.Store) map[string]string {
		rows, err := s.Query(ctx, "SELECT name, value FROM system.settings WHERE name IN ('insert_quorum', 'insert_distributed_sync', 'prefer_localhost_replica', 'insert_quorum_timeout')")
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var k, v string
			require.NoError(t, rows.Scan(&k, &v))
			out[k] = v
		}
		require.NoError(t, rows.Err())
		return out
	}
	for name, tc := range map[string]struct {
		extra string
		want  map[string]string
	}{
		"defaults": {"", map[string]string{"insert_quorum": "2", "insert_distributed_sync": "1", "prefer_localhost_replica": "0", "insert_quorum_timeout": "30000"}},
		"override": {"&insert_quorum=1&retry_for=5s", map[string]string{"insert_quorum": "1", "insert_distributed_sync": "1", "prefer_localhost_replica": "0", "insert_quorum_timeout": "30000"}},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := store.Open(ctx, c.URL(storetest.FreshDB(t))+tc.extra)
			require.NoError(t, err)
			defer s.Close()
			require.Equal(t, c.Name, s.Dialect().Cluster)
			require.Contains(t, s.Dialect().String(), "cluster "+c.Name)
			require.Equal(t, tc.want, settings(s))
		})
	}

	srv := storetest.SharedServer(t)
	_, err := store.Open(ctx, srv.URL(storetest.FreshDB(t))+"&cluster=nope")
	require.ErrorContains(t, err, `cluster "nope" is not in the server's remote_servers`)
	base := "clickhouse://default:s3cret@" + srv.Addr() + "/" + storetest.FreshDB(t) + "?dial_timeout=2s"
	for name, tc := range map[string]struct{ query, err string }{
		"bad name":       {"&cluster=a%20b", `cluster name "a b"`},
		"bad retry":      {"&cluster=x&retry_for=soon", "retry_for"},
		"negative retry": {"&cluster=x&retry_for=-1s", "negative"},
		"retry alone":    {"&retry_for=5s", "retry_for needs cluster"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := store.Open(ctx, base+tc.query)
			require.ErrorContains(t, err, tc.err)
			require.NotContains(t, err.Error(), "s3cret")
		})
	}
}

// TestClusterHeals: a member that exits on its own (a crash, not a test's
// Kill) is restarted by the harness, and a migration's ON CLUSTER
// statements complete again — a crash in one test does not hold every
// statement of the tests after it for distributed_ddl_task_timeout.
func TestClusterHeals(t *testing.T) {
	testClusterHeals(t, func(victim *storetest.Server) { victim.Crash() })
}

// TestClusterHealsDeafMember: a member whose DDL worker stopped, the
// process running on (18.16 logs "DDLWorker: Unexpected ZooKeeper error:
// … Terminating." and executes no ON CLUSTER statement after it), is
// restarted too. The worker's end is staged by its log line, which is
// what the harness reads: the race in 18.16 that ends it cannot be
// provoked at will.
func TestClusterHealsDeafMember(t *testing.T) {
	testClusterHeals(t, func(victim *storetest.Server) {
		f, err := os.OpenFile(filepath.Join(victim.Dir, "server.err.log"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("2026.12.03 04:11:32.867195 [ 3 ] {} <Error> DDLWorker: Unexpected ZooKeeper error: Code: 999, e.displayText() = Coordination::Exception: Node exists, path: /clickhouse/task_queue/ddl/query-0000000164/shards/x/executed\n0. stack\n. Terminating.\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
	})
}

// testClusterHeals stops a member with stop and checks the harness
// restarted it and ON CLUSTER statements complete again.
func testClusterHeals(t *testing.T, stop func(victim *storetest.Server)) {
	c := storetest.SharedCluster(t)
	victim := c.Shards[1][1]
	uptime := func() (uint64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := store.Open(ctx, victim.URL("default"))
		if err != nil {
			return 0, err
		}
		defer s.Close()
		n, err := store.CountRows(ctx, s, "SELECT toUInt64(uptime())")
		return uint64(n), err
	}
	before, err := uptime()
	require.NoError(t, err)
	if before < 3 {
		time.Sleep(3 * time.Second)
		before += 3
	}
	stop(victim)
	require.Eventually(t, func() bool {
		n, err := uptime()
		return err == nil && n < before
	}, time.Minute, 200*time.Millisecond, "the crashed member is restarted")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, c.URL(storetest.FreshDB(t)))
	require.NoError(t, err)
	defer s.Close()
	_, err = schema.Migrate(ctx, s)
	require.NoError(t, err, "ON CLUSTER statements reach every member again")
}
