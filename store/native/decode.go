package native

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/store"
)

// ErrShort is returned when the input ends in the middle of a block.
var ErrShort = errors.New("native: truncated input")

// maxColumns and maxRows bound what a block header may claim before any of
// its values are read.
const (
	maxColumns = 1 << 16
	maxRows    = 1 << 31
)

// Decoder reads Native blocks from a byte stream that arrives in chunks (a
// block may span chunks). Feed it chunks; Next returns each complete block.
type Decoder struct {
	buf []byte
	off int
}

// Feed appends the next chunk of the stream. The decoder keeps a copy.
func (d *Decoder) Feed(chunk []byte) {
	if d.off > 0 && d.off == len(d.buf) {
		d.buf, d.off = d.buf[:0], 0
	} else if d.off > len(d.buf)/2 {
		n := copy(d.buf, d.buf[d.off:])
		d.buf, d.off = d.buf[:n], 0
	}
	d.buf = append(d.buf, chunk...)
}

// Buffered is the number of bytes fed but not yet decoded.
func (d *Decoder) Buffered() int { return len(d.buf) - d.off }

// Next decodes the next complete block. It returns ErrShort when the bytes
// fed so far end before the block does (feed more and call again), and nil,
// nil when nothing is buffered.
func (d *Decoder) Next() (*store.Block, error) {
	if d.off == len(d.buf) {
		return nil, nil
	}
	r := &reader{b: d.buf, off: d.off}
	b, err := decodeBlock(r)
	if err != nil {
		return nil, err
	}
	d.off = r.off
	return b, nil
}

// DecodeAll decodes a whole buffer of consecutive blocks.
func DecodeAll(buf []byte) ([]*store.Block, error) {
	r := &reader{b: buf}
	var out []*store.Block
	for r.off < len(r.b) {
		b, err := decodeBlock(r)
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, ErrShort
	}
	r.off += n
	return v, nil
}

func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, ErrShort
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

func (r *reader) str() (string, error) {
	n, err := r.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(len(r.b)-r.off) {
		return "", ErrShort
	}
	p, _ := r.take(int(n))
	return string(p), nil
}

// fixed takes n values of width bytes, failing before allocating when the
// input is shorter.
func (r *reader) fixed(n, width int) ([]byte, error) {
	if n < 0 || n > (len(r.b)-r.off)/width {
		return nil, ErrShort
	}
	return r.take(n * width)
}

func decodeBlock(r *reader) (*store.Block, error) {
	nc, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	nr, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if nc > maxColumns || nr > maxRows {
		return nil, fmt.Errorf("native: implausible block of %d columns and %d rows", nc, nr)
	}
	b := &store.Block{
		Columns: make([]string, nc),
		Types:   make([]string, nc),
		Vectors: make([]store.Vector, nc),
		Rows:    int(nr),
	}
	for i := range b.Columns {
		if b.Columns[i], err = r.str(); err != nil {
			return nil, err
		}
		if b.Types[i], err = r.str(); err != nil {
			return nil, err
		}
		if b.Vectors[i], err = decodeColumn(r, b.Types[i], int(nr)); err != nil {
			if errors.Is(err, ErrShort) {
				return nil, err
			}
			return nil, fmt.Errorf("column %s: %w", b.Columns[i], err)
		}
	}
	return b, nil
}

func unwrap(t, prefix string) (string, bool) {
	if strings.HasPrefix(t, prefix) && strings.HasSuffix(t, ")") {
		return t[len(prefix) : len(t)-1], true
	}
	return "", false
}

