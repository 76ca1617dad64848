-- keytrail schema, version 1.
-- Timestamp columns use the engine's millisecond type and tables are
-- partitioned by month (see store.Dialect: DateTime64(3, 'UTC'), or Int64
-- milliseconds on servers older than 20.1). Tables are ReplacingMergeTree
-- keyed by the provider's own identifiers, so a replayed event is stored once;
-- the version column (write time in ms) decides which copy of a re-written
-- row wins.

-- Every provider record exactly as received.
CREATE TABLE IF NOT EXISTS raw_records (
    source      String,
    instance    String,
    event_id    String,
    ts          {{ts}},
    received_at {{ts}},
    raw         String,
    sha256      String,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "ts"}}
ORDER BY (source, instance, event_id);

-- Identity-provider authentication events.
CREATE TABLE IF NOT EXISTS auth_events (
    source        String,
    instance      String,
    event_id      String,
    ts            {{ts}},
    person        String,
    subject       String,
    email         String,
    event_type    String,
    category      String,
    outcome       String,
    factor        String,
    hardware      Nullable(UInt8),
    aaguid        String,
    credential_id String,
    app           String,
    session_id    String,
    ip            String,
    detail        String,
    methods       Array(String),
    raw_sha256    String,
    received_at   {{ts}},
    version       UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "ts"}}
ORDER BY (source, instance, subject, ts, event_id);

-- Authenticator registrations and removals.
CREATE TABLE IF NOT EXISTS authenticators (
    source          String,
    instance        String,
    event_id        String,
    ts              {{ts}},
    person          String,
    subject         String,
    email           String,
    action          String,
    credential_id   String,
    aaguid          String,
    model           String,
    hardware        Nullable(UInt8),
    backup_eligible Nullable(UInt8),
    raw_sha256      String,
    received_at     {{ts}},
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "ts"}}
ORDER BY (source, instance, event_id);

-- Airflow audit log rows.
CREATE TABLE IF NOT EXISTS airflow_events (
    instance     String,
    event_log_id Int64,
    ts           {{ts}},
    event        String,
    channel      String,
    action       String,
    human        UInt8,
    privileged   UInt8,
    actor        String,
    person       String,
    dag_id       String,
    task_id      String,
    run_id       String,
    map_index    Int64,
    try_number   Int64,
    logical_date Nullable({{ts}}),
    extra        String,
    raw_sha256   String,
    received_at  {{ts}},
    version      UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "ts"}}
ORDER BY (instance, event_log_id);

-- Airflow DAG runs.
CREATE TABLE IF NOT EXISTS dag_runs (
    instance        String,
    dag_id          String,
    run_id          String,
    run_type        String,
    triggered_by    String,
    triggering_user String,
    person          String,
    ts              {{ts}},
    logical_date    Nullable({{ts}}),
    start_date      Nullable({{ts}}),
    end_date        Nullable({{ts}}),
    state           String,
    conf            String,
    raw_sha256      String,
    received_at     {{ts}},
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "ts"}}
ORDER BY (instance, dag_id, run_id);

-- Person <-> source subject.
CREATE TABLE IF NOT EXISTS identities (
    person     String,
    source     String,
    subject    String,
    origin     String,
    updated_at {{ts}},
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (source, subject);

-- The correlator's verdicts, one row per action and policy version.
CREATE TABLE IF NOT EXISTS correlations (
    action_id            String,
    action_ts            {{ts}},
    instance             String,
    kind                 String,
    channel              String,
    action               String,
    privileged           UInt8,
    dag_id               String,
    run_id               String,
    actor                String,
    person               String,
    verdict              String,
    inherited_from       String,
    inherited_verdict    String,
    assertion_id         String,
    assertion_ts         Nullable({{ts}}),
    assertion_age_ms     Int64,
    factor               String,
    authenticator_aaguid String,
    authenticator_model  String,
    policy_version       String,
    reason               String,
    computed_at          {{ts}},
    version              UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "action_ts"}}
ORDER BY (policy_version, action_id);

-- Alerts about privileged actions that were not verified, per target.
CREATE TABLE IF NOT EXISTS alerts (
    alert_id       String,
    action_id      String,
    action_ts      {{ts}},
    verdict        String,
    status         String,
    target         String,
    summary        String,
    policy_version String,
    attempts       Int64,
    last_error     String,
    created_at     {{ts}},
    sent_at        Nullable({{ts}}),
    resolved_at    Nullable({{ts}}),
    version        UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "action_ts"}}
ORDER BY (alert_id, target);

-- Input keytrail could not accept, with its raw bytes and the reason.
CREATE TABLE IF NOT EXISTS dead_letters (
    source      String,
    instance    String,
    origin      String,
    received_at {{ts}},
    error       String,
    raw         String,
    sha256      String,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "received_at"}}
ORDER BY (source, instance, sha256);

-- Collector positions.
CREATE TABLE IF NOT EXISTS cursors (
    collector  String,
    position   String,
    updated_at {{ts}},
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY collector;

-- Evidence packs produced, with their manifests.
CREATE TABLE IF NOT EXISTS reports (
    report_id       String,
    generated_at    {{ts}},
    period_from     {{ts}},
    period_to       {{ts}},
    scope           String,
    policy_version  String,
    manifest        String,
    manifest_sha256 String,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "period_from"}}
ORDER BY report_id;

-- What `keytrail retention` dropped, for auditors.
CREATE TABLE IF NOT EXISTS retention_log (
    executed_at {{ts}},
    table_name  String,
    partition   String,
    rows        UInt64,
    bytes       UInt64,
    cutoff      {{ts}},
    operator    String
) ENGINE = MergeTree
PARTITION BY {{month "executed_at"}}
ORDER BY (executed_at, table_name, partition);
