package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/demo/batch"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

// TestCluster runs a generated organisation through keytrail on a ClickHouse
// cluster of 2 shards × 2 replicas (ZooKeeper, ReplicatedReplacingMergeTree
// behind Distributed tables) and holds it to the single-node demo of the same
// organisation: one replica — the host the clients talk to — is killed with
// SIGKILL while the files are being ingested and restarted, yet every record
// is stored exactly once, both replicas of each shard hold the same rows, and
// the evidence pack's population, exceptions, authenticators and sample are
// byte for byte the single-node pack's.
func TestCluster(t *testing.T) {
	c := storetest.SharedCluster(t)
	srv := storetest.SharedServer(t)
	ctx := context.Background()

	// The reference: keytrail demo on one server.
	ref := t.TempDir()
	single := srv.URL(storetest.FreshDB(t))
	start := time.Now()
	code, out, errs := cli(t, "", "--store", single, "demo", "--out", ref, "--people", "12", "--days", "2", "--seed", "13")
	require.Equal(t, 0, code, out+errs)
	t.Logf("single-node demo: %v", time.Since(start))
	in := filepath.Join(ref, batch.InputDir)
	var m demo.Manifest
	b, err := os.ReadFile(filepath.Join(in, demo.ManifestFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	x := m.Expected

	db := storetest.FreshDB(t)
	url := c.URL(db)
	start = time.Now()
	code, out, errs = cli(t, "", "--store", url, "migrate")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "applied migration 0001")
	t.Logf("cluster migrate: %v", time.Since(start))
	code, _, errs = cli(t, "", "--store", url, "identities", "import", filepath.Join(in, m.Mapping))
	require.Equal(t, 0, code, errs)

	// Ingest as an operator would, file by file, Airflow first (batch.IngestPhases),
	// while the first host of the URL (shard 1, replica 1) is killed and
	// restarted under it. Writes to its shard wait (insert_quorum) until it
	// is active again, about ten seconds later: the restarted replica waits
	// out its old ZooKeeper session.
	watch, err := store.Open(ctx, c.URL(db))
	require.NoError(t, err)
	defer watch.Close()
	done := make(chan error, 1)
	start = time.Now()
	go func() {
		for _, files := range batch.IngestPhases(m.Files) {
			for _, f := range files {
				fileStart := time.Now()
				code, _, errs := cli(t, "", "--store", url, "ingest", "--source", string(f.Source), "--instance", f.Instance, filepath.Join(in, f.Path))
				if code != 0 {
					done <- fmt.Errorf("ingest %s: exit %d: %s", f.Path, code, errs)
					return
				}
				t.Logf("ingested %s (%d records) in %v", f.Path, f.Records, time.Since(fileStart))
			}
		}
		done <- nil
	}()
	require.Eventually(t, func() bool {
		n, err := store.CountRows(ctx, watch, "SELECT count() FROM raw_records")
		return err == nil && n > 0
	}, time.Minute, 10*time.Millisecond, "ingest stores its first batch")
	victim := c.Shards[0][0]
	victim.Kill()
	killed := time.Since(start)
	select {
	case err := <-done:
		t.Fatalf("ingest finished before the kill: %v", err)
	default:
	}
	time.Sleep(time.Second)
	require.NoError(t, c.Restart(victim))
	restarted := time.Since(start)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Minute):
		n, err := store.CountRows(ctx, watch, "SELECT count() FROM raw_records")
		t.Fatalf("ingest did not finish within 10 minutes of the restart (%d of %d records stored, %v)", n, x.Stored, err)
	}
	t.Logf("cluster ingest: %v (replica killed at %v, restarted at %v)", time.Since(start), killed, restarted)

	// Exactly what the generator wrote down, and what the single node holds.
	count := func(url, q string) string { return sqlOne(t, url, q) }
	require.Equal(t, strconv.Itoa(x.Stored), count(url, "SELECT count() FROM raw_records FINAL"), "every record stored once")
	require.Equal(t, strconv.Itoa(x.DeadLetters), count(url, "SELECT count() FROM dead_letters FINAL WHERE length(raw) > 0 AND error != ''"))
	for _, table := range []string{"raw_records", "auth_events", "authenticators", "airflow_events", "dag_runs", "dead_letters", "identities"} {
		q := "SELECT count() FROM " + table + " FINAL"
		require.Equal(t, count(single, q), count(url, q), table)
	}
	// Both replicas of each shard hold the same rows, and the shards add up.
	for _, table := range []string{"raw_records", "auth_events", "airflow_events"} {
		total := 0
		for _, shard := range c.Shards {
			var counts []string
			require.Eventually(t, func() bool {
				counts = counts[:0]
				for _, s := range shard {
					counts = append(counts, count(s.URL(db), "SELECT count() FROM "+table+"_local FINAL"))
				}
				return counts[0] == counts[1]
			}, 30*time.Second, 100*time.Millisecond, "%s: replicas of a shard agree: %v", table, counts)
			n, err := strconv.Atoi(counts[0])
			require.NoError(t, err)
			require.Positive(t, n, "%s: every shard holds rows", table)
			total += n
		}
		require.Equal(t, count(single, "SELECT count() FROM "+table+" FINAL"), strconv.Itoa(total), "%s: shards add up", table)
	}

	// Correlate and report: the pack is the single node's.
	start = time.Now()
	code, _, errs = cli(t, "", "--store", url, "correlate", "--quiet")
	require.Equal(t, 0, code, errs)
	t.Logf("cluster correlate: %v", time.Since(start))
	pack := filepath.Join(t.TempDir(), "evidence")
	start = time.Now()
	code, out, errs = cli(t, "", "--store", url, "report", "--from", m.Start.Format(time.RFC3339), "--to", m.End.Format(time.RFC3339),
		"--out", pack, "--organisation", "Example Corp (keytrail demo)", "--generated-at", m.End.Format(time.RFC3339),
		"--key", filepath.Join(ref, batch.KeyFile))
	require.Equal(t, 0, code, out+errs)
	t.Logf("cluster report: %v", time.Since(start))
	for _, f := range []string{report.FilePopulationCSV, "population.jsonl", "exceptions.csv", "authenticators.csv", "sample.csv"} {
		want, err := os.ReadFile(filepath.Join(ref, batch.EvidenceDir, f))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(pack, f))
		require.NoError(t, err)
		require.True(t, string(want) == string(got), "%s differs from the single-node pack (%d vs %d bytes)", f, len(got), len(want))
	}
	intent := readIntent(t, filepath.Join(in, m.Intent))
	rows := exportJSONL(t, url)
	require.Len(t, rows, len(intent))
	for id, it := range intent {
		require.Equal(t, string(it.Verdict), rows[id]["verdict"], "%s (%s)", id, it.Scenario)
	}
	code, out, errs = cli(t, "", "--store", url, "verify", pack, "--key", filepath.Join(ref, batch.KeyFile))
	require.Equal(t, 0, code, out+errs)

	// The ledger is one: through another host, every migration is applied.
	other := fmt.Sprintf("clickhouse://default@%s/%s?cluster=%s", c.Shards[1][1].Addr(), db, c.Name)
	code, out, errs = cli(t, "", "--store", other, "migrate")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "up to date")
}
