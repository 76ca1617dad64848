-- Records whose provider id was already stored with other bytes (the same id,
-- different content: not a duplicate). The record stored first stays in
-- raw_records; each conflicting version is kept here once, with its raw bytes
-- and the digest of the stored record it conflicts with. Partitioned by the
-- record's own time, like raw_records.
CREATE TABLE IF NOT EXISTS conflicts (
    source        String,
    instance      String,
    event_id      String,
    ts            {{ts}},
    origin        String,
    received_at   {{ts}},
    raw           String,
    sha256        String,
    stored_sha256 String,
    version       UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "ts"}}
ORDER BY (source, instance, event_id, sha256);
