package ingest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/ingest/entra"
	"github.com/keytrail/keytrail/ingest/google"
	"github.com/keytrail/keytrail/ingest/keycloak"
	"github.com/keytrail/keytrail/ingest/okta"
)

// envelopes are the page and push envelopes of every source, by package name.
var envelopes = map[string][][]string{
	"airflow":  airflow.New().Envelopes(),
	"entra":    entra.New().Envelopes(),
	"google":   google.New().Envelopes(),
	"keycloak": keycloak.New().Envelopes(),
	"okta":     okta.New().Envelopes(),
}

// allEnvelopes is every source's envelopes at once.
func allEnvelopes() [][]string {
	var all [][]string
	for _, name := range []string{"airflow", "entra", "google", "keycloak", "okta"} {
		all = append(all, envelopes[name]...)
	}
	return all
}

var testEnv = [][]string{{"data", "events"}, {"value"}}

const bom = "\xEF\xBB\xBF"

func TestSplitShapes(t *testing.T) {
	obj := `{"id":"x"}`
	cases := map[string]struct {
		in   string
		want []string
	}{
		"object":              {obj, []string{obj}},
		"array":               {`[` + obj + `, {"id":"y"} ]`, []string{obj, `{"id":"y"}`}},
		"ndjson":              {obj + "\n\n" + `{"id":"y"}` + "\n", []string{obj, `{"id":"y"}`}},
		"ndjson crlf":         {obj + "\r\n" + `{"id":"y"}` + "\r\n", []string{obj, `{"id":"y"}`}},
		"envelope":            {`{"data":{"events":[` + obj + `]}}`, []string{obj}},
		"envelope key later":  {`{"eventType":"com.okta.event_hook","data":{"x":1,"events":[` + obj + `]},"eventTime":"t"}`, []string{obj}},
		"graph":               {`{"@odata.nextLink":"u","value":[` + obj + `,{"id":"z"}]}`, []string{obj, `{"id":"z"}`}},
		"graph pretty":        {"{\n  \"@odata.context\": \"c\",\n  \"value\": [\n    " + obj + ",\n    {\"id\": \"z\"}\n  ]\n}\n", []string{obj, `{"id": "z"}`}},
		"empty envelope":      {`{"value":[]}`, nil},
		"not an envelope":     {`{"data":{"other":[1]},"id":"r"}`, []string{`{"data":{"other":[1]},"id":"r"}`}},
		"envelope not array":  {`{"value":"v","id":"r"}`, []string{`{"value":"v","id":"r"}`}},
		"ndjson of pages":     {`{"value":[` + obj + `]}` + "\n" + `{"value":[{"id":"z"}]}`, []string{obj, `{"id":"z"}`}},
		"concatenated pretty": {"[\n " + obj + "\n]\n[\n {\"id\":\"z\"}\n]", []string{obj, `{"id":"z"}`}},
		"empty":               {"  \n", nil},
		"bom only":            {bom, nil},
		"bom object":          {bom + obj, []string{obj}},
		"bom array":           {bom + "[" + obj + "]", []string{obj}},
		"bom pretty envelope": {bom + "{\n \"value\": [\n  " + obj + "\n ]\n}", []string{obj}},
		"bom every line":      {bom + obj + "\n" + bom + `{"id":"y"}` + "\n", []string{obj, `{"id":"y"}`}},
		"bom between docs":    {bom + "[" + obj + "]\n" + bom + "[{\"id\":\"y\"}]", []string{obj, `{"id":"y"}`}},
		"escapes":             {`{"id":"a\"b\\\u00e9\n","n":-1.5e+3,"t":true,"f":false,"z":null,"a":[]}`, []string{`{"id":"a\"b\\\u00e9\n","n":-1.5e+3,"t":true,"f":false,"z":null,"a":[]}`}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			data := []byte(c.in)
			pieces := ingest.Split(data, testEnv)
			requireExact(t, data, pieces)
			var got []string
			for _, p := range pieces {
				require.NoError(t, p.Err)
				got = append(got, string(p.Raw))
			}
			require.Equal(t, c.want, got)
		})
	}
}

