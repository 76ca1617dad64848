//lint:file-ignore SA1019 v1 dashboard JSON is what file provisioning loads (see build.go)

package dashboards

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

const latestPolicyNote = " Verdicts of the current policy version (the one the latest correlation run used)."

// overview: how much of what people did in Airflow was backed by a security
// key, and where the exceptions are.
func overview(g *gen) *dashboard.DashboardBuilder {
	share := thresholds(nil, "red", 0.9, "orange", 0.99, "green")
	dagLink := "/d/" + ExceptionsUID + "?var-dag=${__data.fields.dag:percentencode}&var-instance=${__data.fields.instance:percentencode}&${__url_time_range}"
	return newDashboard(OverviewUID, "keytrail overview",
		"Which Airflow actions and DAG runs were backed by a hardware security key, over time, and where the exceptions are.", "now-30d").
		WithPanel(g.statPanel("Human actions verified",
			"Share of human Airflow actions (UI, API, CLI) backed by a security-key assertion within the policy's max age."+latestPolicyNote,
			"overview/human_verified_share", "/^verified_share$/", "percentunit", 6, share)).
		WithPanel(g.statPanel("Privileged actions verified",
			"Share of privileged actions (trigger, clear, mark state, delete, pause, connection, variable, pool, user and role changes, backfill; manual and backfill runs) that were verified."+latestPolicyNote,
			"overview/privileged_verified_share", "/^verified_share$/", "percentunit", 6, share)).
		WithPanel(g.statPanel("Privileged exceptions",
			"Privileged actions that were not verified: neither verified nor inherited from a verified action. The Exceptions dashboard lists them."+latestPolicyNote,
			"overview/privileged_exceptions", "/^exceptions$/", "none", 6, thresholds(nil, "green", 1.0, "red")).
			Links([]cog.Builder[dashboard.DashboardLink]{panelLink("Exceptions", "/d/"+ExceptionsUID+"?${__url_time_range}")})).
		WithPanel(g.statPanel("DAG runs attributed",
			"Share of DAG runs attributed to a person: manual runs to their trigger, scheduled and backfill runs to the action that enabled them."+latestPolicyNote,
			"overview/runs_attributed", "/^attributed_share$/", "percentunit", 6, share)).
		WithPanel(g.seriesPanel("Verified share per day",
			"Per UTC day, the share of human actions and of privileged actions that were verified: the coverage an auditor samples."+latestPolicyNote,
			"overview/coverage_by_day", "percentunit", 12, 9).
			Interval("1d").Max(1).
			OverrideByName("human_verified_share", displayName("Human actions")).
			OverrideByName("privileged_verified_share", displayName("Privileged actions"))).
		WithPanel(bars(g.seriesPanel("Privileged actions by verdict",
			"Privileged actions per UTC day by verdict."+latestPolicyNote,
			"overview/privileged_by_verdict", "none", 12, 9), common.StackingModeNormal).
			Interval("1d")).
		WithPanel(g.tablePanel("Top DAGs by exceptions",
			"DAGs with the most exceptions (actions and runs neither verified nor inherited from a verified action), privileged first. A row links to the Exceptions dashboard for the DAG."+latestPolicyNote,
			"overview/top_dags", 12, 9).
			OverrideByName("last_exception", unitOf("dateTimeAsIso")).
			OverrideByName("dag", linkTo("Exceptions of this DAG", dagLink))).
		WithPanel(g.tablePanel("Top people by exceptions",
			"People (or unresolved Airflow actors) with the most exceptions, privileged first, with the verdicts behind them."+latestPolicyNote,
			"overview/top_people", 12, 9).
			OverrideByName("last_exception", unitOf("dateTimeAsIso"))).
		WithPanel(bars(g.seriesPanel("Verdicts by day",
			"Every correlated action and DAG run per UTC day, by verdict."+latestPolicyNote,
			"overview/verdicts_by_day", "none", 16, 9), common.StackingModeNormal).
			Interval("1d")).
		WithPanel(g.piePanel("DAG runs: attributed vs unattributed",
			"DAG runs attributed to a person, and runs nobody triggered or enabled in the data (unattributed, or an unmapped actor)."+latestPolicyNote,
			"overview/runs_attribution", 8, 9)).
		WithPanel(bars(g.seriesPanel("Human Airflow actions by channel",
			"Human Airflow audit events by channel (UI, API, CLI), whether or not they are privileged.",
			"overview/actions_by_channel", "none", 12, 8), common.StackingModeNormal)).
		WithPanel(g.tablePanel("DAG runs by type",
			"DAG runs in the range by run type and state.",
			"overview/runs_by_type", 12, 8))
}

