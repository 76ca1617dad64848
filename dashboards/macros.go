package dashboards

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrMacro is wrapped by every macro expansion error: an unknown macro, a
// wrong argument count or unbalanced parentheses.
var ErrMacro = errors.New("macro")

// TimeRange is what a panel query is expanded for: the dashboard's time range
// and the panel's interval (Grafana derives it from the range and the panel's
// width; see DefaultInterval).
type TimeRange struct {
	From, To time.Time
	Interval time.Duration
}

// ExpandMacros expands the ClickHouse plugin's macros in sql for the range
// [from, to] with DefaultInterval(from, to). See TimeRange.Expand.
func ExpandMacros(sql string, from, to time.Time) (string, error) {
	return TimeRange{From: from, To: to, Interval: DefaultInterval(from, to)}.Expand(sql)
}

// MaxDataPoints is the number of points DefaultInterval aims for, about the
// width in pixels of a full-width panel.
const MaxDataPoints = 1000

// DefaultInterval is the interval Grafana would give a panel over [from, to]
// with MaxDataPoints points: the range divided by MaxDataPoints, rounded the
// way Grafana rounds intervals.
func DefaultInterval(from, to time.Time) time.Duration {
	return RoundInterval(to.Sub(from) / MaxDataPoints)
}

// RoundInterval rounds d to one of Grafana's "nice" intervals, as Grafana's
// rangeutil.roundInterval does.
func RoundInterval(d time.Duration) time.Duration {
	const day = 24 * time.Hour
	steps := []struct{ below, to time.Duration }{
		{15 * time.Millisecond, 10 * time.Millisecond},
		{35 * time.Millisecond, 20 * time.Millisecond},
		{75 * time.Millisecond, 50 * time.Millisecond},
		{150 * time.Millisecond, 100 * time.Millisecond},
		{350 * time.Millisecond, 200 * time.Millisecond},
		{750 * time.Millisecond, 500 * time.Millisecond},
		{1500 * time.Millisecond, time.Second},
		{3500 * time.Millisecond, 2 * time.Second},
		{7500 * time.Millisecond, 5 * time.Second},
		{12500 * time.Millisecond, 10 * time.Second},
		{17500 * time.Millisecond, 15 * time.Second},
		{25 * time.Second, 20 * time.Second},
		{45 * time.Second, 30 * time.Second},
		{90 * time.Second, time.Minute},
		{210 * time.Second, 2 * time.Minute},
		{450 * time.Second, 5 * time.Minute},
		{750 * time.Second, 10 * time.Minute},
		{1050 * time.Second, 15 * time.Minute},
		{1500 * time.Second, 20 * time.Minute},
		{2700 * time.Second, 30 * time.Minute},
		{5400 * time.Second, time.Hour},
		{9000 * time.Second, 2 * time.Hour},
		{16200 * time.Second, 3 * time.Hour},
		{32400 * time.Second, 6 * time.Hour},
		{day, 12 * time.Hour},
		{7 * day, day},
		{21 * day, 7 * day},
		{365 * day / 2, 30 * day},
	}
	for _, s := range steps {
		if d < s.below {
			return s.to
		}
	}
	return 365 * day
}

// macro expands one macro call; args are trimmed and empty for a call without
// parentheses.
type macro struct {
	args   int // required argument count
	expand func(r TimeRange, args []string) string
}

func dateTime(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
func dateTime64(t time.Time) string {
	return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli())
}
func date(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format("2006-01-02")) }

func between(col, from, to string) string { return col + " >= " + from + " AND " + col + " <= " + to }

func intervalSeconds(r TimeRange) int64 { return max(int64(r.Interval/time.Second), 1) }

// macros are the ClickHouse plugin's (grafana-clickhouse-datasource,
// pkg/macros): the same names and the same SQL.
var macros = map[string]macro{
	"fromTime":    {0, func(r TimeRange, _ []string) string { return dateTime(r.From) }},
	"toTime":      {0, func(r TimeRange, _ []string) string { return dateTime(r.To) }},
	"fromTime_ms": {0, func(r TimeRange, _ []string) string { return dateTime64(r.From) }},
	"toTime_ms":   {0, func(r TimeRange, _ []string) string { return dateTime64(r.To) }},
	"timeFilter": {1, func(r TimeRange, a []string) string {
		return between(a[0], dateTime(r.From), dateTime(r.To))
	}},
	"timeFilter_ms": {1, func(r TimeRange, a []string) string {
		return between(a[0], dateTime64(r.From), dateTime64(r.To))
	}},
	"dateFilter": {1, func(r TimeRange, a []string) string {
		return between(a[0], date(r.From), date(r.To))
	}},
	"dateTimeFilter": {2, dateTimeFilter},
	"dt":             {2, dateTimeFilter},
	"timeInterval": {1, func(r TimeRange, a []string) string {
		return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", a[0], intervalSeconds(r))
	}},
	"timeInterval_ms": {1, func(r TimeRange, a []string) string {
		ms := max(r.Interval.Milliseconds(), 1)
		return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", a[0], ms)
	}},
	"interval_s": {0, func(r TimeRange, _ []string) string { return fmt.Sprint(intervalSeconds(r)) }},
}

