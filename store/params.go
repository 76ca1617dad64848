package store

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Params is a query prepared for the engine's own query parameters: every
// `?` placeholder became {pN:Type}, and the values travel beside the SQL
// text, never inside it. Values[i] is the text of parameter Names[i] in the
// engine's escaped-text form for its type, which the engine parses after
// the query itself is parsed.
type Params struct {
	Query  string
	Names  []string
	Values []string
}

// BindParams rewrites query's `?` placeholders (outside string literals,
// quoted identifiers and comments) to typed query parameters {p1:Type},
// {p2:Type}, … and renders args as their values. The type follows the Go
// value (see ParamType). It is used for engines with query parameters; Bind
// is the literal path for engines without.
func BindParams(d Dialect, query string, args []any) (Params, error) {
	p := Params{Names: make([]string, 0, len(args)), Values: make([]string, 0, len(args))}
	q, err := substitute(query, args, func(i int, v any) (string, error) {
		typ, text, err := ParamValue(d, v)
		if err != nil {
			return "", err
		}
		name := "p" + strconv.Itoa(i+1)
		p.Names = append(p.Names, name)
		p.Values = append(p.Values, text)
		return "{" + name + ":" + typ + "}", nil
	})
	if err != nil {
		return Params{}, err
	}
	p.Query = q
	return p, nil
}

// ParamValue returns the ClickHouse type a Go value is bound as and its text
// in the engine's escaped-text form:
//
//	string, []byte, named string types, fmt.Stringer   String
//	bool                                               UInt8 (1 or 0)
//	int…int64, time.Duration (milliseconds)            Int64
//	uint…uint64                                        UInt64
//	float32, float64 (finite)                          Float64
//	time.Time                                          DateTime64(3, 'UTC'), or Int64 milliseconds without DateTime64
//	[]string, []int64, []any of either                 Array(String), Array(Int64)
//	nil, a nil *bool or *time.Time, the zero time      NULL, as Nullable(T)
func ParamValue(d Dialect, v any) (typ, text string, err error) {
	const null = `\N`
	switch x := v.(type) {
	case nil:
		return "Nullable(String)", null, nil
	case string:
		return "String", escapeParam(x), nil
	case []byte:
		return "String", escapeParam(string(x)), nil
	case bool:
		if x {
			return "UInt8", "1", nil
		}
		return "UInt8", "0", nil
	case *bool:
		if x == nil {
			return "Nullable(UInt8)", null, nil
		}
		return ParamValue(d, *x)
	case int:
		return "Int64", strconv.FormatInt(int64(x), 10), nil
	case int8:
		return "Int64", strconv.FormatInt(int64(x), 10), nil
	case int16:
		return "Int64", strconv.FormatInt(int64(x), 10), nil
	case int32:
		return "Int64", strconv.FormatInt(int64(x), 10), nil
	case int64:
		return "Int64", strconv.FormatInt(x, 10), nil
	case uint:
		return "UInt64", strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return "UInt64", strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return "UInt64", strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return "UInt64", strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return "UInt64", strconv.FormatUint(x, 10), nil
	case float32:
		return ParamValue(d, float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", "", fmt.Errorf("%w: non-finite float %v", ErrBind, x)
		}
		return "Float64", strconv.FormatFloat(x, 'g', -1, 64), nil
	case time.Duration:
		return "Int64", strconv.FormatInt(x.Milliseconds(), 10), nil
	case time.Time:
		if x.IsZero() {
			return "Nullable(" + d.TimeType() + ")", null, nil
		}
		if d.DateTime64 {
			return d.TimeType(), x.UTC().Format("2006-01-02 15:04:05.000"), nil
		}
		return "Int64", strconv.FormatInt(x.UnixMilli(), 10), nil
	case *time.Time:
		if x == nil {
			return "Nullable(" + d.TimeType() + ")", null, nil
		}
		return ParamValue(d, *x)
	case []string:
		// An array's text form quotes its elements like SQL literals.
		var b strings.Builder
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(QuoteString(s))
		}
		b.WriteByte(']')
		return "Array(String)", b.String(), nil
	case []int64:
		var b strings.Builder
		b.WriteByte('[')
		for i, n := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(n, 10))
		}
		b.WriteByte(']')
		return "Array(Int64)", b.String(), nil
	case []any:
		// An array of strings or of integers, element types as above.
		strs, ints := make([]string, 0, len(x)), make([]int64, 0, len(x))
		for _, e := range x {
			typ, text, err := ParamValue(d, e)
			switch {
			case err != nil:
				return "", "", err
			case typ == "String":
				if s, ok := e.(string); ok {
					text = s
				} else if s, ok := asString(e); ok {
					text = s
				} else if st, ok := e.(fmt.Stringer); ok {
					text = st.String()
				}
				strs = append(strs, text)
			case typ == "Int64":
				n, _ := strconv.ParseInt(text, 10, 64)
				ints = append(ints, n)
			default:
				return "", "", fmt.Errorf("%w: array element of type %T (arrays hold strings or integers)", ErrBind, e)
			}
		}
		switch {
		case len(ints) == 0:
			return ParamValue(d, strs)
		case len(strs) == 0:
			return ParamValue(d, ints)
		}
		return "", "", fmt.Errorf("%w: array mixes strings and integers", ErrBind)
	case fmt.Stringer:
		return "String", escapeParam(x.String()), nil
	}
	if s, ok := asString(v); ok {
		return "String", escapeParam(s), nil
	}
	return "", "", fmt.Errorf("%w: unsupported type %T", ErrBind, v)
}

// escapeParam renders s in the escaped-text form the engine parses a String
// parameter from: a backslash starts an escape, so backslashes and the
// characters that end a field are escaped; every other byte passes through.
func escapeParam(s string) string {
	if !strings.ContainsAny(s, "\\\t\n\r") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
