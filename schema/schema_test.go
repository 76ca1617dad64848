package schema

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
)

func TestMigrationsWellFormed(t *testing.T) {
	ms, err := Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	require.Equal(t, len(ms), Latest())
	for _, d := range []store.Dialect{store.DialectFor("18.16.1"), store.DialectFor("26.5.1")} {
		for _, m := range ms {
			stmts, err := Render(Target{Dialect: d}, m.SQL)
			require.NoError(t, err)
			require.NotEmpty(t, stmts)
			for _, st := range stmts {
				require.NotContains(t, st, "{{", "template fully rendered")
				body := strings.TrimSpace(stripComments(st))
				switch {
				case strings.HasPrefix(body, "CREATE"):
					require.Contains(t, st, "IF NOT EXISTS", "every CREATE is idempotent: %s", firstLine(st))
				case strings.HasPrefix(body, "ALTER"):
					require.Regexp(t, addColumnRE, st, "an ALTER adds one column (Migrate skips it when the column exists): %s", firstLine(st))
					require.NotContains(t, body, "IF NOT EXISTS", "ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS")
				case strings.HasPrefix(body, "DROP TABLE"):
					require.Contains(t, st, "IF EXISTS", "every DROP is idempotent: %s", firstLine(st))
				case strings.HasPrefix(body, "INSERT INTO"), strings.HasPrefix(body, "RENAME TABLE"):
					// A table rebuilt by copy (0007): the copy is idempotent on
					// a ReplacingMergeTree key, and the conformance suite
					// (CorrelationsByTime) re-runs it after each statement.
				default:
					t.Fatalf("migration %s: statement is neither CREATE … IF NOT EXISTS, DROP … IF EXISTS, a rebuild's copy or rename, nor ALTER … ADD COLUMN: %s", m.Name, firstLine(st))
				}
				if !d.DateTime64 {
					require.NotContains(t, stripComments(st), "DateTime64", "old servers get Int64 timestamps")
					require.NotContains(t, st, "LowCardinality")
				}
			}
		}
	}
}

func TestEveryTableCreated(t *testing.T) {
	ms, err := Migrations()
	require.NoError(t, err)
	var all strings.Builder
	for _, m := range ms {
		all.WriteString(m.SQL)
	}
	all.WriteString(ledgerDDL)
	for _, table := range Tables {
		require.Contains(t, all.String(), "CREATE TABLE IF NOT EXISTS "+table+" ", "table %s has DDL", table)
	}
	for _, table := range RetainedTables {
		require.Contains(t, Tables, table)
	}
}

func TestSplitStatements(t *testing.T) {
	got := SplitStatements("-- header;\nCREATE A (x);\n\n-- only a comment\nCREATE B;\nSELECT 'a;b'")
	require.Equal(t, []string{"-- header;\nCREATE A (x)", "-- only a comment\nCREATE B", "SELECT 'a;b'"}, got, "a semicolon in a comment line does not end a statement")
}

func firstLine(s string) string { return strings.SplitN(stripComments(s), "\n", 2)[0] }