// exceptions: the privileged actions that were not verified, with links to
// keytrail's console and API for each.
func exceptions(g *gen) *dashboard.DashboardBuilder {
	console := "${" + KeytrailURLVariable + "}/actions/${__data.fields.action_id:percentencode}"
	api := "${" + KeytrailURLVariable + "}/v1/actions/${__data.fields.action_id:percentencode}"
	actionLinks := []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{
		{"title": "Evidence chain in the keytrail console", "url": console, "targetBlank": true},
		{"title": "Evidence chain in the keytrail API (JSON)", "url": api, "targetBlank": true},
	}}}
	return newDashboard(ExceptionsUID, "keytrail exceptions",
		"Privileged Airflow actions that were not backed by a hardware security key, with each action's evidence chain one click away.", "now-7d").
		WithVariable(dashboard.NewTextBoxVariableBuilder(KeytrailURLVariable).
			Label("keytrail URL").
			Description("Base URL of keytrail serve (its console and API), for the links on each exception.").
			DefaultValue(dashboard.StringOrMap{String: ptr(DefaultKeytrailURL)}).
			Current(option(DefaultKeytrailURL))).
		WithVariable(dashboard.NewCustomVariableBuilder("verdict").
			Label("Verdict").
			Values(dashboard.StringOrMap{String: ptr(strings.Join(ExceptionVerdicts, ","))}).
			Multi(true).IncludeAll(true).
			Current(allOption())).
		WithVariable(g.queryVariable("instance", "Airflow instance", "exceptions/var_instance")).
		WithVariable(g.queryVariable("dag", "DAG", "exceptions/var_dag")).
		WithPanel(g.statPanel("Privileged exceptions",
			"Privileged actions (and manual or backfill runs) that were not verified, for the chosen verdicts, instances and DAGs."+latestPolicyNote,
			"exceptions/count", "/^exceptions$/", "none", 6, thresholds(nil, "green", 1.0, "red")).Height(8)).
		WithPanel(g.statPanel("People with privileged exceptions",
			"Distinct resolved people behind the privileged exceptions; unresolved actors are not counted."+latestPolicyNote,
			"exceptions/count", "/^people$/", "none", 6, thresholds(nil, "green", 1.0, "orange")).Height(8)).
		WithPanel(bars(g.seriesPanel("Privileged exceptions by verdict",
			"Privileged exceptions over time by verdict."+latestPolicyNote,
			"exceptions/by_verdict", "none", 12, 8), common.StackingModeNormal)).
		WithPanel(g.tablePanel(ExceptionsListTitle,
			"Each privileged action that was not verified, newest first (at most 1000): who, what, where, the verdict and the policy's reason. Each row links to the action's evidence chain in the keytrail console and in the API (set the keytrail URL variable to your keytrail serve)."+latestPolicyNote,
			"exceptions/list", 24, 14).
			OverrideByName("time", unitOf("dateTimeAsIso")).
			OverrideByName("assertion_age_s", unitOf("s")).
			OverrideByName("action_id", actionLinks).
			OverrideByName("who", actionLinks)).
		WithPanel(g.tablePanel("Runs nobody enabled, by DAG",
			"Scheduled or asset-triggered runs with no enabling human action in the data (unattributed), one row per DAG rather than per run: usually DAGs switched on before collection began."+latestPolicyNote,
			"exceptions/unattributed_by_dag", 24, 8).
			OverrideByName("first_run", unitOf("dateTimeAsIso")).
			OverrideByName("last_run", unitOf("dateTimeAsIso")))
}

// ExceptionVerdicts are the verdicts of an exception: every verdict but
// verified (inherited counts when the enabling action was not verified).
var ExceptionVerdicts = []string{"weak_factor", "stale", "no_assertion", "unknown_identity", "inherited", "unattributed"}

