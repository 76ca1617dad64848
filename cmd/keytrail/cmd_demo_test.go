package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/demo/batch"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
)

// TestDemoEndToEnd runs a small demo on both engines through the CLI and
// checks it against what the generator wrote down: every record stored once
// or dead-lettered, every action with the intended verdict (in the store
// and in the evidence pack), a PDF whose headline numbers are the intent's,
// and a pack that verifies.
func TestDemoEndToEnd(t *testing.T) {
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			code, out, errs := cli(t, "", "--store", url, "demo", "--out", dir, "--people", "10", "--days", "2", "--seed", "7")
			require.Equal(t, 0, code, out+errs)
			for _, stage := range []string{"store", "generate", "write", "ingest", "correlate", "intent", "report", "verify"} {
				require.Regexp(t, `(?m)^`+stage+` +\[#+\]`, errs, "progress for %s", stage)
			}

			var m demo.Manifest
			b, err := os.ReadFile(filepath.Join(dir, batch.InputDir, demo.ManifestFile))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &m))
			x := m.Expected
			records := 0
			for _, n := range x.Records {
				records += n
			}
			require.Positive(t, x.DeadLetters)
			require.Contains(t, out, fmt.Sprintf("%d read, %d stored, %d duplicates dropped, %d dead letters (expected %d)",
				records, x.Stored, x.Duplicates, x.DeadLetters, x.DeadLetters))

			// Every record is stored once or dead-lettered with its bytes.
			require.Equal(t, strconv.Itoa(x.Stored), sqlOne(t, url, "SELECT count() FROM raw_records FINAL"))
			require.Equal(t, strconv.Itoa(x.DeadLetters), sqlOne(t, url, "SELECT count() FROM dead_letters FINAL WHERE length(raw) > 0 AND error != ''"))
			// Its redeliveries are byte-identical: duplicates, never conflicts.
			require.Equal(t, "0", sqlOne(t, url, "SELECT count() FROM conflicts FINAL"))
			require.NotContains(t, out, "conflicts")

			// Every action has the verdict the generator intended.
			intent := readIntent(t, filepath.Join(dir, batch.InputDir, m.Intent))
			require.NotEmpty(t, intent)
			rows := exportJSONL(t, url)
			require.Len(t, rows, len(intent))
			var human, humanVerified, runs, runsAttributed int
			for id, it := range intent {
				require.Contains(t, rows, id)
				require.Equal(t, string(it.Verdict), rows[id]["verdict"], "%s (%s)", id, it.Scenario)
				if it.Kind == model.KindAudit {
					human++
					if it.Verdict == model.VerdictVerified {
						humanVerified++
					}
				} else {
					runs++
					if it.Verdict != model.VerdictUnattributed && it.Verdict != model.VerdictUnknownIdentity {
						runsAttributed++
					}
				}
			}
			require.Positive(t, humanVerified)
			require.Contains(t, out, fmt.Sprintf("%d of %d verdicts as the generator intended", len(intent), len(intent)))

			// The pack: its population is the intent, its PDF says so, and
			// it verifies against the store.
			pack := filepath.Join(dir, batch.EvidenceDir)
			f, err := os.Open(filepath.Join(pack, report.FilePopulationCSV))
			require.NoError(t, err)
			recs, err := csv.NewReader(f).ReadAll()
			f.Close()
			require.NoError(t, err)
			require.Equal(t, report.PopulationHeader, recs[0])
			require.Len(t, recs, 1+len(intent))
			for _, r := range recs[1:] {
				require.Equal(t, string(intent[r[0]].Verdict), r[10], r[0])
			}
			text := strings.Join(strings.Fields(pdfTextCLI(t, filepath.Join(pack, report.FilePDF))), " ")
			require.Contains(t, text, fmt.Sprintf("Human actions verified with a hardware security key: %d of %d", humanVerified, human))
			require.Contains(t, text, fmt.Sprintf("DAG runs attributed to a person: %d of %d", runsAttributed, runs))
			require.Contains(t, text, "Example Corp (keytrail demo)")

			code, vout, verrs := cli(t, "", "--store", url, "verify", pack, "--key", filepath.Join(dir, batch.KeyFile))
			require.Equal(t, 0, code, vout+verrs)
			require.Contains(t, vout, "OK: the pack verifies")

			// The same seed again over the same store: nothing new is
			// stored, and the verdicts are the same.
			if name == "chdb" {
				code, out2, errs := cli(t, "", "--store", url, "demo", "--out", dir, "--people", "10", "--days", "2", "--seed", "7")
				require.Equal(t, 0, code, out2+errs)
				require.Contains(t, out2, fmt.Sprintf("%d read, 0 stored, %d duplicates dropped", records, x.Stored+x.Duplicates))
				require.Equal(t, verdictLines(out), verdictLines(out2))
				require.Equal(t, strconv.Itoa(x.Stored), sqlOne(t, url, "SELECT count() FROM raw_records FINAL"))
			}
		})
	}
}

