package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
)

// collectOrg is the organisation the end-to-end collect test serves: small,
// and recent enough that the collectors walk only a few days of windows.
func collectOrg(t *testing.T) (*demo.Org, string, demo.Manifest) {
	t.Helper()
	org, err := demo.Generate(demo.Config{People: 8, Days: 1, Seed: 31, ViewsPerDay: 5, TasksPerDAG: 4, Start: time.Now().UTC().Add(-72 * time.Hour)})
	require.NoError(t, err)
	in := t.TempDir()
	m, err := org.WriteFiles(in, nil)
	require.NoError(t, err)
	return org, in, m
}

// emulatorConfig writes a collect config whose sources are every provider
// the emulators serve, each collector starting at the organisation's first
// day, with the bus section given.
func emulatorConfig(t *testing.T, srv *emulator.Server, org *demo.Org, bus string) string {
	t.Helper()
	return emulatorConfigWith(t, srv, org, collectSettings{bus: bus})
}

// collectSettings are the keys of an emulator config beside its sources;
// empty fields keep the end-to-end test's.
type collectSettings struct {
	bus  string // the bus and kafka keys
	poll string // each source's poll setting, a YAML flow map
	// start is where the collectors start; zero is the organisation's
	// first day, and its first IdP record for the IdP collectors (see
	// collecttest.IdPFirst).
	start time.Time
	// pipeline are the sink, correlator, status_interval and
	// shutdown_timeout keys, and any others (alerts).
	pipeline string
}

// emulatorConfigWith is emulatorConfig with settings s.
func emulatorConfigWith(t testing.TB, srv *emulator.Server, org *demo.Org, s collectSettings) string {
	t.Helper()
	c := emulator.CollectConfig{
		Head:  s.bus + "\n" + cmp.Or(s.pipeline, "sink: {max_wait: 100ms, flush_timeout: 10s}\ncorrelator: {window: 720h, interval: 500ms}\nstatus_interval: 500ms\nshutdown_timeout: 2m"),
		Poll:  cmp.Or(s.poll, "{interval: 300ms, timeout: 10s, initial_backoff: 100ms, max_backoff: 1s}"),
		Start: cmp.Or(s.start, org.Config().Start),
	}
	if s.start.IsZero() {
		c.IdPStart = collecttest.IdPFirst(org)
	}
	path, err := srv.WriteCollectConfig(t.TempDir(), c)
	require.NoError(t, err)
	return path
}

// storedIDs returns every stored raw record's id (source/instance/event_id,
// as the emulators' ledgers key them) with how many rows FINAL holds of it.
func storedIDs(t *testing.T, kt keytrail, url string) map[string]int {
	t.Helper()
	code, out, errs := kt(context.Background(), "--store", url, "sql", collecttest.StoredIDsQuery)
	require.Equal(t, 0, code, errs)
	ids := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 2 {
			var n int
			_, err := fmt.Sscan(f[1], &n)
			require.NoError(t, err)
			ids[f[0]] = n
		}
	}
	return ids
}

// keytrail runs keytrail with args until it exits or ctx ends (as SIGTERM
// ends it) and returns its exit code, stdout and stderr.
type keytrail func(ctx context.Context, args ...string) (code int, stdout, stderr string)

