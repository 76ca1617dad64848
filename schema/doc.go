// Package schema holds keytrail's ClickHouse schema as versioned migrations
// (migrations/NNNN_name.sql, embedded) and applies the missing ones, recording
// each in the schema_migrations ledger. Migrations are templates rendered for
// the engine's store.Dialect — the one place column types differ between
// ClickHouse versions — and every statement is IF NOT EXISTS, so re-running is
// harmless.
package schema
