// Package clickhouse is the ClickHouse server backend of package store, over
// the native protocol (github.com/ClickHouse/clickhouse-go/v2). Importing it
// registers the "clickhouse" URL scheme:
//
//	clickhouse://user:password@host:9000/database?dial_timeout=5s&read_timeout=60s
//	clickhouse://user:password@h1:9000,h2:9000/database?cluster=NAME
//
// The database defaults to "keytrail" and is created when missing. With
// cluster=NAME the store runs on that ClickHouse cluster (see ClusterConfig
// and package schema): the database is created ON CLUSTER and every
// connection carries the cluster's read and write settings.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/keytrail/keytrail/store"
)

func init() {
	store.Register("clickhouse", func(ctx context.Context, u *url.URL) (store.Store, error) {
		return Open(ctx, u)
	})
}

// Store is a ClickHouse server connection pool.
type Store struct {
	conn    driver.Conn
	db      string
	addr    string
	version string
	dialect store.Dialect
	cluster ClusterConfig
	cols    sync.Map
}

// Open connects to the server u names, creates its database when missing and
// reads the server version.
func Open(ctx context.Context, u *url.URL) (*Store, error) {
	v := *u
	db := strings.Trim(v.Path, "/")
	if db == "" {
		db = "keytrail"
	}
	q := v.Query()
	if q.Get("dial_timeout") == "" {
		q.Set("dial_timeout", "5s")
	}
	if q.Get("read_timeout") == "" {
		q.Set("read_timeout", "300s")
	}
	// cluster and retry_for are keytrail's, not server settings.
	var cluster ClusterConfig
	if q.Has("cluster") {
		cluster = ClusterConfig{Name: q.Get("cluster"), RetryFor: 60 * time.Second}
		if r := q.Get("retry_for"); r != "" {
			d, err := time.ParseDuration(r)
			if err != nil {
				return nil, fmt.Errorf("clickhouse: store URL %s: retry_for: %w", u.Redacted(), err)
			}
			cluster.RetryFor = d
		}
		if err := cluster.Validate(); err != nil {
			return nil, fmt.Errorf("clickhouse: store URL %s: %w", u.Redacted(), err)
		}
	} else if q.Has("retry_for") {
		return nil, fmt.Errorf("clickhouse: store URL %s: retry_for needs cluster", u.Redacted())
	}
	q.Del("cluster")
	q.Del("retry_for")
	v.RawQuery = q.Encode()
	// Connect to "default" first: the database may not exist yet.
	v.Path = "/default"
	opts, err := ch.ParseDSN(v.String())
	if err != nil {
		return nil, fmt.Errorf("clickhouse: parse store URL %s: %w", u.Redacted(), err)
	}
	if len(opts.Addr) == 0 || opts.Addr[0] == "" {
		return nil, fmt.Errorf("clickhouse: store URL %s has no host", u.Redacted())
	}
	boot, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: connect %s: %w", strings.Join(opts.Addr, ","), err)
	}
	replicas := 0
	if cluster.Name != "" {
		replicas, err = checkCluster(ctx, boot, cluster.Name)
	}
	if err == nil {
		err = createDatabase(ctx, boot, db, cluster.Name)
	}
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: connect %s: %w", strings.Join(opts.Addr, ","), err)
	}
	if cluster.Name != "" {
		if opts.Settings == nil {
			opts.Settings = ch.Settings{}
		}
		for k, v := range clusterSettings {
			if _, set := opts.Settings[k]; !set {
				opts.Settings[k] = v
			}
		}
		if _, set := opts.Settings["insert_quorum"]; !set && replicas > 1 {
			opts.Settings["insert_quorum"] = replicas
		}
	}
	opts.Auth.Database = db
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: connect %s: %w", strings.Join(opts.Addr, ","), err)
	}
	s := &Store{conn: conn, db: db, addr: strings.Join(opts.Addr, ","), cluster: cluster}
	sv, err := conn.ServerVersion()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse: server version: %w", convertErr(err))
	}
	s.version = fmt.Sprintf("%d.%d.%d", sv.Version.Major, sv.Version.Minor, sv.Version.Patch)
	s.dialect = store.DialectFor(s.version)
	s.dialect.Cluster = cluster.Name
	return s, nil
}

// createDatabase creates db when the server lacks it; on a cluster ON
// CLUSTER, and only when the connected host lacks it (an ON CLUSTER
// statement waits for every host, and one the connected host already ran is
// queued in ZooKeeper for the others).
func createDatabase(ctx context.Context, conn driver.Conn, db, cluster string) error {
	if cluster == "" {
		return convertErr(conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+store.QuoteIdent(db)))
	}
	rows, err := conn.Query(ctx, "SELECT count() FROM system.databases WHERE name = "+store.QuoteString(db))
	if err != nil {
		return convertErr(err)
	}
	var n uint64
	if rows.Next() {
		err = rows.Scan(&n)
	}
	rows.Close()
	if err != nil {
		return convertErr(err)
	}
	if n > 0 {
		return nil
	}
	return convertErr(conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+store.QuoteIdent(db)+" ON CLUSTER "+store.QuoteIdent(cluster)))
}

