package store

import (
	"context"
	"fmt"
	"iter"
	"strings"
)

// Table maps one model type to its ClickHouse table: a column list bound
// to T's fields (see Column). Writes are columnar — a Writer keeps one typed
// slice per column and hands them to a Batch — and reads scan each row
// straight into a T. Declare one Table per table with NewTable or
// NewLogTable; the zero value is not usable.
type Table[T any] struct {
	// Name is the table's name.
	Name string
	// Columns are the column names in insert and select order; a versioned
	// table's last column is "version".
	Columns []string
	// Fields bind the columns (all but "version") to T.
	Fields []Column[T]
	// Versioned tables are ReplacingMergeTree(version): writes stamp the
	// version column and reads use FINAL.
	Versioned bool
}

// NewTable declares a versioned (ReplacingMergeTree) table whose columns are
// cols followed by "version".
func NewTable[T any](name string, cols ...Column[T]) Table[T] {
	t := NewLogTable(name, cols...)
	t.Versioned = true
	t.Columns = append(t.Columns, "version")
	return t
}

// NewLogTable declares an append-only (MergeTree) table without a version
// column; reads do not use FINAL.
func NewLogTable[T any](name string, cols ...Column[T]) Table[T] {
	t := Table[T]{Name: name, Fields: cols}
	for _, c := range cols {
		t.Columns = append(t.Columns, c.Name)
	}
	return t
}

// Write inserts vs as one batch, stamping each row's version with
// DefaultVersions, so a re-written row replaces the older copy.
func (t Table[T]) Write(ctx context.Context, s Store, vs []T) error {
	if len(vs) == 0 {
		return nil
	}
	return t.WriteVersion(ctx, s, vs, DefaultVersions.Next())
}

// WriteVersion inserts vs as one batch with the given row version (ignored
// by tables that are not versioned).
func (t Table[T]) WriteVersion(ctx context.Context, s Store, vs []T, version uint64) error {
	if len(vs) == 0 {
		return nil
	}
	w := t.NewWriter()
	w.Grow(len(vs))
	for i := range vs {
		w.Add(&vs[i])
	}
	return w.Send(ctx, s, version)
}

// Writer collects values of T as typed column slices for one table; Send
// writes them as one columnar batch. Reuse a Writer for consecutive batches:
// Send empties it and keeps its slices' capacity. Not safe for concurrent use.
type Writer[T any] struct {
	t        Table[T]
	cols     []columnWriter[T]
	versions []uint64
	n        int
}

// NewWriter returns an empty writer for t.
func (t Table[T]) NewWriter() *Writer[T] {
	w := &Writer[T]{t: t, cols: make([]columnWriter[T], len(t.Fields))}
	for i, c := range t.Fields {
		w.cols[i] = c.writer()
	}
	return w
}

// Add appends v's fields to the column slices.
func (w *Writer[T]) Add(v *T) {
	for _, c := range w.cols {
		c.add(v)
	}
	w.n++
}

// Grow makes room for n more values without reallocating.
func (w *Writer[T]) Grow(n int) {
	for _, c := range w.cols {
		c.grow(n)
	}
}

// Len is the number of values added since the last Send.
func (w *Writer[T]) Len() int { return w.n }

// Reset discards the values added since the last Send.
func (w *Writer[T]) Reset() {
	for _, c := range w.cols {
		c.reset()
	}
	w.n = 0
}

