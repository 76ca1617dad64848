{{define "pipeline/records" -}}
SELECT {{bucket "received_at"}} AS time,
       source,
       count() AS records
FROM raw_records FINAL
WHERE $__timeFilter({{t "received_at"}})
GROUP BY time, source
ORDER BY time, source
{{- end}}

{{define "pipeline/dead_letters" -}}
SELECT {{bucket "received_at"}} AS time,
       source,
       count() AS dead_letters
FROM dead_letters FINAL
WHERE $__timeFilter({{t "received_at"}})
GROUP BY time, source
ORDER BY time, source
{{- end}}

{{define "pipeline/conflicts" -}}
SELECT {{bucket "received_at"}} AS time,
       source,
       count() AS conflicts
FROM conflicts FINAL
WHERE $__timeFilter({{t "received_at"}})
GROUP BY time, source
ORDER BY time, source
{{- end}}

{{define "pipeline/cursors" -}}
SELECT collector,
       position,
       {{t "updated_at"}} AS updated,
       dateDiff('second', {{t "updated_at"}}, now()) AS seconds_since_update,
       if(match(position, '^[0-9]{4}-[0-9]{2}-[0-9]{2}'),
          dateDiff('second', parseDateTimeBestEffortOrNull(position), now()),
          NULL) AS position_lag_seconds
FROM cursors FINAL
WHERE collector != 'correlate/policy_version'
ORDER BY seconds_since_update DESC, collector
{{- end}}

{{define "pipeline/correlator_lag" -}}
SELECT newest_event,
       newest_correlated,
       last_correlation_run,
       greatest(dateDiff('second', newest_correlated, newest_event), 0) AS lag_seconds,
       dateDiff('second', last_correlation_run, now()) AS seconds_since_run
FROM (
    SELECT greatest((SELECT max({{t "ts"}}) FROM airflow_events FINAL WHERE human = 1),
                    (SELECT max({{t "ts"}}) FROM dag_runs FINAL)) AS newest_event,
           (SELECT max({{t "action_ts"}}) FROM correlations FINAL WHERE {{template "current_policy"}}) AS newest_correlated,
           (SELECT max({{t "computed_at"}}) FROM correlations FINAL WHERE {{template "current_policy"}}) AS last_correlation_run
)
{{- end}}

{{define "pipeline/latest_dead_letters" -}}
SELECT {{t "received_at"}} AS time,
       source,
       instance,
       origin,
       error,
       sha256
FROM dead_letters FINAL
WHERE $__timeFilter({{t "received_at"}})
ORDER BY received_at DESC, sha256
LIMIT 100
{{- end}}

{{define "pipeline/latest_conflicts" -}}
SELECT {{t "received_at"}} AS time,
       source,
       instance,
       event_id,
       origin,
       sha256,
       stored_sha256
FROM conflicts FINAL
WHERE $__timeFilter({{t "received_at"}})
ORDER BY received_at DESC, sha256
LIMIT 100
{{- end}}

{{define "pipeline/alert_delivery" -}}
SELECT target,
       countIf(status = 'firing') AS firing,
       countIf(status = 'resolved') AS resolved,
       countIf(isNull(sent_at)) AS undelivered,
       max(attempts) AS max_attempts,
       argMaxIf(last_error, created_at, last_error != '') AS latest_error
FROM alerts FINAL
WHERE $__timeFilter({{t "action_ts"}})
GROUP BY target
ORDER BY target
{{- end}}