// inProcess runs keytrail in the test's process.
func inProcess(ctx context.Context, args ...string) (int, string, string) {
	var out, errb syncBuffer
	code := run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// asProcess runs keytrail as a child process (see keytrailProcess); the
// end of ctx sends it SIGTERM.
func asProcess(t *testing.T) keytrail {
	return func(ctx context.Context, args ...string) (int, string, string) {
		cmd := keytrailProcess(t, args...)
		var out, errb syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
				_ = cmd.Process.Signal(syscall.SIGTERM)
			case <-exited:
			}
		}()
		err := cmd.Wait()
		close(exited)
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			require.NoError(t, err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
}

// diffIntent counts the actions whose verdict in got is not the intended
// one, by "intended → got (scenario)".
func diffIntent(intent map[string]demo.Intent, got map[string]map[string]any) map[string]int {
	wrong := map[string]int{}
	for id, it := range intent {
		if v, _ := got[id]["verdict"].(string); v != string(it.Verdict) {
			wrong[fmt.Sprintf("%s → %s (%s)", it.Verdict, cmp.Or(v, "nothing"), it.Scenario)]++
		}
	}
	return wrong
}

// ctxTimeout is a context that ends after d, as a SIGTERM would.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// collectDeadline bounds how long TestCollectEmulators waits for every
// record to be stored.
var collectDeadline = 4 * time.Minute

// TestCollectEmulators runs `keytrail collect` against the provider
// emulators (Okta, Entra, Google, Keycloak and three Airflow deployments of
// a generated organisation) twice: on the embedded bus into chDB, and over
// Kafka (kfake) into the ClickHouse server. Every record an emulator served
// is stored exactly once and nothing else is; the streaming correlator's
// verdicts are the generator's intent and equal a batch correlate over the
// same rows.
func TestCollectEmulators(t *testing.T) {
	org, in, m := collectOrg(t)
	intent := readIntent(t, filepath.Join(in, m.Intent))
	urls := stores(t)
	for _, tc := range []struct{ name, store string }{{"memory bus, chdb", "chdb"}, {"kafka, clickhouse server", "clickhouse"}} {
		t.Run(tc.name, func(t *testing.T) {
			url := urls[tc.store]
			srv, err := emulator.Start(org, emulator.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, srv.Close()) })
			bus := "bus: memory"
			if tc.store == "clickhouse" {
				_, conn := kafkatest.Start(t)
				bus = fmt.Sprintf("bus: kafka\nkafka: {brokers: [%s], partitions: %d}", strings.Join(conn.Brokers, ", "), kafkatest.Partitions)
			}
			cfg := emulatorConfig(t, srv, org, bus)
			code, _, errs := cli(t, "", "--store", url, "identities", "import", filepath.Join(in, m.Mapping))
			require.Equal(t, 0, code, errs)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"--store", url, "collect", "--config", cfg}, strings.NewReader(""), &stdout, &stderr)
			}()

			began := time.Now()
			waitCollected(t, url, srv, org, collectDeadline, func() string {
				select {
				case code := <-done:
					return fmt.Sprintf("collect exited %d early: %s", code, stderr.String())
				default:
					return ""
				}
			}, func() {
				cancel()
				<-done
				t.Logf("output:\n%s\nlog:\n%s", stdout.String(), stderr.String())
			})
			t.Logf("%s: every record stored after %s", tc.name, time.Since(began).Round(time.Second))
			cancel()
			select {
			case code := <-done:
				require.Equal(t, 0, code, stderr.String())
			case <-time.After(45 * time.Second):
				t.Fatal("collect did not stop within its shutdown bound")
			}
			// Every collector reported, before it stopped, how far its
			// source is complete (`keytrail status` shows it).
			code, o, errs := cli(t, "", "--store", url, "status", "--json")
			require.Equal(t, 0, code, errs)
			var st Status
			require.NoError(t, json.Unmarshal([]byte(o), &st))
			require.NotEmpty(t, st.Sources)
			for _, s := range st.Sources {
				if s.Type != "bus" {
					require.False(t, s.Complete.IsZero(), "%s (%s) reports how far it is complete", s.Name, s.Type)
				}
			}
			// Sources arrive at different speeds (the IdPs' windows,
			// Google's lag window, three Airflow deployments paging their
			// logs and runs), yet no action is final before every source
			// has passed it, so the first run's streaming verdicts are the
			// intent however the events interleaved (issue 14 item 3).
			_, off, offIntent := checkCollected(t, inProcess, url, cfg, srv, intent, false)
			requireFirstRun(t, off, len(intent))
			require.Empty(t, offIntent, "streaming verdicts that are not the generator's intent (intended → got), of %d", len(intent))
		})
	}
}

