//go:build !nochdb

// Package chdb is the embedded ClickHouse backend of package store. It runs
// ClickHouse inside the process through chDB (github.com/chdb-io/chdb-go),
// which loads libchdb.so at start-up from $CHDB_LIB_PATH (scripts/setup.sh
// installs it). Importing this package registers the "chdb" URL scheme:
//
//	chdb:///abs/path/to/dir[?database=keytrail]
//
// chDB allows one session per process: every Store opened here shares it, and
// queries run one at a time.
package chdb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	chdbgo "github.com/chdb-io/chdb-go/chdb"

	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/rowbinary"
)

func init() {
	store.Register("chdb", func(ctx context.Context, u *url.URL) (store.Store, error) {
		path := u.Path
		if u.Host != "" { // chdb://relative/path
			path = filepath.Join(u.Host, u.Path)
		}
		db := u.Query().Get("database")
		if db == "" {
			db = "keytrail"
		}
		return Open(ctx, path, db)
	})
}

// session is the process's single chDB session.
var session struct {
	sync.Mutex // serialises queries and open/close
	s          *chdbgo.Session
	path       string
	db         string // the session's current database
	refs       int
}

// Store is the embedded engine.
type Store struct {
	path    string
	db      string
	dialect store.Dialect
	version string
	cols    sync.Map // table -> map[string]store.ColumnType
	closed  bool
}

// ErrOtherPath is returned when a second store is opened at a different path
// in the same process; chDB supports one session per process.
var ErrOtherPath = errors.New("chdb: this process already has an embedded store open at another path")

// Open opens (creating if needed) the embedded store in dir and database db.
func Open(ctx context.Context, dir, db string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("chdb: store URL needs a path, e.g. chdb:///var/lib/keytrail")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("chdb: resolve %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("chdb: create data directory: %w", err)
	}
	session.Lock()
	if session.s == nil {
		s, err := chdbgo.NewSession(abs)
		if err != nil {
			session.Unlock()
			return nil, fmt.Errorf("chdb: open session at %s: %w", abs, err)
		}
		session.s, session.path = s, abs
	} else if session.path != abs {
		session.Unlock()
		return nil, fmt.Errorf("%w (%s, asked for %s)", ErrOtherPath, session.path, abs)
	}
	session.refs++
	session.Unlock()

	st := &Store{path: abs, db: db}
	if err := st.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+store.QuoteIdent(db)); err != nil {
		st.Close()
		return nil, err
	}
	rows, err := st.Query(ctx, "SELECT version()")
	if err != nil {
		st.Close()
		return nil, err
	}
	defer rows.Close()
	if rows.Next() {
		_ = rows.Scan(&st.version)
	}
	st.dialect = store.DialectFor(st.version)
	return st, nil
}

// run executes one statement in the session, in database s.db, honouring ctx.
func (s *Store) run(ctx context.Context, query, format string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Inline INSERT data goes through a pipe, never the SQL text: see stdin.go.
	var feed *pipeFeed
	if ins, ok, err := splitInlineInsert(query); err != nil {
		return nil, err
	} else if ok {
		if query, feed, err = startFeed(ins); err != nil {
			return nil, err
		}
	}
	type answer struct {
		buf []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		session.Lock()
		defer session.Unlock()
		if feed != nil {
			defer feed.abandon() // when the statement did not run
		}
		if session.s == nil {
			done <- answer{err: errors.New("chdb: store is closed")}
			return
		}
		// The session keeps the current database between calls; set it every
		// time so two stores on different databases never see each other's.
		if session.db != s.db && !strings.HasPrefix(query, "CREATE DATABASE") {
			if _, err := session.s.Query("USE "+store.QuoteIdent(s.db), "TSV"); err != nil {
				done <- answer{err: store.ParseError(err.Error())}
				return
			}
			session.db = s.db
		}
		// Let the engine itself stop at the deadline, so an abandoned query
		// does not keep the session busy.
		if dl, ok := ctx.Deadline(); ok {
			secs := time.Until(dl).Seconds()
			if secs < 0.001 {
				secs = 0.001
			}
			if _, err := session.s.Query(fmt.Sprintf("SET max_execution_time = %.3f", secs), "TSV"); err == nil {
				defer session.s.Query("SET max_execution_time = 0", "TSV") //nolint:errcheck // best effort reset
			}
		}
		res, err := session.s.Query(query, format)
		if feed != nil {
			err = feed.finish(err)
		}
		if err != nil {
			done <- answer{err: store.ParseError(err.Error())}
			return
		}
		if res == nil {
			done <- answer{}
			return
		}
		defer res.Free()
		if err := res.Error(); err != nil {
			done <- answer{err: store.ParseError(err.Error())}
			return
		}
		buf := res.Buf()
		out := make([]byte, len(buf))
		copy(out, buf)
		done <- answer{buf: out}
	}()
	select {
	case a := <-done:
		return a.buf, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("chdb query abandoned: %w", ctx.Err())
	}
}

