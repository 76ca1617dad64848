package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
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

// TestPopulationPipe checks the pipe's contract: every writer sees every row
// in order, batch by batch; a failing writer stops the stream (add returns
// an error soon after) and close returns that writer's error.
func TestPopulationPipe(t *testing.T) {
	row := func(i int) model.Correlation { return model.Correlation{ActionID: strconv.Itoa(i)} }
	for _, tc := range []struct {
		name   string
		rows   int
		failAt int // the failing writer's row at which it fails; -1 never
	}{
		{"empty", 0, -1},
		{"one row", 1, -1},
		{"one batch", pipeBatchRows, -1},
		{"many batches and a part", pipeBatchRows*(3*pipeBatches) + 17, -1},
		{"writer fails in the first batch", pipeBatchRows * 4 * pipeBatches, 3},
		{"writer fails later", pipeBatchRows * 4 * pipeBatches, pipeBatchRows*pipeBatches + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boom := errors.New("disk full")
			var seen []string
			seenFailing := 0
			pp := newPopulationPipe(
				func(rows []model.Correlation) error {
					for _, c := range rows {
						seen = append(seen, c.ActionID)
					}
					return nil
				},
				func(rows []model.Correlation) error {
					for range rows {
						if seenFailing == tc.failAt {
							return boom
						}
						seenFailing++
					}
					return nil
				},
			)
			var addErr error
			added := 0
			for i := 0; i < tc.rows && addErr == nil; i++ {
				addErr = pp.add(row(i))
				added++
			}
			err := pp.close()
			if tc.failAt < 0 {
				require.NoError(t, addErr)
				require.NoError(t, err)
				require.Len(t, seen, tc.rows)
				for i, id := range seen {
					require.Equal(t, strconv.Itoa(i), id)
				}
				return
			}
			require.ErrorIs(t, err, boom)
			require.ErrorIs(t, addErr, errWriterFailed)
			require.Less(t, added, tc.rows, "the stream stopped early")
			for i, id := range seen {
				require.Equal(t, strconv.Itoa(i), id, "the other writer's rows stay in order")
			}
		})
	}
}