// checkCollected checks a store that `keytrail collect` (run by kt, with
// config cfg) filled from the emulators of srv and stopped: it logs how
// many first-run streaming verdicts differ from the generator's intent
// (sources arrive at different speeds, and an action correlated before its
// DAG run or sign-in was stored can keep a verdict that a later event would
// change); then a
// second collect run resumes from the stored cursors, stores nothing new,
// and its correlator, preloaded with the stored events, writes every
// verdict again: those equal a batch correlate over the same rows
// (verdict, assertion, trigger, inheritance and reason), and the ones
// that are not the generator's intent are returned (intended → got). Every
// record an emulator served is stored exactly once, and beside them only
// inventory snapshots: each one served when collect was not interrupted
// (else at most as many as were served: one served to a collect that was
// stopped may never be stored, the next run takes another). It also
// returns the number of records served and of first-run verdicts that
// differed from the intent.
func checkCollected(t *testing.T, kt keytrail, url, cfg string, srv *emulator.Server, intent map[string]demo.Intent, interrupted bool) (served, off int, offIntent map[string]int) {
	t.Helper()
	first := exportWith(t, kt, url)
	wrong := diffIntent(intent, first)
	for _, k := range wrong {
		off += k
	}
	t.Logf("first run: %d of %d streaming verdicts differ from the intent: %v", off, len(intent), wrong)

	code, out, errs := kt(ctxTimeout(t, 8*time.Second), "--store", url, "collect", "--config", cfg)
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `sink bus: \d+ records, 0 stored`, out, "the cursors resume where the first run ended")
	streamed := exportWith(t, kt, url)
	offIntent = diffIntent(intent, streamed)
	t.Logf("after the catch-up run: streaming verdicts off the generator's intent (intended → got): %v", offIntent)

	ids, snapshots := collecttest.Served(t, srv)
	stored := collecttest.RequireStoredOnce(t, storedIDs(t, kt, url), ids)
	if interrupted {
		require.Positive(t, stored)
		require.LessOrEqual(t, stored, snapshots, "inventory snapshots stored, of those served")
	} else {
		require.Equal(t, snapshots, stored, "every inventory snapshot served is stored")
	}
	t.Logf("%d records served and stored once, %d of %d inventory snapshots served stored, %d verdicts", len(ids), stored, snapshots, len(streamed))

	require.Len(t, streamed, len(intent))
	code, _, errs = kt(context.Background(), "--store", url, "correlate", "--quiet")
	require.Equal(t, 0, code, errs)
	batch := exportWith(t, kt, url)
	require.Equal(t, slices.Sorted(maps.Keys(streamed)), slices.Sorted(maps.Keys(batch)))
	for id, row := range batch {
		for _, k := range []string{"verdict", "assertion_id", "trigger_action_id", "inherited_from", "inherited_verdict", "reason"} {
			require.Equal(t, row[k], streamed[id][k], "%s %s: batch vs streaming", id, k)
		}
	}
	return len(ids), off, offIntent
}

// firstRunSlack is how many first-run streaming verdicts in a thousand may
// differ from the intent: none. The verified → no_assertion seen before
// (1–7 of 990) were Airflow actions stored while their owner's provider
// subject was known only from its authenticator inventory (no email), under
// the provisional person "<source>:<subject>", and judged under it after the
// subject moved to its email person (identity.Provisional, enrich.People).
const firstRunSlack = 0

// requireFirstRun fails when more than firstRunSlack per thousand of n
// first-run streaming verdicts differ from the intent.
func requireFirstRun(t *testing.T, off, n int) {
	t.Helper()
	require.LessOrEqual(t, off*1000, firstRunSlack*n, "first run: %d of %d streaming verdicts are not the generator's intent", off, n)
}

// exportWith runs export correlations with kt and decodes its lines.
func exportWith(t *testing.T, kt keytrail, url string) map[string]map[string]any {
	t.Helper()
	code, out, errs := kt(context.Background(), "--store", url, "export", "correlations", "--format", "jsonl")
	require.Equal(t, 0, code, errs)
	return decodeExport(t, out)
}

// waitCollected waits (at most within) until every record the emulators of srv list by now
// (from org's start; see unserved) is served and every record they served
// is stored at url, asking the store seldom (on chDB each query is a
// session beside collect's). exited says why collect stopped early, ""
// while it runs; giveUp stops it before the test fails.
func waitCollected(t *testing.T, url string, srv *emulator.Server, org *demo.Org, within time.Duration, exited func() string, giveUp func()) {
	t.Helper()
	var missing []string
	left, stored := 0, map[string]int{}
	for deadline := time.Now().Add(within); ; time.Sleep(5 * time.Second) {
		if why := exited(); why != "" {
			t.Fatal(why)
		}
		if time.Now().After(deadline) {
			giveUp()
			slices.Sort(missing)
			t.Fatalf("%d records listed and not served; stored %d records, %d served missing (first %v)", left, len(stored), len(missing), missing[:min(5, len(missing))])
		}
		if left = unserved(srv, org, time.Now()); left > 0 {
			continue
		}
		stored = storedIDs(t, inProcess, url)
		served, err := srv.EventIDs()
		require.NoError(t, err)
		missing = missing[:0]
		for id := range served {
			if stored[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
	}
}