func sqlOne(t *testing.T, url, q string) string {
	t.Helper()
	code, out, errs := cli(t, "", "--store", url, "sql", q)
	require.Equal(t, 0, code, errs)
	return strings.TrimSpace(out)
}

func readIntent(t *testing.T, path string) map[string]demo.Intent {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]demo.Intent{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var it demo.Intent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &it))
		require.NotContains(t, out, it.ActionID, "action ids are unique")
		out[it.ActionID] = it
	}
	require.NoError(t, sc.Err())
	return out
}

// verdictLines is the verdict table of a demo summary.
func verdictLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && strings.HasPrefix(l, "            ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestIngestCorrelate ingests a generated organisation file by file with
// --correlate, as an operator would, and requires the streaming verdicts to
// be the generator's intent and the same as a batch correlate afterwards.
func TestIngestCorrelate(t *testing.T) {
	in, m, intent := writeDemoOrg(t, 11)
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			code, _, errs := cli(t, "", "--store", url, "identities", "import", filepath.Join(in, m.Mapping))
			require.Equal(t, 0, code, errs)
			var last string
			for _, out := range ingestDemoFiles(t, url, in, m, "--correlate") {
				require.Regexp(t, `correlated \d+ actions from `, out)
				last = out
			}
			require.Contains(t, last, fmt.Sprintf("correlated %d actions from ", len(intent)), "the last file spans the period")

			streamed := exportJSONL(t, url)
			require.Len(t, streamed, len(intent))
			for id, it := range intent {
				require.Equal(t, string(it.Verdict), streamed[id]["verdict"], "%s (%s)", id, it.Scenario)
			}
			code, _, errs = cli(t, "", "--store", url, "correlate", "--quiet")
			require.Equal(t, 0, code, errs)
			batchRows := exportJSONL(t, url)
			for id, row := range batchRows {
				for _, k := range []string{"verdict", "assertion_id", "trigger_action_id", "inherited_from", "inherited_verdict", "reason"} {
					require.Equal(t, row[k], streamed[id][k], "%s %s: batch vs streaming", id, k)
				}
			}

			// --json keeps stdout one object per file; the correlator's
			// report goes to stderr. A re-ingest stores nothing new.
			f := batch.IngestPhases(m.Files)[0][0] // an Airflow file
			code, out, errs := cli(t, "", "--store", url, "ingest", "--json", "--source", "airflow", "--instance", f.Instance, "--correlate", filepath.Join(in, f.Path))
			require.Equal(t, 0, code, errs)
			require.Equal(t, 1, strings.Count(out, "\n"))
			require.Contains(t, errs, "no new events stored, nothing to correlate")
		})
	}
}

// TestMappingAfterIngest imports the identity mapping only after everything
// was ingested and correlated: the CLI owners it names are unknown until
// then, and after the import (which re-resolves the stored rows) and a new
// correlate every verdict is the generator's intent.
func TestMappingAfterIngest(t *testing.T) {
	in, m, intent := writeDemoOrg(t, 5)
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ingestDemoFiles(t, url, in, m)
			code, _, errs := cli(t, "", "--store", url, "correlate", "--quiet")
			require.Equal(t, 0, code, errs)
			before := exportJSONL(t, url)
			wrong := 0
			for id, it := range intent {
				if string(it.Verdict) != before[id]["verdict"] {
					wrong++
					require.Equal(t, "unknown_identity", before[id]["verdict"], "%s: only the unmapped CLI owners differ", id)
				}
			}
			require.Positive(t, wrong, "without the mapping some CLI owners are unknown")

			code, out, errs := cli(t, "", "--store", url, "identities", "import", filepath.Join(in, m.Mapping))
			require.Equal(t, 0, code, errs)
			require.Regexp(t, `re-resolved stored rows: \d+ sign-ins and key registrations, [1-9]\d* Airflow actions and runs changed person`, out)
			code, _, errs = cli(t, "", "--store", url, "correlate", "--quiet")
			require.Equal(t, 0, code, errs)
			after := exportJSONL(t, url)
			for id, it := range intent {
				require.Equal(t, string(it.Verdict), after[id]["verdict"], "%s (%s)", id, it.Scenario)
			}
			// A second import finds nothing left to resolve.
			code, out, errs = cli(t, "", "--store", url, "identities", "import", filepath.Join(in, m.Mapping))
			require.Equal(t, 0, code, errs)
			require.NotContains(t, out, "re-resolved")
		})
	}
}

