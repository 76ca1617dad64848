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
	"io"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"
	"unsafe"

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

// Query implements store.Store. The driver streams the result in blocks as
// the server sends them; each row is scanned into typed holders chosen once
// per column and exposed to the caller as one-row vectors. On a cluster a
// query that fails before its first row while a host is away is sent again
// (ClusterConfig.RetryFor).
func (s *Store) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	q, err := store.Bind(s.dialect, query, args)
	if err != nil {
		return nil, err
	}
	// Closing the rows early cancels the query: the driver would otherwise
	// read the rest of the result to the end.
	qctx, cancel := context.WithCancel(ctx)
	var r driver.Rows
	err = s.retry(ctx, func() (err error) {
		r, err = s.conn.Query(qctx, q)
		return convertErr(err)
	})
	if err != nil {
		cancel()
		return nil, err
	}
	cts := r.ColumnTypes()
	src := &rowSource{r: r, cancel: cancel, block: store.Block{Rows: 1}}
	for _, ct := range cts {
		c := newCell(ct.DatabaseTypeName(), ct.ScanType())
		src.block.Columns = append(src.block.Columns, ct.Name())
		src.block.Types = append(src.block.Types, ct.DatabaseTypeName())
		src.block.Vectors = append(src.block.Vectors, c.vec)
		src.dests = append(src.dests, c.dest)
		src.cells = append(src.cells, c)
	}
	return store.NewRows(src, src.block.Columns, src.block.Types), nil
}

// rowSource is the driver's rows as one-row blocks.
type rowSource struct {
	r      driver.Rows
	cancel context.CancelFunc
	ended  bool
	block  store.Block
	cells  []*cell
	dests  []any
}

func (rs *rowSource) NextBlock() (*store.Block, error) {
	if !rs.r.Next() {
		err := rs.r.Err()
		if err == nil {
			// The driver may report a broken connection only on Close.
			err = rs.r.Close()
		}
		rs.ended = true
		if err != nil {
			return nil, convertErr(err)
		}
		return nil, io.EOF
	}
	if err := rs.r.Scan(rs.dests...); err != nil {
		return nil, convertErr(err)
	}
	for i, c := range rs.cells {
		if c.fix != nil {
			c.fix()
			rs.block.Vectors[i] = c.vec
		}
	}
	return &rs.block, nil
}

func (rs *rowSource) Close() error {
	if rs.ended {
		rs.cancel()
		return nil // the end, or the error Rows.Err reported
	}
	rs.cancel()
	if err := rs.r.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return convertErr(err)
	}
	return nil
}

// cell is where the driver scans one column of a row: dest is handed to the
// driver, vec reads it as a one-row vector (after fix, for holders that need
// converting).
type cell struct {
	dest any
	vec  store.Vector
	fix  func()
}

// one returns a one-value vector of type V and the address of its value.
func one[T any, V ~[]T]() (V, *T) {
	v := make(V, 1)
	return v, &v[0]
}

// newCell chooses the holder for a column of ClickHouse type typ.
func newCell(typ string, scanType reflect.Type) *cell {
	ct := store.ParseColumnType(typ)
	if ct.Nullable {
		inner := newCell(nullableInner(ct.Raw), nil)
		if inner != nil && inner.fix == nil {
			return nullableCell(inner)
		}
	} else if ct.Name == "Array" && ct.Elem != nil && !ct.Elem.Nullable {
		switch ct.Elem.Name {
		case "String", "FixedString":
			return arrayCell(func(v []string) store.Vector { return store.StringVector(v) })
		case "Int64":
			return arrayCell(func(v []int64) store.Vector { return store.IntVector[int64](v) })
		case "UInt64":
			return arrayCell(func(v []uint64) store.Vector { return store.UintVector[uint64](v) })
		case "UInt8":
			return arrayCell(func(v []uint8) store.Vector { return store.UintVector[uint8](v) })
		}
	} else if c := scalarCell(ct.Name); c != nil {
		return c
	}
	if scanType == nil {
		return nil
	}
	// Anything else: the driver's own type, normalized per row.
	holder := reflect.New(scanType)
	vec := make(store.AnyVector, 1)
	return &cell{dest: holder.Interface(), vec: vec, fix: func() {
		v := store.Normalize(holder.Elem().Interface())
		if t, ok := v.(time.Time); ok {
			v = t.UTC()
		}
		vec[0] = v
	}}
}

