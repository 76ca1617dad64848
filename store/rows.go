package store

import (
	"errors"
	"fmt"
	"io"
)

// Block is one block of a query result: a vector per column, all of Rows
// values.
type Block struct {
	Columns []string
	Types   []string
	Vectors []Vector
	Rows    int
}

// BlockSource yields the blocks of one query result in order. A backend
// implements it; NewRows turns it into Rows.
type BlockSource interface {
	// NextBlock returns the next block, or io.EOF itself (never wrapped)
	// after the last. The block is valid until the next call.
	NextBlock() (*Block, error)
	// Close releases the result; the source may be abandoned mid-stream.
	Close() error
}

// HeaderSource is a BlockSource that can tell a result's columns and types
// without a block (an engine that sends no block for an empty result). Rows
// asks only when a caller wants the header of a result that has no block.
type HeaderSource interface {
	Header() (columns, types []string)
}

// NewRows returns the Rows of a stream of blocks. columns and types describe
// the result before its first block (nil when unknown: then a HeaderSource is
// asked on demand).
func NewRows(src BlockSource, columns, types []string) Rows {
	return &blockRows{src: src, cols: columns, types: types}
}

type blockRows struct {
	src    BlockSource
	cur    *Block
	i      int
	cols   []string
	types  []string
	asked  bool
	err    error
	closed bool
}

func (r *blockRows) header() {
	if r.cols != nil || r.asked {
		return
	}
	r.asked = true
	if h, ok := r.src.(HeaderSource); ok {
		r.cols, r.types = h.Header()
	}
}

func (r *blockRows) Columns() []string { r.header(); return r.cols }
func (r *blockRows) Types() []string   { r.header(); return r.types }

func (r *blockRows) Next() bool {
	if r.err != nil || r.closed {
		return false
	}
	r.i++
	for r.cur == nil || r.i >= r.cur.Rows {
		b, err := r.src.NextBlock()
		if err != nil {
			if err != io.EOF { //nolint:errorlint // the end sentinel itself, not an error wrapping it (a broken connection wraps io.EOF)
				r.err = err
			}
			r.cur = nil
			return false
		}
		r.cur, r.i = b, 0
		if b.Columns != nil {
			r.cols, r.types = b.Columns, b.Types
		}
	}
	return true
}

func (r *blockRows) Values() []any {
	if r.cur == nil {
		return nil
	}
	out := make([]any, len(r.cur.Vectors))
	for i, v := range r.cur.Vectors {
		out[i] = v.Value(r.i)
	}
	return out
}

func (r *blockRows) Scan(dest ...any) error {
	if r.cur == nil {
		return errors.New("scan: no current row (call Next first)")
	}
	if len(dest) != len(r.cur.Vectors) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(r.cur.Vectors))
	}
	for i, v := range r.cur.Vectors {
		if err := v.Assign(r.i, dest[i]); err != nil {
			return fmt.Errorf("column %s: %w", r.cols[i], err)
		}
	}
	return nil
}

func (r *blockRows) Err() error { return r.err }

func (r *blockRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cur = nil
	return r.src.Close()
}