// TestSplitErrors walks every error path of Split: each names the record
// (line, element or document and its byte offset) and why it is not JSON.
func TestSplitErrors(t *testing.T) {
	good := `{"id":"a"}`
	cases := []struct {
		name string
		in   string
		// want lists the pieces: the record's bytes, or "!" + the error text
		// expected in the piece's error, then "=" + the piece's bytes.
		want     []string
		sentinel error
	}{
		{"utf-16", "\xFF\xFE{\x00}\x00", []string{"!the input is UTF-16 (byte order mark FF FE at byte 0); keytrail reads UTF-8 JSON=\xFF\xFE{\x00}\x00"}, ingest.ErrNotJSON},
		{"ndjson bad line", good + "\n{broken\n" + good, []string{good, "!line at byte 11: input is not JSON={broken", good}, ingest.ErrNotJSON},
		{"ndjson truncated last line", good + "\n" + `{"id":"b","ts":"20`, []string{good, `!line at byte 11: input is not JSON={"id":"b","ts":"20`}, ingest.ErrNotJSON},
		{"ndjson line with trailing garbage", good + "\n" + good + " xyz\n" + good,
			[]string{good, good, "!value at byte 22: invalid character 'x' looking for the beginning of a value at byte 22; the 1 records before it were kept=xyz", good}, ingest.ErrTruncated},
		{"ndjson line with a cut page", good + "\n" + `{"value":[{"id":"b"},{"id":"c"},{"id":"d` + "\n" + good,
			[]string{good, `{"id":"b"}`, `{"id":"c"}`, `!array element 3 at byte 43: unexpected end of input at byte 51; the 2 records before it were kept={"id":"d`, good}, ingest.ErrTruncated},
		{"top-level scalar", `"just a string"`, []string{`!record at byte 0 is not a JSON object="just a string"`}, nil},
		{"element not an object", `[{"id":"a"}, 42, "s", [1], true, null]`,
			[]string{good, "!array element at byte 13 is a JSON number, not an object=42", `!array element at byte 17 is a JSON string, not an object="s"`,
				"!array element at byte 22 is a JSON array, not an object=[1]", "!array element at byte 27 is a JSON boolean, not an object=true",
				"!array element at byte 33 is a JSON null, not an object=null"}, nil},
		{"not json at all", "hello world", []string{"!value at byte 0: invalid character 'h' looking for the beginning of a value at byte 0=hello world"}, ingest.ErrNotJSON},
		{"truncated record", `{"id":"a","ts":"2026-01-`, []string{`!object at byte 0: unexpected end of input at byte 24={"id":"a","ts":"2026-01-`}, ingest.ErrTruncated},
		{"truncated element", `[{"id":"a"}, {"id":"b"}, {"id":"c`,
			[]string{good, `{"id":"b"}`, `!array element 3 at byte 25: unexpected end of input at byte 33; the 2 records before it were kept={"id":"c`}, ingest.ErrTruncated},
		{"truncated after a comma", `[{"id":"a"}, `, []string{good, "!array at byte 0, after element 1: unexpected end of input at byte 13; the 1 records before it were kept=,"}, ingest.ErrTruncated},
		{"missing closing bracket", `[{"id":"a"}`, []string{good, "!array at byte 0, after element 1: unexpected end of input at byte 11; the 1 records before it were kept="}, ingest.ErrTruncated},
		{"garbage after element", `[{"id":"a"} x {"id":"b"}]`, []string{good, `!array at byte 0, after element 1: invalid character 'x' after an array element at byte 12; the 1 records before it were kept=x {"id":"b"}]`}, ingest.ErrTruncated},
		{"truncated envelope before records", `{"@odata.context":"c","val`, []string{`!object at byte 0: unexpected end of input at byte 26={"@odata.context":"c","val`}, ingest.ErrTruncated},
		{"truncated envelope after records", `{"value":[{"id":"a"}],"@odata.nextLink":"htt`,
			[]string{good, `!document at byte 0, after its records: unexpected end of input at byte 44; the 1 records before it were kept=,"@odata.nextLink":"htt`}, ingest.ErrTruncated},
		{"truncated empty array", `[`, []string{"!array at byte 0: unexpected end of input at byte 1=["}, ingest.ErrTruncated},
		{"damaged element", `[{"id":"a"}, {"id" 1}, {"id":"c"}]`,
			[]string{good, `!array element 2 at byte 13: invalid character '1' after an object key at byte 19; the 1 records before it were kept={"id" 1}, {"id":"c"}]`}, ingest.ErrTruncated},
		{"second document damaged", "[" + good + "]\n[" + good + ", {\"id\":",
			[]string{good, good, `!array element 2 at byte 26: unexpected end of input at byte 32; the 1 records before it were kept={"id":`}, ingest.ErrTruncated},
		{"control character", "{\"id\":\"a\tb\"}", []string{"!object at byte 0: invalid character 0x09 in a string (control characters must be escaped) at byte 8={\"id\":\"a\tb\"}"}, ingest.ErrTruncated},
		{"bad escape", `{"id":"\q"}`, []string{`!object at byte 0: invalid character 'q' in a string escape at byte 8={"id":"\q"}`}, ingest.ErrTruncated},
		{"bad unicode escape", `{"id":"\u12x4"}`, []string{`!object at byte 0: invalid character 'x' in a \u escape at byte 11={"id":"\u12x4"}`}, ingest.ErrTruncated},
		{"bad literal", `{"ok":tru}`, []string{`!object at byte 0: invalid character '}' in literal true at byte 9={"ok":tru}`}, ingest.ErrTruncated},
		{"bad number", `{"n":-}`, []string{`!object at byte 0: invalid character '}' in a number at byte 6={"n":-}`}, ingest.ErrTruncated},
		{"bad fraction", `{"n":1.}`, []string{`!object at byte 0: invalid character '}' after the decimal point in a number at byte 7={"n":1.}`}, ingest.ErrTruncated},
		{"bad exponent", `{"n":1e}`, []string{`!object at byte 0: invalid character '}' in the exponent of a number at byte 7={"n":1e}`}, ingest.ErrTruncated},
		{"key not a string", `{id:1}`, []string{`!object at byte 0: invalid character 'i' looking for an object key at byte 1={id:1}`}, ingest.ErrTruncated},
		{"missing comma in object", `{"a":1 "b":2}`, []string{`!object at byte 0: invalid character '"' after an object member at byte 7={"a":1 "b":2}`}, ingest.ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := []byte(c.in)
			pieces := ingest.Split(data, testEnv)
			requireExact(t, data, pieces)
			var got []string
			for _, p := range pieces {
				if p.Err == nil {
					got = append(got, string(p.Raw))
					continue
				}
				if c.sentinel != nil {
					require.ErrorIs(t, p.Err, c.sentinel)
				}
				require.Contains(t, p.Err.Error(), "at byte", "an error names where")
				got = append(got, "!"+strings.TrimPrefix(strings.TrimPrefix(p.Err.Error(), ingest.ErrNotJSON.Error()+": "), ingest.ErrTruncated.Error()+": ")+"="+string(p.Raw))
			}
			require.Equal(t, c.want, got)
		})
	}
}

