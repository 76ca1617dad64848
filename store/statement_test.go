package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReturnsRows(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                              true,
		"  select 1":                            true,
		"(SELECT 1) UNION ALL (SELECT 2)":       true,
		"WITH 1 AS x SELECT x":                  true,
		"-- c\nSELECT 1":                        true,
		"/* c */SHOW TABLES":                    true,
		"# c\nDESCRIBE TABLE t":                 true,
		"DESC t":                                true,
		"EXPLAIN SELECT 1":                      true,
		"EXISTS TABLE t":                        true,
		"CHECK TABLE t":                         true,
		"CREATE TABLE t (a Int8) ENGINE=Memory": false,
		"INSERT INTO t SELECT 1":                false,
		"INSERT INTO t VALUES (1)":              false,
		"ALTER TABLE t DELETE WHERE 1":          false,
		"DROP TABLE t":                          false,
		"SET max_threads = 1":                   false,
		"OPTIMIZE TABLE t FINAL":                false,
		"SELECTED":                              false,
		"":                                      false,
		"/* unterminated":                       false,
	} {
		require.Equal(t, want, ReturnsRows(q), q)
	}
}

func TestInlineInsertData(t *testing.T) {
	for q, want := range map[string]bool{
		"INSERT INTO t VALUES (1, 'x')":                        true,
		"insert into t (a, s) values (1, 'x'), (2, 'y')":       true,
		"  /* c */ INSERT INTO t FORMAT JSONEachRow {\"a\":1}": true,
		"INSERT INTO `select` (a) VALUES (1)":                  true,
		"INSERT INTO t (\"select\") VALUES ('select')":         true,
		"-- SELECT\nINSERT INTO t VALUES (1)":                  true,
		"INSERT INTO t SELECT 1":                               false,
		"INSERT INTO t (a) SELECT a FROM u WHERE s = 'VALUES'": false,
		"INSERT INTO t WITH 1 AS x SELECT x":                   false,
		"INSERT INTO t (a) (SELECT 1)":                         false,
		"SELECT 'INSERT INTO t VALUES (1)'":                    false,
		"CREATE TABLE t (values Int8) ENGINE = Memory":         false,
		"": false,
	} {
		require.Equal(t, want, InlineInsertData(q), q)
	}
}