// Send writes the values added as one batch with the given row version and
// empties the writer (also on error: retry by adding the values again).
func (w *Writer[T]) Send(ctx context.Context, s Store, version uint64) error {
	defer w.Reset()
	if w.n == 0 {
		return nil
	}
	b, err := s.PrepareBatch(ctx, w.t.Name, w.t.Columns)
	if err != nil {
		return fmt.Errorf("write %s: %w", w.t.Name, err)
	}
	defer func() { _ = b.Abort() }()
	for i, c := range w.cols {
		if err := b.Column(i).Append(c.values()); err != nil {
			return fmt.Errorf("write %s: %w", w.t.Name, err)
		}
	}
	if w.t.Versioned {
		if cap(w.versions) < w.n {
			w.versions = make([]uint64, w.n)
		}
		w.versions = w.versions[:w.n]
		for i := range w.versions {
			w.versions[i] = version
		}
		if err := b.Column(len(w.cols)).Append(w.versions); err != nil {
			return fmt.Errorf("write %s: %w", w.t.Name, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("write %d rows into %s: %w", w.n, w.t.Name, err)
	}
	return nil
}

// Addrs returns the addresses of v's fields in column order (the columns
// but "version"), typed as Scan destinations are (*string for a named string
// type, *int64 for a named int64 type): for generic encoders and tests, not
// for hot paths.
func (t Table[T]) Addrs(v *T) []any {
	out := make([]any, len(t.Fields))
	for i, c := range t.Fields {
		out[i] = c.dest(v)
	}
	return out
}

// Select returns the columns clause for reading this table's values.
func (t Table[T]) Select() string {
	q := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		q[i] = QuoteIdent(c)
	}
	return strings.Join(q, ", ")
}

// From returns "FROM <table> FINAL" (without FINAL for an unversioned table).
func (t Table[T]) From() string {
	if t.Versioned {
		return "FROM " + QuoteIdent(t.Name) + " FINAL"
	}
	return "FROM " + QuoteIdent(t.Name)
}

// Scanner reads rows of Select() into values of T, reusing its scan
// destinations (no allocation per row beyond the values' own strings).
// Not safe for concurrent use.
type Scanner[T any] struct {
	cur     T
	dests   []any
	version uint64
}

// NewScanner returns a scanner for rows whose columns are t.Columns.
func (t Table[T]) NewScanner() *Scanner[T] {
	s := &Scanner[T]{dests: make([]any, 0, len(t.Columns))}
	for _, c := range t.Fields {
		s.dests = append(s.dests, c.dest(&s.cur))
	}
	if t.Versioned {
		s.dests = append(s.dests, &s.version)
	}
	return s
}

// Scan reads the current row of r into a new T.
func (s *Scanner[T]) Scan(r Rows) (T, error) {
	var zero T
	s.cur = zero
	if err := r.Scan(s.dests...); err != nil {
		return zero, err
	}
	return s.cur, nil
}

// Version is the version column of the row scanned last (0 for an
// unversioned table).
func (s *Scanner[T]) Version() uint64 { return s.version }

// Scan reads the current row of r (whose columns are t.Columns) into a T.
// Loops should use a Scanner instead.
func (t Table[T]) Scan(r Rows) (T, error) { return t.NewScanner().Scan(r) }

// Read runs "SELECT <columns> FROM <table> [FINAL] <where>" and calls fn for
// each value as the rows stream in; it never holds the whole result. where
// may hold WHERE/ORDER BY/LIMIT with ? placeholders. fn may run other
// queries on s while the read is open.
func (t Table[T]) Read(ctx context.Context, s Store, where string, args []any, fn func(T) error) error {
	return t.ReadVersions(ctx, s, where, args, func(v T, _ uint64) error { return fn(v) })
}

// ReadVersions is Read that also passes each row's version.
func (t Table[T]) ReadVersions(ctx context.Context, s Store, where string, args []any, fn func(T, uint64) error) error {
	return t.ReadQuery(ctx, s, "SELECT "+t.Select()+" "+t.From()+" "+where, args, fn)
}

// ReadQuery runs a query whose columns are t.Columns (see Select), streaming
// each row into fn as a T and its version.
func (t Table[T]) ReadQuery(ctx context.Context, s Store, query string, args []any, fn func(T, uint64) error) error {
	rows, err := s.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	defer rows.Close()
	sc := t.NewScanner()
	for rows.Next() {
		v, err := sc.Scan(rows)
		if err != nil {
			return fmt.Errorf("read %s: %w", t.Name, err)
		}
		if err := fn(v, sc.version); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	return nil
}

// Iter is Read as an iterator: it yields each value as it streams in, or
// one error that ends the sequence. Stopping early closes the read. Several
// iterators may be open at once and pulled in any interleaving (iter.Pull2).
func (t Table[T]) Iter(ctx context.Context, s Store, where string, args ...any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		stopped := false
		err := t.Read(ctx, s, where, args, func(v T) error {
			if !yield(v, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if err != nil && !stopped {
			var zero T
			yield(zero, err)
		}
	}
}

var errStop = fmt.Errorf("iteration stopped")

// All reads every matching value into a slice.
func (t Table[T]) All(ctx context.Context, s Store, where string, args ...any) ([]T, error) {
	var out []T
	err := t.Read(ctx, s, where, args, func(v T) error { out = append(out, v); return nil })
	return out, err
}