func TestSplitTooDeep(t *testing.T) {
	data := []byte(strings.Repeat("[", 10002) + strings.Repeat("]", 10002))
	pieces := ingest.Split(data, nil)
	require.Len(t, pieces, 1)
	require.ErrorIs(t, pieces[0].Err, ingest.ErrTruncated)
	require.Contains(t, pieces[0].Err.Error(), "array at byte 0: nesting too deep at byte 10000")
	require.Equal(t, data, pieces[0].Raw)
}

// TestSplitTruncatedPage is the reported case: a pretty-printed Graph page cut
// mid-record keeps its intact records and yields one dead letter.
func TestSplitTruncatedPage(t *testing.T) {
	data, err := os.ReadFile("entra/testdata/signins_page.json")
	require.NoError(t, err)
	full := ingest.Split(data, envelopes["entra"])
	require.Greater(t, len(full), 3)
	cut := int(full[3].Offset) + len(full[3].Raw)/2
	pieces := ingest.Split(data[:cut], envelopes["entra"])
	require.Len(t, pieces, 4)
	for i := range 3 {
		require.NoError(t, pieces[i].Err)
		require.Equal(t, full[i].Raw, pieces[i].Raw)
	}
	require.ErrorIs(t, pieces[3].Err, ingest.ErrTruncated)
	require.Equal(t, full[3].Offset, pieces[3].Offset)
	require.Equal(t, bytes.TrimSpace(data[full[3].Offset:cut]), pieces[3].Raw)
	require.Contains(t, pieces[3].Err.Error(), "array element 4 at byte")
	require.Contains(t, pieces[3].Err.Error(), "the 3 records before it were kept")
}

