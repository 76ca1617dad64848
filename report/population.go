package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keytrail/keytrail/model"
)

// TimeFormat is the layout of every time in the pack's CSV and JSONL files:
// RFC 3339 in UTC with exactly three fractional digits.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// PopulationHeader is the field list of population.csv, population.jsonl,
// exceptions.csv and (after its two leading columns) sample.csv, in order. It is
// also the format of `keytrail export correlations`.
var PopulationHeader = []string{
	"action_id", "action_ts", "instance", "channel", "action", "privileged",
	"dag_id", "run_id", "actor", "person", "verdict", "trigger_action_id",
	"inherited_from", "inherited_verdict", "assertion_id", "assertion_ts", "assertion_age_s", "factor",
	"authenticator_aaguid", "authenticator_model", "policy_version", "reason",
}

// FormatTime formats t as TimeFormat in UTC; the zero time formats as "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	var b [24]byte
	return string(appendTime(b[:0], t))
}

// appendTime appends t in TimeFormat; it is FormatTime without the allocation
// of time.Format, for the per-row hot path. Years outside 0–9999 fall back to Format.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, TimeFormat)
	}
	h, mi, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = two(b, int(mo))
	b = append(b, '-')
	b = two(b, d)
	b = append(b, 'T')
	b = two(b, h)
	b = append(b, ':')
	b = two(b, mi)
	b = append(b, ':')
	b = two(b, sec)
	return append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// formatAge formats a duration in milliseconds as seconds with three decimals.
func formatAge(ms int64) string {
	b := make([]byte, 0, 24)
	return string(appendAge(b, ms))
}

func appendAge(b []byte, ms int64) []byte {
	u := uint64(ms)
	if ms < 0 {
		b = append(b, '-')
		u = uint64(-ms)
	}
	b = strconv.AppendUint(b, u/1000, 10)
	frac := u % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

// hasAssertion reports whether c names a backing assertion.
func hasAssertion(c model.Correlation) bool {
	return !c.AssertionTS.IsZero()
}

// IsException reports whether c is an exception: neither verified nor a run
// inherited from a verified action.
func IsException(c model.Correlation) bool {
	if c.Verdict == model.VerdictVerified {
		return false
	}
	return !(c.Verdict == model.VerdictInherited && c.InheritedVerdict == model.VerdictVerified)
}

// csvSafe guards a free-text CSV cell against formula injection in spreadsheet
// applications: a value starting with =, +, -, @, tab or carriage return gets a
// leading apostrophe (OWASP's recommendation). JSONL values are never altered.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// AppendCSVRecord appends the population fields of c, in PopulationHeader order,
// to dst and returns it. Free-text fields go through formula-injection guarding.
func AppendCSVRecord(dst []string, c model.Correlation) []string {
	age, ats := "", ""
	if hasAssertion(c) {
		age = formatAge(c.AssertionAgeMS)
		ats = FormatTime(c.AssertionTS)
	}
	return append(dst,
		csvSafe(c.ActionID),
		FormatTime(c.ActionTS),
		csvSafe(c.Instance),
		csvSafe(string(c.Channel)),
		csvSafe(string(c.Action)),
		strconv.FormatBool(c.Privileged),
		csvSafe(c.DagID),
		csvSafe(c.RunID),
		csvSafe(c.Actor),
		csvSafe(c.Person),
		csvSafe(string(c.Verdict)),
		csvSafe(c.TriggerActionID),
		csvSafe(c.InheritedFrom),
		csvSafe(string(c.InheritedVerdict)),
		csvSafe(c.AssertionID),
		ats,
		age,
		csvSafe(string(c.Factor)),
		csvSafe(c.AuthenticatorAAGUID),
		csvSafe(c.AuthenticatorModel),
		csvSafe(c.PolicyVersion),
		csvSafe(c.Reason),
	)
}

// AppendCSVLine appends c as one line of population.csv to dst and returns
// it: byte for byte what csv.Writer writes for AppendCSVRecord's fields, with
// the trailing newline, without building the record.
func AppendCSVLine(dst []byte, c model.Correlation) []byte {
	b := appendSafeField(dst, c.ActionID)
	b = append(b, ',')
	if !c.ActionTS.IsZero() {
		b = appendTime(b, c.ActionTS)
	}
	for _, s := range [...]string{c.Instance, string(c.Channel), string(c.Action)} {
		b = appendSafeField(append(b, ','), s)
	}
	b = strconv.AppendBool(append(b, ','), c.Privileged)
	for _, s := range [...]string{c.DagID, c.RunID, c.Actor, c.Person, string(c.Verdict), c.TriggerActionID,
		c.InheritedFrom, string(c.InheritedVerdict), c.AssertionID} {
		b = appendSafeField(append(b, ','), s)
	}
	b = append(b, ',')
	if hasAssertion(c) {
		b = appendTime(b, c.AssertionTS)
		b = appendAge(append(b, ','), c.AssertionAgeMS)
	} else {
		b = append(b, ',')
	}
	for _, s := range [...]string{string(c.Factor), c.AuthenticatorAAGUID, c.AuthenticatorModel, c.PolicyVersion, c.Reason} {
		b = appendSafeField(append(b, ','), s)
	}
	return append(b, '\n')
}

// appendSafeField appends csvSafe(s) as csv.Writer writes a field.
func appendSafeField(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		// The apostrophe csvSafe adds starts the field: it is quoted only
		// when s holds a character that needs it.
		if !strings.ContainsAny(s, ",\"\r\n") {
			return append(append(b, '\''), s...)
		}
		return appendQuoted(append(b, '"', '\''), s)
	}
	return appendCSVField(b, s)
}

