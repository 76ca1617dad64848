{{/*
Fragments shared by the panels' SQL. Every query is a named template; the
generator renders it for a store.Dialect, where {{t "col"}} is a timestamp
column as a DateTime and {{bucket "col"}} the column's $__timeInterval bucket
(see dashboards.Render). Grafana's macros ($__timeFilter, $__toTime,
$__interval_s…) and variables ($verdict, $__conditionalAll) are left for
Grafana and the plugin to expand.
*/}}

{{- define "current_policy" -}}
policy_version = (SELECT argMax(position, updated_at) FROM cursors FINAL WHERE collector = 'correlate/policy_version')
{{- end}}

{{- define "exception" -}}
NOT (verdict = 'verified' OR (verdict = 'inherited' AND inherited_verdict = 'verified'))
{{- end}}

{{- define "who" -}}
if(person != '', person, concat('unresolved: ', actor))
{{- end}}

{{- define "exception_filters" -}}
$__conditionalAll(verdict IN ($verdict), $verdict)
  AND $__conditionalAll(instance IN ($instance), $instance)
  AND $__conditionalAll(dag_id IN ($dag), $dag)
{{- end}}

{{/*
credentials: every credential's latest state at the end of the range — its
owner, whether its last event is a registration, and what its registration
says it is. A credential is identified by its credential id (or the event id
when the provider gives none).
*/}}
{{- define "credentials" -}}
SELECT argMax(if(person != '', person, concat('unresolved: ', source, ':', if(email != '', email, subject))), ts) AS owner,
           argMax(action, ts) AS last_action,
           argMaxIf(factor, ts, action = 'register') AS reg_factor,
           argMaxIf(toInt16(ifNull(hardware, 2)), ts, action = 'register') AS hw,
           argMaxIf(toInt16(ifNull(backup_eligible, 2)), ts, action = 'register') AS backup,
           argMaxIf(model, ts, action = 'register') AS key_model,
           argMaxIf(aaguid, ts, action = 'register') AS key_aaguid
    FROM authenticators FINAL
    WHERE {{t "ts"}} <= $__toTime
    GROUP BY source, instance, if(credential_id != '', credential_id, event_id)
{{- end}}

{{/*
active_credentials: the credentials registered and not removed at the end of
the range, each with its kind: security_key (hardware-backed roaming key),
platform (Windows Hello, Touch ID…: device-bound, not a security key), synced
(a synced passkey), other (not hardware: OTP…) or undecided.
*/}}
{{- define "active_credentials" -}}
SELECT owner,
           multiIf(reg_factor = 'platform', 'platform',
                   reg_factor = 'passkey_synced' OR backup = 1, 'synced',
                   hw = 1, 'security_key',
                   hw = 0, 'other',
                   'undecided') AS kind,
           key_model,
           key_aaguid
    FROM (
    {{template "credentials" .}}
    )
    WHERE last_action = 'register'
{{- end}}

{{/*
inventory: one row per person (every resolved person in identities, and every
owner of a credential) with their active credentials by kind.
*/}}
{{- define "inventory" -}}
SELECT owner AS person,
           countIf(kind = 'security_key') AS security_keys,
           countIf(kind = 'platform') AS platform_credentials,
           countIf(kind = 'synced') AS synced_passkeys,
           countIf(kind = 'other') AS other_credentials,
           countIf(kind = 'undecided') AS undecided,
           multiIf(security_keys > 0, 'security_key', platform_credentials > 0, 'platform', synced_passkeys > 0, 'synced',
                   other_credentials > 0, 'other', undecided > 0, 'undecided', 'none') AS strongest,
           arrayStringConcat(arraySort(groupUniqArrayIf(key_model, key_model != '')), ', ') AS models
    FROM (
        SELECT person AS owner, '' AS kind, '' AS key_model
        FROM identities FINAL
        WHERE person != ''
        UNION ALL
        SELECT owner, kind, key_model
        FROM (
        {{template "active_credentials" .}}
        )
    )
    GROUP BY person
{{- end}}