// fixtures returns every input file under ingest/*/testdata with the
// envelopes of its source.
func fixtures(t testing.TB) map[string][][]string {
	out := map[string][][]string{}
	for _, pat := range []string{"*/testdata/*.json", "*/testdata/*.ndjson"} {
		files, err := filepath.Glob(pat)
		require.NoError(t, err)
		for _, f := range files {
			if strings.HasSuffix(f, ".golden.json") {
				continue
			}
			env, ok := envelopes[filepath.Base(filepath.Dir(filepath.Dir(f)))]
			require.True(t, ok, "fixture of an unknown source: %s", f)
			out[f] = env
		}
	}
	require.GreaterOrEqual(t, len(out), 10)
	return out
}

// TestSplitTruncatedFixtures cuts every real fixture at every byte offset and
// checks that nothing is lost: each record that lies wholly before the cut is
// split out exactly as from the whole file, the cut record's bytes are in a
// dead letter, no fragment is passed off as a record, and the cut adds at most
// one dead letter (it damages one region).
func TestSplitTruncatedFixtures(t *testing.T) {
	for file, env := range fixtures(t) {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(file)))+"/"+filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			full := ingest.Split(data, env)
			requireExact(t, data, full)
			step := 1
			if testing.Short() {
				step = 13
			}
			for k := 0; k <= len(data); k += step {
				checkTruncation(t, data, full, k, env)
			}
		})
	}
}

func checkTruncation(t *testing.T, data []byte, full []ingest.Piece, k int, env [][]string) {
	got := ingest.Split(data[:k], env)
	requireExact(t, data[:k], got)
	records := map[int64]ingest.Piece{}
	var dead []ingest.Piece
	for _, p := range got {
		if p.Err == nil {
			records[p.Offset] = p
		} else {
			dead = append(dead, p)
		}
	}
	covered := func(from, to int) bool {
		for _, d := range dead {
			if int(d.Offset) <= from && to <= int(d.Offset)+len(d.Raw) {
				return true
			}
		}
		return false
	}
	fullRecords := map[int64]int{}
	deadBefore := 0
	for _, p := range full {
		s, e := int(p.Offset), int(p.Offset)+len(p.Raw)
		if p.Err == nil {
			fullRecords[p.Offset] = len(p.Raw)
		} else if s < k {
			deadBefore++
		}
		switch {
		case len(p.Raw) == 0 || s >= k:
		case e <= k && p.Err == nil:
			if r, ok := records[p.Offset]; !ok || len(r.Raw) != len(p.Raw) {
				t.Fatalf("cut at %d: record at byte %d lost", k, s)
			}
		case e <= k:
			if _, asRecord := records[p.Offset]; !asRecord && !covered(s, e) {
				t.Fatalf("cut at %d: dead letter at byte %d lost", k, s)
			}
		default:
			from, to := s, k
			for to > from && strings.ContainsRune(" \t\r\n", rune(data[to-1])) {
				to--
			}
			if !covered(from, to) {
				t.Fatalf("cut at %d: the cut record at byte %d is in no dead letter", k, s)
			}
		}
	}
	for off, r := range records {
		if n, ok := fullRecords[off]; !ok || n != len(r.Raw) {
			t.Fatalf("cut at %d: fragment at byte %d passed off as a record: %.80s", k, off, r.Raw)
		}
	}
	if len(dead) > deadBefore+1 {
		t.Fatalf("cut at %d: %d dead letters, more than the %d before the cut plus the one it damaged", k, len(dead), deadBefore)
	}
}