// decodeColumn decodes n values of type t.
func decodeColumn(r *reader, t string, n int) (store.Vector, error) {
	// Every type takes at least a byte per value: claim no more values than
	// there are bytes left before allocating for them.
	if n > len(r.b)-r.off {
		return nil, ErrShort
	}
	t = strings.TrimSpace(t)
	if inner, ok := unwrap(t, "Nullable("); ok {
		m, err := r.fixed(n, 1)
		if err != nil {
			return nil, err
		}
		nulls := make([]bool, n)
		for i, b := range m {
			nulls[i] = b != 0
		}
		vals, err := decodeColumn(r, inner, n)
		if err != nil {
			return nil, err
		}
		return store.NullableVector{Nulls: nulls, Values: vals}, nil
	}
	if inner, ok := unwrap(t, "Array("); ok {
		p, err := r.fixed(n, 8)
		if err != nil {
			return nil, err
		}
		offs := make([]uint64, n)
		var prev uint64
		for i := range offs {
			offs[i] = binary.LittleEndian.Uint64(p[i*8:])
			if offs[i] < prev {
				return nil, fmt.Errorf("native: array offsets decrease")
			}
			prev = offs[i]
		}
		if prev > uint64(len(r.b)-r.off) {
			return nil, ErrShort
		}
		vals, err := decodeColumn(r, inner, int(prev))
		if err != nil {
			return nil, err
		}
		return store.ArrayVector{Offsets: offs, Values: vals}, nil
	}
	if inner, ok := unwrap(t, "LowCardinality("); ok {
		return decodeLowCardinality(r, inner, n)
	}
	if strings.HasPrefix(t, "DateTime64(") {
		unit, err := dateTime64Unit(t)
		if err != nil {
			return nil, err
		}
		p, err := r.fixed(n, 8)
		if err != nil {
			return nil, err
		}
		ticks := make([]int64, n)
		for i := range ticks {
			ticks[i] = int64(binary.LittleEndian.Uint64(p[i*8:]))
		}
		return store.TimeVector{Ticks: ticks, Unit: unit}, nil
	}
	if t == "DateTime" || strings.HasPrefix(t, "DateTime(") {
		p, err := r.fixed(n, 4)
		if err != nil {
			return nil, err
		}
		ticks := make([]int64, n)
		for i := range ticks {
			ticks[i] = int64(binary.LittleEndian.Uint32(p[i*4:]))
		}
		return store.TimeVector{Ticks: ticks, Unit: time.Second}, nil
	}
	if size, ok := unwrap(t, "FixedString("); ok {
		w, err := strconv.Atoi(size)
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("native: bad type %s", t)
		}
		p, err := r.fixed(n, w)
		if err != nil {
			return nil, err
		}
		out := make(store.StringVector, n)
		for i := range out {
			out[i] = string(p[i*w : (i+1)*w])
		}
		return out, nil
	}
	if strings.HasPrefix(t, "Enum8(") || strings.HasPrefix(t, "Enum16(") {
		names, err := enumNames(t)
		if err != nil {
			return nil, err
		}
		w := 1
		if strings.HasPrefix(t, "Enum16(") {
			w = 2
		}
		p, err := r.fixed(n, w)
		if err != nil {
			return nil, err
		}
		out := make(store.StringVector, n)
		for i := range out {
			var v int64
			if w == 1 {
				v = int64(int8(p[i]))
			} else {
				v = int64(int16(binary.LittleEndian.Uint16(p[i*2:])))
			}
			s, ok := names[v]
			if !ok {
				s = strconv.FormatInt(v, 10)
			}
			out[i] = s
		}
		return out, nil
	}
	switch t {
	case "String":
		return decodeStrings(r, n)
	case "UInt8":
		return uints(r, n, 1, func(p []byte) uint8 { return p[0] })
	case "UInt16":
		return uints(r, n, 2, binary.LittleEndian.Uint16)
	case "UInt32":
		return uints(r, n, 4, binary.LittleEndian.Uint32)
	case "UInt64":
		return uints(r, n, 8, binary.LittleEndian.Uint64)
	case "Int8":
		return ints(r, n, 1, func(p []byte) int8 { return int8(p[0]) })
	case "Int16":
		return ints(r, n, 2, func(p []byte) int16 { return int16(binary.LittleEndian.Uint16(p)) })
	case "Int32":
		return ints(r, n, 4, func(p []byte) int32 { return int32(binary.LittleEndian.Uint32(p)) })
	case "Int64":
		return ints(r, n, 8, func(p []byte) int64 { return int64(binary.LittleEndian.Uint64(p)) })
	case "Float32":
		return floats(r, n, 4, func(p []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(p)) })
	case "Float64":
		return floats(r, n, 8, func(p []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(p)) })
	case "Bool":
		p, err := r.fixed(n, 1)
		if err != nil {
			return nil, err
		}
		out := make(store.BoolVector, n)
		for i, b := range p {
			out[i] = b != 0
		}
		return out, nil
	case "Date":
		p, err := r.fixed(n, 2)
		if err != nil {
			return nil, err
		}
		ticks := make([]int64, n)
		for i := range ticks {
			ticks[i] = int64(binary.LittleEndian.Uint16(p[i*2:]))
		}
		return store.TimeVector{Ticks: ticks, Unit: 24 * time.Hour}, nil
	case "Date32":
		p, err := r.fixed(n, 4)
		if err != nil {
			return nil, err
		}
		ticks := make([]int64, n)
		for i := range ticks {
			ticks[i] = int64(int32(binary.LittleEndian.Uint32(p[i*4:])))
		}
		return store.TimeVector{Ticks: ticks, Unit: 24 * time.Hour}, nil
	case "UUID":
		p, err := r.fixed(n, 16)
		if err != nil {
			return nil, err
		}
		out := make(store.StringVector, n)
		for i := range out {
			out[i] = uuidString(p[i*16 : (i+1)*16])
		}
		return out, nil
	case "Nothing":
		if _, err := r.fixed(n, 1); err != nil {
			return nil, err
		}
		return make(store.AnyVector, n), nil
	}
	return nil, fmt.Errorf("native: unsupported column type %s (cast it in the query)", t)
}

