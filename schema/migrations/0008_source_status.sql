-- What `keytrail collect` knows about each configured source, written every
-- few seconds and read by `keytrail status`: the collector's cursor, how far
-- behind the provider it is, its last error and success, and what the sink
-- stored. One row per source name (the newest version wins).
CREATE TABLE IF NOT EXISTS source_status (
    name           String,
    type           String,
    source         String,
    instance       String,
    cursor         String,
    lag_ns         Int64,
    backlog        Int64,
    last_success   {{ts}},
    last_error     String,
    last_error_at  {{ts}},
    stored         Int64,
    duplicates     Int64,
    conflicts      Int64,
    dead_letters   Int64,
    last_stored_at {{ts}},
    updated_at     {{ts}},
    version        UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY name;