func scalarCell(name string) *cell {
	switch name {
	case "String", "FixedString", "UUID", "Enum8", "Enum16":
		v, p := one[string, store.StringVector]()
		return &cell{dest: p, vec: v}
	case "Int8":
		v, p := one[int8, store.IntVector[int8]]()
		return &cell{dest: p, vec: v}
	case "Int16":
		v, p := one[int16, store.IntVector[int16]]()
		return &cell{dest: p, vec: v}
	case "Int32":
		v, p := one[int32, store.IntVector[int32]]()
		return &cell{dest: p, vec: v}
	case "Int64":
		v, p := one[int64, store.IntVector[int64]]()
		return &cell{dest: p, vec: v}
	case "UInt8":
		v, p := one[uint8, store.UintVector[uint8]]()
		return &cell{dest: p, vec: v}
	case "UInt16":
		v, p := one[uint16, store.UintVector[uint16]]()
		return &cell{dest: p, vec: v}
	case "UInt32":
		v, p := one[uint32, store.UintVector[uint32]]()
		return &cell{dest: p, vec: v}
	case "UInt64":
		v, p := one[uint64, store.UintVector[uint64]]()
		return &cell{dest: p, vec: v}
	case "Float32":
		v, p := one[float32, store.FloatVector[float32]]()
		return &cell{dest: p, vec: v}
	case "Float64":
		v, p := one[float64, store.FloatVector[float64]]()
		return &cell{dest: p, vec: v}
	case "Bool":
		v, p := one[bool, store.BoolVector]()
		return &cell{dest: p, vec: v}
	case "Date", "Date32", "DateTime", "DateTime64":
		v, p := one[time.Time, store.TimeValues]()
		return &cell{dest: p, vec: v}
	}
	return nil
}

// nullableInner is T of Nullable(T) or LowCardinality(Nullable(T)).
func nullableInner(t string) string {
	t = strings.TrimSpace(t)
	if strings.HasPrefix(t, "LowCardinality(") {
		t = strings.TrimSuffix(strings.TrimPrefix(t, "LowCardinality("), ")")
	}
	return strings.TrimSuffix(strings.TrimPrefix(t, "Nullable("), ")")
}

// nullableCell scans a Nullable column into a pointer to inner's holder type.
func nullableCell(inner *cell) *cell {
	holder := reflect.New(reflect.TypeOf(inner.dest)) // **T
	target := reflect.ValueOf(inner.dest).Elem()      // inner's value
	nulls := []bool{false}
	return &cell{
		dest: holder.Interface(),
		vec:  store.NullableVector{Nulls: nulls, Values: inner.vec},
		fix: func() {
			p := holder.Elem()
			nulls[0] = p.IsNil()
			if !nulls[0] {
				target.Set(p.Elem())
			}
		},
	}
}

// arrayCell scans an Array column into a slice.
func arrayCell[T any](vec func([]T) store.Vector) *cell {
	var v []T
	c := &cell{dest: &v}
	offs := []uint64{0}
	c.fix = func() {
		offs[0] = uint64(len(v))
		c.vec = store.ArrayVector{Offsets: offs, Values: vec(v)}
		v = nil // the driver fills a new slice for the next row
	}
	c.vec = store.ArrayVector{Offsets: offs, Values: vec(nil)}
	return c
}

// columnTypes returns the parsed types of table's columns.
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

