package collect_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
)

func TestSecret(t *testing.T) {
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
		s      collect.Secret
		want   string
		errHas string
	}{
		{"env", collect.Secret{Env: "KEYTRAIL_TEST_SECRET"}, "s3cr3t-value", ""},
		{"file, newline trimmed", collect.Secret{File: write("ok", "s3cr3t-value\n")}, "s3cr3t-value", ""},
		{"env unset", collect.Secret{Env: "KEYTRAIL_TEST_UNSET_VARIABLE"}, "", "not set"},
		{"env blank", collect.Secret{Env: "KEYTRAIL_TEST_BLANK"}, "", "not set"},
		{"file missing", collect.Secret{File: filepath.Join(dir, "missing")}, "", "no such file"},
		{"file empty", collect.Secret{File: write("empty", "\n")}, "", "empty"},
		{"both", collect.Secret{Env: "KEYTRAIL_TEST_SECRET", File: "x"}, "", "not both"},
		{"none", collect.Secret{}, "", "set env or file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.s.Value()
			require.NotContains(t, tc.s.String(), "s3cr3t")
			if tc.errHas != "" {
				require.ErrorIs(t, err, collect.ErrSecret)
				require.ErrorContains(t, err, tc.errHas)
				require.NotContains(t, err.Error(), "s3cr3t")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, v)
		})
	}
}
