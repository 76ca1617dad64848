package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store/storetest"
)

func TestMain(m *testing.M) {
	// The test binary is keytrail itself when a test runs it as a process
	// (see keytrailProcess).
	if os.Getenv(asKeytrailEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM) // as main does
		code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	code := storetest.Main(m)
	os.Exit(code)
}

// cli runs keytrail with args and returns its exit code, stdout and stderr.
func cli(t testing.TB, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// stores returns the store URLs every CLI test runs against: the embedded
// engine and a private ClickHouse server, each on a fresh database.
func stores(t *testing.T) map[string]string {
	srv := storetest.SharedServer(t)
	return map[string]string{
		"chdb":       storetest.EmbeddedURL(t),
		"clickhouse": srv.URL(storetest.FreshDB(t)),
	}
}

func TestMigrateStatusSQL(t *testing.T) {
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			code, out, errs := cli(t, "", "--store", url, "status")
			require.Equal(t, 0, code, errs)
			require.Contains(t, out, "schema:   not created")

			code, out, errs = cli(t, "", "--store", url, "migrate")
			require.Equal(t, 0, code, errs)
			require.Contains(t, out, "applied migration 0001")
			code, out, _ = cli(t, "", "--store", url, "migrate")
			require.Equal(t, 0, code)
			require.Contains(t, out, "up to date")

			code, out, errs = cli(t, "", "--store", url, "status", "--json")
			require.Equal(t, 0, code, errs)
			var st Status
			require.NoError(t, json.Unmarshal([]byte(out), &st))
			require.Equal(t, name, st.Backend)
			require.Equal(t, schema.Latest(), st.SchemaVersion)
			require.Len(t, st.Tables, len(schema.Tables))
			require.EqualValues(t, schema.Latest(), st.Tables["schema_migrations"])

			code, out, errs = cli(t, "", "--store", url, "sql", "SELECT name, version FROM schema_migrations WHERE name = ?", "init")
			require.Equal(t, 0, code, errs)
			require.Equal(t, "init\t1\n", out)

			code, out, errs = cli(t, "", "--store", url, "sql", "--format", "jsonl", "SELECT ? AS who, 2 AS n", "Zoë\t'")
			require.Equal(t, 0, code, errs)
			var row map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &row))
			require.Equal(t, "Zoë\t'", row["who"])

			code, _, errs = cli(t, "", "--store", url, "sql", "SELEC 1")
			require.Equal(t, 1, code)
			require.Contains(t, errs, "62")

			code, out, errs = cli(t, "", "--store", url, "retention", "--before", "2000-01-01", "--dry-run")
			require.Equal(t, 0, code, errs)
			require.Contains(t, out, "would drop 0 partitions")
		})
	}
}

func TestStoreFromEnv(t *testing.T) {
	url := storetest.EmbeddedURL(t)
	t.Setenv("KEYTRAIL_STORE", url)
	code, out, errs := cli(t, "", "migrate")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "applied migration")
}

func TestUsageErrors(t *testing.T) {
	code, _, errs := cli(t, "", "nope")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "unknown command")
	code, _, _ = cli(t, "")
	require.Equal(t, 2, code)
	code, out, _ := cli(t, "", "help")
	require.Equal(t, 0, code)
	for _, c := range []string{"migrate", "status", "sql", "retention"} {
		require.Contains(t, out, c)
	}
	code, _, errs = cli(t, "", "--store", "chdb://"+storetest.EmbeddedDir(t), "sql")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "missing QUERY")
}

func TestPasswordNeverPrinted(t *testing.T) {
	port, err := storetest.FreePort()
	require.NoError(t, err)
	url := "clickhouse://default:s3cr3t-pw@127.0.0.1:" + itoa(port) + "/x?dial_timeout=300ms"
	code, out, errs := cli(t, "", "--store", url, "status")
	require.Equal(t, 1, code)
	require.NotContains(t, out+errs, "s3cr3t-pw")
	require.Contains(t, errs, "xxxxx")
}

func TestDefaultStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("KEYTRAIL_DATA_DIR", dir)
	t.Setenv("KEYTRAIL_STORE", "")
	code, out, errs := cli(t, "", "help")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "chdb://"+dir+"/chdb", "help names the default store")
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestSQLStatementsWithoutRows: DDL, INSERT and other statements that return
// no rows succeed through `keytrail sql` on both engines, with nothing on
// stdout; statements that return rows print them.
func TestSQLStatementsWithoutRows(t *testing.T) {
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct{ q, out string }{
				{"CREATE TABLE scratch (a Int64, s String) ENGINE = MergeTree ORDER BY a", ""},
				{"  /* ddl */ create table if not exists scratch (a Int64, s String) ENGINE = MergeTree ORDER BY a", ""},
				{"INSERT INTO scratch (a, s) SELECT 1, 'x' UNION ALL SELECT 2, 'y'", ""},
				// ALTER … DELETE is an asynchronous mutation on 18.16; an
				// ALTER that changes the schema is done when it returns.
				{"ALTER TABLE scratch ADD COLUMN c UInt8", ""},
				{"OPTIMIZE TABLE scratch FINAL", ""},
				{"SELECT a, s, c FROM scratch ORDER BY a", "1\tx\t0\n2\ty\t0\n"},
				{"(SELECT 7)", "7\n"},
				{"WITH 3 AS n SELECT n", "3\n"},
				{"SHOW TABLES LIKE 'scratch'", "scratch\n"},
				{"DESCRIBE TABLE scratch", "a\tInt64\t\t\t\t\t\ns\tString\t\t\t\t\t\n"},
				{"EXISTS TABLE scratch", "1\n"},
				{"TRUNCATE TABLE scratch", ""},
				{"DROP TABLE scratch", ""},
			} {
				code, out, errs := cli(t, "", "--store", url, "sql", c.q)
				require.Equal(t, 0, code, "%s: %s", c.q, errs)
				if strings.HasPrefix(c.q, "DESCRIBE") {
					require.True(t, strings.HasPrefix(out, "a\tInt64"), "%s: %q", c.q, out)
					continue
				}
				require.Equal(t, c.out, out, c.q)
			}
			// Rows written inside an INSERT: chDB parses them; a server over
			// the native protocol would wait for blocks forever, so keytrail
			// refuses the statement before sending it.
			code, _, errs := cli(t, "", "--store", url, "sql", "CREATE TABLE scratch2 (a Int64) ENGINE = MergeTree ORDER BY a")
			require.Equal(t, 0, code, errs)
			code, _, errs = cli(t, "", "--store", url, "sql", "INSERT INTO scratch2 VALUES (3)")
			if name == "chdb" {
				require.Equal(t, 0, code, errs)
				_, out, _ := cli(t, "", "--store", url, "sql", "SELECT a FROM scratch2")
				require.Equal(t, "3\n", out)
				return
			}
			require.Equal(t, 2, code, errs)
			require.Contains(t, errs, "INSERT … SELECT")
		})
	}
}