// requireExact checks that every piece is the input's bytes at its offset and
// that pieces are in input order without overlapping.
func requireExact(t testing.TB, data []byte, pieces []ingest.Piece) {
	t.Helper()
	end := int64(0)
	for _, p := range pieces {
		if p.Offset < end {
			t.Fatalf("piece at byte %d overlaps the one before or is out of order", p.Offset)
		}
		end = p.Offset + int64(len(p.Raw))
		if end > int64(len(data)) || !bytes.Equal(data[p.Offset:end], p.Raw) {
			t.Fatalf("piece at byte %d is not the input's bytes: %.80q", p.Offset, p.Raw)
		}
	}
}

// FuzzSplit checks Split on arbitrary input, seeded with the real fixtures
// whole and cut: pieces are the input's own bytes, in order; records are JSON
// objects that split to themselves; input that yields nothing is blank or JSON
// without records.
func FuzzSplit(f *testing.F) {
	for file := range fixtures(f) {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data)
		for _, k := range []int{len(data) / 3, len(data) / 2, len(data) - 7} {
			if k > 0 {
				f.Add(data[:k])
			}
		}
	}
	f.Add([]byte(bom + `[{"id":1}, {"id":2`))
	env := allEnvelopes()
	f.Fuzz(func(t *testing.T, data []byte) {
		pieces := ingest.Split(data, env)
		requireExact(t, data, pieces)
		for _, p := range pieces {
			if p.Err != nil {
				continue
			}
			if !json.Valid(p.Raw) || p.Raw[0] != '{' {
				t.Fatalf("record at byte %d is not a JSON object: %q", p.Offset, p.Raw)
			}
			again := ingest.Split(p.Raw, nil)
			if len(again) != 1 || again[0].Err != nil || !bytes.Equal(again[0].Raw, p.Raw) {
				t.Fatalf("record at byte %d does not split to itself", p.Offset)
			}
		}
		if len(pieces) == 0 {
			// Only blank input or record-less JSON (empty arrays and
			// envelopes) may yield nothing.
			dec := json.NewDecoder(bytes.NewReader(bytes.ReplaceAll(data, []byte(bom), nil)))
			for {
				var v json.RawMessage
				if err := dec.Decode(&v); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("input %q that is not JSON gave no piece", data)
				}
			}
		}
	})
}

// BenchmarkSplit splits the fixtures as one pretty array and as NDJSON; its
// peer is encoding/json validating the same bytes (line by line for NDJSON).
func BenchmarkSplit(b *testing.B) {
	var recs [][]byte
	for file, env := range fixtures(b) {
		data, err := os.ReadFile(file)
		require.NoError(b, err)
		for _, p := range ingest.Split(data, env) {
			if p.Err == nil {
				var c bytes.Buffer
				require.NoError(b, json.Compact(&c, p.Raw))
				recs = append(recs, c.Bytes())
			}
		}
	}
	var nd, pretty bytes.Buffer
	pretty.WriteString("[\n")
	for nd.Len() < 4<<20 {
		for i, r := range recs {
			nd.Write(r)
			nd.WriteByte('\n')
			if pretty.Len() > 2 || i > 0 {
				pretty.WriteString(",\n")
			}
			require.NoError(b, json.Indent(&pretty, r, "  ", "  "))
		}
	}
	pretty.WriteString("\n]\n")
	for name, data := range map[string][]byte{"ndjson": nd.Bytes(), "pretty": pretty.Bytes()} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				ingest.Split(data, nil)
			}
		})
		b.Run(name+"/peer-json-valid", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if name == "pretty" {
					json.Valid(data)
					continue
				}
				for line := range bytes.Lines(data) {
					json.Valid(line)
				}
			}
		})
	}
}
