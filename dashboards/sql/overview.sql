{{define "overview/human_verified_share" -}}
SELECT countIf(NOT ({{template "exception"}})) / nullIf(count(), 0) AS verified_share
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND kind = 'audit'
  AND {{template "current_policy"}}
{{- end}}

{{define "overview/privileged_verified_share" -}}
SELECT countIf(NOT ({{template "exception"}})) / nullIf(count(), 0) AS verified_share
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND privileged = 1
  AND {{template "current_policy"}}
{{- end}}

{{define "overview/privileged_exceptions" -}}
SELECT count() AS exceptions
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND privileged = 1
  AND {{template "exception"}}
  AND {{template "current_policy"}}
{{- end}}

{{define "overview/runs_attributed" -}}
SELECT countIf(verdict NOT IN ('unattributed', 'unknown_identity')) / nullIf(count(), 0) AS attributed_share
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND kind = 'run'
  AND {{template "current_policy"}}
{{- end}}

{{define "overview/coverage_by_day" -}}
SELECT toDateTime(toStartOfDay({{t "action_ts"}}), 'UTC') AS time,
       countIf(kind = 'audit' AND NOT ({{template "exception"}})) / nullIf(countIf(kind = 'audit'), 0) AS human_verified_share,
       countIf(privileged = 1 AND NOT ({{template "exception"}})) / nullIf(countIf(privileged = 1), 0) AS privileged_verified_share
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND (kind = 'audit' OR privileged = 1)
  AND {{template "current_policy"}}
GROUP BY time
ORDER BY time
{{- end}}

{{define "overview/privileged_by_verdict" -}}
SELECT toDateTime(toStartOfDay({{t "action_ts"}}), 'UTC') AS time,
       verdict,
       count() AS actions
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND privileged = 1
  AND {{template "current_policy"}}
GROUP BY time, verdict
ORDER BY time, verdict
{{- end}}

{{define "overview/top_dags" -}}
SELECT if(dag_id != '', dag_id, '(no DAG)') AS dag,
       instance,
       countIf(privileged = 1) AS privileged_exceptions,
       count() AS exceptions,
       uniqExactIf(person, person != '') AS people,
       max({{t "action_ts"}}) AS last_exception
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND {{template "exception"}}
  AND {{template "current_policy"}}
GROUP BY dag, instance
ORDER BY privileged_exceptions DESC, exceptions DESC, dag, instance
LIMIT 10
{{- end}}

{{define "overview/top_people" -}}
SELECT {{template "who"}} AS who,
       countIf(privileged = 1) AS privileged_exceptions,
       count() AS exceptions,
       arrayStringConcat(arraySort(groupUniqArray(verdict)), ', ') AS verdicts,
       max({{t "action_ts"}}) AS last_exception
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND {{template "exception"}}
  AND (kind = 'audit' OR person != '')
  AND {{template "current_policy"}}
GROUP BY who
ORDER BY privileged_exceptions DESC, exceptions DESC, who
LIMIT 10
{{- end}}

{{define "overview/verdicts_by_day" -}}
SELECT toDateTime(toStartOfDay({{t "action_ts"}}), 'UTC') AS time,
       verdict,
       count() AS actions
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND {{template "current_policy"}}
GROUP BY time, verdict
ORDER BY time, verdict
{{- end}}

{{define "overview/runs_attribution" -}}
SELECT if(verdict IN ('unattributed', 'unknown_identity'), 'unattributed', 'attributed') AS attribution,
       count() AS runs
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND kind = 'run'
  AND {{template "current_policy"}}
GROUP BY attribution
ORDER BY attribution
{{- end}}

{{define "overview/actions_by_channel" -}}
SELECT {{bucket "ts"}} AS time,
       channel,
       count() AS actions
FROM airflow_events FINAL
WHERE $__timeFilter({{t "ts"}})
  AND human = 1
GROUP BY time, channel
ORDER BY time, channel
{{- end}}

{{define "overview/runs_by_type" -}}
SELECT run_type,
       state,
       count() AS runs,
       uniqExact(dag_id) AS dags
FROM dag_runs FINAL
WHERE $__timeFilter({{t "ts"}})
GROUP BY run_type, state
ORDER BY run_type, state
{{- end}}
