{{/* The alert rule counts what the Overview's "Privileged exceptions" stat
counts, over the rule's own 5-minute window. */}}
{{define "alerts/privileged_unverified" -}}
{{template "overview/privileged_exceptions" .}}
{{- end}}