func dateTimeFilter(r TimeRange, a []string) string {
	return "(" + between(a[0], date(r.From), date(r.To)) + ") AND (" + between(a[1], dateTime(r.From), dateTime(r.To)) + ")"
}

// MacroNames returns the names (without "$__") of the macros Expand knows.
func MacroNames() []string {
	out := make([]string, 0, len(macros))
	for name := range macros {
		out = append(out, name)
	}
	return out
}

// Expand replaces every $__name or $__name(args) in sql with its SQL for r,
// as the plugin does for DateTime64 columns: $__timeFilter(col) compares col
// with toDateTime(<unix seconds>), the _ms variants with
// fromUnixTimestamp64Milli(<unix ms>), $__timeInterval(col) buckets with
// toStartOfInterval(toDateTime(col), INTERVAL <interval seconds> second).
//
// Like the plugin's parser, it ignores macros inside string literals and
// quoted identifiers and blanks SQL comments (-- and /* */) first; a call's
// arguments are split on top-level commas, and macros within them expanded
// first. Unlike the plugin, it refuses an
// unknown $__ name or arguments given to a macro that takes none, so a typo
// fails here rather than in Grafana.
func (r TimeRange) Expand(sql string) (string, error) {
	work := stripComments(sql)
	var b strings.Builder
	for i := 0; i < len(work); {
		switch c := work[i]; {
		case c == '\'' || c == '"' || c == '`':
			end := scanQuoted(work, i)
			b.WriteString(work[i:end])
			i = end
		case strings.HasPrefix(work[i:], "$__"):
			start := i
			j := i + 3
			for j < len(work) && isIdent(work[j]) {
				j++
			}
			name := work[i+3 : j]
			m, ok := macros[name]
			if !ok {
				return "", fmt.Errorf("%w: unknown $__%s at offset %d", ErrMacro, name, start)
			}
			var args []string
			if j < len(work) && work[j] == '(' {
				end, err := matchParen(work, j)
				if err != nil {
					return "", fmt.Errorf("%w: $__%s at offset %d: %w", ErrMacro, name, start, err)
				}
				args = splitArgs(work[j+1 : end])
				j = end + 1
			}
			// Like the plugin, a macro inside another's argument is
			// expanded first: $__timeInterval($__fromTime).
			for k, a := range args {
				x, err := r.Expand(a)
				if err != nil {
					return "", err
				}
				args[k] = x
			}
			if len(args) != m.args {
				return "", fmt.Errorf("%w: $__%s takes %d argument(s), got %d", ErrMacro, name, m.args, len(args))
			}
			b.WriteString(m.expand(r, args))
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// scanQuoted returns the index just past the quoted region opening at pos. A
// doubled quote or a backslash escape continues the region, as in ClickHouse.
func scanQuoted(s string, pos int) int {
	q := s[pos]
	for i := pos + 1; i < len(s); {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i += 2
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			i += 2
		case s[i] == q:
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

// matchParen returns the index of the ')' that closes the '(' at open.
func matchParen(s string, open int) (int, error) {
	depth := 0
	for i := open; i < len(s); {
		switch s[i] {
		case '\'', '"', '`':
			i = scanQuoted(s, i)
			continue
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
		i++
	}
	return 0, errors.New("unbalanced parentheses")
}

// splitArgs splits on top-level commas and trims; "" and "  " are no arguments.
func splitArgs(raw string) []string {
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '\'', '"', '`':
			i = scanQuoted(raw, i)
			continue
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(raw[start:i]))
				start = i + 1
			}
		}
		i++
	}
	return append(out, strings.TrimSpace(raw[start:]))
}

// stripComments replaces -- line comments and /* */ block comments outside
// quoted regions with spaces, keeping offsets and line breaks.
func stripComments(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); {
		switch {
		case b[i] == '\'' || b[i] == '"' || b[i] == '`':
			i = scanQuoted(s, i)
		case b[i] == '-' && i+1 < len(b) && b[i+1] == '-':
			for i < len(b) && b[i] != '\n' {
				b[i] = ' '
				i++
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			stop := len(b)
			if end >= 0 {
				stop = i + 2 + end + 2
			}
			for ; i < stop; i++ {
				if b[i] != '\n' {
					b[i] = ' '
				}
			}
		default:
			i++
		}
	}
	return string(b)
}
