package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeFixture writes a pack of src with opts into a fresh directory.
func writeFixture(tb testing.TB, src Source, opts Options) (string, Summary) {
	tb.Helper()
	dir := tb.TempDir()
	_, p, err := writePack(context.Background(), src, opts, dir)
	require.NoError(tb, err)
	return dir, p.summary
}

func TestWriteSmoke(t *testing.T) {
	dir, _ := writeFixture(t, fixtureSource(), testOptions())
	if out := os.Getenv("KEYTRAIL_PACK_OUT"); out != "" {
		b, err := os.ReadFile(filepath.Join(dir, FilePDF))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(out, b, 0o644))
	}
}
