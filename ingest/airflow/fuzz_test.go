package airflow

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/keytrail/keytrail/ingest"
)

// seedRecords adds every record of every fixture to the corpus.
func seedRecords(f *testing.F, add func(string)) {
	f.Helper()
	var files []string
	for _, pat := range []string{"testdata/*.json", "testdata/*.ndjson"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	n := New()
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range ingest.Split(data, n.Envelopes()) {
			add(string(p.Raw))
		}
	}
}

func FuzzNormalize(f *testing.F) {
	seedRecords(f, func(s string) { f.Add([]byte(s)) })
	n := New()
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := n.Normalize(raw, "fuzz")
		if err != nil {
			if len(o.Airflow)+len(o.Runs) != 0 || o.Raw.Raw != nil {
				t.Fatalf("error with output: %v", err)
			}
			return
		}
		if o.Raw.EventID == "" || o.Raw.TS.IsZero() {
			t.Fatalf("accepted without id or time: %+v", o.Raw)
		}
		if len(o.Airflow)+len(o.Runs) != 1 {
			t.Fatalf("want one row, got %d events and %d runs", len(o.Airflow), len(o.Runs))
		}
		for _, e := range o.Airflow {
			if e.EventLogID <= 0 || e.TS.IsZero() || e.Event == "" {
				t.Fatalf("bad event accepted: %+v", e)
			}
			if e.Extra != "" && !json.Valid([]byte(e.Extra)) {
				t.Fatalf("extra is not JSON: %q", e.Extra)
			}
		}
		for _, r := range o.Runs {
			if r.DagID == "" || r.RunID == "" || r.TS.IsZero() {
				t.Fatalf("bad run accepted: %+v", r)
			}
			if r.Conf != "" && !json.Valid([]byte(r.Conf)) {
				t.Fatalf("conf is not JSON: %q", r.Conf)
			}
		}
	})
}

func FuzzPythonLiteral(f *testing.F) {
	seedRecords(f, func(s string) {
		var rec struct {
			Extra *string `json:"extra"`
		}
		if json.Unmarshal([]byte(s), &rec) == nil && rec.Extra != nil {
			f.Add(*rec.Extra)
		}
	})
	for _, s := range []string{`{'a': (1, 2.5e-3, -0x1f), "b": [True, False, None], 1: {1, 2}}`, `r'\d' u"x" b'\xff'`, `'''a'b'''`, `'\N{X}'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := PythonLiteralToJSON(s)
		if err == nil && !json.Valid([]byte(out)) {
			t.Fatalf("invalid JSON %q from %q", out, s)
		}
		if got := decodeExtraText(s); got != "" && !json.Valid([]byte(got)) {
			t.Fatalf("decodeExtraText gave invalid JSON %q from %q", got, s)
		}
	})
}