// keys: who has which authenticators, and how people sign in.
func keys(g *gen) *dashboard.DashboardBuilder {
	return newDashboard(KeysUID, "keytrail keys",
		"Security keys, platform credentials and synced passkeys: who has which, what they sign in with, and who has no hardware key.", "now-30d").
		WithPanel(g.piePanel("Active credentials by kind",
			"WebAuthn and other credentials registered and not removed at the end of the range, by kind: security_key (a hardware-backed roaming key), platform (Windows Hello, Touch ID, an authenticator app: device-bound, not a security key), synced (a synced passkey), other (not hardware) or undecided.",
			"keys/active_by_kind", 8, 9)).
		WithPanel(g.piePanel("People by strongest credential",
			"Every person (identity mappings and credential owners) by the strongest credential they hold at the end of the range.",
			"keys/people_by_strongest", 8, 9)).
		WithPanel(g.tablePanel("Key models in use",
			"Models (by AAGUID) of the security keys, platform authenticators and synced passkeys registered at the end of the range.",
			"keys/models", 8, 9)).
		WithPanel(bars(g.seriesPanel("Registrations and removals",
			"Credential registrations and removals recorded by the identity providers.",
			"keys/registrations", "none", 12, 8), common.StackingModeNormal)).
		WithPanel(bars(g.seriesPanel("Sign-ins by credential kind",
			"Share of successful interactive sign-ins of people by what they used: a security key, a platform credential, a synced passkey, WebAuthn not yet decided, or another factor.",
			"keys/sign_ins_by_kind", "percentunit", 12, 8), common.StackingModePercent)).
		WithPanel(g.tablePanel("People without a security key",
			"People who hold no security key at the end of the range, with what they hold instead: their privileged Airflow actions cannot be verified.",
			"keys/people_without_key", 12, 10)).
		WithPanel(g.tablePanel("Sign-ins without a hardware key",
			"People whose successful sign-ins in the range were not hardware-backed, with the factors they used and their last hardware-backed sign-in.",
			"keys/sign_ins_without_key", 12, 10).
			OverrideByName("last_hardware_sign_in", unitOf("dateTimeAsIso"))).
		WithPanel(g.tablePanel("Credential inventory per person",
			"Each person's credentials at the end of the range by kind, with the models, weakest first.",
			"keys/inventory", 16, 10)).
		WithPanel(g.tablePanel("Sign-ins by factor and hardware backing",
			"Successful interactive sign-ins of people by factor and whether keytrail decided them hardware-backed.",
			"keys/sign_ins_by_factor", 8, 10))
}