// appendCSVField appends s as csv.Writer (comma-separated, LF line ends)
// writes a field: quoted when it holds a comma, quote, CR or LF, starts
// with white space, or is `\.`; quotes doubled inside.
func appendCSVField(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	r1, _ := utf8.DecodeRuneInString(s)
	if s != `\.` && !unicode.IsSpace(r1) && !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	return appendQuoted(append(b, '"'), s)
}

// appendQuoted appends the body of a quoted field (quotes doubled) and the
// closing quote.
func appendQuoted(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b = append(b, s...)
			return append(b, '"')
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
}

// WriteCSVRow writes c as one population CSV record to w. The caller writes
// PopulationHeader first and flushes w.
func WriteCSVRow(w *csv.Writer, c model.Correlation) error {
	var buf [22]string
	if err := w.Write(AppendCSVRecord(buf[:0], c)); err != nil {
		return fmt.Errorf("write csv row %s: %w", c.ActionID, err)
	}
	return nil
}

// AppendJSONRow appends c as one JSON object (keys in PopulationHeader order,
// newline-terminated) to dst. privileged is a boolean, assertion_age_s a number
// and assertion_ts/assertion_age_s are null when no assertion backs the action;
// every other field is a string.
func AppendJSONRow(dst []byte, c model.Correlation) []byte {
	str := func(b []byte, key, v string, first bool) []byte {
		if !first {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		return appendJSONString(b, v)
	}
	b := append(dst, '{')
	b = str(b, "action_id", c.ActionID, true)
	b = str(b, "action_ts", FormatTime(c.ActionTS), false)
	b = str(b, "instance", c.Instance, false)
	b = str(b, "channel", string(c.Channel), false)
	b = str(b, "action", string(c.Action), false)
	b = append(b, `,"privileged":`...)
	b = strconv.AppendBool(b, c.Privileged)
	b = str(b, "dag_id", c.DagID, false)
	b = str(b, "run_id", c.RunID, false)
	b = str(b, "actor", c.Actor, false)
	b = str(b, "person", c.Person, false)
	b = str(b, "verdict", string(c.Verdict), false)
	b = str(b, "trigger_action_id", c.TriggerActionID, false)
	b = str(b, "inherited_from", c.InheritedFrom, false)
	b = str(b, "inherited_verdict", string(c.InheritedVerdict), false)
	b = str(b, "assertion_id", c.AssertionID, false)
	if hasAssertion(c) {
		b = str(b, "assertion_ts", FormatTime(c.AssertionTS), false)
		b = append(b, `,"assertion_age_s":`...)
		b = appendAge(b, c.AssertionAgeMS)
	} else {
		b = append(b, `,"assertion_ts":null,"assertion_age_s":null`...)
	}
	b = str(b, "factor", string(c.Factor), false)
	b = str(b, "authenticator_aaguid", c.AuthenticatorAAGUID, false)
	b = str(b, "authenticator_model", c.AuthenticatorModel, false)
	b = str(b, "policy_version", c.PolicyVersion, false)
	b = str(b, "reason", c.Reason, false)
	return append(b, '}', '\n')
}

// WriteJSONRow writes c as one line of population JSONL to w.
func WriteJSONRow(w io.Writer, c model.Correlation) error {
	var buf [512]byte
	if _, err := w.Write(AppendJSONRow(buf[:0], c)); err != nil {
		return fmt.Errorf("write jsonl row %s: %w", c.ActionID, err)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters, U+2028 and U+2029 are escaped; HTML characters are not.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// authenticatorHeader is the field list of authenticators.csv.
var authenticatorHeader = []string{
	"person", "email", "source", "instance", "credential_id", "aaguid", "model",
	"hardware", "backup_eligible", "registered_at", "removed_at",
	"first_used_at", "last_used_at", "uses", "status",
}

// triState formats a tri-state flag as true, false or unknown.
func triState(b *bool) string {
	if b == nil {
		return "unknown"
	}
	return strconv.FormatBool(*b)
}

// authenticatorStatus summarises what happened to a credential in the period.
func authenticatorStatus(a AuthenticatorRow, from, to time.Time) string {
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(from) && t.Before(to) }
	switch {
	case in(a.RegisteredAt) && in(a.RemovedAt):
		return "registered_and_removed"
	case in(a.RemovedAt):
		return "removed"
	case in(a.RegisteredAt):
		return "registered"
	case a.Uses > 0:
		return "used"
	}
	return "listed"
}

func authenticatorRecord(a AuthenticatorRow, from, to time.Time) []string {
	return []string{
		csvSafe(a.Person), csvSafe(a.Email), csvSafe(string(a.Source)), csvSafe(a.Instance),
		csvSafe(a.CredentialID), csvSafe(a.AAGUID), csvSafe(a.Model),
		triState(a.Hardware), triState(a.BackupEligible),
		FormatTime(a.RegisteredAt), FormatTime(a.RemovedAt),
		FormatTime(a.FirstUsedAt), FormatTime(a.LastUsedAt),
		strconv.FormatInt(a.Uses, 10), authenticatorStatus(a, from, to),
	}
}
