// Package schema holds keytrail's ClickHouse schema as versioned migrations
// (migrations/NNNN_name.sql, embedded) and applies the missing ones, recording
// each in the schema_migrations ledger. Migrations are templates rendered for
// the engine's store.Dialect — the one place column types differ between
// ClickHouse versions — and every statement is IF NOT EXISTS, so re-running is
// harmless.
//
// # Writing a migration
//
// Write it once, for one node; the same file runs on the embedded engine, on
// a server and on a cluster:
//
//   - Time columns are {{ts}} (DateTime64(3, 'UTC'), or Int64 milliseconds
//     before ClickHouse 20.1); {{month "col"}} and {{day "col"}} are the month
//     partition and the UTC day of a time column.
//   - A table is CREATE TABLE IF NOT EXISTS name (…) ENGINE = <X>MergeTree(…)
//     [PARTITION BY …] ORDER BY (…), usually ReplacingMergeTree(version)
//     keyed by the provider's identifiers. Put the columns that name the
//     entity first in ORDER BY and timestamps after them: on a cluster rows
//     are sharded by the key's prefix before its first {{ts}} column (see
//     below).
//   - A change to a table is ALTER TABLE name … (18.16 has no ADD COLUMN IF
//     NOT EXISTS).
//   - Nothing else: views, INSERTs, DROPs and other engines do not render for
//     a cluster, and TestClusterRendersEveryMigration fails on them. The one
//     exception is a change only one node can make: a table rebuilt by copy
//     (0007 re-keys correlations by time: DROP TABLE IF EXISTS, CREATE … AS,
//     INSERT … SELECT {{unlimitedPartitions}}, RENAME) sits inside
//     {{if not .Cluster}} … {{end}}, so a cluster skips it and keeps the old
//     key. Such a migration must converge when re-run after any statement
//     (storetest's CorrelationsByTime interrupts it after each one).
//
// # On a cluster
//
// With a store URL that names a cluster (clickhouse://…?cluster=NAME, see
// store/clickhouse), Render rewrites each statement; no migration mentions
// the cluster except to skip a one-node rebuild (above):
//
//   - CREATE TABLE t becomes t_local ON CLUSTER with the Replicated form of
//     its engine (ZooKeeper path /clickhouse/tables/NAME/{shard}/DB/t, replica
//     {replica}), plus t ON CLUSTER AS t_local ENGINE = Distributed(NAME, DB,
//     t_local, cityHash64(shard columns)). Queries keep reading and writing t.
//   - The shard columns are the ORDER BY key's columns before its first
//     timestamp, or the whole key when it starts with one: auth_events by
//     (source, instance, subject) — one IdP user's sign-ins on one shard —,
//     correlations by (policy_version, action_id), airflow_events by
//     (instance, event_log_id). Every version of a row has the same key, so
//     all versions land on one shard and FINAL through the Distributed table
//     deduplicates exactly. person is never a shard column: re-resolution
//     rewrites it, and the new version would land beside, not over, the old.
//   - ALTER TABLE t runs on t_local ON CLUSTER (replicated); the Distributed
//     t is then dropped and made again from t_local, as 18.16 refuses ON
//     CLUSTER ALTERs of a Distributed table in front of replicated shards.
//   - Migrate reads the ledger before issuing any DDL, so opening an up to
//     date store never waits on the distributed DDL queue (an ON CLUSTER
//     statement waits for every host); statements of different tables run
//     concurrently. Retention drops partitions of t_local ON CLUSTER.
//
// Queries that put a subquery over a table in IN or JOIN write GLOBAL IN /
// GLOBAL JOIN: the same result on one node, and on a cluster the subquery
// runs once over all shards instead of failing as double-distributed.
package schema
