// Package rowbinary decodes ClickHouse's RowBinaryWithNamesAndTypes output,
// the exact binary format the embedded engine returns query results in.
package rowbinary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrShort is returned when the input ends in the middle of a value.
var ErrShort = errors.New("rowbinary: truncated input")

// Result is a decoded result set. Values use the types store.Rows documents.
type Result struct {
	Columns []string
	Types   []string
	Rows    [][]any
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
	if n < 0 || r.off+n > len(r.b) {
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
	if n > uint64(len(r.b)) {
		return "", ErrShort
	}
	p, err := r.take(int(n))
	return string(p), err
}

// Decode parses a complete RowBinaryWithNamesAndTypes buffer. An empty buffer
// is an empty result with no columns.
func Decode(b []byte) (*Result, error) {
	res := &Result{}
	if len(b) == 0 {
		return res, nil
	}
	r := &reader{b: b}
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > 100000 {
		return nil, fmt.Errorf("rowbinary: implausible column count %d", n)
	}
	res.Columns = make([]string, n)
	res.Types = make([]string, n)
	for i := range res.Columns {
		if res.Columns[i], err = r.str(); err != nil {
			return nil, err
		}
	}
	decs := make([]decoder, n)
	for i := range res.Types {
		if res.Types[i], err = r.str(); err != nil {
			return nil, err
		}
		if decs[i], err = decoderFor(res.Types[i]); err != nil {
			return nil, err
		}
	}
	for r.off < len(r.b) {
		row := make([]any, n)
		for i, dec := range decs {
			if row[i], err = dec(r); err != nil {
				return nil, fmt.Errorf("row %d column %s: %w", len(res.Rows), res.Columns[i], err)
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

type decoder func(r *reader) (any, error)

func fixed(n int, f func(p []byte) any) decoder {
	return func(r *reader) (any, error) {
		p, err := r.take(n)
		if err != nil {
			return nil, err
		}
		return f(p), nil
	}
}

// decoderFor returns the decoder for a ClickHouse type name.
func decoderFor(t string) (decoder, error) {
	t = strings.TrimSpace(t)
	switch {
	case strings.HasPrefix(t, "Nullable("):
		inner, err := decoderFor(t[len("Nullable(") : len(t)-1])
		if err != nil {
			return nil, err
		}
		return func(r *reader) (any, error) {
			p, err := r.take(1)
			if err != nil {
				return nil, err
			}
			if p[0] == 1 {
				return nil, nil
			}
			return inner(r)
		}, nil
	case strings.HasPrefix(t, "LowCardinality("):
		return decoderFor(t[len("LowCardinality(") : len(t)-1])
	case strings.HasPrefix(t, "Array("):
		inner, err := decoderFor(t[len("Array(") : len(t)-1])
		if err != nil {
			return nil, err
		}
		return func(r *reader) (any, error) {
			n, err := r.uvarint()
			if err != nil {
				return nil, err
			}
			if n > uint64(len(r.b)-r.off)+1 {
				return nil, ErrShort
			}
			out := make([]any, n)
			for i := range out {
				if out[i], err = inner(r); err != nil {
					return nil, err
				}
			}
			return out, nil
		}, nil
	case strings.HasPrefix(t, "DateTime64("):
		args := strings.Split(t[len("DateTime64("):len(t)-1], ",")
		scale, err := strconv.Atoi(strings.TrimSpace(args[0]))
		if err != nil || scale < 0 || scale > 9 {
			return nil, fmt.Errorf("rowbinary: bad type %s", t)
		}
		div := int64(math.Pow10(scale))
		return fixed(8, func(p []byte) any {
			v := int64(binary.LittleEndian.Uint64(p))
			sec, frac := v/div, v%div
			if frac < 0 {
				sec--
				frac += div
			}
			return time.Unix(sec, frac*(1_000_000_000/div)).UTC()
		}), nil
	case t == "DateTime" || strings.HasPrefix(t, "DateTime("):
		return fixed(4, func(p []byte) any { return time.Unix(int64(binary.LittleEndian.Uint32(p)), 0).UTC() }), nil
	case t == "Date":
		return fixed(2, func(p []byte) any {
			return time.Unix(int64(binary.LittleEndian.Uint16(p))*86400, 0).UTC()
		}), nil
	case t == "Date32":
		return fixed(4, func(p []byte) any {
			return time.Unix(int64(int32(binary.LittleEndian.Uint32(p)))*86400, 0).UTC()
		}), nil
	case strings.HasPrefix(t, "FixedString("):
		n, err := strconv.Atoi(t[len("FixedString(") : len(t)-1])
		if err != nil {
			return nil, fmt.Errorf("rowbinary: bad type %s", t)
		}
		return fixed(n, func(p []byte) any { return string(p) }), nil
	case strings.HasPrefix(t, "Enum8("), strings.HasPrefix(t, "Enum16("):
		names, err := enumNames(t)
		if err != nil {
			return nil, err
		}
		size := 1
		if strings.HasPrefix(t, "Enum16(") {
			size = 2
		}
		return fixed(size, func(p []byte) any {
			var v int64
			if size == 1 {
				v = int64(int8(p[0]))
			} else {
				v = int64(int16(binary.LittleEndian.Uint16(p)))
			}
			if s, ok := names[v]; ok {
				return s
			}
			return strconv.FormatInt(v, 10)
		}), nil
	}
	switch t {
	case "String":
		return func(r *reader) (any, error) { return r.str() }, nil
	case "UInt8":
		return fixed(1, func(p []byte) any { return uint64(p[0]) }), nil
	case "Bool":
		return fixed(1, func(p []byte) any { return p[0] != 0 }), nil
	case "UInt16":
		return fixed(2, func(p []byte) any { return uint64(binary.LittleEndian.Uint16(p)) }), nil
	case "UInt32":
		return fixed(4, func(p []byte) any { return uint64(binary.LittleEndian.Uint32(p)) }), nil
	case "UInt64":
		return fixed(8, func(p []byte) any { return binary.LittleEndian.Uint64(p) }), nil
	case "Int8":
		return fixed(1, func(p []byte) any { return int64(int8(p[0])) }), nil
	case "Int16":
		return fixed(2, func(p []byte) any { return int64(int16(binary.LittleEndian.Uint16(p))) }), nil
	case "Int32":
		return fixed(4, func(p []byte) any { return int64(int32(binary.LittleEndian.Uint32(p))) }), nil
	case "Int64":
		return fixed(8, func(p []byte) any { return int64(binary.LittleEndian.Uint64(p)) }), nil
	case "Float32":
		return fixed(4, func(p []byte) any { return float64(math.Float32frombits(binary.LittleEndian.Uint32(p))) }), nil
	case "Float64":
		return fixed(8, func(p []byte) any { return math.Float64frombits(binary.LittleEndian.Uint64(p)) }), nil
	case "UUID":
		return fixed(16, func(p []byte) any {
			// Two little-endian 64-bit halves.
			var u [16]byte
			for i := 0; i < 8; i++ {
				u[i] = p[7-i]
				u[8+i] = p[15-i]
			}
			h := fmt.Sprintf("%x", u[:])
			return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		}), nil
	case "Nothing":
		return fixed(1, func([]byte) any { return nil }), nil
	}
	return nil, fmt.Errorf("rowbinary: unsupported column type %s (cast it in the query)", t)
}

func enumNames(t string) (map[int64]string, error) {
	body := t[strings.IndexByte(t, '(')+1 : len(t)-1]
	out := map[int64]string{}
	for _, part := range strings.Split(body, ",") {
		part = strings.TrimSpace(part)
		eq := strings.LastIndex(part, "=")
		if eq < 0 {
			return nil, fmt.Errorf("rowbinary: bad enum %s", t)
		}
		name := strings.Trim(strings.TrimSpace(part[:eq]), "'")
		v, err := strconv.ParseInt(strings.TrimSpace(part[eq+1:]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("rowbinary: bad enum %s", t)
		}
		out[v] = name
	}
	return out, nil
}
