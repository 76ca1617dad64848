{{define "keys/registrations" -}}
SELECT {{bucket "ts"}} AS time,
       action,
       count() AS events
FROM authenticators FINAL
WHERE $__timeFilter({{t "ts"}})
GROUP BY time, action
ORDER BY time, action
{{- end}}

{{define "keys/active_by_kind" -}}
SELECT kind,
       count() AS credentials
FROM (
    {{template "active_credentials" .}}
)
GROUP BY kind
ORDER BY kind
{{- end}}

{{define "keys/sign_ins_by_kind" -}}
SELECT {{bucket "ts"}} AS time,
       multiIf(factor = 'platform', 'platform',
               factor = 'passkey_synced', 'synced',
               factor = 'webauthn' AND hardware = 1, 'security_key',
               factor = 'webauthn', 'webauthn_undecided',
               'other') AS kind,
       count() AS sign_ins
FROM auth_events FINAL
WHERE $__timeFilter({{t "ts"}})
  AND outcome = 'success'
  AND category IN ('login', 'mfa')
  AND principal IN ('', 'user')
GROUP BY time, kind
ORDER BY time, kind
{{- end}}

{{define "keys/people_by_strongest" -}}
SELECT strongest,
       count() AS people
FROM (
    {{template "inventory" .}}
)
GROUP BY strongest
ORDER BY strongest
{{- end}}

{{define "keys/people_without_key" -}}
SELECT person,
       strongest,
       platform_credentials,
       synced_passkeys,
       other_credentials,
       undecided,
       models
FROM (
    {{template "inventory" .}}
)
WHERE security_keys = 0
ORDER BY indexOf(['none', 'undecided', 'other', 'synced', 'platform'], strongest), person
{{- end}}

{{define "keys/inventory" -}}
SELECT person,
       strongest,
       security_keys,
       platform_credentials,
       synced_passkeys,
       other_credentials,
       undecided,
       models
FROM (
    {{template "inventory" .}}
)
ORDER BY indexOf(['none', 'undecided', 'other', 'synced', 'platform', 'security_key'], strongest), person
{{- end}}

{{define "keys/models" -}}
SELECT if(key_model != '', key_model, 'unknown model') AS model,
       key_aaguid AS aaguid,
       kind,
       count() AS credentials,
       uniqExact(owner) AS people
FROM (
    {{template "active_credentials" .}}
)
WHERE kind IN ('security_key', 'platform', 'synced')
GROUP BY model, aaguid, kind
ORDER BY credentials DESC, model, aaguid, kind
{{- end}}

{{define "keys/sign_ins_by_factor" -}}
SELECT factor,
       multiIf(isNull(hardware), 'undecided', hardware = 1, 'yes', 'no') AS hardware_backed,
       count() AS sign_ins,
       uniqExactIf(person, person != '') AS people
FROM auth_events FINAL
WHERE $__timeFilter({{t "ts"}})
  AND outcome = 'success'
  AND category IN ('login', 'mfa')
  AND principal IN ('', 'user')
GROUP BY factor, hardware_backed
ORDER BY sign_ins DESC, factor, hardware_backed
{{- end}}

{{define "keys/sign_ins_without_key" -}}
SELECT if(person != '', person, concat('unresolved: ', source, ':', if(email != '', email, subject))) AS who,
       countIf(ifNull(hardware, 0) = 0) AS without_hardware,
       countIf(hardware = 1) AS with_hardware,
       arrayStringConcat(arraySort(groupUniqArrayIf(factor, ifNull(hardware, 0) = 0)), ', ') AS factors,
       if(with_hardware > 0, maxIf({{t "ts"}}, hardware = 1), NULL) AS last_hardware_sign_in
FROM auth_events FINAL
WHERE $__timeFilter({{t "ts"}})
  AND outcome = 'success'
  AND category IN ('login', 'mfa')
  AND principal IN ('', 'user')
GROUP BY who
HAVING without_hardware > 0
ORDER BY without_hardware DESC, who
LIMIT 200
{{- end}}
