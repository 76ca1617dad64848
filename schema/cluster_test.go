package schema

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
)

func clusterTarget(version string) Target {
	d := store.DialectFor(version)
	d.Cluster = "keytrail"
	return Target{Dialect: d, Database: "kt"}
}

// TestClusterShardKeys pins how every table is sharded: by the ORDER BY
// key's prefix before its first timestamp, which every version of a row
// shares, so FINAL through the Distributed table is exact.
func TestClusterShardKeys(t *testing.T) {
	want := map[string]string{
		"schema_migrations": "version",
		"raw_records":       "source, instance, event_id",
		"auth_events":       "source, instance, subject",
		"authenticators":    "source, instance, event_id",
		"airflow_events":    "instance, event_log_id",
		"dag_runs":          "instance, dag_id, run_id",
		"identities":        "source, subject",
		"correlations":      "policy_version, action_id",
		"alerts":            "alert_id, target",
		"dead_letters":      "source, instance, sha256",
		"cursors":           "collector",
		"reports":           "report_id",
		"retention_log":     "executed_at, table_name, partition",
		"aaguids":           "source, aaguid",
	}
	lay, err := embeddedLayouts()
	require.NoError(t, err)
	for _, table := range Tables {
		require.Contains(t, lay, table, "every table has a layout")
	}
	for table, cols := range want {
		require.Equal(t, cols, strings.Join(lay[table].shardBy, ", "), table)
	}
}

// TestClusterRendersEveryMigration renders the ledger and every migration
// for a cluster on both engines: each CREATE becomes a replicated local
// table and a Distributed table of the logical name, each ALTER alters the
// local table and makes the Distributed one again, every statement runs ON
// CLUSTER, and no template is left.
func TestClusterRendersEveryMigration(t *testing.T) {
	ms, err := Migrations()
	require.NoError(t, err)
	texts := []string{ledgerDDL}
	for _, m := range ms {
		texts = append(texts, m.SQL)
	}
	lay, err := embeddedLayouts()
	require.NoError(t, err)
	for _, version := range []string{"18.16.1", "26.5.1"} {
		target := clusterTarget(version)
		created := map[string]bool{}
		for _, text := range texts {
			stmts, err := Render(target, text)
			require.NoError(t, err)
			for _, st := range stmts {
				require.NotContains(t, st, "{{")
				require.Contains(t, st, " ON CLUSTER `keytrail`")
				if m := regexp.MustCompile("^CREATE TABLE IF NOT EXISTS `kt`.`(\\w+)` ON CLUSTER `keytrail` AS `kt`.`(\\w+)` ENGINE = Distributed\\('keytrail', 'kt', '(\\w+)', cityHash64\\(([^)]*)\\)\\)$").FindStringSubmatch(st); m != nil {
					require.Equal(t, LocalTable(m[1]), m[2])
					require.Equal(t, LocalTable(m[1]), m[3])
					require.Equal(t, strings.Join(lay[m[1]].shardBy, ", "), m[4])
					require.True(t, created[m[2]], "%s: the local table is created first", m[1])
					require.False(t, created[m[1]], "%s: created once, or again after a drop", m[1])
					created[m[1]] = true
					continue
				}
				if m := regexp.MustCompile("^ALTER TABLE `kt`.`(\\w+)` ON CLUSTER `keytrail` ").FindStringSubmatch(st); m != nil {
					require.True(t, created[m[1]], "%s: altered after it was created", m[1])
					require.True(t, strings.HasSuffix(m[1], LocalSuffix), "%s: the local table is altered", m[1])
					continue
				}
				if m := regexp.MustCompile("^DROP TABLE IF EXISTS `kt`.`(\\w+)` ON CLUSTER `keytrail`$").FindStringSubmatch(st); m != nil {
					require.True(t, created[m[1]], "%s: dropped after it was created", m[1])
					require.False(t, strings.HasSuffix(m[1], LocalSuffix), "%s: only a Distributed table is dropped", m[1])
					created[m[1]] = false // and made again by the next statement
					continue
				}
				m := regexp.MustCompile("(?s)^CREATE TABLE IF NOT EXISTS `kt`.`(\\w+)_local` ON CLUSTER `keytrail` \\(.*\\)\nENGINE = Replicated(\\w*MergeTree)\\('/clickhouse/tables/keytrail/\\{shard\\}/kt/(\\w+)', '\\{replica\\}'").FindStringSubmatch(st)
				require.NotNil(t, m, "a replicated local table: %s", firstLineOf(st))
				require.Equal(t, m[1], m[3], "one ZooKeeper path per table")
				created[LocalTable(m[1])] = true
				if version == "18.16.1" {
					require.NotContains(t, st, "DateTime64")
				}
			}
		}
		for _, table := range Tables {
			require.True(t, created[table], "%s: Distributed table created", table)
			require.True(t, created[LocalTable(table)], "%s: local table created", table)
		}
	}
}

