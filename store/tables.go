package store

import (
	"time"

	"github.com/keytrail/keytrail/model"
)

// The tables of keytrail's schema (schema/migrations), each bound to its
// model type. A column added by a migration is one line here.

// RawRecords is the raw_records table.
var RawRecords = NewTable("raw_records",
	String("source", func(r *model.RawRecord) *model.Source { return &r.Source }),
	String("instance", func(r *model.RawRecord) *string { return &r.Instance }),
	String("event_id", func(r *model.RawRecord) *string { return &r.EventID }),
	Time("ts", func(r *model.RawRecord) *time.Time { return &r.TS }),
	Time("received_at", func(r *model.RawRecord) *time.Time { return &r.ReceivedAt }),
	Bytes("raw", func(r *model.RawRecord) *[]byte { return &r.Raw }),
	String("sha256", func(r *model.RawRecord) *string { return &r.SHA256 }),
)

// AuthEvents is the auth_events table.
var AuthEvents = NewTable("auth_events",
	String("source", func(e *model.AuthEvent) *model.Source { return &e.Source }),
	String("instance", func(e *model.AuthEvent) *string { return &e.Instance }),
	String("event_id", func(e *model.AuthEvent) *string { return &e.EventID }),
	Time("ts", func(e *model.AuthEvent) *time.Time { return &e.TS }),
	String("person", func(e *model.AuthEvent) *string { return &e.Person }),
	String("subject", func(e *model.AuthEvent) *string { return &e.Subject }),
	String("email", func(e *model.AuthEvent) *string { return &e.Email }),
	String("event_type", func(e *model.AuthEvent) *string { return &e.EventType }),
	String("category", func(e *model.AuthEvent) *model.Category { return &e.Category }),
	String("outcome", func(e *model.AuthEvent) *model.Outcome { return &e.Outcome }),
	String("factor", func(e *model.AuthEvent) *model.Factor { return &e.Factor }),
	NullBool("hardware", func(e *model.AuthEvent) **bool { return &e.Hardware }),
	String("aaguid", func(e *model.AuthEvent) *string { return &e.AAGUID }),
	String("credential_id", func(e *model.AuthEvent) *string { return &e.CredentialID }),
	String("app", func(e *model.AuthEvent) *string { return &e.App }),
	String("session_id", func(e *model.AuthEvent) *string { return &e.SessionID }),
	String("ip", func(e *model.AuthEvent) *string { return &e.IP }),
	String("detail", func(e *model.AuthEvent) *string { return &e.Detail }),
	Strings("methods", func(e *model.AuthEvent) *[]string { return &e.Methods }),
	String("raw_sha256", func(e *model.AuthEvent) *string { return &e.RawSHA256 }),
	Time("received_at", func(e *model.AuthEvent) *time.Time { return &e.ReceivedAt }),
	String("principal", func(e *model.AuthEvent) *model.Principal { return &e.Principal }),
)

// Authenticators is the authenticators table.
var Authenticators = NewTable("authenticators",
	String("source", func(a *model.Authenticator) *model.Source { return &a.Source }),
	String("instance", func(a *model.Authenticator) *string { return &a.Instance }),
	String("event_id", func(a *model.Authenticator) *string { return &a.EventID }),
	Time("ts", func(a *model.Authenticator) *time.Time { return &a.TS }),
	String("person", func(a *model.Authenticator) *string { return &a.Person }),
	String("subject", func(a *model.Authenticator) *string { return &a.Subject }),
	String("email", func(a *model.Authenticator) *string { return &a.Email }),
	String("action", func(a *model.Authenticator) *string { return &a.Action }),
	String("credential_id", func(a *model.Authenticator) *string { return &a.CredentialID }),
	String("aaguid", func(a *model.Authenticator) *string { return &a.AAGUID }),
	String("model", func(a *model.Authenticator) *string { return &a.Model }),
	NullBool("hardware", func(a *model.Authenticator) **bool { return &a.Hardware }),
	NullBool("backup_eligible", func(a *model.Authenticator) **bool { return &a.BackupEligible }),
	String("raw_sha256", func(a *model.Authenticator) *string { return &a.RawSHA256 }),
	Time("received_at", func(a *model.Authenticator) *time.Time { return &a.ReceivedAt }),
	String("factor", func(a *model.Authenticator) *model.Factor { return &a.Factor }),
)

