package store

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrBind is returned when a query's placeholders and values do not match or a
// value has a type that cannot be bound.
var ErrBind = errors.New("bind query values")

// Bind replaces each `?` placeholder in query with the literal for the
// corresponding value. Placeholders inside string literals, quoted identifiers
// and comments are left alone. It is the one place values meet SQL text: the
// path for servers without query parameters in their protocol (before 22.8).
// Engines with query parameters use BindParams instead.
func Bind(d Dialect, query string, args []any) (string, error) {
	return substitute(query, args, func(_ int, v any) (string, error) { return Literal(d, v) })
}

// substitute replaces the i-th `?` placeholder of query (outside quotes and
// comments) with render(i, args[i]); the counts must match.
func substitute(query string, args []any, render func(i int, v any) (string, error)) (string, error) {
	if len(args) == 0 {
		if n := countPlaceholders(query); n > 0 {
			return "", fmt.Errorf("%w: query has %d placeholders, got no values", ErrBind, n)
		}
		return query, nil
	}
	var b strings.Builder
	b.Grow(len(query) + 24*len(args))
	next := 0
	err := scanSQL(query, func(chunk string, placeholder bool) error {
		if !placeholder {
			b.WriteString(chunk)
			return nil
		}
		if next >= len(args) {
			return fmt.Errorf("%w: more placeholders than the %d values given", ErrBind, len(args))
		}
		text, err := render(next, args[next])
		if err != nil {
			return fmt.Errorf("value %d: %w", next+1, err)
		}
		next++
		b.WriteString(text)
		return nil
	})
	if err != nil {
		return "", err
	}
	if next != len(args) {
		return "", fmt.Errorf("%w: %d values for %d placeholders", ErrBind, len(args), next)
	}
	return b.String(), nil
}

func countPlaceholders(query string) int {
	n := 0
	_ = scanSQL(query, func(_ string, p bool) error {
		if p {
			n++
		}
		return nil
	})
	return n
}

// scanSQL walks query, calling fn with runs of SQL text and with each `?`
// placeholder that is outside quotes and comments.
func scanSQL(q string, fn func(chunk string, placeholder bool) error) error {
	start := 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '\'', '"', '`':
			j := i + 1
			for j < len(q) {
				if q[j] == '\\' {
					j += 2
					continue
				}
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j
		case '-':
			if i+1 < len(q) && q[i+1] == '-' {
				for i < len(q) && q[i] != '\n' {
					i++
				}
			}
		case '/':
			if i+1 < len(q) && q[i+1] == '*' {
				end := strings.Index(q[i+2:], "*/")
				if end < 0 {
					i = len(q)
				} else {
					i += end + 3
				}
			}
		case '?':
			if err := fn(q[start:i], false); err != nil {
				return err
			}
			if err := fn("?", true); err != nil {
				return err
			}
			start = i + 1
		}
	}
	if start < len(q) {
		return fn(q[start:], false)
	}
	return nil
}

// QuoteString renders s as a single-quoted ClickHouse string literal. Every
// byte that could end or alter the literal is escaped; other bytes pass
// through unchanged, so binary data round-trips.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	escapeInto(&b, s)
	b.WriteByte('\'')
	return b.String()
}

// escapeInto writes s with backslash escapes for \, ', the control
// characters SQL string literals treat specially, and NUL.
func escapeInto(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteByte(c)
		}
	}
}

// QuoteIdent renders name as a back-quoted identifier.
func QuoteIdent(name string) string {
	var b strings.Builder
	b.WriteByte('`')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '`':
			b.WriteString("\\`")
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('`')
	return b.String()
}

// Literal renders one Go value as a ClickHouse literal.
func Literal(d Dialect, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		return QuoteString(x), nil
	case []byte:
		return QuoteString(string(x)), nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case *bool:
		if x == nil {
			return "NULL", nil
		}
		return Literal(d, *x)
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return Literal(d, float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("%w: non-finite float %v", ErrBind, x)
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case time.Time:
		return d.TimeLiteral(x), nil
	case *time.Time:
		if x == nil {
			return "NULL", nil
		}
		return d.TimeLiteral(*x), nil
	case time.Duration:
		return strconv.FormatInt(x.Milliseconds(), 10), nil
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = QuoteString(s)
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	case []int64:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			lit, err := Literal(d, e)
			if err != nil {
				return "", err
			}
			parts[i] = lit
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	case fmt.Stringer:
		return QuoteString(x.String()), nil
	}
	// Named string types (model.Source, model.Verdict…).
	if s, ok := asString(v); ok {
		return QuoteString(s), nil
	}
	return "", fmt.Errorf("%w: unsupported type %T", ErrBind, v)
}
