package secret_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/internal/secret"
)

func TestRef(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(v), 0o600))
		return p
	}
	t.Setenv("KEYTRAIL_TEST_SECRET", "s3cr3t-value")
	t.Setenv("KEYTRAIL_TEST_BLANK", "  ")
	for _, tc := range []struct {
		name   string
		s      secret.Ref
		want   string
		errHas string
	}{
		{"env", secret.Ref{Env: "KEYTRAIL_TEST_SECRET"}, "s3cr3t-value", ""},
		{"file, newline trimmed", secret.Ref{File: write("ok", "s3cr3t-value\n")}, "s3cr3t-value", ""},
		{"env unset", secret.Ref{Env: "KEYTRAIL_TEST_UNSET_VARIABLE"}, "", "not set"},
		{"env blank", secret.Ref{Env: "KEYTRAIL_TEST_BLANK"}, "", "not set"},
		{"file missing", secret.Ref{File: filepath.Join(dir, "missing")}, "", "no such file"},
		{"file empty", secret.Ref{File: write("empty", "\n")}, "", "empty"},
		{"both", secret.Ref{Env: "KEYTRAIL_TEST_SECRET", File: "x"}, "", "not both"},
		{"none", secret.Ref{}, "", "set env or file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.s.Value()
			require.NotContains(t, tc.s.String(), "s3cr3t")
			if tc.errHas != "" {
				require.ErrorIs(t, err, secret.Err)
				require.ErrorContains(t, err, tc.errHas)
				require.NotContains(t, err.Error(), "s3cr3t")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, v)
		})
	}
}
