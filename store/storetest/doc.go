// Package storetest is the test harness for package store: it starts a private
// ClickHouse server (generated config, temporary data directory, free ports)
// and opens the embedded engine, and it holds the conformance suite every
// backend must pass.
//
// Engines are required when CI=true or KEYTRAIL_REQUIRE_ENGINES=1 (make test
// sets it): a missing clickhouse-server binary then fails the test instead of
// skipping it.
package storetest
