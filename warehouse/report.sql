-- Queries behind an evidence pack (warehouse.ReportSource). Each query follows
-- a "-- name:" line; "-- params:" lists its ? placeholders in order.

-- name: correlations_estimate
-- params: policy_version from to instance instance
SELECT count()
FROM correlations
WHERE policy_version = ? AND action_ts >= ? AND action_ts < ? AND (? = '' OR instance = ?)

-- name: correlations
-- params: policy_version from to instance instance
SELECT {{correlation_columns}}
FROM correlations FINAL
WHERE policy_version = ? AND action_ts >= ? AND action_ts < ? AND (? = '' OR instance = ?)
ORDER BY action_ts, action_id

-- name: correlation_tallies
-- params: policy_version from to instance instance
-- The correlations of the period grouped on what report.Summarize reads
-- (report.Tally): every row's kind, verdict, inherited verdict, privilege,
-- policy and UTC day; an exception's instance, DAG, person, and actor when
-- no person resolved.
SELECT kind, verdict, inherited_verdict, privileged, policy_version, g_instance, g_dag, g_person, g_actor,
    toInt64(count()) AS n, min(action_ts) AS first, max(action_ts) AS last,
    toInt64(countIf(after_ms > 0)) AS after_n, toInt64(max(after_ms)) AS after_max
FROM (
    SELECT kind, verdict, inherited_verdict, privileged, policy_version, action_ts,
        {{day action_ts}} AS day,
        if({{exception}}, instance, '') AS g_instance,
        if({{exception}}, dag_id, '') AS g_dag,
        if({{exception}}, person, '') AS g_person,
        if({{exception}} AND person = '', actor, '') AS g_actor,
        if(isNotNull(assertion_ts) AND assertion_age_ms < 0, -assertion_age_ms, toInt64(0)) AS after_ms
    FROM correlations FINAL
    WHERE policy_version = ? AND action_ts >= ? AND action_ts < ? AND (? = '' OR instance = ?)
)
GROUP BY day, kind, verdict, inherited_verdict, privileged, policy_version, g_instance, g_dag, g_person, g_actor

-- name: authenticators
-- params: to from to from
SELECT
    argMaxIf(person, (ts, person), person != '') AS person,
    argMaxIf(email, (ts, email), email != '') AS email,
    source,
    instance,
    credential_id,
    argMaxIf(aaguid, (kind = 1, ts, aaguid), aaguid != '') AS aaguid,
    argMaxIf(model, (ts, model), model != '') AS model,
    argMaxIf(hw, (kind = 1, ts, hw), hw > 0) AS hardware,
    argMaxIf(be, (kind = 1, ts, be), be > 0) AS backup_eligible,
    minIf(ts, kind = 1) AS registered_at,
    maxIf(ts, kind = 2) AS removed_at,
    minIf(ts, kind = 3) AS first_used_at,
    maxIf(ts, kind = 3) AS last_used_at,
    countIf(kind = 3) AS uses
FROM (
    SELECT source, instance, credential_id, ts, person, email,
        toUInt8(if(action = 'register', 1, 2)) AS kind,
        aaguid, model,
        toInt8(ifNull(toInt8(hardware) + 1, 0)) AS hw,
        toInt8(ifNull(toInt8(backup_eligible) + 1, 0)) AS be
    FROM authenticators FINAL
    WHERE credential_id != '' AND action IN ('register', 'remove') AND ts < ?
    UNION ALL
    SELECT source, instance, credential_id, ts, person, email,
        materialize(toUInt8(3)) AS kind,
        aaguid, materialize('') AS model,
        toInt8(ifNull(toInt8(hardware) + 1, 0)) AS hw,
        materialize(toInt8(0)) AS be
    FROM auth_events FINAL
    WHERE credential_id != '' AND outcome = 'success' AND category IN ('login', 'mfa')
        AND factor IN ('webauthn', 'passkey_synced') AND ts >= ? AND ts < ?
)
GROUP BY source, instance, credential_id
HAVING countIf(kind != 3 AND ts >= ?) > 0 OR uses > 0
ORDER BY person, source, credential_id, instance

-- name: coverage
-- params: from to from to from to instance instance
SELECT source, instance, min(ts) AS first, max(ts) AS last, count() AS events,
    min(id) AS min_id, max(id) AS max_id
FROM (
    SELECT source, instance, ts, materialize(toInt64(0)) AS id
    FROM auth_events FINAL
    WHERE ts >= ? AND ts < ?
    UNION ALL
    SELECT source, instance, ts, materialize(toInt64(0)) AS id
    FROM authenticators FINAL
    WHERE ts >= ? AND ts < ?
    UNION ALL
    SELECT materialize('airflow') AS source, instance, ts, event_log_id AS id
    FROM airflow_events FINAL
    WHERE ts >= ? AND ts < ? AND (? = '' OR instance = ?)
)
GROUP BY source, instance
ORDER BY source, instance

-- name: coverage_cursors
-- params:
SELECT collector, position
FROM cursors FINAL
ORDER BY collector

-- name: coverage_id_count
-- params: instance lo hi
SELECT uniqExact(event_log_id)
FROM airflow_events
WHERE instance = ? AND event_log_id >= ? AND event_log_id <= ?

-- name: coverage_ids
-- params: instance lo hi
SELECT DISTINCT event_log_id
FROM airflow_events
WHERE instance = ? AND event_log_id >= ? AND event_log_id <= ?
ORDER BY event_log_id
