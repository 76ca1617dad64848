package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Table maps one model type to its ClickHouse table: the column list, how a
// value becomes a row, and how a row becomes a value again.
type Table[T any] struct {
	Name    string
	Columns []string
	ToRow   func(v T, version uint64) []any
	Scan    func(r Rows) (T, error)
}

// Write inserts vs as one batch, stamping each row's version with the current
// time so a re-written row replaces the older copy.
func (t Table[T]) Write(ctx context.Context, s Store, vs []T) error {
	if len(vs) == 0 {
		return nil
	}
	version := uint64(time.Now().UnixMilli())
	rows := make([][]any, len(vs))
	for i, v := range vs {
		rows[i] = t.ToRow(v, version)
	}
	return s.Insert(ctx, t.Name, t.Columns, rows)
}

// Select returns the columns clause for reading this table's values.
func (t Table[T]) Select() string {
	q := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		q[i] = QuoteIdent(c)
	}
	return strings.Join(q, ", ")
}

// Read runs "SELECT <columns> FROM <table> FINAL <where>" and calls fn for
// each value. where may hold WHERE/ORDER BY/LIMIT with ? placeholders.
func (t Table[T]) Read(ctx context.Context, s Store, where string, args []any, fn func(T) error) error {
	final := " FINAL"
	if t.Name == "retention_log" {
		final = ""
	}
	rows, err := s.Query(ctx, "SELECT "+t.Select()+" FROM "+QuoteIdent(t.Name)+final+" "+where, args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := t.Scan(rows)
		if err != nil {
			return fmt.Errorf("read %s: %w", t.Name, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// All reads every matching value into a slice.
func (t Table[T]) All(ctx context.Context, s Store, where string, args ...any) ([]T, error) {
	var out []T
	err := t.Read(ctx, s, where, args, func(v T) error { out = append(out, v); return nil })
	return out, err
}

func nb(b *bool) any {
	if b == nil {
		return nil
	}
	if *b {
		return uint8(1)
	}
	return uint8(0)
}

// RawRecords is the raw_records table.
var RawRecords = Table[model.RawRecord]{
	Name:    "raw_records",
	Columns: []string{"source", "instance", "event_id", "ts", "received_at", "raw", "sha256", "version"},
	ToRow: func(r model.RawRecord, v uint64) []any {
		return []any{string(r.Source), r.Instance, r.EventID, r.TS, r.ReceivedAt, r.Raw, r.SHA256, v}
	},
	Scan: func(rs Rows) (r model.RawRecord, err error) {
		var v uint64
		err = rs.Scan(&r.Source, &r.Instance, &r.EventID, &r.TS, &r.ReceivedAt, &r.Raw, &r.SHA256, &v)
		return
	},
}

// AuthEvents is the auth_events table.
var AuthEvents = Table[model.AuthEvent]{
	Name: "auth_events",
	Columns: []string{"source", "instance", "event_id", "ts", "person", "subject", "email", "event_type", "category",
		"outcome", "factor", "hardware", "aaguid", "credential_id", "app", "session_id", "ip", "detail", "methods", "raw_sha256", "received_at", "version", "principal"},
	ToRow: func(e model.AuthEvent, v uint64) []any {
		return []any{string(e.Source), e.Instance, e.EventID, e.TS, e.Person, e.Subject, e.Email, e.EventType, string(e.Category),
			string(e.Outcome), string(e.Factor), nb(e.Hardware), e.AAGUID, e.CredentialID, e.App, e.SessionID, e.IP, e.Detail, e.Methods, e.RawSHA256, e.ReceivedAt, v, string(e.Principal)}
	},
	Scan: func(rs Rows) (e model.AuthEvent, err error) {
		var v uint64
		err = rs.Scan(&e.Source, &e.Instance, &e.EventID, &e.TS, &e.Person, &e.Subject, &e.Email, &e.EventType, &e.Category,
			&e.Outcome, &e.Factor, &e.Hardware, &e.AAGUID, &e.CredentialID, &e.App, &e.SessionID, &e.IP, &e.Detail, &e.Methods, &e.RawSHA256, &e.ReceivedAt, &v, &e.Principal)
		return
	},
}

// Authenticators is the authenticators table.
var Authenticators = Table[model.Authenticator]{
	Name: "authenticators",
	Columns: []string{"source", "instance", "event_id", "ts", "person", "subject", "email", "action", "credential_id",
		"aaguid", "model", "hardware", "backup_eligible", "raw_sha256", "received_at", "version", "factor"},
	ToRow: func(a model.Authenticator, v uint64) []any {
		return []any{string(a.Source), a.Instance, a.EventID, a.TS, a.Person, a.Subject, a.Email, a.Action, a.CredentialID,
			a.AAGUID, a.Model, nb(a.Hardware), nb(a.BackupEligible), a.RawSHA256, a.ReceivedAt, v, string(a.Factor)}
	},
	Scan: func(rs Rows) (a model.Authenticator, err error) {
		var v uint64
		err = rs.Scan(&a.Source, &a.Instance, &a.EventID, &a.TS, &a.Person, &a.Subject, &a.Email, &a.Action, &a.CredentialID,
			&a.AAGUID, &a.Model, &a.Hardware, &a.BackupEligible, &a.RawSHA256, &a.ReceivedAt, &v, &a.Factor)
		return
	},
}

// AirflowEvents is the airflow_events table.
var AirflowEvents = Table[model.AirflowEvent]{
	Name: "airflow_events",
	Columns: []string{"instance", "event_log_id", "ts", "event", "channel", "action", "human", "privileged", "actor", "person",
		"dag_id", "task_id", "run_id", "map_index", "try_number", "logical_date", "extra", "raw_sha256", "received_at", "version"},
	ToRow: func(e model.AirflowEvent, v uint64) []any {
		return []any{e.Instance, e.EventLogID, e.TS, e.Event, string(e.Channel), string(e.Action), e.Human, e.Privileged, e.Actor, e.Person,
			e.DagID, e.TaskID, e.RunID, e.MapIndex, e.TryNumber, e.LogicalDate, e.Extra, e.RawSHA256, e.ReceivedAt, v}
	},
	Scan: func(rs Rows) (e model.AirflowEvent, err error) {
		var v uint64
		err = rs.Scan(&e.Instance, &e.EventLogID, &e.TS, &e.Event, &e.Channel, &e.Action, &e.Human, &e.Privileged, &e.Actor, &e.Person,
			&e.DagID, &e.TaskID, &e.RunID, &e.MapIndex, &e.TryNumber, &e.LogicalDate, &e.Extra, &e.RawSHA256, &e.ReceivedAt, &v)
		return
	},
}

// DagRuns is the dag_runs table.
var DagRuns = Table[model.DagRun]{
	Name: "dag_runs",
	Columns: []string{"instance", "dag_id", "run_id", "run_type", "triggered_by", "triggering_user", "person", "ts",
		"logical_date", "start_date", "end_date", "state", "conf", "raw_sha256", "received_at", "version"},
	ToRow: func(r model.DagRun, v uint64) []any {
		return []any{r.Instance, r.DagID, r.RunID, r.RunType, r.TriggeredBy, r.TriggeringUser, r.Person, r.TS,
			r.LogicalDate, r.StartDate, r.EndDate, r.State, r.Conf, r.RawSHA256, r.ReceivedAt, v}
	},
	Scan: func(rs Rows) (r model.DagRun, err error) {
		var v uint64
		err = rs.Scan(&r.Instance, &r.DagID, &r.RunID, &r.RunType, &r.TriggeredBy, &r.TriggeringUser, &r.Person, &r.TS,
			&r.LogicalDate, &r.StartDate, &r.EndDate, &r.State, &r.Conf, &r.RawSHA256, &r.ReceivedAt, &v)
		return
	},
}

// Identities is the identities table.
var Identities = Table[model.Identity]{
	Name:    "identities",
	Columns: []string{"person", "source", "subject", "origin", "updated_at", "version"},
	ToRow: func(i model.Identity, v uint64) []any {
		return []any{i.Person, string(i.Source), i.Subject, i.Origin, i.UpdatedAt, v}
	},
	Scan: func(rs Rows) (i model.Identity, err error) {
		var v uint64
		err = rs.Scan(&i.Person, &i.Source, &i.Subject, &i.Origin, &i.UpdatedAt, &v)
		return
	},
}

// AAGUIDs is the aaguids table: operator additions to the curated
// authenticator table.
var AAGUIDs = Table[model.AuthenticatorModel]{
	Name:    "aaguids",
	Columns: []string{"aaguid", "model", "hardware", "synced", "platform", "status", "source", "updated_at", "version"},
	ToRow: func(m model.AuthenticatorModel, v uint64) []any {
		return []any{m.AAGUID, m.Model, m.Hardware, m.Synced, m.Platform, m.Status, m.Source, m.UpdatedAt, v}
	},
	Scan: func(rs Rows) (m model.AuthenticatorModel, err error) {
		var v uint64
		err = rs.Scan(&m.AAGUID, &m.Model, &m.Hardware, &m.Synced, &m.Platform, &m.Status, &m.Source, &m.UpdatedAt, &v)
		return
	},
}

// Correlations is the correlations table.
var Correlations = Table[model.Correlation]{
	Name: "correlations",
	Columns: []string{"action_id", "action_ts", "instance", "kind", "channel", "action", "privileged", "dag_id", "run_id",
		"actor", "person", "verdict", "trigger_action_id", "inherited_from", "inherited_verdict", "assertion_id", "assertion_ts", "assertion_age_ms",
		"factor", "authenticator_aaguid", "authenticator_model", "policy_version", "reason", "computed_at", "version"},
	ToRow: func(c model.Correlation, v uint64) []any {
		return []any{c.ActionID, c.ActionTS, c.Instance, c.Kind, string(c.Channel), string(c.Action), c.Privileged, c.DagID, c.RunID,
			c.Actor, c.Person, string(c.Verdict), c.TriggerActionID, c.InheritedFrom, string(c.InheritedVerdict), c.AssertionID, c.AssertionTS, c.AssertionAgeMS,
			string(c.Factor), c.AuthenticatorAAGUID, c.AuthenticatorModel, c.PolicyVersion, c.Reason, c.ComputedAt, v}
	},
	Scan: func(rs Rows) (c model.Correlation, err error) {
		var v uint64
		err = rs.Scan(&c.ActionID, &c.ActionTS, &c.Instance, &c.Kind, &c.Channel, &c.Action, &c.Privileged, &c.DagID, &c.RunID,
			&c.Actor, &c.Person, &c.Verdict, &c.TriggerActionID, &c.InheritedFrom, &c.InheritedVerdict, &c.AssertionID, &c.AssertionTS, &c.AssertionAgeMS,
			&c.Factor, &c.AuthenticatorAAGUID, &c.AuthenticatorModel, &c.PolicyVersion, &c.Reason, &c.ComputedAt, &v)
		return
	},
}

// PolicyRecord is a row of the policies table: a correlation policy's
// canonical text beside its version.
type PolicyRecord struct {
	PolicyVersion string
	PolicyText    string // canonical YAML
	RecordedAt    time.Time
}

// Policies is the policies table.
var Policies = Table[PolicyRecord]{
	Name:    "policies",
	Columns: []string{"policy_version", "policy_text", "recorded_at", "version"},
	ToRow: func(p PolicyRecord, v uint64) []any {
		return []any{p.PolicyVersion, p.PolicyText, p.RecordedAt, v}
	},
	Scan: func(rs Rows) (p PolicyRecord, err error) {
		var v uint64
		err = rs.Scan(&p.PolicyVersion, &p.PolicyText, &p.RecordedAt, &v)
		return
	},
}

// Alerts is the alerts table.
var Alerts = Table[model.Alert]{
	Name: "alerts",
	Columns: []string{"alert_id", "action_id", "action_ts", "verdict", "status", "target", "summary", "policy_version",
		"attempts", "last_error", "created_at", "sent_at", "resolved_at", "version"},
	ToRow: func(a model.Alert, v uint64) []any {
		return []any{a.AlertID, a.ActionID, a.ActionTS, string(a.Verdict), a.Status, a.Target, a.Summary, a.PolicyVersion,
			a.Attempts, a.LastError, a.CreatedAt, a.SentAt, a.ResolvedAt, v}
	},
	Scan: func(rs Rows) (a model.Alert, err error) {
		var v uint64
		err = rs.Scan(&a.AlertID, &a.ActionID, &a.ActionTS, &a.Verdict, &a.Status, &a.Target, &a.Summary, &a.PolicyVersion,
			&a.Attempts, &a.LastError, &a.CreatedAt, &a.SentAt, &a.ResolvedAt, &v)
		return
	},
}

// DeadLetters is the dead_letters table.
var DeadLetters = Table[model.DeadLetter]{
	Name:    "dead_letters",
	Columns: []string{"source", "instance", "origin", "received_at", "error", "raw", "sha256", "version"},
	ToRow: func(d model.DeadLetter, v uint64) []any {
		return []any{string(d.Source), d.Instance, d.Origin, d.ReceivedAt, d.Error, d.Raw, d.SHA256, v}
	},
	Scan: func(rs Rows) (d model.DeadLetter, err error) {
		var v uint64
		err = rs.Scan(&d.Source, &d.Instance, &d.Origin, &d.ReceivedAt, &d.Error, &d.Raw, &d.SHA256, &v)
		return
	},
}

// Cursors is the cursors table.
var Cursors = Table[model.Cursor]{
	Name:    "cursors",
	Columns: []string{"collector", "position", "updated_at", "version"},
	ToRow: func(c model.Cursor, v uint64) []any {
		return []any{c.Collector, c.Position, c.UpdatedAt, v}
	},
	Scan: func(rs Rows) (c model.Cursor, err error) {
		var v uint64
		err = rs.Scan(&c.Collector, &c.Position, &c.UpdatedAt, &v)
		return
	},
}

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
var Reports = Table[ReportRecord]{
	Name:    "reports",
	Columns: []string{"report_id", "generated_at", "period_from", "period_to", "scope", "policy_version", "manifest", "manifest_sha256", "version"},
	ToRow: func(r ReportRecord, v uint64) []any {
		return []any{r.ReportID, r.GeneratedAt, r.PeriodFrom, r.PeriodTo, r.Scope, r.PolicyVersion, r.Manifest, r.ManifestSHA256, v}
	},
	Scan: func(rs Rows) (r ReportRecord, err error) {
		var v uint64
		err = rs.Scan(&r.ReportID, &r.GeneratedAt, &r.PeriodFrom, &r.PeriodTo, &r.Scope, &r.PolicyVersion, &r.Manifest, &r.ManifestSHA256, &v)
		return
	},
}

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

// RetentionLog is the retention_log table.
var RetentionLog = Table[RetentionEntry]{
	Name:    "retention_log",
	Columns: []string{"executed_at", "table_name", "partition", "rows", "bytes", "cutoff", "operator"},
	ToRow: func(r RetentionEntry, _ uint64) []any {
		return []any{r.ExecutedAt, r.Table, r.Partition, r.Rows, r.Bytes, r.Cutoff, r.Operator}
	},
	Scan: func(rs Rows) (r RetentionEntry, err error) {
		err = rs.Scan(&r.ExecutedAt, &r.Table, &r.Partition, &r.Rows, &r.Bytes, &r.Cutoff, &r.Operator)
		return
	},
}
