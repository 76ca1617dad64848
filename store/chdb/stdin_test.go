//go:build !nochdb

package chdb_test

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/chdb"
	"github.com/keytrail/keytrail/store/storetest"
)

// withStdin makes the process's standard input a pipe holding data for the
// duration of fn, and returns what was left unread in it afterwards.
func withStdin(t *testing.T, data string, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	_, err = w.WriteString(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	saved, err := syscall.Dup(0)
	require.NoError(t, err)
	require.NoError(t, syscall.Dup2(int(r.Fd()), 0))
	defer func() {
		require.NoError(t, syscall.Dup2(saved, 0))
		syscall.Close(saved)
	}()
	fn()
	left, err := io.ReadAll(r)
	require.NoError(t, err)
	r.Close()
	return string(left)
}

// TestEngineNeverReadsStdin: with data waiting on standard input, every kind
// of INSERT with inline data succeeds, stores exactly its own rows, and leaves
// standard input untouched (chdb-io/chdb-core#239).
func TestEngineNeverReadsStdin(t *testing.T) {
	ctx := context.Background()
	s := backend().Open(t, storetest.FreshDB(t))
	require.NoError(t, s.Exec(ctx, "CREATE TABLE t (x Int64, s String, d DateTime64(3, 'UTC') DEFAULT toDateTime64('2026-01-02 03:04:05', 3, 'UTC')) ENGINE = MergeTree ORDER BY x"))
	const stdin = "9999\tfrom-stdin\n(9999, 'from-stdin')\n"
	cases := []struct {
		name, stmt string
		want       string // x:s pairs inserted
	}{
		{"format TSV", "INSERT INTO t (x, s) FORMAT TabSeparated\n1\ta\n2\tb\\tc\n", "1:a,2:b\tc"},
		{"format, columns reordered", "INSERT INTO t (s, x) FORMAT TSV\nq\t3\n", "3:q"},
		{"format, data on the same line", "INSERT INTO t (x, s) FORMAT JSONEachRow {\"x\": 4, \"s\": \"j\"}", "4:j"},
		{"values", "INSERT INTO t (x, s) VALUES (5, 'v'), (6, concat('w', 'x'))", "5:v,6:wx"},
		{"values, lower case, settings", "insert into t (x, s) settings max_insert_threads = 1 values (7, '-- not a comment')", "7:-- not a comment"},
		{"values with a question mark and quotes", "INSERT INTO t (x, s) VALUES (8, 'it''s ? \"here\"')", `8:it's ? "here"`},
		{"comment before", "/* c */ -- line\nINSERT INTO `t` (x, s) VALUES (9, 'c')", "9:c"},
		{"insert select", "INSERT INTO t (x, s) SELECT 10, 'sel'", "10:sel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, s.Exec(ctx, "TRUNCATE TABLE t"))
			left := withStdin(t, stdin, func() {
				require.NoError(t, s.Exec(ctx, c.stmt))
			})
			require.Equal(t, stdin, left, "standard input untouched")
			rows, err := s.Query(ctx, "SELECT x, s, d FROM t ORDER BY x")
			require.NoError(t, err)
			var got []string
			for rows.Next() {
				var x int64
				var str string
				var d time.Time
				require.NoError(t, rows.Scan(&x, &str, &d))
				require.Equal(t, 2026, d.Year(), "defaults apply to columns not inserted")
				got = append(got, strconv.FormatInt(x, 10)+":"+str)
			}
			require.Equal(t, c.want, strings.Join(got, ","))
		})
	}

	t.Run("batch", func(t *testing.T) {
		require.NoError(t, s.Exec(ctx, "TRUNCATE TABLE t"))
		left := withStdin(t, stdin, func() {
			b, err := s.PrepareBatch(ctx, "t", []string{"x", "s"})
			require.NoError(t, err)
			require.NoError(t, b.Column(0).Append([]int64{1, 2}))
			require.NoError(t, b.Column(1).Append([]string{"a\tb\nc\\", ""}))
			require.NoError(t, b.Send())
		})
		require.Equal(t, stdin, left)
		n, err := store.CountRows(ctx, s, "SELECT count() FROM t WHERE s = ?", "a\tb\nc\\")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
	})

	t.Run("bad data", func(t *testing.T) {
		big := "zz\tnot a number\n" + strings.Repeat("1\tx\n", 200_000)
		left := withStdin(t, stdin, func() {
			err := s.Exec(ctx, "INSERT INTO t (x, s) FORMAT TSV\n"+big)
			require.Error(t, err)
			_, isEngine := store.Code(err)
			require.True(t, isEngine, "the engine's parse error: %v", err)
		})
		require.Equal(t, stdin, left)
	})

	t.Run("statements that read stdin are refused", func(t *testing.T) {
		for _, q := range []string{
			"INSERT INTO t (x) FROM INFILE '/dev/stdin' FORMAT TSV",
			"INSERT INTO t (x, s) SELECT * FROM input('x Int64, s String') FORMAT TSV",
			"SELECT * FROM file(stdin, 'TSV', 'x String')",
		} {
			left := withStdin(t, stdin, func() {
				require.ErrorIs(t, s.Exec(ctx, q), chdb.ErrReadsStdin, q)
			})
			require.Equal(t, stdin, left)
		}
	})
}
