// Package warehouse reads and writes the tables of the ClickHouse store
// (package store) for the packages that declare small interfaces for what
// they need — ingest (the batch sink), ingest/enrich (identities,
// registrations, re-resolved people), pipeline/correlation (time-ordered
// event streams, correlations, policies), report and the server (report and
// API queries) — so those packages never import a database driver. It holds
// no pipeline logic: enrichment and the correlation runs live in those
// packages. Every query here binds its values; reads of ReplacingMergeTree
// tables use FINAL so a replayed event counts once. A subquery over a table
// inside IN or JOIN is written GLOBAL IN / GLOBAL JOIN, so the query also runs
// on a cluster (see package schema).
package warehouse