// pipeline: is keytrail taking in, storing and correlating what it should.
func pipeline(g *gen) *dashboard.DashboardBuilder {
	return newDashboard(PipelineUID, "keytrail pipeline",
		"Whether keytrail is keeping up: records stored per source, dead letters, conflicts, collector cursors, correlator lag, and keytrail's own metrics.", "now-24h").
		WithRow(g.row("Store")).
		WithPanel(g.statPanel("Correlator lag",
			"How far the verdicts trail the events: the newest human Airflow action or DAG run stored, minus the newest action correlated (lag), and the time since the last correlation run."+latestPolicyNote,
			"pipeline/correlator_lag", "/^(lag_seconds|seconds_since_run)$/", "s", 8, thresholds(nil, "green", 900.0, "orange", 3600.0, "red")).
			Height(8).
			OverrideByName("lag_seconds", displayName("Lag behind newest event")).
			OverrideByName("seconds_since_run", displayName("Since last correlation"))).
		WithPanel(bars(g.seriesPanel("Records stored per source",
			"Provider records stored (new, byte-for-byte), by source and time received.",
			"pipeline/records", "none", 8, 8), common.StackingModeNormal)).
		WithPanel(bars(g.seriesPanel("Dead letters per source",
			"Input keytrail could not accept (kept with its raw bytes and the error), by source.",
			"pipeline/dead_letters", "none", 8, 8), common.StackingModeNormal)).
		WithPanel(bars(g.seriesPanel("Conflicts per source",
			"Records whose provider id was already stored with other bytes (kept, never silently dropped), by source.",
			"pipeline/conflicts", "none", 8, 8), common.StackingModeNormal)).
		WithPanel(g.tablePanel("Collector cursors",
			"Each collector's cursor: how long since it last moved, and how far behind now its position is when the position is a time.",
			"pipeline/cursors", 16, 8).
			OverrideByName("updated", unitOf("dateTimeAsIso")).
			OverrideByName("seconds_since_update", unitOf("s")).
			OverrideByName("position_lag_seconds", unitOf("s"))).
		WithPanel(g.tablePanel("Latest dead letters",
			"The most recent dead letters with their origin and error; `keytrail deadletters` shows their raw bytes.",
			"pipeline/latest_dead_letters", 12, 8).
			OverrideByName("time", unitOf("dateTimeAsIso"))).
		WithPanel(g.tablePanel("Latest conflicts",
			"The most recent conflicting records: their digest and the digest of the record stored first.",
			"pipeline/latest_conflicts", 12, 8).
			OverrideByName("time", unitOf("dateTimeAsIso"))).
		WithPanel(g.tablePanel("Alert delivery by target",
			"keytrail's alerts about unverified privileged actions per target: firing, resolved, not yet delivered, retries and the latest error.",
			"pipeline/alert_delivery", 24, 6)).
		WithRow(g.row("keytrail metrics (Prometheus)")).
		WithPanel(g.promPanel("Deliveries pushed per source", "Deliveries pushed to keytrail serve per second, by source and result: accepted, rejected, unauthenticated, invalid_token, bus_error (keytrail_ingest_records_total).", "reqps", 12,
			[2]string{`sum by (source, result) (rate(keytrail_ingest_records_total[$__rate_interval]))`, "{{source}} {{result}}"})).
		WithPanel(g.promPanel("Dead letters by source", "Records in the dead-letter table, by source, as keytrail serve read them from the store at each scrape (keytrail_dead_letters).", "none", 12,
			[2]string{`sum by (source) (keytrail_dead_letters)`, "{{source}}"})).
		WithPanel(g.promPanel("Cursor lag per collector", "Seconds since each collector's cursor last moved (keytrail_cursor_lag_seconds).", "s", 12,
			[2]string{`max by (collector) (keytrail_cursor_lag_seconds)`, "{{collector}}"})).
		WithPanel(g.promPanel("HTTP requests by route and code", "Requests keytrail serve answered per second, by route and status code (keytrail_http_requests_total).", "reqps", 12,
			[2]string{`sum by (route, code) (rate(keytrail_http_requests_total[$__rate_interval]))`, "{{route}} {{code}}"})).
		WithPanel(g.promPanel("Correlations by verdict", "Correlations of the current policy version, by verdict (keytrail_correlations).", "none", 12,
			[2]string{`sum by (verdict) (keytrail_correlations)`, "{{verdict}}"})).
		WithPanel(g.promPanel("Alert deliveries by status and result", "Alert deliveries recorded, by status (firing, resolved) and result (sent, failed) (keytrail_alerts).", "none", 12,
			[2]string{`sum by (status, result) (keytrail_alerts)`, "{{status}} {{result}}"}))
}

// queryVariable is a multi-value variable over a ClickHouse query, with All.
func (g *gen) queryVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	sql := g.sql(query)
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(clickhouseRef()).
		Query(dashboard.StringOrMap{String: &sql}).
		Definition(sql).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).
		Current(allOption())
}

func ptr[T any](v T) *T { return &v }

func option(v string) dashboard.VariableOption {
	return dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: &v}, Value: dashboard.StringOrArrayOfString{String: &v}}
}

func allOption() dashboard.VariableOption {
	return dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}}}
}

// linkTo is an override property giving a field one data link.
func linkTo(title, url string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{{"title": title, "url": url}}}}
}

// panelLink is a link in a panel's header.
func panelLink(title, url string) cog.Builder[dashboard.DashboardLink] {
	return dashboard.NewDashboardLinkBuilder(title).Type(dashboard.DashboardLinkTypeLink).Url(url).
		Icon("external link").Tooltip("").Tags([]string{}).AsDropdown(false).TargetBlank(false).IncludeVars(true).KeepTime(true)
}

// ExceptionsListTitle is the title of the Exceptions dashboard's list of
// privileged actions not verified; the alert rule links to it.
const ExceptionsListTitle = "Privileged actions not verified"
