-- Authenticator models the operator added on top of the curated table that
-- ships in the binary: FIDO MDS3 imports (keytrail mds import) and allow or
-- deny entries (keytrail aaguids allow|deny). One row per source and AAGUID.
CREATE TABLE IF NOT EXISTS aaguids (
    aaguid     String,
    model      String,
    hardware   UInt8,
    synced     UInt8,
    platform   UInt8,
    status     String,
    source     String,
    updated_at {{ts}},
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (source, aaguid);