// Exec implements store.Store.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	q, err := store.Bind(s.dialect, query, args)
	if err != nil {
		return err
	}
	_, err = s.run(ctx, q, "TSV")
	return err
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	q, err := store.Bind(s.dialect, query, args)
	if err != nil {
		return nil, err
	}
	buf, err := s.run(ctx, q, "RowBinaryWithNamesAndTypes")
	if err != nil {
		return nil, err
	}
	res, err := rowbinary.Decode(buf)
	if err != nil {
		return nil, fmt.Errorf("chdb: decode result: %w", err)
	}
	return &rows{res: res, i: -1}, nil
}

// columnTypes returns the types of table's columns.
func (s *Store) columnTypes(ctx context.Context, table string) (map[string]store.ColumnType, error) {
	if m, ok := s.cols.Load(table); ok {
		return m.(map[string]store.ColumnType), nil
	}
	rows, err := s.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", s.db, table)
	if err != nil {
		return nil, fmt.Errorf("chdb: columns of %s: %w", table, err)
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
	if len(m) == 0 {
		return nil, &store.Error{Code: store.CodeUnknownTable, Name: "UNKNOWN_TABLE", Message: "table " + s.db + "." + table + " does not exist"}
	}
	s.cols.Store(table, m)
	return m, nil
}

// Insert implements store.Store. Rows are sent as TabSeparated text.
func (s *Store) Insert(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	types, err := s.columnTypes(ctx, table)
	if err != nil {
		return err
	}
	cts := make([]store.ColumnType, len(columns))
	quoted := make([]string, len(columns))
	for i, c := range columns {
		ct, ok := types[c]
		if !ok {
			return fmt.Errorf("chdb: insert into %s: no column %q", table, c)
		}
		cts[i] = ct
		quoted[i] = store.QuoteIdent(c)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(store.QuoteIdent(table))
	b.WriteString(" (")
	b.WriteString(strings.Join(quoted, ", "))
	b.WriteString(") FORMAT TabSeparated\n")
	for ri, row := range rows {
		if len(row) != len(columns) {
			return fmt.Errorf("chdb: insert into %s: row %d has %d values for %d columns", table, ri, len(row), len(columns))
		}
		for i, v := range row {
			if i > 0 {
				b.WriteByte('\t')
			}
			f, err := store.TSVField(s.dialect, cts[i], v)
			if err != nil {
				return fmt.Errorf("chdb: insert into %s: row %d column %s: %w", table, ri, columns[i], err)
			}
			b.WriteString(f)
		}
		b.WriteByte('\n')
	}
	_, err = s.run(ctx, b.String(), "TSV")
	if err != nil {
		return fmt.Errorf("chdb: insert %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return s.dialect }

// Info implements store.Store.
func (s *Store) Info(context.Context) (store.Info, error) {
	return store.Info{Backend: "chdb", Version: s.version, Database: s.db, Location: s.path}, nil
}

// Close implements store.Store. The process's chDB session closes with the
// last store that uses it.
func (s *Store) Close() error {
	session.Lock()
	defer session.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	session.refs--
	if session.refs == 0 && session.s != nil {
		session.s.Close()
		session.s = nil
		session.path = ""
		session.db = ""
	}
	return nil
}

type rows struct {
	res *rowbinary.Result
	i   int
}

func (r *rows) Columns() []string { return r.res.Columns }
func (r *rows) Types() []string   { return r.res.Types }
func (r *rows) Next() bool {
	r.i++
	return r.i < len(r.res.Rows)
}
func (r *rows) Values() []any { return r.res.Rows[r.i] }
func (r *rows) Scan(dest ...any) error {
	row := r.res.Rows[r.i]
	if len(dest) != len(row) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(row))
	}
	for i := range dest {
		if err := store.Assign(dest[i], row[i]); err != nil {
			return fmt.Errorf("column %s: %w", r.res.Columns[i], err)
		}
	}
	return nil
}
func (r *rows) Err() error   { return nil }
func (r *rows) Close() error { return nil }
