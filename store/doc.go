// Package store is keytrail's door to ClickHouse. One small interface, Store,
// has two backends selected by URL:
//
//	clickhouse://user:pass@host:9000/db?dial_timeout=5s   a ClickHouse server (native protocol)
//	chdb:///abs/path                                       the embedded engine (chDB, libchdb.so)
//
// Backends register themselves (see Register) from their own packages,
// store/clickhouse and store/chdb, so a binary links only what it imports.
//
// Callers write SQL with `?` placeholders and pass values separately; Bind
// renders every value as a literal through one escaping function, the same for
// both engines. Timestamps are DateTime64(3, 'UTC') on engines that have it and
// Int64 milliseconds since the epoch on older servers (ClickHouse < 20.1); the
// Dialect type is the one place that difference lives.
package store
