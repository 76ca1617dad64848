package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBind(t *testing.T) {
	modern := DialectFor("26.5.1.1")
	legacy := DialectFor("18.16.1")
	tm := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	cases := []struct {
		name  string
		d     Dialect
		query string
		args  []any
		want  string
		err   error
	}{
		{"none", modern, "SELECT 1", nil, "SELECT 1", nil},
		{"string", modern, "SELECT ?", []any{"a'b\\c"}, `SELECT 'a\'b\\c'`, nil},
		{"control", modern, "SELECT ?", []any{"x\ny\tz\x00"}, `SELECT 'x\ny\tz\0'`, nil},
		{"quoted placeholder untouched", modern, "SELECT '?', \"?\", `?`, ?", []any{int64(1)}, "SELECT '?', \"?\", `?`, 1", nil},
		{"comment placeholder untouched", modern, "SELECT ? -- ?\n, /* ? */ ?", []any{1, 2}, "SELECT 1 -- ?\n, /* ? */ 2", nil},
		{"escaped quote in literal", modern, `SELECT 'it\'s ?', ?`, []any{true}, `SELECT 'it\'s ?', 1`, nil},
		{"time modern", modern, "x >= ?", []any{tm}, "x >= toDateTime64('2026-01-02 03:04:05.678', 3, 'UTC')", nil},
		{"time legacy", legacy, "x >= ?", []any{tm}, "x >= 1767323045678", nil},
		{"zero time", modern, "?", []any{time.Time{}}, "NULL", nil},
		{"array", modern, "has(?, x)", []any{[]string{"a", "b'"}}, `has(['a','b\''], x)`, nil},
		{"nil", modern, "?", []any{nil}, "NULL", nil},
		{"uint", modern, "?", []any{uint64(1 << 63)}, "9223372036854775808", nil},
		{"float", modern, "?", []any{1.25}, "1.25", nil},
		{"too few", modern, "? ?", []any{1}, "", ErrBind},
		{"too many", modern, "?", []any{1, 2}, "", ErrBind},
		{"missing all", modern, "?", nil, "", ErrBind},
		{"bad type", modern, "?", []any{struct{}{}}, "", ErrBind},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Bind(c.d, c.query, c.args)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestParseError(t *testing.T) {
	err := ParseError("Code: 62. DB::Exception: Syntax error: failed at position 7. (SYNTAX_ERROR)")
	var e *Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, int32(62), e.Code)
	require.Equal(t, "SYNTAX_ERROR", e.Name)
	require.Contains(t, e.Message, "Syntax error")

	err = ParseError("Code: 60, e.displayText() = DB::Exception: Table x doesn't exist, e.what() = DB::Exception")
	c, ok := Code(err)
	require.True(t, ok)
	require.Equal(t, CodeUnknownTable, c)

	_, ok = Code(ParseError("connection refused"))
	require.False(t, ok)
}

func TestDialect(t *testing.T) {
	require.False(t, DialectFor("18.16.1").DateTime64)
	require.False(t, DialectFor("19.17.4").DateTime64)
	require.True(t, DialectFor("20.1.2").DateTime64)
	require.True(t, DialectFor("26.5.1.1").DateTime64)
	require.Equal(t, "Int64", DialectFor("18.16.1").TimeType())
	require.Equal(t, "DateTime64(3, 'UTC')", DialectFor("24.8").TimeType())
}

func TestRedact(t *testing.T) {
	r := Redact("clickhouse://user:hunter2@host:9000/db")
	require.NotContains(t, r, "hunter2")
	require.Contains(t, r, "host:9000")
}

func TestBindParams(t *testing.T) {
	modern := DialectFor("26.5.1.1")
	tm := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	cases := []struct {
		name   string
		query  string
		args   []any
		want   string
		values []string
		err    error
	}{
		{"none", "SELECT 1", nil, "SELECT 1", nil, nil},
		{"string", "SELECT ?", []any{"a'b\\c"}, "SELECT {p1:String}", []string{`a'b\\c`}, nil},
		{"control", "SELECT ?", []any{"x\ny\tz\r\x00"}, "SELECT {p1:String}", []string{"x\\ny\\tz\\r\x00"}, nil},
		{"quoted placeholder untouched", "SELECT '?', \"?\", `?`, ?", []any{int64(1)}, "SELECT '?', \"?\", `?`, {p1:Int64}", []string{"1"}, nil},
		{"comment placeholder untouched", "SELECT ? -- ?\n, /* ? */ ?", []any{1, uint8(2)}, "SELECT {p1:Int64} -- ?\n, /* ? */ {p2:UInt64}", []string{"1", "2"}, nil},
		{"bool", "?", []any{true}, "{p1:UInt8}", []string{"1"}, nil},
		{"null bool", "?", []any{(*bool)(nil)}, "{p1:Nullable(UInt8)}", []string{`\N`}, nil},
		{"time", "x >= ?", []any{tm}, "x >= {p1:DateTime64(3, 'UTC')}", []string{"2026-01-02 03:04:05.678"}, nil},
		{"zero time", "?", []any{time.Time{}}, "{p1:Nullable(DateTime64(3, 'UTC'))}", []string{`\N`}, nil},
		{"duration", "?", []any{1500 * time.Millisecond}, "{p1:Int64}", []string{"1500"}, nil},
		{"array", "has(?, x)", []any{[]string{"a", "b'\t"}}, "has({p1:Array(String)}, x)", []string{`['a','b\'\t']`}, nil},
		{"int array", "?", []any{[]int64{1, -2}}, "{p1:Array(Int64)}", []string{"[1,-2]"}, nil},
		{"nil", "?", []any{nil}, "{p1:Nullable(String)}", []string{`\N`}, nil},
		{"named string", "?", []any{namedString("v")}, "{p1:String}", []string{"v"}, nil},
		{"float", "?", []any{1.25}, "{p1:Float64}", []string{"1.25"}, nil},
		{"too few", "? ?", []any{1}, "", nil, ErrBind},
		{"too many", "?", []any{1, 2}, "", nil, ErrBind},
		{"missing all", "?", nil, "", nil, ErrBind},
		{"bad type", "?", []any{struct{}{}}, "", nil, ErrBind},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := BindParams(modern, c.query, c.args)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got.Query)
			require.Equal(t, len(c.values), len(got.Names))
			if len(c.values) > 0 {
				require.Equal(t, c.values, got.Values)
			}
		})
	}
}

// namedString is a named string type, bound as String.
type namedString string

// FuzzBind: whatever the value, binding it and scanning the SQL back finds the
// value as one literal and no extra placeholders.
func FuzzBind(f *testing.F) {
	for _, s := range []string{"", "'", "\\", "?", "--", "/*", "a'b\\'c", "\x00\n\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Bind(DialectFor("26.5"), "SELECT ?, ?", []any{s, s})
		require.NoError(t, err)
		require.Equal(t, 0, countPlaceholders(q), "a bound value never adds a placeholder: %q", q)
		lit := QuoteString(s)
		require.Equal(t, "SELECT "+lit+", "+lit, q)
		require.False(t, strings.ContainsAny(lit[1:len(lit)-1], "\n\t\x00"))
	})
}
