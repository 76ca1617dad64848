{{define "alerts/privileged_unverified" -}}
SELECT count() AS unverified
FROM correlations FINAL
WHERE $__timeFilter({{t "action_ts"}})
  AND privileged = 1
  AND {{template "exception"}}
  AND {{template "current_policy"}}
{{- end}}