// AirflowEvents is the airflow_events table.
var AirflowEvents = NewTable("airflow_events",
	String("instance", func(e *model.AirflowEvent) *string { return &e.Instance }),
	Int64("event_log_id", func(e *model.AirflowEvent) *int64 { return &e.EventLogID }),
	Time("ts", func(e *model.AirflowEvent) *time.Time { return &e.TS }),
	String("event", func(e *model.AirflowEvent) *string { return &e.Event }),
	String("channel", func(e *model.AirflowEvent) *model.Channel { return &e.Channel }),
	String("action", func(e *model.AirflowEvent) *model.ActionClass { return &e.Action }),
	Bool("human", func(e *model.AirflowEvent) *bool { return &e.Human }),
	Bool("privileged", func(e *model.AirflowEvent) *bool { return &e.Privileged }),
	String("actor", func(e *model.AirflowEvent) *string { return &e.Actor }),
	String("person", func(e *model.AirflowEvent) *string { return &e.Person }),
	String("dag_id", func(e *model.AirflowEvent) *string { return &e.DagID }),
	String("task_id", func(e *model.AirflowEvent) *string { return &e.TaskID }),
	String("run_id", func(e *model.AirflowEvent) *string { return &e.RunID }),
	Int64("map_index", func(e *model.AirflowEvent) *int64 { return &e.MapIndex }),
	Int64("try_number", func(e *model.AirflowEvent) *int64 { return &e.TryNumber }),
	Time("logical_date", func(e *model.AirflowEvent) *time.Time { return &e.LogicalDate }),
	String("extra", func(e *model.AirflowEvent) *string { return &e.Extra }),
	String("raw_sha256", func(e *model.AirflowEvent) *string { return &e.RawSHA256 }),
	Time("received_at", func(e *model.AirflowEvent) *time.Time { return &e.ReceivedAt }),
)

// DagRuns is the dag_runs table.
var DagRuns = NewTable("dag_runs",
	String("instance", func(r *model.DagRun) *string { return &r.Instance }),
	String("dag_id", func(r *model.DagRun) *string { return &r.DagID }),
	String("run_id", func(r *model.DagRun) *string { return &r.RunID }),
	String("run_type", func(r *model.DagRun) *string { return &r.RunType }),
	String("triggered_by", func(r *model.DagRun) *string { return &r.TriggeredBy }),
	String("triggering_user", func(r *model.DagRun) *string { return &r.TriggeringUser }),
	String("person", func(r *model.DagRun) *string { return &r.Person }),
	Time("ts", func(r *model.DagRun) *time.Time { return &r.TS }),
	Time("logical_date", func(r *model.DagRun) *time.Time { return &r.LogicalDate }),
	Time("start_date", func(r *model.DagRun) *time.Time { return &r.StartDate }),
	Time("end_date", func(r *model.DagRun) *time.Time { return &r.EndDate }),
	String("state", func(r *model.DagRun) *string { return &r.State }),
	String("conf", func(r *model.DagRun) *string { return &r.Conf }),
	String("raw_sha256", func(r *model.DagRun) *string { return &r.RawSHA256 }),
	Time("received_at", func(r *model.DagRun) *time.Time { return &r.ReceivedAt }),
)

// Identities is the identities table.
var Identities = NewTable("identities",
	String("person", func(i *model.Identity) *string { return &i.Person }),
	String("source", func(i *model.Identity) *model.Source { return &i.Source }),
	String("subject", func(i *model.Identity) *string { return &i.Subject }),
	String("origin", func(i *model.Identity) *string { return &i.Origin }),
	Time("updated_at", func(i *model.Identity) *time.Time { return &i.UpdatedAt }),
)

