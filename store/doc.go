// Package store is keytrail's door to ClickHouse. One small interface, Store,
// has two backends selected by URL:
//
//	clickhouse://user:pass@host:9000/db?dial_timeout=5s   a ClickHouse server (native protocol)
//	chdb:///abs/path                                       the embedded engine (chDB, libchdb.so)
//
// Backends register themselves (see Register) from their own packages,
// store/clickhouse and store/chdb, so a binary links only what it imports.
//
// Writes are columnar: a Table's Writer keeps one typed slice per column
// ([]string, []int64, []time.Time, …) and hands them to the backend's Batch,
// which sends them in the engine's binary format (the native protocol's
// column blocks on a server, a Native-format block on chDB). Reads stream:
// rows arrive in blocks, and Rows.Scan copies each row into destinations the
// caller owns.
//
// Callers write SQL with `?` placeholders and pass values separately. On
// chDB the values are the engine's query parameters: BindParams turns each
// `?` into a typed {pN:Type} parameter and the values travel beside the SQL
// text. ClickHouse servers before 22.8 have no query parameters in the
// native protocol (18.16 among them), so on servers Bind renders every value
// as a literal through one escaping function, QuoteString.
//
// Timestamps are DateTime64(3, 'UTC') on engines that have it and Int64
// milliseconds since the epoch on older servers (ClickHouse < 20.1); the
// Dialect type is the one place that difference lives.
package store
