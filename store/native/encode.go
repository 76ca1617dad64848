// Package native reads and writes ClickHouse's Native format, the columnar
// binary format of the engine's own blocks: a block is its column count and
// row count, then each column's name, type and values, column after column.
// The embedded backend inserts with it (a block built from typed column
// slices, no text round trip) and streams query results in it.
package native

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Column is one column of a Native block being built: its values are
// encoded as they are appended.
type Column struct {
	name string
	typ  string // the type named in the block
	enc  encoder
}

// encoder appends typed slices to a column's encoded values.
type encoder interface {
	// append encodes values; it returns the number of rows they hold.
	append(values any) (int, error)
	// rows is the number of rows encoded.
	rows() int
	// size is the encoded length in bytes.
	size() int
	// parts appends the encoded values, in order, to dst.
	parts(dst [][]byte) [][]byte
}

// NewColumn returns an empty column named name of ClickHouse type typ. The
// Go slice types each column type takes are those of store.BatchColumn.
// LowCardinality(T) columns are sent as T (the engine converts).
func NewColumn(name, typ string) (*Column, error) {
	t := stripLowCardinality(strings.TrimSpace(typ))
	enc, err := encoderFor(t)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", name, err)
	}
	return &Column{name: name, typ: t, enc: enc}, nil
}

// Append encodes the values of a typed slice.
func (c *Column) Append(values any) error {
	if _, err := c.enc.append(values); err != nil {
		return fmt.Errorf("column %s: %w", c.name, err)
	}
	return nil
}

// Release gives the column's large buffers back for reuse by columns built
// later (a batch of raw records is megabytes: reusing its buffer spares
// allocating, zeroing and faulting in fresh memory for every batch). The
// column, and any Block built from it, must not be used afterwards.
func (c *Column) Release() {
	if r, ok := c.enc.(interface{ release() }); ok {
		r.release()
	}
}

// bufs holds released column buffers (*[]byte) of at least minPooled bytes.
var bufs sync.Pool

// minPooled is the capacity below which a buffer is not worth pooling.
const minPooled = 64 << 10

// growBuf is slices.Grow(buf, n), starting an empty buffer from a released
// one when one is large enough.
func growBuf(buf []byte, n int) []byte {
	if cap(buf) == 0 && n >= minPooled {
		if p, ok := bufs.Get().(*[]byte); ok {
			if cap(*p) >= n {
				return (*p)[:0]
			}
			bufs.Put(p)
		}
	}
	return slices.Grow(buf, n)
}

// putBuf pools buf for growBuf.
func putBuf(buf []byte) {
	if cap(buf) >= minPooled {
		buf = buf[:0]
		bufs.Put(&buf)
	}
}

// Rows is the number of values appended.
func (c *Column) Rows() int { return c.enc.rows() }

// Name is the column's name.
func (c *Column) Name() string { return c.name }

// Type is the column's type as the block names it.
func (c *Column) Type() string { return c.typ }

// Structure is the "name Type, …" list of cols, as the file() and format()
// table functions take it.
func Structure(cols []*Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = quoteIdent(c.name) + " " + c.typ
	}
	return strings.Join(parts, ", ")
}

func quoteIdent(s string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(s) + "`"
}

// blockParts returns a Native block holding cols as consecutive byte slices.
func blockParts(cols []*Column) ([][]byte, int, error) {
	n := 0
	head := binary.AppendUvarint(nil, uint64(len(cols)))
	for i, c := range cols {
		if i == 0 {
			n = c.Rows()
		} else if c.Rows() != n {
			return nil, 0, fmt.Errorf("column %s has %d values, column %s has %d", c.name, c.Rows(), cols[0].name, n)
		}
	}
	head = binary.AppendUvarint(head, uint64(n))
	out := [][]byte{head}
	size := len(head)
	for _, c := range cols {
		h := appendString(appendString(nil, c.name), c.typ)
		out = append(out, h)
		out = c.enc.parts(out)
		size += len(h) + c.enc.size()
	}
	return out, size, nil
}

// Block is one Native block of columns, ready to write.
type Block struct {
	parts [][]byte
	size  int
}

// NewBlock assembles cols into a block (without copying their values).
// Every column must hold the same number of rows.
func NewBlock(cols []*Column) (*Block, error) {
	parts, size, err := blockParts(cols)
	if err != nil {
		return nil, err
	}
	return &Block{parts: parts, size: size}, nil
}

// Size is the block's length in bytes.
func (b *Block) Size() int { return b.size }

