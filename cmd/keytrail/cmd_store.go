package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name:    "migrate",
		summary: "create or upgrade the ClickHouse schema (idempotent)",
		usage:   "migrate",
		run:     runMigrate,
	})
	register(&command{
		name:    "status",
		summary: "show the store, engine and schema versions, and rows per table",
		usage:   "status [--json]",
		run:     runStatus,
	})
	register(&command{
		name:    "sql",
		summary: "run one SQL statement (query or DDL); values for ? placeholders follow the query",
		usage:   "sql [--format tsv|jsonl] [--header] QUERY [VALUE...]",
		run:     runSQL,
	})
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := flags("migrate", e)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	ran, err := schema.Migrate(ctx, s)
	if err != nil {
		return err
	}
	v, err := schema.Version(ctx, s)
	if err != nil {
		return err
	}
	if len(ran) == 0 {
		fmt.Fprintf(e.stdout, "schema is up to date at version %d (%s)\n", v, store.Redact(e.storeURL))
		return nil
	}
	for _, n := range ran {
		fmt.Fprintf(e.stdout, "applied migration %04d\n", n)
	}
	fmt.Fprintf(e.stdout, "schema at version %d (%s)\n", v, store.Redact(e.storeURL))
	return nil
}

// Status is what `keytrail status --json` prints.
type Status struct {
	Store         string           `json:"store"`
	Backend       string           `json:"backend"`
	Engine        string           `json:"engine_version"`
	Dialect       string           `json:"dialect"`
	Database      string           `json:"database"`
	SchemaVersion int              `json:"schema_version"`
	SchemaLatest  int              `json:"schema_latest"`
	Tables        map[string]int64 `json:"tables"`
	// Sources are the states `keytrail collect` last wrote, by source name.
	Sources []model.SourceStatus `json:"sources,omitempty"`
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := flags("status", e)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	st := Status{Store: store.Redact(e.storeURL), Backend: info.Backend, Engine: info.Version, Dialect: s.Dialect().String(),
		Database: info.Database, SchemaLatest: schema.Latest(), Tables: map[string]int64{}}
	if st.SchemaVersion, err = schema.Version(ctx, s); err != nil {
		return err
	}
	if st.SchemaVersion > 0 {
		for _, t := range schema.Tables {
			n, err := store.CountRows(ctx, s, "SELECT count() FROM "+store.QuoteIdent(t))
			if err != nil {
				return fmt.Errorf("count %s: %w", t, err)
			}
			st.Tables[t] = n
		}
		if st.Tables["source_status"] > 0 {
			if st.Sources, err = warehouse.New(s).SourceStatus(ctx); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(st)
	}
	w := e.stdout
	fmt.Fprintf(w, "store:    %s\n", st.Store)
	fmt.Fprintf(w, "engine:   %s %s (%s)\n", st.Backend, st.Engine, st.Dialect)
	fmt.Fprintf(w, "database: %s\n", st.Database)
	switch {
	case st.SchemaVersion == 0:
		fmt.Fprintf(w, "schema:   not created — run `keytrail migrate`\n")
		return nil
	case st.SchemaVersion < st.SchemaLatest:
		fmt.Fprintf(w, "schema:   version %d of %d — run `keytrail migrate`\n", st.SchemaVersion, st.SchemaLatest)
	default:
		fmt.Fprintf(w, "schema:   version %d (up to date)\n", st.SchemaVersion)
	}
	fmt.Fprintln(w, "rows:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range schema.Tables {
		fmt.Fprintf(tw, "  %s\t%d\n", t, st.Tables[t])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Sources) > 0 {
		printSources(w, st.Sources, time.Now())
	}
	return nil
}

// printSources prints each collected source's state as keytrail collect
// last wrote it.
func printSources(w io.Writer, sources []model.SourceStatus, now time.Time) {
	fmt.Fprintln(w, "sources (as keytrail collect last reported):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tTYPE\tINSTANCE\tCURSOR\tLAG\tCOMPLETE TO\tSTORED\tDEAD\tLAST STORED\tLAST ERROR\tREPORTED")
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return now.Sub(t).Round(time.Second).String() + " ago"
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, s := range sources {
		lag := "-"
		if s.Lag > 0 || s.Backlog > 0 {
			lag = s.Lag.Round(time.Second).String()
			if s.Backlog > 0 {
				lag = fmt.Sprintf("%d records", s.Backlog)
			}
		}
		lastErr := "-"
		if s.LastError != "" {
			lastErr = fmt.Sprintf("%s (%s)", s.LastError, ago(s.LastErrorAt))
		}
		complete := "-"
		if !s.Complete.IsZero() {
			complete = s.Complete.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.Name, s.Type, s.Instance, dash(s.Cursor), lag, complete,
			s.Stored, s.DeadLetters, ago(s.LastStoredAt), lastErr, ago(s.UpdatedAt))
	}
	tw.Flush()
}

func runSQL(ctx context.Context, e *env, args []string) error {
	fs := flags("sql", e)
	format := fs.String("format", "tsv", "output format: tsv or jsonl")
	header := fs.Bool("header", false, "print column names first (tsv)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("missing QUERY")
	}
	if *format != "tsv" && *format != "jsonl" {
		return usagef("unknown --format %q", *format)
	}
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	vals := make([]any, len(pos)-1)
	for i, v := range pos[1:] {
		vals[i] = v
	}
	if !store.ReturnsRows(pos[0]) {
		if store.InlineInsertData(pos[0]) && !strings.HasPrefix(e.storeURL, "chdb:") {
			return usagef("a ClickHouse server does not read rows written inside an INSERT over its native protocol (clickhouse-client converts them on its side): use INSERT … SELECT, or keytrail ingest for provider records")
		}
		return s.Exec(ctx, pos[0], vals...)
	}
	rows, err := s.Query(ctx, pos[0], vals...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols := rows.Columns()
	if *format == "tsv" && *header {
		fmt.Fprintln(e.stdout, strings.Join(cols, "\t"))
	}
	enc := json.NewEncoder(e.stdout)
	for rows.Next() {
		vals := rows.Values()
		if *format == "jsonl" {
			obj := make(map[string]any, len(cols))
			for i, c := range cols {
				obj[c] = jsonValue(vals[i])
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
			continue
		}
		fields := make([]string, len(vals))
		for i, v := range vals {
			fields[i] = tsvValue(v)
		}
		if _, err := io.WriteString(e.stdout, strings.Join(fields, "\t")+"\n"); err != nil {
			return err
		}
	}
	return rows.Err()
}

// FormatTime is how keytrail prints times: RFC 3339 UTC with milliseconds.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return FormatTime(x)
	case string:
		if !utf8.ValidString(x) {
			return strings.ToValidUTF8(x, "\uFFFD")
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case uint64:
		return x
	}
	return v
}

func tsvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return `\N`
	case string:
		r := strings.NewReplacer("\\", `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)
		return r.Replace(x)
	case time.Time:
		return FormatTime(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			b, _ := json.Marshal(jsonValue(e))
			parts[i] = string(b)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}
