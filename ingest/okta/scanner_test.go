package okta

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00\n\/"}`, `{"a":-0.5e+10}`, `{"a":01}`, `{"a":1.}`,
		`{"a":"x` + "\x01" + `"}`, `{"a":tru}`, `{"a":1,}`, `{"a" 1}`, `{"a":[1,]}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`{"a":1} x`, `{"a":1}  `, `[1]`, `"s"`, `{"a":"\ud800"}`,
	} {
		s := &scanner{b: []byte(in)}
		err := s.skip()
		if err == nil {
			err = s.end()
		}
		require.Equal(t, json.Valid([]byte(in)), err == nil, "%s: %v", in, err)
	}
}

func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":"\u00e9\ud83d\ude00"}`, `[1,2.5e3,-0,true,false,null]`, `"\ud800x"`, `{"uuid":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &scanner{b: in}
		err := s.skip()
		if err == nil {
			err = s.end()
		}
		if ok := json.Valid(in); ok != (err == nil) {
			t.Fatalf("scanner says %v, encoding/json says valid=%v for %q", err, ok, in)
		}
		if len(in) > 0 && in[0] == '"' && json.Valid(in) {
			var want string
			if json.Unmarshal(in, &want) != nil {
				return
			}
			got, err := (&scanner{b: in}).str()
			if err != nil || got != want {
				t.Fatalf("str %q: got %q, %v; want %q", in, got, err, want)
			}
		}
	})
}
