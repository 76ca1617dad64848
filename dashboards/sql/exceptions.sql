{{define "exceptions/count" -}}
SELECT count() AS exceptions,
       uniqExactIf(person, person != '') AS people
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND privileged = 1
  AND {{template "exception"}}
  AND {{template "exception_filters"}}
  AND {{template "current_policy"}}
{{- end}}

{{define "exceptions/by_verdict" -}}
SELECT {{bucket "action_ts"}} AS time,
       verdict,
       count() AS exceptions
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND privileged = 1
  AND {{template "exception"}}
  AND {{template "exception_filters"}}
  AND {{template "current_policy"}}
GROUP BY time, verdict
ORDER BY time, verdict
{{- end}}

{{define "exceptions/list" -}}
SELECT {{t "action_ts"}} AS time,
       {{template "who"}} AS who,
       action,
       channel,
       dag_id,
       run_id,
       instance,
       verdict,
       inherited_verdict,
       factor,
       if(isNull(assertion_ts), NULL, intDiv(assertion_age_ms, 1000)) AS assertion_age_s,
       reason,
       action_id
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND privileged = 1
  AND {{template "exception"}}
  AND {{template "exception_filters"}}
  AND {{template "current_policy"}}
ORDER BY action_ts DESC, action_id
LIMIT 1000
{{- end}}

{{define "exceptions/unattributed_by_dag" -}}
SELECT dag_id,
       instance,
       count() AS runs,
       min({{t "action_ts"}}) AS first_run,
       max({{t "action_ts"}}) AS last_run
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND kind = 'run'
  AND verdict = 'unattributed'
  AND $__conditionalAll(instance IN ($instance), $instance)
  AND $__conditionalAll(dag_id IN ($dag), $dag)
  AND {{template "current_policy"}}
GROUP BY dag_id, instance
ORDER BY runs DESC, dag_id, instance
{{- end}}

{{define "exceptions/var_instance" -}}
SELECT DISTINCT instance
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND {{template "current_policy"}}
ORDER BY instance
{{- end}}

{{define "exceptions/var_dag" -}}
SELECT DISTINCT dag_id
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND dag_id != ''
  AND $__conditionalAll(instance IN ($instance), $instance)
  AND {{template "current_policy"}}
ORDER BY dag_id
{{- end}}
