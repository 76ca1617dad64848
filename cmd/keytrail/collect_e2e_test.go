package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/model"
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
	dir := t.TempDir()
	cr := srv.Creds
	der, err := x509.MarshalPKCS8PrivateKey(cr.Key)
	require.NoError(t, err)
	sa, err := json.Marshal(map[string]string{"type": "service_account", "client_email": cr.ServiceAccount, "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": srv.GoogleTokenURL()})
	require.NoError(t, err)
	saFile := filepath.Join(dir, "google-sa.json")
	require.NoError(t, os.WriteFile(saFile, sa, 0o600))
	t.Setenv("KT_E2E_OKTA_TOKEN", cr.OktaToken)
	t.Setenv("KT_E2E_CLIENT_SECRET", cr.ClientSecret)
	t.Setenv("KT_E2E_AIRFLOW_PASSWORD", cr.AirflowPassword)

	start := org.Config().Start.Format(time.RFC3339)
	poll := "poll: {interval: 300ms, timeout: 10s, initial_backoff: 100ms, max_backoff: 1s}"
	var b strings.Builder
	fmt.Fprintf(&b, `%s
sink: {max_wait: 100ms, flush_timeout: 10s}
correlator: {window: 720h, interval: 500ms}
status_interval: 500ms
shutdown_timeout: 30s
sources:
  okta:
    type: okta
    instance: %s
    base_url: %s
    token: {env: KT_E2E_OKTA_TOKEN}
    start: %s
    %s
  entra:
    type: entra
    instance: %s
    tenant_id: %s
    client_id: %s
    client_secret: {env: KT_E2E_CLIENT_SECRET}
    login_url: %s
    graph_url: %s
    start: %s
    %s
  google:
    type: google
    instance: %s
    service_account_key: {file: %q}
    subject: %s
    base_url: %s
    start: %s
    %s
  keycloak:
    type: keycloak
    instance: %s
    base_url: %s
    realm: %s
    client_id: %s
    client_secret: {env: KT_E2E_CLIENT_SECRET}
    start: %s
    %s
`, bus,
		demo.IdPInstance(model.SourceOkta), srv.OktaURL(), start, poll,
		demo.IdPInstance(model.SourceEntra), cr.Tenant, cr.ClientID, srv.EntraLoginURL(), srv.GraphURL(), start, poll,
		demo.IdPInstance(model.SourceGoogle), saFile, cr.Admin, srv.GoogleURL(), start, poll,
		demo.IdPInstance(model.SourceKeycloak), srv.KeycloakURL(), cr.Realm, cr.ClientID, start, poll)
	for _, in := range org.Config().Instances {
		api := "v2"
		if in.Version == demo.Airflow210 {
			api = "v1"
		}
		fmt.Fprintf(&b, `  airflow-%s:
    type: airflow
    instance: %s
    base_url: %s
    api: %s
    username: %s
    password: {env: KT_E2E_AIRFLOW_PASSWORD}
    runs: {start: %s}
    %s
`, in.Name, in.Name, srv.AirflowURL(in.Name), api, cr.AirflowUser, start, poll)
	}
	path := filepath.Join(dir, "collect.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// storedIDs returns every stored raw record's id (source/instance/event_id,
// as the emulators' ledgers key them) with how many rows FINAL holds of it.
func storedIDs(t *testing.T, url string) map[string]int {
	t.Helper()
	code, out, errs := cli(t, "", "--store", url, "sql", "SELECT concat(source, '/', instance, '/', event_id), count() FROM raw_records FINAL GROUP BY source, instance, event_id")
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

// diffIntent counts the actions whose verdict in got is not the intended
// one, by "intended → got (scenario)".
func diffIntent(intent map[string]demo.Intent, got map[string]map[string]any) map[string]int {
	wrong := map[string]int{}
	for id, it := range intent {
		if v, _ := got[id]["verdict"].(string); v != string(it.Verdict) {
			wrong[fmt.Sprintf("%s → %s (%s)", it.Verdict, orNone(v), it.Scenario)]++
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

func keysOf[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

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

			// Every event the providers list by now, and every DAG run
			// version they served: a run that changed state before it was
			// first polled is listed in its latest state only.
			var feeds []*demo.Feed
			for _, f := range srv.Data.Feeds() {
				if f.Stream != demo.StreamAirflowDagRuns {
					feeds = append(feeds, f)
				}
			}
			expected := collecttest.Expected(t, feeds, srv.Data, org.Config().Start, time.Now())
			require.NotEmpty(t, expected)
			began := time.Now()
			var stored map[string]int
			var missing []string
			for deadline := time.Now().Add(collectDeadline); ; {
				select {
				case code := <-done:
					t.Fatalf("collect exited %d early: %s", code, stderr.String())
				default:
				}
				stored = storedIDs(t, url)
				missing = missing[:0]
				served, err := srv.EventIDs()
				require.NoError(t, err)
				for _, want := range []map[string]bool{expected, keysOf(served)} {
					for id := range want {
						if stored[id] == 0 {
							missing = append(missing, id)
						}
					}
				}
				if len(missing) == 0 {
					break
				}
				if time.Now().After(deadline) {
					slices.Sort(missing)
					cancel()
					<-done
					t.Fatalf("stored %d records, %d of %d expected missing (first %v); output:\n%s\nlog:\n%s", len(stored), len(missing), len(expected), missing[:min(5, len(missing))], stdout.String(), stderr.String())
				}
				// chDB in this process: each query is a session beside
				// collect's, so ask seldom.
				time.Sleep(5 * time.Second)
			}
			t.Logf("%s: every record stored after %s", tc.name, time.Since(began).Round(time.Second))
			cancel()
			select {
			case code := <-done:
				require.Equal(t, 0, code, stderr.String())
			case <-time.After(45 * time.Second):
				t.Fatal("collect did not stop within its shutdown bound")
			}
			// The first run's streaming verdicts: sources arrive at
			// different speeds (the IdPs' windows, Google's lag window,
			// three Airflow deployments paging their logs and runs), yet
			// no action is final before every source has passed it, so
			// the verdicts are the intent however the events interleaved
			// (issue 14 item 3).
			first := exportJSONL(t, url)
			require.Empty(t, diffIntent(intent, first), "first run: streaming verdicts that are not the generator's intent (intended → got), of %d", len(intent))

			// A second run resumes from the stored cursors: it stores
			// nothing new, and its correlator, preloaded with the stored
			// events, writes every verdict again.
			stdout.Reset()
			code = run(ctxTimeout(t, 8*time.Second), []string{"--store", url, "collect", "--config", cfg}, strings.NewReader(""), &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			require.Regexp(t, `sink bus: \d+ records, 0 stored`, stdout.String(), "the cursors resume where the first run ended")
			streamed := exportJSONL(t, url)
			require.Empty(t, diffIntent(intent, streamed), "streaming verdicts that are not the generator's intent (intended → got), of %d", len(intent))

			// Every served record once, and nothing that was not served
			// (inventory snapshots apart: the ledgers count them).
			served, err := srv.EventIDs()
			require.NoError(t, err)
			stored = storedIDs(t, url)
			for id := range served {
				require.Equal(t, 1, stored[id], "%s: served, stored once", id)
			}
			var extra []string
			for id, n := range stored {
				require.Equal(t, 1, n, id)
				if served[id] == 0 {
					extra = append(extra, id)
				}
			}
			snapshots := 0
			for _, l := range srv.Ledgers() {
				for _, n := range l.Snapshots() {
					snapshots += n
				}
			}
			require.Len(t, extra, snapshots, "only inventory snapshots are stored beside the served records: %v", slices.Sorted(slices.Values(extra))[:min(5, len(extra))])
			t.Logf("%s: %d records served and stored once, %d inventory snapshots, %d verdicts", tc.name, len(served), snapshots, len(streamed))

			require.Len(t, streamed, len(intent))
			code, _, errs = cli(t, "", "--store", url, "correlate", "--quiet")
			require.Equal(t, 0, code, errs)
			batch := exportJSONL(t, url)
			require.Equal(t, slices.Sorted(maps.Keys(streamed)), slices.Sorted(maps.Keys(batch)))
			for id, row := range batch {
				for _, k := range []string{"verdict", "assertion_id", "trigger_action_id", "inherited_from", "inherited_verdict", "reason"} {
					require.Equal(t, row[k], streamed[id][k], "%s %s: batch vs streaming", id, k)
				}
			}
		})
	}
}