// convertErr maps driver exceptions to *store.Error, keeping the code.
func convertErr(err error) error {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		return &store.Error{Code: ex.Code, Name: ex.Name, Message: ex.Message}
	}
	return err
}

// Exec implements store.Store.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	q, err := store.Bind(s.dialect, query, args)
	if err != nil {
		return err
	}
	if err := s.conn.Exec(ctx, q); err != nil {
		return convertErr(err)
	}
	return nil
}

// Query implements store.Store. On a cluster a query that fails before its
// first row while a host is away is sent again (ClusterConfig.RetryFor).
func (s *Store) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	q, err := store.Bind(s.dialect, query, args)
	if err != nil {
		return nil, err
	}
	var r driver.Rows
	err = s.retry(ctx, func() (err error) {
		r, err = s.conn.Query(ctx, q)
		return convertErr(err)
	})
	if err != nil {
		return nil, err
	}
	cts := r.ColumnTypes()
	out := &rows{r: r, cols: make([]string, len(cts)), types: make([]string, len(cts)), holders: make([]any, len(cts))}
	for i, ct := range cts {
		out.cols[i] = ct.Name()
		out.types[i] = ct.DatabaseTypeName()
		out.holders[i] = reflect.New(ct.ScanType()).Interface()
	}
	return out, nil
}

func (s *Store) columnTypes(ctx context.Context, table string) (map[string]store.ColumnType, error) {
	if m, ok := s.cols.Load(table); ok {
		return m.(map[string]store.ColumnType), nil
	}
	rows, err := s.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", s.db, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]store.ColumnType{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		m[name] = store.ParseColumnType(typ)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, &store.Error{Code: store.CodeUnknownTable, Name: "UNKNOWN_TABLE", Message: "table " + s.db + "." + table + " does not exist"}
	}
	s.cols.Store(table, m)
	return m, nil
}

// Insert implements store.Store with one native batch. On a cluster a batch
// that fails while a host is away is sent again (ClusterConfig.RetryFor).
func (s *Store) Insert(ctx context.Context, table string, columns []string, rows [][]any) error {
	return s.retry(ctx, func() error { return s.insert(ctx, table, columns, rows) })
}

func (s *Store) insert(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	types, err := s.columnTypes(ctx, table)
	if err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	cts := make([]store.ColumnType, len(columns))
	quoted := make([]string, len(columns))
	for i, c := range columns {
		ct, ok := types[c]
		if !ok {
			return fmt.Errorf("clickhouse: insert into %s: no column %q", table, c)
		}
		cts[i] = ct
		quoted[i] = store.QuoteIdent(c)
	}
	// 18.16 needs the explicit column list.
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+store.QuoteIdent(table)+" ("+strings.Join(quoted, ", ")+")")
	if err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", table, convertErr(err))
	}
	defer func() { _ = batch.Abort() }()
	vals := make([]any, len(columns))
	for ri, row := range rows {
		if len(row) != len(columns) {
			return fmt.Errorf("clickhouse: insert into %s: row %d has %d values for %d columns", table, ri, len(row), len(columns))
		}
		for i, v := range row {
			if vals[i], err = store.ColumnValue(cts[i], v); err != nil {
				return fmt.Errorf("clickhouse: insert into %s: row %d column %s: %w", table, ri, columns[i], err)
			}
		}
		if err := batch.Append(vals...); err != nil {
			return fmt.Errorf("clickhouse: insert into %s: row %d: %w", table, ri, convertErr(err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert %d rows into %s: %w", len(rows), table, convertErr(err))
	}
	return nil
}

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return s.dialect }

// Info implements store.Store.
func (s *Store) Info(ctx context.Context) (store.Info, error) {
	return store.Info{Backend: "clickhouse", Version: s.version, Database: s.db, Location: s.addr}, nil
}

// Close implements store.Store.
func (s *Store) Close() error { return s.conn.Close() }

type rows struct {
	r       driver.Rows
	cols    []string
	types   []string
	holders []any
	vals    []any
	err     error
}

func (r *rows) Columns() []string { return r.cols }
func (r *rows) Types() []string   { return r.types }
func (r *rows) Next() bool {
	if r.err != nil || !r.r.Next() {
		return false
	}
	if err := r.r.Scan(r.holders...); err != nil {
		r.err = convertErr(err)
		return false
	}
	r.vals = make([]any, len(r.holders))
	for i, h := range r.holders {
		v := store.Normalize(reflect.ValueOf(h).Elem().Interface())
		if t, ok := v.(time.Time); ok {
			v = t.UTC()
		}
		r.vals[i] = v
	}
	return true
}
func (r *rows) Values() []any { return r.vals }
func (r *rows) Scan(dest ...any) error {
	if len(dest) != len(r.vals) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(r.vals))
	}
	for i := range dest {
		if err := store.Assign(dest[i], r.vals[i]); err != nil {
			return fmt.Errorf("column %s: %w", r.cols[i], err)
		}
	}
	return nil
}
func (r *rows) Err() error {
	if r.err != nil {
		return r.err
	}
	return convertErr(r.r.Err())
}
func (r *rows) Close() error { return r.r.Close() }