// AAGUIDs is the aaguids table: operator additions to the curated
// authenticator table.
var AAGUIDs = NewTable("aaguids",
	String("aaguid", func(m *model.AuthenticatorModel) *string { return &m.AAGUID }),
	String("model", func(m *model.AuthenticatorModel) *string { return &m.Model }),
	Bool("hardware", func(m *model.AuthenticatorModel) *bool { return &m.Hardware }),
	Bool("synced", func(m *model.AuthenticatorModel) *bool { return &m.Synced }),
	Bool("platform", func(m *model.AuthenticatorModel) *bool { return &m.Platform }),
	String("status", func(m *model.AuthenticatorModel) *string { return &m.Status }),
	String("source", func(m *model.AuthenticatorModel) *string { return &m.Source }),
	Time("updated_at", func(m *model.AuthenticatorModel) *time.Time { return &m.UpdatedAt }),
)

// Correlations is the correlations table.
var Correlations = NewTable("correlations",
	String("action_id", func(c *model.Correlation) *string { return &c.ActionID }),
	Time("action_ts", func(c *model.Correlation) *time.Time { return &c.ActionTS }),
	String("instance", func(c *model.Correlation) *string { return &c.Instance }),
	String("kind", func(c *model.Correlation) *string { return &c.Kind }),
	String("channel", func(c *model.Correlation) *model.Channel { return &c.Channel }),
	String("action", func(c *model.Correlation) *model.ActionClass { return &c.Action }),
	Bool("privileged", func(c *model.Correlation) *bool { return &c.Privileged }),
	String("dag_id", func(c *model.Correlation) *string { return &c.DagID }),
	String("run_id", func(c *model.Correlation) *string { return &c.RunID }),
	String("actor", func(c *model.Correlation) *string { return &c.Actor }),
	String("person", func(c *model.Correlation) *string { return &c.Person }),
	String("verdict", func(c *model.Correlation) *model.Verdict { return &c.Verdict }),
	String("trigger_action_id", func(c *model.Correlation) *string { return &c.TriggerActionID }),
	String("inherited_from", func(c *model.Correlation) *string { return &c.InheritedFrom }),
	String("inherited_verdict", func(c *model.Correlation) *model.Verdict { return &c.InheritedVerdict }),
	String("assertion_id", func(c *model.Correlation) *string { return &c.AssertionID }),
	Time("assertion_ts", func(c *model.Correlation) *time.Time { return &c.AssertionTS }),
	Int64("assertion_age_ms", func(c *model.Correlation) *int64 { return &c.AssertionAgeMS }),
	String("factor", func(c *model.Correlation) *model.Factor { return &c.Factor }),
	String("authenticator_aaguid", func(c *model.Correlation) *string { return &c.AuthenticatorAAGUID }),
	String("authenticator_model", func(c *model.Correlation) *string { return &c.AuthenticatorModel }),
	String("policy_version", func(c *model.Correlation) *string { return &c.PolicyVersion }),
	String("reason", func(c *model.Correlation) *string { return &c.Reason }),
	Time("computed_at", func(c *model.Correlation) *time.Time { return &c.ComputedAt }),
)

// PolicyRecord is a row of the policies table: a correlation policy's
// canonical text beside its version.
type PolicyRecord struct {
	PolicyVersion string
	PolicyText    string // canonical YAML
	RecordedAt    time.Time
}

// Policies is the policies table.
var Policies = NewTable("policies",
	String("policy_version", func(p *PolicyRecord) *string { return &p.PolicyVersion }),
	String("policy_text", func(p *PolicyRecord) *string { return &p.PolicyText }),
	Time("recorded_at", func(p *PolicyRecord) *time.Time { return &p.RecordedAt }),
)