func TestClusterAlter(t *testing.T) {
	stmts, err := Render(clusterTarget("18.16.1"), "-- a new column\nALTER TABLE correlations ADD COLUMN trigger_action_id String AFTER verdict;\n")
	require.NoError(t, err)
	require.Equal(t, []string{
		"ALTER TABLE `kt`.`correlations_local` ON CLUSTER `keytrail` ADD COLUMN trigger_action_id String AFTER verdict",
		"DROP TABLE IF EXISTS `kt`.`correlations` ON CLUSTER `keytrail`",
		"CREATE TABLE IF NOT EXISTS `kt`.`correlations` ON CLUSTER `keytrail` AS `kt`.`correlations_local` ENGINE = Distributed('keytrail', 'kt', 'correlations_local', cityHash64(policy_version, action_id))",
	}, stmts, "18.16 refuses ON CLUSTER ALTERs of Distributed tables: the local table is altered, the Distributed one made again from it")
	single, err := Render(Target{Dialect: store.DialectFor("18.16.1")}, "ALTER TABLE correlations ADD COLUMN trigger_action_id String AFTER verdict;\n")
	require.NoError(t, err)
	require.Equal(t, []string{"ALTER TABLE correlations ADD COLUMN trigger_action_id String AFTER verdict"}, single)
}

// TestClusterRefuses lists what a migration may not do when it must also run
// on a cluster: each fails to render, naming the statement.
func TestClusterRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ sql, err string }{
		"memory engine":      {"CREATE TABLE IF NOT EXISTS m (x UInt8) ENGINE = Memory ORDER BY x", "engine Memory"},
		"already replicated": {"CREATE TABLE IF NOT EXISTS r (x UInt8) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY x", "engine ReplicatedMergeTree"},
		"view":               {"CREATE MATERIALIZED VIEW IF NOT EXISTS v ENGINE = MergeTree ORDER BY x AS SELECT 1 AS x", "cannot run on a cluster"},
		"insert":             {"INSERT INTO cursors (collector) VALUES ('x')", "cannot run on a cluster"},
		"drop":               {"DROP TABLE IF EXISTS cursors", "cannot run on a cluster"},
		"alter unknown":      {"ALTER TABLE nope ADD COLUMN x String", "table nope: no CREATE TABLE"},
		"no key":             {"CREATE TABLE IF NOT EXISTS k (x UInt8) ENGINE = MergeTree PARTITION BY x", "no ORDER BY"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Render(clusterTarget("26.5.1"), tc.sql+";\n")
			require.ErrorContains(t, err, tc.err)
			_, err = Render(Target{Dialect: store.DialectFor("26.5.1")}, tc.sql+";\n")
			require.NoError(t, err, "one node renders it unchanged")
		})
	}
	_, err := Render(Target{Dialect: clusterTarget("26.5.1").Dialect}, "CREATE TABLE IF NOT EXISTS cursors (c String) ENGINE = MergeTree ORDER BY c;\n")
	require.ErrorContains(t, err, "no database")
}

// TestShardColumns is the sharding rule over the shapes an ORDER BY takes.
func TestShardColumns(t *testing.T) {
	cols := "id String, source String, subject String, ts {{ts}}, at Nullable({{ts}}), n Int64"
	for key, want := range map[string]string{
		"ORDER BY (source, subject, ts, id)": "source, subject",
		"ORDER BY (source, at, id)":          "source",
		"ORDER BY (ts, id)":                  "ts, id",
		"ORDER BY id":                        "id",
		"ORDER BY (id, n)":                   "id, n",
		"ORDER BY (source, toDate(ts), id)":  "source",
		"PARTITION BY x ORDER BY (\n  source,\n  id\n) SETTINGS index_granularity = 8192": "source, id",
	} {
		got, err := shardColumns("t", cols, key)
		require.NoError(t, err, key)
		require.Equal(t, want, strings.Join(got, ", "), key)
	}
}