// WriteTo writes the block to w.
func (b *Block) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, p := range b.parts {
		k, err := w.Write(p)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// AppendBlock appends one Native block holding cols to dst. Every column
// must hold the same number of rows.
func AppendBlock(dst []byte, cols []*Column) ([]byte, error) {
	b, err := NewBlock(cols)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, b.size)
	for _, p := range b.parts {
		dst = append(dst, p...)
	}
	return dst, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// uvarintLen is the length of n as an unsigned varint.
func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

func stripLowCardinality(t string) string {
	if strings.HasPrefix(t, "LowCardinality(") && strings.HasSuffix(t, ")") {
		return t[len("LowCardinality(") : len(t)-1]
	}
	return t
}

func encoderFor(t string) (encoder, error) {
	switch {
	case strings.HasPrefix(t, "Nullable(") && strings.HasSuffix(t, ")"):
		inner := stripLowCardinality(t[len("Nullable(") : len(t)-1])
		enc, err := encoderFor(inner)
		if err != nil {
			return nil, err
		}
		return &nullableEnc{inner: enc}, nil
	case t == "Array(String)":
		return &stringArrayEnc{}, nil
	case strings.HasPrefix(t, "DateTime64("):
		unit, err := dateTime64Unit(t)
		if err != nil {
			return nil, err
		}
		return &timeEnc{unit: unit, width: 8}, nil
	case t == "DateTime" || strings.HasPrefix(t, "DateTime("):
		return &timeEnc{unit: time.Second, width: 4}, nil
	}
	switch t {
	case "String":
		return &stringEnc{}, nil
	case "Int64":
		return &fixedEnc[int64]{width: 8, put: func(b []byte, v int64) { binary.LittleEndian.PutUint64(b, uint64(v)) }}, nil
	case "UInt64":
		return &fixedEnc[uint64]{width: 8, put: binary.LittleEndian.PutUint64}, nil
	case "UInt32":
		return &fixedEnc[uint32]{width: 4, put: binary.LittleEndian.PutUint32}, nil
	case "Float64":
		return &fixedEnc[float64]{width: 8, put: func(b []byte, v float64) { binary.LittleEndian.PutUint64(b, math.Float64bits(v)) }}, nil
	case "UInt8", "Bool":
		return &byteEnc{}, nil
	}
	return nil, fmt.Errorf("native: no encoder for type %s", t)
}

// dateTime64Unit is the tick of DateTime64(P[, tz]).
func dateTime64Unit(t string) (time.Duration, error) {
	body, ok := strings.CutPrefix(t, "DateTime64(")
	if !ok || !strings.HasSuffix(body, ")") {
		return 0, fmt.Errorf("native: bad type %s", t)
	}
	args := strings.SplitN(body[:len(body)-1], ",", 2)
	p, err := strconv.Atoi(strings.TrimSpace(args[0]))
	if err != nil || p < 0 || p > 9 {
		return 0, fmt.Errorf("native: bad type %s", t)
	}
	unit := time.Second
	for range p {
		unit /= 10
	}
	return unit, nil
}

type stringEnc struct {
	buf []byte
	n   int
}

func (e *stringEnc) append(values any) (int, error) {
	switch v := values.(type) {
	case []string:
		need := 0
		for _, s := range v {
			need += len(s) + uvarintLen(len(s))
		}
		e.buf = growBuf(e.buf, need)
		for _, s := range v {
			e.buf = appendString(e.buf, s)
		}
		e.n += len(v)
		return len(v), nil
	case [][]byte:
		need := 0
		for _, s := range v {
			need += len(s) + uvarintLen(len(s))
		}
		e.buf = growBuf(e.buf, need)
		for _, s := range v {
			e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
			e.buf = append(e.buf, s...)
		}
		e.n += len(v)
		return len(v), nil
	}
	return 0, fmt.Errorf("cannot append %T to a String column", values)
}

func (e *stringEnc) release() {
	putBuf(e.buf)
	e.buf, e.n = nil, 0
}

func (e *stringEnc) rows() int                   { return e.n }
func (e *stringEnc) size() int                   { return len(e.buf) }
func (e *stringEnc) parts(dst [][]byte) [][]byte { return append(dst, e.buf) }

type fixedEnc[T any] struct {
	width int
	put   func([]byte, T)
	buf   []byte
}

func (e *fixedEnc[T]) append(values any) (int, error) {
	v, ok := values.([]T)
	if !ok {
		var zero T
		return 0, fmt.Errorf("cannot append %T to a %T column", values, zero)
	}
	off := len(e.buf)
	e.buf = append(e.buf, make([]byte, len(v)*e.width)...)
	for i, x := range v {
		e.put(e.buf[off+i*e.width:], x)
	}
	return len(v), nil
}

func (e *fixedEnc[T]) rows() int                   { return len(e.buf) / e.width }
func (e *fixedEnc[T]) size() int                   { return len(e.buf) }
func (e *fixedEnc[T]) parts(dst [][]byte) [][]byte { return append(dst, e.buf) }

type byteEnc struct{ buf []byte }

func (e *byteEnc) append(values any) (int, error) {
	switch v := values.(type) {
	case []uint8:
		e.buf = append(e.buf, v...)
		return len(v), nil
	case []bool:
		for _, b := range v {
			if b {
				e.buf = append(e.buf, 1)
			} else {
				e.buf = append(e.buf, 0)
			}
		}
		return len(v), nil
	}
	return 0, fmt.Errorf("cannot append %T to a UInt8 column", values)
}

func (e *byteEnc) rows() int                   { return len(e.buf) }
func (e *byteEnc) size() int                   { return len(e.buf) }
func (e *byteEnc) parts(dst [][]byte) [][]byte { return append(dst, e.buf) }

// timeEnc encodes time.Time as ticks of unit since the epoch; the zero time
// is the epoch.
type timeEnc struct {
	unit  time.Duration
	width int
	buf   []byte
}

func (e *timeEnc) ticks(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	switch {
	case e.unit == time.Millisecond:
		return t.UnixMilli()
	case e.unit == time.Second:
		return t.Unix()
	case e.unit > time.Millisecond:
		return t.UnixMilli() / int64(e.unit/time.Millisecond)
	}
	per := int64(time.Second / e.unit)
	return t.Unix()*per + int64(t.Nanosecond())/int64(e.unit)
}

func (e *timeEnc) append(values any) (int, error) {
	v, ok := values.([]time.Time)
	if !ok {
		return 0, fmt.Errorf("cannot append %T to a time column", values)
	}
	for _, t := range v {
		n := e.ticks(t)
		if e.width == 8 {
			e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(n))
		} else {
			e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(n))
		}
	}
	return len(v), nil
}

