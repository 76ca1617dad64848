-- Queries behind keytrail serve's API and console (warehouse.API). Each query
-- follows a "-- name:" line; "-- params:" lists its ? placeholders in order.
-- Filters are appended to correlations_page, exceptions_page, exceptions_tiers
-- and exceptions_unattributed from the filter_* fragments, each with its own
-- placeholders, then the query's tail (page_order, exceptions_page_order, the
-- _group fragments); {{group}} is one of the coverage_group_* expressions.
-- {{exception}}, {{tier}} and {{unattributed}} are report.IsException,
-- report.TierOf and its unattributed tier in SQL (warehouse/exceptions.go).

-- name: correlations_page
-- params: policy_version from to after_ts after_ts after_ts after_id
-- (action_ts >= after_ts on its own lets the engine skip, by the table's
-- time key, everything before the cursor; the OR alone does not.)
SELECT {{correlation_columns}}
FROM correlations FINAL
WHERE policy_version = ? AND action_ts >= ? AND action_ts < ? AND action_ts >= ?
    AND (action_ts > ? OR (action_ts = ? AND action_id > ?))

-- name: filter_verdicts
-- params: verdicts
AND has(?, verdict)

-- name: filter_person
-- params: person
AND person = ?

-- name: filter_instance
-- params: instance
AND instance = ?

-- name: filter_dag_id
-- params: dag_id
AND dag_id = ?

-- name: filter_privileged
-- params: privileged
AND privileged = ?

-- name: filter_actions
-- params: actions
AND has(?, action)

-- name: filter_exceptions
AND {{exception}}

-- name: filter_tiers
-- params: tiers
AND {{exception}} AND has(?, {{tier}})

-- name: page_order
-- params: limit
ORDER BY action_ts, action_id
LIMIT ?

-- name: exceptions_page
-- params: policy_version from to after_tier after_tier after_ts after_ts after_id
SELECT {{correlation_columns}}
FROM correlations FINAL
WHERE policy_version = ? AND action_ts >= ? AND action_ts < ? AND {{exception}} AND NOT {{unattributed}}
    AND ({{tier}} > ? OR ({{tier}} = ? AND (action_ts > ? OR (action_ts = ? AND action_id > ?))))

-- name: exceptions_page_order
-- params: limit
ORDER BY {{tier}}, action_ts, action_id
LIMIT ?

-- name: exceptions_tiers
-- params: policy_version from to
SELECT {{tier}} AS tier, toInt64(count()) AS n
FROM correlations FINAL
WHERE policy_version = ? AND action_ts >= ? AND action_ts < ? AND {{exception}}

-- name: exceptions_tiers_group
GROUP BY tier
ORDER BY tier

-- name: exceptions_unattributed
-- params: policy_version from to
SELECT instance, dag_id, toInt64(count()) AS runs, min(action_ts) AS first_run, max(action_ts) AS last_run
FROM correlations FINAL
WHERE policy_version = ? AND action_ts >= ? AND action_ts < ? AND {{exception}} AND {{unattributed}}

-- name: exceptions_unattributed_group
-- params: limit
GROUP BY instance, dag_id
ORDER BY runs DESC, instance, dag_id
LIMIT ?

-- name: latest_action
-- params: policy_version
SELECT max(action_ts) FROM correlations WHERE policy_version = ?

-- name: raw_record
-- params: source instance sha256
SELECT source, instance, event_id, ts, received_at, raw, sha256
FROM raw_records FINAL
WHERE source = ? AND instance = ? AND sha256 = ?
ORDER BY event_id
LIMIT 1

-- name: coverage
-- params: policy_version from to
SELECT {{group}} AS key,
    toInt64(count()) AS actions,
    toInt64(countIf(verdict = 'verified')) AS verified,
    toInt64(countIf(verdict = 'inherited' AND inherited_verdict = 'verified')) AS inherited_verified,
    toInt64(countIf(verdict = 'unattributed')) AS unattributed
FROM correlations FINAL
WHERE policy_version = ? AND action_ts >= ? AND action_ts < ?
GROUP BY key
ORDER BY key

-- name: coverage_group_day
toString(toDate(toDateTime(intDiv({{ms action_ts}}, 1000), 'UTC')))

-- name: coverage_group_person
person

-- name: coverage_group_dag
concat(instance, ':', dag_id)

-- name: coverage_group_instance
instance

-- name: stats_verdicts
-- params: policy_version
SELECT verdict, toInt64(count()) FROM correlations FINAL WHERE policy_version = ? GROUP BY verdict

-- name: stats_dead_letters
SELECT source, toInt64(count()) FROM dead_letters FINAL GROUP BY source

-- name: stats_alerts
SELECT status, toUInt8(isNotNull(sent_at)) AS sent, toInt64(count()) FROM alerts FINAL GROUP BY status, sent
