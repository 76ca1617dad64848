package report

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// csvWriterLine is what csv.Writer writes for AppendCSVRecord's fields: the
// reference AppendCSVLine must equal byte for byte.
func csvWriterLine(tb testing.TB, c model.Correlation) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	require.NoError(tb, w.Write(AppendCSVRecord(nil, c)))
	w.Flush()
	require.NoError(tb, w.Error())
	return buf.Bytes()
}

// withText returns c with every free-text field set to s.
func withText(c model.Correlation, s string) model.Correlation {
	c.ActionID, c.Instance, c.Channel, c.Action = s, s, model.Channel(s), model.ActionClass(s)
	c.DagID, c.RunID, c.Actor, c.Person, c.Verdict = s, s, s, s, model.Verdict(s)
	c.TriggerActionID, c.InheritedFrom, c.InheritedVerdict, c.AssertionID = s, s, model.Verdict(s), s
	c.Factor, c.AuthenticatorAAGUID, c.AuthenticatorModel, c.PolicyVersion, c.Reason = model.Factor(s), s, s, s, s
	return c
}

// TestAppendCSVLine checks AppendCSVLine against csv.Writer over every class
// of field csv.Writer and csvSafe treat differently: empty, plain, each
// character that forces quoting (comma, quote, CR, LF) anywhere, leading
// white space (ASCII and Unicode), the `\.` marker, each formula prefix
// csvSafe guards (=, +, -, @, tab, CR) alone and with characters that force
// quoting, invalid UTF-8 and non-ASCII text; and rows with and without an
// assertion, zero and out-of-range times.
func TestAppendCSVLine(t *testing.T) {
	base := fixtureRow(3, time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC))
	texts := []string{
		"", "plain", "a,b", `say "hi"`, "\"", "line\nbreak", "cr\rhere", "crlf\r\n", ",", "\n",
		" lead", "\tlead", "\u00a0nbsp", "\u3000ideographic", "trail ", `\.`, `\.x`, `x\.`,
		"=SUM(A1)", "+1", "-1", "@cmd", "\tcell", "\rcell", "=a,b", "-\"q\"", "@x\ny", "\t", "\r", "=", "'quoted",
		"\xff\xfe", "zoë", "日本語", "\u2028", "a\"\"b",
	}
	for _, s := range texts {
		for _, c := range []model.Correlation{withText(base, s), withText(model.Correlation{ActionTS: base.ActionTS}, s)} {
			require.Equal(t, string(csvWriterLine(t, c)), string(AppendCSVLine(nil, c)), "%q", s)
		}
	}
	for _, c := range []model.Correlation{
		{},
		{ActionTS: time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)},
		{AssertionTS: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), AssertionAgeMS: -1500},
		{AssertionTS: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), AssertionAgeMS: 7},
		{Privileged: true, ActionTS: time.Date(2026, 6, 1, 0, 0, 0, 0, time.FixedZone("x", -3600))},
	} {
		require.Equal(t, string(csvWriterLine(t, c)), string(AppendCSVLine(nil, c)), "%+v", c)
	}
	// Appends: what dst held stays.
	require.Equal(t, "x"+string(csvWriterLine(t, base)), string(AppendCSVLine([]byte("x"), base)))
}

// FuzzAppendCSVLine checks AppendCSVLine against csv.Writer for any text in
// the free-text fields.
func FuzzAppendCSVLine(f *testing.F) {
	for _, s := range []string{"", "plain", "a,b", "=x\ny", " lead", `\.`, "\xff", "\r"} {
		f.Add(s, s, int64(0))
	}
	f.Fuzz(func(t *testing.T, a, b string, age int64) {
		c := withText(model.Correlation{ActionTS: time.UnixMilli(age).UTC()}, a)
		c.Reason, c.DagID = b, b
		if age%2 == 0 {
			c.AssertionTS, c.AssertionAgeMS = c.ActionTS, age
		}
		require.Equal(t, string(csvWriterLine(t, c)), string(AppendCSVLine(nil, c)))
	})
}
