package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Store is a connection to a ClickHouse engine. Implementations are safe for
// concurrent use, and any number of queries may be open at once (a read may
// run other queries, or write, while its rows stream in).
//
// Every call honours its context: when the deadline passes the call returns an
// error wrapping ctx.Err(), even if the engine has not answered.
type Store interface {
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, query string, args ...any) error
	// Query runs a statement and streams its rows: a result arrives in
	// blocks of bounded size, never whole. The caller must Close the rows;
	// ctx bounds the whole read.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// PrepareBatch begins a columnar insert into the named columns of table
	// (see Batch and BatchColumn for the typed slices each column takes).
	PrepareBatch(ctx context.Context, table string, columns []string) (Batch, error)
	// Dialect tells which SQL features the engine has.
	Dialect() Dialect
	// Info describes the engine.
	Info(ctx context.Context) (Info, error)
	// Close releases the connection.
	Close() error
}

// Rows is the streamed result of a query. The caller owns the destinations:
// Scan copies the current row into them, converting as Assign documents;
// for *string, *[]byte, *int64, *int, *int32, *uint64, *uint32, *uint8,
// *float64, *bool, **bool, *time.Time, *[]string, *[]int64 and *any this is
// a type switch, never reflection. Values returns the row decoded to a small
// set of Go types — string, int64, uint64, float64, bool, time.Time, nil
// (NULL) and []any — for generic printers.
type Rows interface {
	// Columns returns the result's column names.
	Columns() []string
	// Types returns the result's ClickHouse column types.
	Types() []string
	// Next advances to the next row; it returns false at the end or on error.
	Next() bool
	// Values returns the current row's decoded values.
	Values() []any
	// Scan copies the current row into dest, one destination per column.
	Scan(dest ...any) error
	// Err returns the error that ended iteration, if any.
	Err() error
	// Close releases the result; it is safe to close before the end.
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

// Open opens the store a URL names. No error it returns contains the URL's
// password or a secret query parameter (see Redact).
func Open(ctx context.Context, rawURL string) (Store, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
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
	s, err := open(ctx, u)
	if err != nil {
		return nil, scrub(err, rawURL, u)
	}
	return s, nil
}

// ErrBadURL is returned for a store URL that does not parse.
var ErrBadURL = errors.New("bad store URL")

// ParseURL parses a store URL. Its error never contains the password: it
// names the URL redacted and what is wrong with it.
func ParseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err == nil {
		if u.Scheme == "" {
			return nil, fmt.Errorf("%w %s: no scheme; want chdb:///path or clickhouse://user:password@host:9000/db", ErrBadURL, Redact(rawURL))
		}
		return u, nil
	}
	shown := Redact(rawURL)
	why := "the password is not valid in a URL: percent-encode it (% as %25, @ as %40, / as %2F, : as %3A, space as %20)"
	// The redacted URL names the problem without the password, unless the
	// password was the problem.
	if _, rerr := url.Parse(shown); rerr != nil {
		var ue *url.Error
		if errors.As(rerr, &ue) {
			why = ue.Err.Error()
		} else {
			why = rerr.Error()
		}
	}
	return nil, fmt.Errorf("%w %s: %s", ErrBadURL, shown, why)
}

// secretParams are query parameters whose values Redact hides.
var secretParams = regexp.MustCompile(`(?i)(pass|secret|token|key|auth|cred)`)

// Redact returns rawURL with its password and the values of query parameters
// that look secret (password, token, key, …) replaced by "xxxxx", for logs and
// messages. It works on the text, so a URL that does not parse is redacted
// too: everything between the first ":" after "//" (or the start) and the
// last "@" counts as the password.
func Redact(rawURL string) string {
	out := rawURL
	start := 0 // without "//", a "user:password@host" string still hides its password
	if i := strings.Index(out, "://"); i >= 0 {
		start = i + 3
	}
	rest := out[start:]
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
			rest = rest[:c+1] + "xxxxx" + rest[at:]
		}
	}
	out = out[:start] + rest
	q := strings.IndexByte(out, '?')
	if q < 0 {
		return out
	}
	frag := ""
	query := out[q+1:]
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, hasV := strings.Cut(p, "=")
		if hasV && secretParams.MatchString(k) {
			parts[i] = k + "=xxxxx"
		}
	}
	return out[:q+1] + strings.Join(parts, "&") + frag
}

// scrub removes the URL's secrets from a backend's error text, for drivers that
// quote what they were given.
func scrub(err error, rawURL string, u *url.URL) error {
	msg := err.Error()
	var secrets []string
	if p, ok := u.User.Password(); ok && p != "" {
		secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
	}
	for k, vs := range u.Query() {
		if secretParams.MatchString(k) {
			secrets = append(secrets, vs...)
		}
	}
	secrets = append(secrets, rawURL, u.String())
	clean := msg
	for _, sec := range secrets {
		if sec != "" {
			clean = strings.ReplaceAll(clean, sec, "xxxxx")
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

// scrubbedError keeps the wrapped error for errors.Is and errors.As but
// prints without the secrets.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

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
