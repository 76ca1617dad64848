// Package warehouse adapts the ClickHouse store (package store) to the small
// interfaces that ingest, correlate and report declare for themselves, so
// those packages never import a database driver. Every query here binds its
// values; reads of ReplacingMergeTree tables use FINAL so a replayed event
// counts once. A subquery over a table inside IN or JOIN is written GLOBAL IN
// / GLOBAL JOIN, so the query also runs on a cluster (see package schema).
package warehouse