// Alerts is the alerts table.
var Alerts = NewTable("alerts",
	String("alert_id", func(a *model.Alert) *string { return &a.AlertID }),
	String("action_id", func(a *model.Alert) *string { return &a.ActionID }),
	Time("action_ts", func(a *model.Alert) *time.Time { return &a.ActionTS }),
	String("verdict", func(a *model.Alert) *model.Verdict { return &a.Verdict }),
	String("status", func(a *model.Alert) *string { return &a.Status }),
	String("target", func(a *model.Alert) *string { return &a.Target }),
	String("summary", func(a *model.Alert) *string { return &a.Summary }),
	String("policy_version", func(a *model.Alert) *string { return &a.PolicyVersion }),
	Int64("attempts", func(a *model.Alert) *int64 { return &a.Attempts }),
	String("last_error", func(a *model.Alert) *string { return &a.LastError }),
	Time("created_at", func(a *model.Alert) *time.Time { return &a.CreatedAt }),
	Time("sent_at", func(a *model.Alert) *time.Time { return &a.SentAt }),
	Time("resolved_at", func(a *model.Alert) *time.Time { return &a.ResolvedAt }),
)

// DeadLetters is the dead_letters table.
var DeadLetters = NewTable("dead_letters",
	String("source", func(d *model.DeadLetter) *model.Source { return &d.Source }),
	String("instance", func(d *model.DeadLetter) *string { return &d.Instance }),
	String("origin", func(d *model.DeadLetter) *string { return &d.Origin }),
	Time("received_at", func(d *model.DeadLetter) *time.Time { return &d.ReceivedAt }),
	String("error", func(d *model.DeadLetter) *string { return &d.Error }),
	Bytes("raw", func(d *model.DeadLetter) *[]byte { return &d.Raw }),
	String("sha256", func(d *model.DeadLetter) *string { return &d.SHA256 }),
)

// Cursors is the cursors table.
var Cursors = NewTable("cursors",
	String("collector", func(c *model.Cursor) *string { return &c.Collector }),
	String("position", func(c *model.Cursor) *string { return &c.Position }),
	Time("updated_at", func(c *model.Cursor) *time.Time { return &c.UpdatedAt }),
)

// ReportRecord is a row of the reports table: an evidence pack produced.
type ReportRecord struct {
	ReportID       string
	GeneratedAt    time.Time
	PeriodFrom     time.Time
	PeriodTo       time.Time
	Scope          string
	PolicyVersion  string
	Manifest       string // manifest.json as written
	ManifestSHA256 string
}

// Reports is the reports table.
var Reports = NewTable("reports",
	String("report_id", func(r *ReportRecord) *string { return &r.ReportID }),
	Time("generated_at", func(r *ReportRecord) *time.Time { return &r.GeneratedAt }),
	Time("period_from", func(r *ReportRecord) *time.Time { return &r.PeriodFrom }),
	Time("period_to", func(r *ReportRecord) *time.Time { return &r.PeriodTo }),
	String("scope", func(r *ReportRecord) *string { return &r.Scope }),
	String("policy_version", func(r *ReportRecord) *string { return &r.PolicyVersion }),
	String("manifest", func(r *ReportRecord) *string { return &r.Manifest }),
	String("manifest_sha256", func(r *ReportRecord) *string { return &r.ManifestSHA256 }),
)

// RetentionEntry is a row of retention_log: one partition dropped.
type RetentionEntry struct {
	ExecutedAt time.Time
	Table      string
	Partition  string
	Rows       uint64
	Bytes      uint64
	Cutoff     time.Time
	Operator   string
}

// RetentionLog is the retention_log table (append-only, no version).
var RetentionLog = NewLogTable("retention_log",
	Time("executed_at", func(r *RetentionEntry) *time.Time { return &r.ExecutedAt }),
	String("table_name", func(r *RetentionEntry) *string { return &r.Table }),
	String("partition", func(r *RetentionEntry) *string { return &r.Partition }),
	Uint64("rows", func(r *RetentionEntry) *uint64 { return &r.Rows }),
	Uint64("bytes", func(r *RetentionEntry) *uint64 { return &r.Bytes }),
	Time("cutoff", func(r *RetentionEntry) *time.Time { return &r.Cutoff }),
	String("operator", func(r *RetentionEntry) *string { return &r.Operator }),
)
