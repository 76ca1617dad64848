package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v5"

	"github.com/keytrail/keytrail/store"
)

// ClusterConfig is how a store on a ClickHouse cluster reads and writes,
// from the store URL:
//
//	clickhouse://u:p@h1:9000,h2:9000,h3:9000,h4:9000/keytrail?cluster=NAME
//
// Every host listed is a member the client may connect to (it fails over to
// the next when one is down). Server settings in the URL (insert_quorum=1,
// …) override the defaults below.
type ClusterConfig struct {
	// Name is the cluster in the servers' remote_servers; its shards must
	// set internal_replication, and the servers need ZooKeeper, {shard} and
	// {replica} macros and <distributed_ddl>.
	Name string
	// RetryFor bounds how long a failed insert is retried while a replica
	// restarts or a quorum cannot be met (URL retry_for; default 60s).
	// Inserts are idempotent (ReplacingMergeTree keys and ClickHouse's
	// replicated block deduplication), so a retried batch is stored once.
	RetryFor time.Duration
}

// clusterNameRE is what remote_servers element names may be.
var clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Validate reports what is wrong with c.
func (c ClusterConfig) Validate() error {
	var errs []error
	if !clusterNameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("cluster name %q: want letters, digits, '_', '-' or '.'", c.Name))
	}
	if c.RetryFor < 0 {
		errs = append(errs, fmt.Errorf("retry_for %v is negative", c.RetryFor))
	}
	return errors.Join(errs...)
}

// clusterSettings are the per-query settings every connection to a cluster
// carries unless the URL sets them:
//
//   - insert_distributed_sync=1: an INSERT into a Distributed table returns
//     when every shard stored its rows, not when they were queued on the
//     host the client talked to (18.16 cannot flush that queue on demand),
//     so a correlate right after an ingest sees every row.
//   - insert_quorum=<replicas per shard> (set in Open): a write is
//     acknowledged only once every replica of its shard has it, so a read
//     through any replica is complete. While a replica is down, writes to
//     its shard fail and are retried (RetryFor); set insert_quorum=1 in the
//     URL to keep writing with a replica down, at the price that a read may
//     pick a replica still catching up.
//   - prefer_localhost_replica=0: 18.16 fails a FINAL read through a
//     Distributed table on its local replica when the version column is not
//     selected ("Cannot find column version in source stream",
//     ClickHouse/ClickHouse#5346); the local shard is read over the network
//     like every other.
//
// A subquery that reads a table is written GLOBAL IN / GLOBAL JOIN in
// keytrail's SQL (the same result on one node): on a cluster it runs once
// over the whole cluster and is sent to the shards, as rows are not
// co-located by the subquery's key. distributed_product_mode=global would
// say the same once per connection, but an enum setting cannot be sent to
// 18.16 over the native protocol.
var clusterSettings = map[string]any{
	"insert_distributed_sync":  1,
	"insert_quorum_timeout":    30000,
	"prefer_localhost_replica": 0,
}

// checkCluster confirms the server knows the cluster and returns the number of
// replicas of its smallest shard.
func checkCluster(ctx context.Context, conn driver.Conn, name string) (int, error) {
	rows, err := conn.Query(ctx, "SELECT toUInt64(count()), toUInt64(min(n)) FROM (SELECT shard_num, count() AS n FROM system.clusters WHERE cluster = "+store.QuoteString(name)+" GROUP BY shard_num)")
	if err != nil {
		return 0, convertErr(err)
	}
	defer rows.Close()
	var shards, replicas uint64
	if rows.Next() {
		if err := rows.Scan(&shards, &replicas); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, convertErr(err)
	}
	if shards == 0 {
		return 0, fmt.Errorf("cluster %q is not in the server's remote_servers", name)
	}
	return int(replicas), nil
}

// transientCodes are the engine errors a cluster reports while a replica,
// a shard or ZooKeeper is briefly away; the same insert succeeds later.
var transientCodes = map[int32]bool{
	32:  true, // ATTEMPT_TO_READ_AFTER_EOF: a remote host died mid-query
	159: true, // TIMEOUT_EXCEEDED: quorum not reached in time
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	225: true, // NO_ZOOKEEPER
	242: true, // TABLE_IS_READ_ONLY: a replica lost its ZooKeeper session
	244: true, // UNEXPECTED_ZOOKEEPER_ERROR: a replica's nodes changed under a quorum insert (a killed replica's is_active gone; seen in TestCluster)
	279: true, // ALL_CONNECTION_TRIES_FAILED
	285: true, // TOO_FEW_LIVE_REPLICAS: fewer live replicas than insert_quorum
	286: true, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
	319: true, // UNKNOWN_STATUS_OF_INSERT: "client must retry"
	999: true, // KEEPER_EXCEPTION
}

// transient reports whether err is a failure of a host or of the network that
// retrying the same insert can outlive.
func transient(err error) bool {
	if c, ok := store.Code(err); ok {
		return transientCodes[c]
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, ch.ErrConnectionClosed) ||
		errors.As(err, &ne)
}

// retries reports whether failed cluster operations are retried.
func (s *Store) retries() bool { return s.cluster.Name != "" && s.cluster.RetryFor > 0 }

// retry runs op until it succeeds, fails with an error that is not
// transient, or RetryFor has passed. Without a cluster op runs once.
func (s *Store) retry(ctx context.Context, op func() error) error {
	if !s.retries() {
		return op()
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 100*time.Millisecond, 2*time.Second
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := op()
		if err != nil && !transient(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(s.cluster.RetryFor))
	return err
}
