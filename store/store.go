package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Store is a connection to a ClickHouse engine. Implementations are safe for
// concurrent use; the embedded engine serialises queries internally.
//
// Every call honours its context: when the deadline passes the call returns an
// error wrapping ctx.Err(), even if the engine has not answered.
type Store interface {
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, query string, args ...any) error
	// Query runs a statement and returns its rows. The caller must Close them.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// Insert writes rows into table in one batch. columns names the columns in
	// the order of each row's values; a batch is accepted whole or not at all
	// from the caller's point of view (on error, retry the whole batch: tables
	// are idempotent on their keys).
	Insert(ctx context.Context, table string, columns []string, rows [][]any) error
	// Dialect tells which SQL features the engine has.
	Dialect() Dialect
	// Info describes the engine.
	Info(ctx context.Context) (Info, error)
	// Close releases the connection.
	Close() error
}

// Rows is the result of a query. Values are decoded to a small set of Go
// types: string, int64, uint64, float64, bool, time.Time, nil (NULL) and []any.
type Rows interface {
	// Columns returns the result's column names.
	Columns() []string
	// Types returns the result's ClickHouse column types.
	Types() []string
	// Next advances to the next row; it returns false at the end or on error.
	Next() bool
	// Values returns the current row's decoded values.
	Values() []any
	// Scan copies the current row into dest (see Assign for supported types).
	Scan(dest ...any) error
	// Err returns the error that ended iteration, if any.
	Err() error
	// Close releases the result.
	Close() error
}

// Info describes a store's engine.
type Info struct {
	Backend  string // "chdb" or "clickhouse"
	Version  string // engine version, e.g. "26.5.1.1"
	Database string
	Location string // path or host, never credentials
}

// Opener opens a store from a parsed URL.
type Opener func(ctx context.Context, u *url.URL) (Store, error)

var (
	mu       sync.Mutex
	backends = map[string]Opener{}
)

// Register makes a backend available under a URL scheme. It panics on a
// duplicate scheme (a programming error).
func Register(scheme string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := backends[scheme]; dup {
		panic("store: backend registered twice: " + scheme)
	}
	backends[scheme] = open
}

// ErrUnknownBackend is returned by Open for a URL scheme no backend handles.
var ErrUnknownBackend = errors.New("unknown store backend")

// Open opens the store a URL names.
func Open(ctx context.Context, rawURL string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse store URL: %w", err)
	}
	mu.Lock()
	open, ok := backends[u.Scheme]
	var known []string
	for k := range backends {
		known = append(known, k)
	}
	mu.Unlock()
	if !ok {
		sort.Strings(known)
		return nil, fmt.Errorf("%w %q (this binary has: %s)", ErrUnknownBackend, u.Scheme, strings.Join(known, ", "))
	}
	return open(ctx, u)
}

// Redact returns rawURL with any password replaced, for logs and messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparseable store URL>"
	}
	return u.Redacted()
}

// DefaultDataDir is where the embedded store lives unless told otherwise:
// $KEYTRAIL_DATA_DIR, else $XDG_DATA_HOME/keytrail, else ~/.local/share/keytrail.
func DefaultDataDir() string {
	if d := os.Getenv("KEYTRAIL_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "keytrail")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "keytrail")
	}
	return filepath.Join(home, ".local", "share", "keytrail")
}

// DefaultURL is the store used when neither --store nor KEYTRAIL_STORE is set:
// the embedded engine under DefaultDataDir.
func DefaultURL() string {
	return "chdb://" + filepath.Join(DefaultDataDir(), "chdb")
}

// CountRows returns the number of rows a query's first column holds as a count.
func CountRows(ctx context.Context, s Store, query string, args ...any) (int64, error) {
	rows, err := s.Query(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}
