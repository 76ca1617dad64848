package schema

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

//go:embed migrations/*.sql
var files embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version  int
	Name     string
	SQL      string // the template text
	Checksum string // SHA-256 of the template text
}

var fileRE = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns every embedded migration in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := files.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		v, _ := strconv.Atoi(m[1])
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(b), Checksum: model.SHA256Hex(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions must run 1..n without gaps; found %d at position %d", m.Version, i+1)
		}
	}
	return out, nil
}

// Latest is the newest schema version this binary knows.
func Latest() int {
	ms, err := Migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Render expands a migration template for target t and splits it into
// statements. On a cluster (t.Dialect.Cluster set) each statement is then
// rewritten for replicated local tables behind Distributed tables (see
// package doc).
func Render(t Target, text string) ([]string, error) {
	steps, err := render(t, text)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, st := range steps {
		out = append(out, st.stmts...)
	}
	return out, nil
}

// step is what one statement of a migration became, and on a cluster the
// table it changes.
type step struct {
	source string // the migration's own statement
	table  string
	stmts  []string
}

func render(t Target, text string) ([]step, error) {
	d := t.Dialect
	tmpl, err := template.New("migration").Funcs(template.FuncMap{
		"ts":                  d.TimeType,
		"month":               d.Month,
		"day":                 d.Day,
		"unlimitedPartitions": d.UnlimitedPartitions,
	}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse migration template: %w", err)
	}
	var buf bytes.Buffer
	// .Cluster lets a migration say what one node runs and a cluster does
	// not (a statement the cluster rendering cannot rewrite).
	if err := tmpl.Execute(&buf, struct{ Cluster bool }{d.Cluster != ""}); err != nil {
		return nil, fmt.Errorf("render migration template: %w", err)
	}
	stmts := SplitStatements(buf.String())
	var out []step
	if d.Cluster == "" {
		for _, st := range stmts {
			out = append(out, step{source: st, stmts: []string{st}})
		}
		return out, nil
	}
	if t.Database == "" {
		return nil, fmt.Errorf("render for cluster %s: no database", d.Cluster)
	}
	lay, err := embeddedLayouts()
	if err != nil {
		return nil, err
	}
	own, err := layouts(text)
	if err != nil {
		return nil, err
	}
	for k, v := range lay {
		if _, ok := own[k]; !ok {
			own[k] = v
		}
	}
	for _, st := range stmts {
		table, rewritten, err := onCluster(t, st, own)
		if err != nil {
			return nil, err
		}
		out = append(out, step{source: st, table: table, stmts: rewritten})
	}
	return out, nil
}

// ddlConcurrency bounds the ON CLUSTER statements in flight at once, well
// under a connection pool's size.
const ddlConcurrency = 4

// run executes steps in order. On a cluster, where each ON CLUSTER statement
// waits for every host, the steps of different tables run concurrently (a
// table's own steps stay in order); one node runs them one by one.
func run(ctx context.Context, s store.Store, steps []step) error {
	var order []string
	byTable := map[string][]step{}
	for _, st := range steps {
		if _, ok := byTable[st.table]; !ok {
			order = append(order, st.table)
		}
		byTable[st.table] = append(byTable[st.table], st)
	}
	exec := func(steps []step) error {
		for _, st := range steps {
			if has, err := hasColumn(ctx, s, st.source); err != nil {
				return err
			} else if has {
				continue
			}
			for _, q := range st.stmts {
				if err := s.Exec(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", firstLineOf(stripComments(q)), err)
				}
			}
		}
		return nil
	}
	if s.Dialect().Cluster == "" {
		return exec(steps)
	}
	// A few at a time: each holds a pooled connection while it waits.
	errs := make([]error, len(order))
	sem := make(chan struct{}, ddlConcurrency)
	var wg sync.WaitGroup
	for i, table := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = exec(byTable[table])
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// SplitStatements splits SQL text on semicolons that end a line, dropping
// comment-only and empty statements.
func SplitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return
		}
		only := true
		for _, line := range strings.Split(s, "\n") {
			l := strings.TrimSpace(line)
			if l != "" && !strings.HasPrefix(l, "--") {
				only = false
				break
			}
		}
		if !only {
			out = append(out, s)
		}
	}
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasSuffix(trimmed, ";") && !strings.HasPrefix(trimmed, "--") {
			cur.WriteString(strings.TrimSuffix(strings.TrimRight(line, " \t"), ";"))
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return out
}

const ledgerDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    UInt32,
    name       String,
    checksum   String,
    applied_at {{ts}}
) ENGINE = ReplacingMergeTree
ORDER BY version`

// Applied is a migration recorded in the ledger.
type Applied struct {
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
}

// Ledger returns the migrations recorded as applied, in version order. A store
// without a ledger has none.
func Ledger(ctx context.Context, s store.Store) ([]Applied, error) {
	rows, err := s.Query(ctx, "SELECT version, name, checksum, applied_at FROM schema_migrations FINAL ORDER BY version")
	if err != nil {
		if c, ok := store.Code(err); ok && c == store.CodeUnknownTable {
			return nil, nil
		}
		return nil, fmt.Errorf("read schema ledger: %w", err)
	}
	defer rows.Close()
	var out []Applied
	for rows.Next() {
		var a Applied
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &a.AppliedAt); err != nil {
			return nil, fmt.Errorf("read schema ledger: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Version returns the newest applied schema version (0 for an empty store).
func Version(ctx context.Context, s store.Store) (int, error) {
	applied, err := Ledger(ctx, s)
	if err != nil {
		return 0, err
	}
	if len(applied) == 0 {
		return 0, nil
	}
	return applied[len(applied)-1].Version, nil
}

// Migrate applies every migration the store lacks, in order, and records each
// in the ledger after all its statements succeeded. It returns the versions it
// applied. A migration whose recorded checksum differs from the embedded one is
// reported, not re-applied.
func Migrate(ctx context.Context, s store.Store) ([]int, error) {
	return MigrateTo(ctx, s, Latest())
}

// MigrateTo is Migrate up to and including version target.
func MigrateTo(ctx context.Context, s store.Store, target int) ([]int, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if target < len(ms) {
		ms = ms[:max(target, 0)]
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	tgt := Target{Dialect: s.Dialect(), Database: info.Database}
	// The ledger is read before any DDL: on a cluster every ON CLUSTER
	// statement waits for all hosts, so an up-to-date store must not issue
	// one (a host being down then never blocks opening the store).
	applied, err := Ledger(ctx, s)
	if err != nil {
		return nil, err
	}
	if applied == nil {
		steps, err := render(tgt, ledgerDDL)
		if err != nil {
			return nil, err
		}
		if err := run(ctx, s, steps); err != nil {
			return nil, fmt.Errorf("create schema ledger: %w", err)
		}
	}
	done := map[int]Applied{}
	for _, a := range applied {
		done[a.Version] = a
	}
	var ran []int
	for _, m := range ms {
		if a, ok := done[m.Version]; ok {
			if a.Checksum != m.Checksum {
				return ran, fmt.Errorf("migration %04d_%s was applied with checksum %s but this binary has %s: the schema file changed after release", m.Version, m.Name, a.Checksum[:12], m.Checksum[:12])
			}
			continue
		}
		steps, err := render(tgt, m.SQL)
		if err != nil {
			return ran, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if err := run(ctx, s, steps); err != nil {
			return ran, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if err := record(ctx, s, m); err != nil {
			return ran, fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
		}
		ran = append(ran, m.Version)
	}
	return ran, nil
}

// record writes m's row of the schema_migrations ledger.
func record(ctx context.Context, s store.Store, m Migration) error {
	b, err := s.PrepareBatch(ctx, "schema_migrations", []string{"version", "name", "checksum", "applied_at"})
	if err != nil {
		return err
	}
	defer func() { _ = b.Abort() }()
	for i, col := range []any{[]uint32{uint32(m.Version)}, []string{m.Name}, []string{m.Checksum}, []time.Time{time.Now().UTC()}} {
		if err := b.Column(i).Append(col); err != nil {
			return err
		}
	}
	return b.Send()
}

// addColumnRE matches a statement that adds one column. ClickHouse 18.16 has
// no ADD COLUMN IF NOT EXISTS, so Migrate makes such a statement idempotent
// itself: it skips it when the column exists.
var addColumnRE = regexp.MustCompile(`(?is)^(?:\s*--[^\n]*\n)*\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)\s`)

// hasColumn reports whether st, a migration's own statement, adds a column
// that already exists. On a cluster it asks about the local replicated table
// the ALTER changes (the Distributed table is recreated after it).
func hasColumn(ctx context.Context, s store.Store, st string) (bool, error) {
	m := addColumnRE.FindStringSubmatch(st)
	if m == nil {
		return false, nil
	}
	table := m[1]
	if s.Dialect().Cluster != "" {
		table += LocalSuffix
	}
	n, err := store.CountRows(ctx, s, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?", table, m[2])
	if err != nil {
		return false, fmt.Errorf("check column %s.%s: %w", m[1], m[2], err)
	}
	return n > 0, nil
}

// Tables lists keytrail's tables in a stable order.
var Tables = []string{
	"raw_records", "auth_events", "authenticators", "airflow_events", "dag_runs",
	"identities", "correlations", "alerts", "dead_letters", "cursors", "reports",
	"retention_log", "aaguids", "conflicts", "policies", "source_status", "schema_migrations",
}