// PrepareBatch implements store.Store with the driver's column-oriented
// batch: each typed slice goes to batch.Column(i).Append, converted only
// where the server's column type differs from the slice's (timestamps as
// Int64 milliseconds before 20.1, UInt8 for bool, pointers for Nullable).
func (s *Store) PrepareBatch(ctx context.Context, table string, columns []string) (store.Batch, error) {
	types, err := s.columnTypes(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	for _, c := range columns {
		if _, ok := types[c]; !ok { // a migration may have added it since
			s.cols.Delete(table)
			if types, err = s.columnTypes(ctx, table); err != nil {
				return nil, fmt.Errorf("clickhouse: insert into %s: %w", table, err)
			}
			break
		}
	}
	b := &batch{s: s, ctx: ctx, table: table, cts: make([]store.ColumnType, len(columns)), names: columns, counts: make([]int, len(columns))}
	quoted := make([]string, len(columns))
	for i, c := range columns {
		ct, ok := types[c]
		if !ok {
			return nil, fmt.Errorf("clickhouse: insert into %s: no column %q", table, c)
		}
		b.cts[i] = ct
		quoted[i] = store.QuoteIdent(c)
	}
	// 18.16 needs the explicit column list.
	b.insert = "INSERT INTO " + store.QuoteIdent(table) + " (" + strings.Join(quoted, ", ") + ")"
	if s.retries() {
		b.kept = make([][]any, len(columns))
	}
	if b.b, err = s.conn.PrepareBatch(ctx, b.insert); err != nil {
		return nil, fmt.Errorf("clickhouse: insert into %s: %w", table, convertErr(err))
	}
	return b, nil
}

// batch is a driver batch. On a cluster it also keeps a copy of every
// converted slice, so a Send that fails while a host is away is prepared and
// sent again (ClusterConfig.RetryFor).
type batch struct {
	s      *Store
	ctx    context.Context
	table  string
	insert string
	names  []string
	cts    []store.ColumnType
	counts []int
	kept   [][]any // per column, the driver slices appended (nil: no retries)
	b      driver.Batch
	done   bool
}

type batchColumn struct {
	b *batch
	i int
}

func (bc batchColumn) Append(values any) error {
	b := bc.b
	v, err := driverSlice(b.cts[bc.i], values)
	if err != nil {
		return fmt.Errorf("clickhouse: insert into %s: column %s: %w", b.table, b.names[bc.i], err)
	}
	if err := b.b.Column(bc.i).Append(v); err != nil {
		return fmt.Errorf("clickhouse: insert into %s: column %s: %w", b.table, b.names[bc.i], convertErr(err))
	}
	if b.kept != nil {
		rv := reflect.ValueOf(v) // one copy per slice: the caller may reuse values
		b.kept[bc.i] = append(b.kept[bc.i], reflect.AppendSlice(reflect.MakeSlice(rv.Type(), 0, rv.Len()), rv).Interface())
	}
	b.counts[bc.i] += store.SliceLen(values)
	return nil
}

func (b *batch) Column(i int) store.BatchColumn { return batchColumn{b: b, i: i} }

func (b *batch) Rows() int {
	if len(b.counts) == 0 {
		return 0
	}
	return b.counts[0]
}

func (b *batch) Send() error {
	if b.done {
		return errors.New("clickhouse: batch already sent")
	}
	b.done = true
	for i, n := range b.counts {
		if n != b.counts[0] {
			_ = b.b.Abort()
			return fmt.Errorf("clickhouse: insert into %s: column %s has %d values, column %s has %d", b.table, b.names[i], n, b.names[0], b.counts[0])
		}
	}
	if b.Rows() == 0 {
		return b.b.Abort()
	}
	first := true
	err := b.s.retry(b.ctx, func() error {
		if !first {
			if err := b.again(); err != nil {
				return err
			}
		}
		first = false
		return convertErr(b.b.Send())
	})
	if err != nil {
		return fmt.Errorf("clickhouse: insert %d rows into %s: %w", b.Rows(), b.table, err)
	}
	return nil
}

// again prepares a new driver batch from the kept slices, for a retried Send.
func (b *batch) again() error {
	nb, err := b.s.conn.PrepareBatch(b.ctx, b.insert)
	if err != nil {
		return convertErr(err)
	}
	for i, vs := range b.kept {
		for _, v := range vs {
			if err := nb.Column(i).Append(v); err != nil {
				_ = nb.Abort()
				return convertErr(err)
			}
		}
	}
	b.b = nb
	return nil
}

func (b *batch) Abort() error {
	if b.done {
		return nil
	}
	b.done = true
	return b.b.Abort()
}

// driverSlice converts a store.BatchColumn slice to what the driver appends
// to a column of type ct.
func driverSlice(ct store.ColumnType, values any) (any, error) {
	switch v := values.(type) {
	case []bool:
		if ct.Name == "Bool" {
			return v, nil
		}
		out := make([]uint8, len(v))
		for i, b := range v {
			if b {
				out[i] = 1
			}
		}
		return out, nil
	case []*bool:
		out := make([]*uint8, len(v))
		vals := make([]uint8, len(v))
		for i, b := range v {
			if b == nil {
				continue
			}
			if *b {
				vals[i] = 1
			}
			out[i] = &vals[i]
		}
		return out, nil
	case []time.Time:
		return timeSlice(ct, v)
	case [][]byte:
		// The driver would convert each value to a string (a copy per
		// value) before copying it into the column: view the bytes as
		// strings instead; they are copied into the column at once and not
		// kept.
		out := make([]string, len(v))
		for i, b := range v {
			if len(b) > 0 {
				out[i] = unsafe.String(&b[0], len(b))
			}
		}
		return out, nil
	}
	return values, nil
}

// timeSlice converts times for a timestamp column: DateTime64 or DateTime
// take times, Int64 (servers before 20.1) milliseconds; the zero time is
// NULL in a Nullable column and the epoch otherwise.
func timeSlice(ct store.ColumnType, v []time.Time) (any, error) {
	epoch := time.Unix(0, 0).UTC()
	switch ct.Name {
	case "DateTime64", "DateTime":
		if ct.Nullable {
			out := make([]*time.Time, len(v))
			for i := range v {
				if !v[i].IsZero() {
					out[i] = &v[i]
				}
			}
			return out, nil
		}
		out := make([]time.Time, len(v))
		for i, t := range v {
			if t.IsZero() {
				t = epoch
			}
			out[i] = t
		}
		return out, nil
	case "Int64":
		ms := make([]int64, len(v))
		for i, t := range v {
			if !t.IsZero() {
				ms[i] = t.UnixMilli()
			}
		}
		if !ct.Nullable {
			return ms, nil
		}
		out := make([]*int64, len(v))
		for i := range v {
			if !v[i].IsZero() {
				out[i] = &ms[i]
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot store times in a %s column", ct.Raw)
}

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return s.dialect }

// Info implements store.Store.
func (s *Store) Info(ctx context.Context) (store.Info, error) {
	return store.Info{Backend: "clickhouse", Version: s.version, Database: s.db, Location: s.addr}, nil
}

// Close implements store.Store.
func (s *Store) Close() error { return s.conn.Close() }