func (e *timeEnc) rows() int                   { return len(e.buf) / e.width }
func (e *timeEnc) size() int                   { return len(e.buf) }
func (e *timeEnc) parts(dst [][]byte) [][]byte { return append(dst, e.buf) }

// nullableEnc is a null map followed by the inner column. NULL is a nil
// *bool, or the zero time in a time column.
type nullableEnc struct {
	nulls []byte
	inner encoder
}

func (e *nullableEnc) append(values any) (int, error) {
	switch v := values.(type) {
	case []*bool:
		vals := make([]uint8, len(v))
		for i, p := range v {
			switch {
			case p == nil:
				e.nulls = append(e.nulls, 1)
			case *p:
				vals[i] = 1
				e.nulls = append(e.nulls, 0)
			default:
				e.nulls = append(e.nulls, 0)
			}
		}
		return e.inner.append(vals)
	case []time.Time:
		for _, t := range v {
			if t.IsZero() {
				e.nulls = append(e.nulls, 1)
			} else {
				e.nulls = append(e.nulls, 0)
			}
		}
		return e.inner.append(v)
	}
	n, err := e.inner.append(values)
	if err != nil {
		return 0, err
	}
	e.nulls = append(e.nulls, make([]byte, n)...)
	return n, nil
}

func (e *nullableEnc) rows() int { return len(e.nulls) }
func (e *nullableEnc) size() int { return len(e.nulls) + e.inner.size() }
func (e *nullableEnc) parts(dst [][]byte) [][]byte {
	return e.inner.parts(append(dst, e.nulls))
}

// stringArrayEnc is Array(String): cumulative UInt64 offsets, then every
// element.
type stringArrayEnc struct {
	offsets []byte
	total   uint64
	elems   stringEnc
}

func (e *stringArrayEnc) append(values any) (int, error) {
	v, ok := values.([][]string)
	if !ok {
		return 0, fmt.Errorf("cannot append %T to an Array(String) column", values)
	}
	for _, arr := range v {
		e.total += uint64(len(arr))
		e.offsets = binary.LittleEndian.AppendUint64(e.offsets, e.total)
		if _, err := e.elems.append(arr); err != nil {
			return 0, err
		}
	}
	return len(v), nil
}

func (e *stringArrayEnc) rows() int { return len(e.offsets) / 8 }
func (e *stringArrayEnc) size() int { return len(e.offsets) + e.elems.size() }
func (e *stringArrayEnc) parts(dst [][]byte) [][]byte {
	return e.elems.parts(append(dst, e.offsets))
}