// Interning of a String column's repeated values: a value equal to one
// already decoded in the column shares its string instead of allocating
// another. Up to internMax distinct values are remembered; a column whose
// first internProbe values repeat less than half the time (ids, free text)
// stops looking.
const (
	internMax   = 256
	internProbe = 1024
)

// decodeStrings decodes n String values, interning repeated ones.
func decodeStrings(r *reader, n int) (store.Vector, error) {
	out := make(store.StringVector, n)
	var seen map[string]string
	intern := true
	hits := 0
	prev := ""
	for i := range out {
		l, err := r.uvarint()
		if err != nil {
			return nil, err
		}
		if l > uint64(len(r.b)-r.off) {
			return nil, ErrShort
		}
		p, _ := r.take(int(l))
		switch {
		case string(p) == prev: // no allocation: compared in place
			out[i] = prev
			hits++
		case !intern:
			prev = string(p)
			out[i] = prev
		default:
			if s, ok := seen[string(p)]; ok {
				prev = s
				hits++
			} else {
				prev = string(p)
				if seen == nil {
					seen = make(map[string]string, 16)
				}
				if len(seen) < internMax {
					seen[prev] = prev
				}
			}
			out[i] = prev
		}
		if i+1 == internProbe && hits*2 < internProbe {
			intern, seen = false, nil
		}
	}
	return out, nil
}

func uints[T uint8 | uint16 | uint32 | uint64](r *reader, n, w int, get func([]byte) T) (store.Vector, error) {
	p, err := r.fixed(n, w)
	if err != nil {
		return nil, err
	}
	out := make(store.UintVector[T], n)
	for i := range out {
		out[i] = get(p[i*w:])
	}
	return out, nil
}

func ints[T int8 | int16 | int32 | int64](r *reader, n, w int, get func([]byte) T) (store.Vector, error) {
	p, err := r.fixed(n, w)
	if err != nil {
		return nil, err
	}
	out := make(store.IntVector[T], n)
	for i := range out {
		out[i] = get(p[i*w:])
	}
	return out, nil
}

func floats[T float32 | float64](r *reader, n, w int, get func([]byte) T) (store.Vector, error) {
	p, err := r.fixed(n, w)
	if err != nil {
		return nil, err
	}
	out := make(store.FloatVector[T], n)
	for i := range out {
		out[i] = get(p[i*w:])
	}
	return out, nil
}

