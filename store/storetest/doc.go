// Package storetest is the test harness for package store: it starts a private
// ClickHouse server (generated config, temporary data directory, free ports),
// a private cluster — ZooKeeper and shards × replicas clickhouse-servers on
// loopback, with remote_servers, {shard}/{replica} macros and the distributed
// DDL queue configured (StartCluster, SharedCluster) — and opens the embedded
// engine, and it holds the conformance suite every backend must pass.
//
// Every process runs in its own process group and dies with the test binary
// (Pdeathsig); Stop kills it and removes its directory. Start-up waits until
// ZooKeeper answers "imok" and every server answers, sees ZooKeeper and lists
// the whole cluster.
//
// Engines are required when CI=true or KEYTRAIL_REQUIRE_ENGINES=1 (make test
// sets it): a missing clickhouse-server, java or ZooKeeper then fails the test
// instead of skipping it.
package storetest