// ingestDemoFiles runs keytrail ingest (with extra flags) on each file of a
// generated organisation in dir, Airflow first (see batch.IngestPhases), and returns the
// outputs in order.
func ingestDemoFiles(t *testing.T, url, dir string, m demo.Manifest, extra ...string) []string {
	t.Helper()
	var outs []string
	for _, files := range batch.IngestPhases(m.Files) {
		for _, f := range files {
			args := append([]string{"--store", url, "ingest", "--source", string(f.Source), "--instance", f.Instance}, extra...)
			code, out, errs := cli(t, "", append(args, filepath.Join(dir, f.Path))...)
			require.Equal(t, 0, code, errs)
			outs = append(outs, out)
		}
	}
	return outs
}

// writeDemoOrg writes a 9-person, 2-day organisation with seed into a
// temporary directory and returns it, its manifest and the intent by
// action id.
func writeDemoOrg(t *testing.T, seed uint64) (string, demo.Manifest, map[string]demo.Intent) {
	t.Helper()
	org, err := demo.Generate(demo.Config{People: 9, Days: 2, Seed: seed})
	require.NoError(t, err)
	in := t.TempDir()
	m, err := org.WriteFiles(in, nil)
	require.NoError(t, err)
	return in, m, readIntent(t, filepath.Join(in, m.Intent))
}

// TestDemoLive runs `keytrail demo --live` on a small organisation at high
// speed: the emulators serve it, keytrail collect's pipeline stores it and
// the streaming correlator judges it. Every record served is stored exactly
// once, the progress shows verdicts and alerts as they arrive, and
// every streaming verdict is the generator's intent (exit 0).
func TestDemoLive(t *testing.T) {
	url := stores(t)["chdb"]
	dir := t.TempDir()
	began := time.Now()
	code, out, errs := cli(t, "", "--log-level", "warn", "--store", url, "demo", "--live", "--out", dir, "--people", "8", "--days", "1", "--seed", "3", "--speed", "4000")
	t.Logf("demo --live took %s:\n%s", time.Since(began).Round(time.Second), out)

	require.Contains(t, out, "keytrail demo --live — 8 people, 1 days from ")
	require.Regexp(t, `(?m)^ +\d+\.\ds +demo \d{4}-\d\d-\d\d \d\d:\d\d +\d+ records stored +verdicts: .*verified \d+.* +alerts: \d+ firing`, out, "progress lines with verdicts as they happen")
	require.Regexp(t, `(?m)^  alert firing `, out, "alerts printed as they arrive")

	// Every record served is stored exactly once.
	m := regexp.MustCompile(`records +(\d+) served by the emulators: (\d+) stored once, 0 missing, 0 stored more than once \(\+\d+ inventory snapshots, 0 others\)`).FindStringSubmatch(out)
	require.NotNil(t, m, out+errs)
	require.Equal(t, m[1], m[2])
	served, _ := strconv.Atoi(m[1])
	require.Greater(t, served, 1000)
	n, err := strconv.Atoi(sqlOne(t, url, "SELECT count() FROM raw_records FINAL"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, served)

	// The closing check: the verdict table adds up to the actions
	// correlated, and the intent line decides the exit code.
	a := regexp.MustCompile(`actions +(\d+) correlated by the streaming correlator`).FindStringSubmatch(out)
	require.NotNil(t, a, out)
	sum := 0
	for _, l := range verdictLines(out) {
		k, err := strconv.Atoi(strings.Fields(l)[1])
		require.NoError(t, err)
		sum += k
	}
	require.Equal(t, a[1], strconv.Itoa(sum))
	// Sources arrive at different speeds, yet no verdict is final before
	// every source has passed it: the streaming verdicts are the intent.
	in := regexp.MustCompile(`intent +(\d+) of (\d+) verdicts as the generator intended`).FindStringSubmatch(out)
	require.NotNil(t, in, out)
	if in[1] == in[2] {
		require.Equal(t, 0, code, errs)
		return
	}
	require.Equal(t, 1, code, "a verdict off the intent fails the demo")
	require.Contains(t, out, "differ (intended → stored): ")
	got, _ := strconv.Atoi(in[1])
	total, _ := strconv.Atoi(in[2])
	requireFirstRun(t, total-got, total)
}
