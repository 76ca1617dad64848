package main

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

func init() {
	register(&command{
		name:    "events",
		summary: "print normalized events: auth, airflow, runs or authenticators",
		usage:   "events --kind auth|airflow|runs|authenticators [--from T] [--to T] [--format jsonl|csv]",
		run:     runEvents,
	})
	register(&command{
		name:    "deadletters",
		summary: "list rejected input with the reason and its raw bytes",
		usage:   "deadletters [--format text|jsonl] [--source S]",
		run:     runDeadLetters,
	})
}

// record is one output row: ordered field names and values.
type record struct {
	keys []string
	vals []any
}

func (r *record) add(k string, v any) { r.keys = append(r.keys, k); r.vals = append(r.vals, v) }

// jsonField renders a value for JSON output: times RFC 3339 UTC with ms,
// nil pointers as null.
func jsonField(v any) any {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return nil
		}
		return FormatTime(x)
	case *bool:
		if x == nil {
			return nil
		}
		return *x
	case string:
		return strings.ToValidUTF8(x, "\uFFFD")
	}
	return v
}

func csvField(v any) string {
	switch x := jsonField(v).(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case []string:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// recordWriter writes records as JSON lines or CSV with a header.
type recordWriter struct {
	format string
	w      io.Writer
	csv    *csv.Writer
	header bool
}

func newRecordWriter(format string, w io.Writer) (*recordWriter, error) {
	switch format {
	case "jsonl":
		return &recordWriter{format: format, w: w}, nil
	case "csv":
		return &recordWriter{format: format, w: w, csv: csv.NewWriter(w)}, nil
	}
	return nil, usagef("unknown --format %q (jsonl or csv)", format)
}

func (rw *recordWriter) write(r record) error {
	if rw.format == "csv" {
		if !rw.header {
			rw.header = true
			if err := rw.csv.Write(r.keys); err != nil {
				return err
			}
		}
		fields := make([]string, len(r.vals))
		for i, v := range r.vals {
			fields[i] = csvField(v)
		}
		return rw.csv.Write(fields)
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(jsonField(r.vals[i]))
		if err != nil {
			return err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(rw.w, b.String())
	return err
}

func (rw *recordWriter) flush() error {
	if rw.csv != nil {
		rw.csv.Flush()
		return rw.csv.Error()
	}
	return nil
}

// timeRange builds "WHERE col >= ? AND col < ?" for optional bounds.
func timeRange(col string, from, to time.Time) (string, []any) {
	var conds []string
	var args []any
	if !from.IsZero() {
		conds = append(conds, store.QuoteIdent(col)+" >= ?")
		args = append(args, from)
	}
	if !to.IsZero() {
		conds = append(conds, store.QuoteIdent(col)+" < ?")
		args = append(args, to)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return "WHERE " + strings.Join(conds, " AND "), args
}

func runEvents(ctx context.Context, e *env, args []string) error {
	fs := flags("events", e)
	kind := fs.String("kind", "", "auth, airflow, runs or authenticators")
	fromS := fs.String("from", "", "first time included (RFC 3339, YYYY-MM-DD or an age like 7d)")
	toS := fs.String("to", "", "first time excluded")
	format := fs.String("format", "jsonl", "jsonl or csv")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	now := time.Now()
	from, err := parseTime(*fromS, now)
	if err != nil {
		return usagef("--from: %v", err)
	}
	to, err := parseTime(*toS, now)
	if err != nil {
		return usagef("--to: %v", err)
	}
	rw, err := newRecordWriter(*format, e.stdout)
	if err != nil {
		return err
	}
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	switch *kind {
	case "auth":
		where, a := timeRange("ts", from, to)
		err = store.AuthEvents.Read(ctx, s, where+" ORDER BY ts, source, instance, event_id", a, func(v model.AuthEvent) error {
			return rw.write(authRecord(v))
		})
	case "airflow":
		where, a := timeRange("ts", from, to)
		err = store.AirflowEvents.Read(ctx, s, where+" ORDER BY ts, instance, event_log_id", a, func(v model.AirflowEvent) error {
			return rw.write(airflowRecord(v))
		})
	case "runs":
		where, a := timeRange("ts", from, to)
		err = store.DagRuns.Read(ctx, s, where+" ORDER BY ts, instance, dag_id, run_id", a, func(v model.DagRun) error {
			return rw.write(runRecord(v))
		})
	case "authenticators":
		where, a := timeRange("ts", from, to)
		err = store.Authenticators.Read(ctx, s, where+" ORDER BY ts, source, instance, event_id", a, func(v model.Authenticator) error {
			return rw.write(authenticatorRecord(v))
		})
	default:
		return usagef("--kind must be auth, airflow, runs or authenticators")
	}
	if err != nil {
		return err
	}
	return rw.flush()
}

func authRecord(v model.AuthEvent) record {
	var r record
	r.add("source", string(v.Source))
	r.add("instance", v.Instance)
	r.add("event_id", v.EventID)
	r.add("ts", v.TS)
	r.add("person", v.Person)
	r.add("subject", v.Subject)
	r.add("email", v.Email)
	r.add("principal", string(v.Principal))
	r.add("category", string(v.Category))
	r.add("outcome", string(v.Outcome))
	r.add("factor", string(v.Factor))
	r.add("hardware", v.Hardware)
	r.add("aaguid", v.AAGUID)
	r.add("credential_id", v.CredentialID)
	r.add("app", v.App)
	r.add("session_id", v.SessionID)
	r.add("ip", v.IP)
	return r
}

func airflowRecord(v model.AirflowEvent) record {
	var r record
	r.add("instance", v.Instance)
	r.add("event_log_id", v.EventLogID)
	r.add("ts", v.TS)
	r.add("event", v.Event)
	r.add("channel", string(v.Channel))
	r.add("action", string(v.Action))
	r.add("human", v.Human)
	r.add("privileged", v.Privileged)
	r.add("actor", v.Actor)
	r.add("person", v.Person)
	r.add("dag_id", v.DagID)
	r.add("task_id", v.TaskID)
	r.add("run_id", v.RunID)
	var extra any = v.Extra
	if v.Extra == "" {
		extra = nil
	} else if json.Valid([]byte(v.Extra)) {
		extra = json.RawMessage(v.Extra)
	}
	r.add("extra", extra)
	return r
}

func runRecord(v model.DagRun) record {
	var r record
	r.add("instance", v.Instance)
	r.add("dag_id", v.DagID)
	r.add("run_id", v.RunID)
	r.add("run_type", v.RunType)
	r.add("triggered_by", v.TriggeredBy)
	r.add("triggering_user", v.TriggeringUser)
	r.add("person", v.Person)
	r.add("logical_date", v.LogicalDate)
	r.add("start_date", v.StartDate)
	r.add("end_date", v.EndDate)
	r.add("state", v.State)
	return r
}

func authenticatorRecord(v model.Authenticator) record {
	var r record
	r.add("source", string(v.Source))
	r.add("instance", v.Instance)
	r.add("event_id", v.EventID)
	r.add("ts", v.TS)
	r.add("person", v.Person)
	r.add("subject", v.Subject)
	r.add("email", v.Email)
	r.add("action", v.Action)
	r.add("credential_id", v.CredentialID)
	r.add("aaguid", v.AAGUID)
	r.add("model", v.Model)
	r.add("factor", string(v.Factor))
	r.add("hardware", v.Hardware)
	r.add("backup_eligible", v.BackupEligible)
	return r
}

func runDeadLetters(ctx context.Context, e *env, args []string) error {
	fs := flags("deadletters", e)
	format := fs.String("format", "text", "text or jsonl")
	source := fs.String("source", "", "only this source")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "jsonl" {
		return usagef("unknown --format %q", *format)
	}
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	where, a := "", []any(nil)
	if *source != "" {
		where, a = "WHERE source = ?", []any{*source}
	}
	n := 0
	rw, _ := newRecordWriter("jsonl", e.stdout)
	err = store.DeadLetters.Read(ctx, s, where+" ORDER BY received_at, source, origin", a, func(d model.DeadLetter) error {
		n++
		if *format == "jsonl" {
			var r record
			r.add("source", string(d.Source))
			r.add("instance", d.Instance)
			r.add("origin", d.Origin)
			r.add("received_at", d.ReceivedAt)
			r.add("error", d.Error)
			r.add("sha256", d.SHA256)
			if utf8.Valid(d.Raw) {
				r.add("raw", string(d.Raw))
			} else {
				r.add("raw_base64", base64.StdEncoding.EncodeToString(d.Raw))
			}
			return rw.write(r)
		}
		raw := strings.ToValidUTF8(string(d.Raw), "\uFFFD")
		if len(raw) > 200 {
			raw = raw[:200] + "…"
		}
		_, err := fmt.Fprintf(e.stdout, "%s  %s/%s  %s\n  error: %s\n  raw:   %s\n", FormatTime(d.ReceivedAt), d.Source, d.Instance, d.Origin, d.Error, raw)
		return err
	})
	if err != nil {
		return err
	}
	if *format == "text" {
		fmt.Fprintf(e.stdout, "%d dead letters\n", n)
	}
	return nil
}
