package airflow

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnquote checks unquote against encoding/json over the classes of JSON
// string: plain ASCII, multi-byte UTF-8, every escape, invalid UTF-8,
// control characters, and malformed quoting.
func TestUnquote(t *testing.T) {
	for _, in := range []string{
		`""`, `"alice"`, `"dag_id/run with spaces"`, `"Zoë 🔑 测试"`,
		`"a\"b"`, `"a\\b"`, `"a\/b"`, `"\b\f\n\r\t"`, `"\u00e9\ud83d\udd11"`, `"\ud800"`,
		"\"\xff\xfe\"", "\"caf\xc3\"", "\"tab\there\"", "\"nl\nhere\"",
		`"unterminated`, `"`, `"a"b"`,
	} {
		t.Run(in, func(t *testing.T) {
			var want, got string
			wantErr := json.Unmarshal([]byte(in), &want)
			gotErr := unquote([]byte(in), &got)
			require.Equal(t, wantErr == nil, gotErr == nil, "error: json %v, unquote %v", wantErr, gotErr)
			require.Equal(t, want, got)
		})
	}
}