// uuidString formats a UUID stored as two little-endian 64-bit halves.
func uuidString(p []byte) string {
	var u [16]byte
	for i := 0; i < 8; i++ {
		u[i] = p[7-i]
		u[8+i] = p[15-i]
	}
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func enumNames(t string) (map[int64]string, error) {
	open := strings.IndexByte(t, '(')
	if open < 0 || !strings.HasSuffix(t, ")") || open+1 > len(t)-1 {
		return nil, fmt.Errorf("native: bad enum %s", t)
	}
	body := t[open+1 : len(t)-1]
	out := map[int64]string{}
	for _, part := range strings.Split(body, ",") {
		part = strings.TrimSpace(part)
		eq := strings.LastIndex(part, "=")
		if eq < 0 {
			return nil, fmt.Errorf("native: bad enum %s", t)
		}
		name := strings.Trim(strings.TrimSpace(part[:eq]), "'")
		v, err := strconv.ParseInt(strings.TrimSpace(part[eq+1:]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("native: bad enum %s", t)
		}
		out[v] = name
	}
	return out, nil
}

// Flags of a LowCardinality column's index serialization type.
const (
	lcIndexTypeMask      = 0xff
	lcHasAdditionalKeys  = 1 << 9
	lcNeedGlobalDict     = 1 << 8
	lcSharedDictionaries = 1 // key version
)

// decodeLowCardinality decodes a LowCardinality(T) column as the engine
// writes it into a Native block: the key version, then granules of an index
// type, the dictionary keys they add and the indexes into them. Index 0 of a
// LowCardinality(Nullable(T)) dictionary is NULL.
func decodeLowCardinality(r *reader, inner string, n int) (store.Vector, error) {
	nullable := false
	dictType := inner
	if in, ok := unwrap(inner, "Nullable("); ok {
		nullable, dictType = true, in
	}
	p, err := r.fixed(1, 8)
	if err != nil {
		return nil, err
	}
	if v := binary.LittleEndian.Uint64(p); v != lcSharedDictionaries {
		return nil, fmt.Errorf("native: LowCardinality key version %d", v)
	}
	var values []store.Vector
	var index []int
	var nulls []bool
	for len(index) < n {
		p, err := r.fixed(1, 8)
		if err != nil {
			return nil, err
		}
		flags := binary.LittleEndian.Uint64(p)
		if flags&lcNeedGlobalDict != 0 || flags&lcHasAdditionalKeys == 0 {
			return nil, fmt.Errorf("native: LowCardinality with a global dictionary is not supported")
		}
		if flags&lcIndexTypeMask > 3 { // UInt8, UInt16, UInt32, UInt64
			return nil, fmt.Errorf("native: LowCardinality index type %d", flags&lcIndexTypeMask)
		}
		width := 1 << (flags & lcIndexTypeMask)
		if p, err = r.fixed(1, 8); err != nil {
			return nil, err
		}
		keys := binary.LittleEndian.Uint64(p)
		if keys > uint64(len(r.b)-r.off) {
			return nil, ErrShort
		}
		dict, err := decodeColumn(r, dictType, int(keys))
		if err != nil {
			return nil, err
		}
		if p, err = r.fixed(1, 8); err != nil {
			return nil, err
		}
		count := binary.LittleEndian.Uint64(p)
		if count > uint64(n-len(index)) {
			return nil, fmt.Errorf("native: LowCardinality granule of %d rows in a column of %d", count, n)
		}
		ip, err := r.fixed(int(count), width)
		if err != nil {
			return nil, err
		}
		for i := 0; i < int(count); i++ {
			var k uint64
			switch width {
			case 1:
				k = uint64(ip[i])
			case 2:
				k = uint64(binary.LittleEndian.Uint16(ip[i*2:]))
			case 4:
				k = uint64(binary.LittleEndian.Uint32(ip[i*4:]))
			default:
				k = binary.LittleEndian.Uint64(ip[i*8:])
			}
			if k >= keys {
				return nil, fmt.Errorf("native: LowCardinality index %d of %d keys", k, keys)
			}
			index = append(index, int(k))
			nulls = append(nulls, nullable && k == 0)
			values = append(values, dict)
		}
	}
	out := make(store.AnyVector, n)
	for i := range out {
		if !nulls[i] {
			out[i] = values[i].Value(index[i])
		}
	}
	return out, nil
}
