-- The written policy behind every verdict: its canonical YAML text beside its
-- version (the SHA-256 stamped on each correlation), recorded by every
-- correlation run, so an evidence pack can print the rule that produced each
-- verdict. recorded_at is the latest run under the version.
CREATE TABLE IF NOT EXISTS policies (
    policy_version String,
    policy_text    String,
    recorded_at    {{ts}},
    version        UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY policy_version;
