package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
)

// seedCorrelateStore writes a small history into the store at url and
// returns each action's expected verdict under the default policy.
func seedCorrelateStore(t *testing.T, url string, t0 time.Time) map[string]model.Verdict {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, url)
	require.NoError(t, err)
	defer s.Close()
	_, err = schema.Migrate(ctx, s)
	require.NoError(t, err)
	want := map[string]model.Verdict{}
	var (
		auth  []model.AuthEvent
		authn []model.Authenticator
		af    []model.AirflowEvent
		runs  []model.DagRun
	)
	tap := func(person string, at time.Time, f model.Factor) {
		cred := "cred-" + person
		if f != model.FactorWebAuthn {
			cred = ""
		}
		auth = append(auth, model.AuthEvent{Source: model.SourceKeycloak, Instance: "main", EventID: person + at.Format("150405.000"), TS: at, Person: person,
			Subject: person, Category: model.CategoryLogin, Outcome: model.OutcomeSuccess, Factor: f, CredentialID: cred})
	}
	for _, p := range []string{"alice", "bob", "gina"} {
		authn = append(authn, model.Authenticator{Source: model.SourceKeycloak, Instance: "main", EventID: "reg-" + p, TS: t0.Add(-5 * 24 * time.Hour),
			Person: p, Action: model.AuthenticatorRegister, CredentialID: "cred-" + p, AAGUID: "ee882879-721c-4913-9775-3dfcce97072a", Model: "YubiKey 5", Hardware: model.Bool(true)})
	}
	var id int64
	act := func(person, actor string, ch model.Channel, class model.ActionClass, dag, run string, at time.Time, v model.Verdict) string {
		id++
		af = append(af, model.AirflowEvent{Instance: "prod", EventLogID: id, TS: at, Event: string(class), Channel: ch, Action: class, Human: true,
			Actor: actor, Person: person, DagID: dag, RunID: run, MapIndex: -1})
		aid := "prod:" + strconv.FormatInt(id, 10)
		want[aid] = v
		return aid
	}
	tap("alice", t0.Add(-time.Minute), model.FactorWebAuthn)
	act("alice", "alice", model.ChannelUI, model.ActionTrigger, "etl", "", t0, model.VerdictVerified)
	tap("bob", t0.Add(-time.Hour), model.FactorWebAuthn)
	act("bob", "bob", model.ChannelUI, model.ActionClear, "etl", "", t0, model.VerdictStale)
	tap("carol", t0.Add(-time.Minute), model.FactorTOTP)
	act("carol", "carol", model.ChannelAPI, model.ActionVariable, "", "", t0, model.VerdictWeakFactor)
	act("dave", "dave", model.ChannelUI, model.ActionConn, "", "", t0, model.VerdictNoAssertion)
	act("", "root", model.ChannelCLI, model.ActionDelete, "etl", "", t0, model.VerdictUnknownIdentity)
	// CLI trigger and its manual run.
	tap("gina", t0.Add(9*time.Minute), model.FactorWebAuthn)
	act("gina", "gina_os", model.ChannelCLI, model.ActionTrigger, "etl", "manual__1", t0.Add(10*time.Minute), model.VerdictVerified)
	runs = append(runs, model.DagRun{Instance: "prod", DagID: "etl", RunID: "manual__1", RunType: model.RunManual, TS: t0.Add(10*time.Minute + 5*time.Second)})
	want["prod:etl:manual__1"] = model.VerdictVerified // the trigger's verdict: a manual run is its person's own act
	// unpause, then a scheduled run; and a run nobody enabled.
	tap("alice", t0.Add(20*time.Minute), model.FactorWebAuthn)
	act("alice", "alice", model.ChannelUI, model.ActionUnpause, "etl", "", t0.Add(21*time.Minute), model.VerdictVerified)
	runs = append(runs, model.DagRun{Instance: "prod", DagID: "etl", RunID: "scheduled__1", RunType: model.RunScheduled, TS: t0.Add(time.Hour)})
	want["prod:etl:scheduled__1"] = model.VerdictInherited
	runs = append(runs, model.DagRun{Instance: "prod", DagID: "lost", RunID: "scheduled__1", RunType: model.RunScheduled, TS: t0.Add(time.Hour)})
	want["prod:lost:scheduled__1"] = model.VerdictUnattributed
	// a task-state row: not in the population.
	af = append(af, model.AirflowEvent{Instance: "prod", EventLogID: 99, TS: t0, Event: "running", Channel: model.ChannelSystem, Action: model.ActionTaskState, DagID: "etl", TaskID: "t", MapIndex: -1})

	require.NoError(t, store.Authenticators.Write(ctx, s, authn))
	require.NoError(t, store.AuthEvents.Write(ctx, s, auth))
	require.NoError(t, store.AirflowEvents.Write(ctx, s, af))
	require.NoError(t, store.DagRuns.Write(ctx, s, runs))
	return want
}

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// exportJSONL runs export correlations and decodes its lines, checking
// every line's keys are the population fields in order.
func exportJSONL(t *testing.T, url string, extra ...string) map[string]map[string]any {
	t.Helper()
	code, out, errs := cli(t, "", append([]string{"--store", url, "export", "correlations", "--format", "jsonl"}, extra...)...)
	require.Equal(t, 0, code, errs)
	return decodeExport(t, out)
}

// decodeExport decodes the lines of export correlations --format jsonl,
// checking every line's keys are the population fields in order.
func decodeExport(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	rows := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		tok, err := dec.Token()
		require.NoError(t, err)
		require.Equal(t, json.Delim('{'), tok)
		var keys []string
		for dec.More() {
			k, err := dec.Token()
			require.NoError(t, err)
			keys = append(keys, k.(string))
			var v any
			require.NoError(t, dec.Decode(&v))
		}
		require.Equal(t, report.PopulationHeader, keys, "field order")
		var row map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &row))
		require.Regexp(t, timeRE, row["action_ts"])
		if row["assertion_ts"] != nil {
			require.Regexp(t, timeRE, row["assertion_ts"])
		}
		rows[row["action_id"].(string)] = row
	}
	return rows
}

func TestCorrelateExportCLI(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			want := seedCorrelateStore(t, url, t0)
			hook := &hookRecorder{}
			srv := httptest.NewServer(hook)
			defer srv.Close()
			dir := t.TempDir()
			alerts := filepath.Join(dir, "alerts.yaml")
			t.Setenv("KEYTRAIL_TEST_HOOK_TOKEN", "s3cret-token")
			require.NoError(t, os.WriteFile(alerts, []byte("retry: {attempts: 2, initial_backoff: 10ms}\ntargets:\n  - name: soc\n    webhook:\n      url: "+srv.URL+"\n      secret_env: KEYTRAIL_TEST_HOOK_TOKEN\n"), 0o600))

			code, out, errs := cli(t, "", "--store", url, "correlate", "--from", "2026-05-04", "--to", "2026-05-05", "--alerts", alerts)
			require.Equal(t, 0, code, errs)
			require.Contains(t, out, "correlated "+strconv.Itoa(len(want))+" actions from 2026-05-04T00:00:00.000Z to 2026-05-05T00:00:00.000Z")
			counts := map[model.Verdict]int{}
			for _, v := range want {
				counts[v]++
			}
			for _, v := range model.Verdicts {
				require.Regexp(t, `(?m)^  `+string(v)+` +`+strconv.Itoa(counts[v])+`$`, out)
			}
			require.NotContains(t, out+errs, "s3cret-token")
			pv := correlate.DefaultPolicy().Version()
			require.Contains(t, out, "policy "+pv+" (current)")

			rows := exportJSONL(t, url)
			require.Len(t, rows, len(want))
			for id, v := range want {
				require.Equal(t, string(v), rows[id]["verdict"], id)
				require.Equal(t, pv, rows[id]["policy_version"])
			}
			a := rows["prod:1"]
			require.Equal(t, "2026-05-04T08:59:00.000Z", a["assertion_ts"])
			require.EqualValues(t, 60, a["assertion_age_s"])
			require.Equal(t, "YubiKey 5", a["authenticator_model"])
			require.Equal(t, true, a["privileged"])
			require.Equal(t, "prod:6", rows["prod:etl:manual__1"]["trigger_action_id"])
			require.Equal(t, "", rows["prod:etl:manual__1"]["inherited_from"])
			require.Equal(t, "prod:7", rows["prod:etl:scheduled__1"]["inherited_from"])
			require.Equal(t, "verified", rows["prod:etl:scheduled__1"]["inherited_verdict"])

			// The same run on three sweep workers writes the same verdicts
			// and links (a run's enabler may be another worker's).
			code, _, errs = cli(t, "", "--store", url, "correlate", "--quiet", "--workers", "3", "--from", "2026-05-04", "--to", "2026-05-05")
			require.Equal(t, 0, code, errs)
			again := exportJSONL(t, url)
			require.Len(t, again, len(want))
			for id, v := range want {
				require.Equal(t, string(v), again[id]["verdict"], id)
				for _, k := range []string{"reason", "inherited_from", "inherited_verdict", "trigger_action_id", "assertion_ts"} {
					require.Equal(t, rows[id][k], again[id][k], "%s %s", id, k)
				}
			}
			code, _, errs = cli(t, "", "--store", url, "correlate", "--workers", "0")
			require.Equal(t, 2, code)
			require.Contains(t, errs, "--workers must be at least 1")

			// alerts reached the webhook with the secret, and the alerts table.
			body, auths := hook.all()
			for id, v := range want {
				bad := v == model.VerdictStale || v == model.VerdictWeakFactor || v == model.VerdictNoAssertion || v == model.VerdictUnknownIdentity
				require.Equal(t, bad, strings.Contains(body, `"`+id+`"`), "alert for %s (%s)", id, v)
			}
			require.Contains(t, auths, "s3cret-token")
			code, out, errs = cli(t, "", "--store", url, "sql", "SELECT count() FROM alerts FINAL WHERE status = 'firing' AND sent_at IS NOT NULL")
			require.Equal(t, 0, code, errs)
			require.Equal(t, "4", strings.TrimSpace(out))

			// CSV: header, one row per action, a window.
			code, out, errs = cli(t, "", "--store", url, "export", "correlations", "--format", "csv", "--from", "2026-05-04T09:00:00Z", "--to", "2026-05-04T09:00:00.001Z")
			require.Equal(t, 0, code, errs)
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			require.NoError(t, err)
			require.Equal(t, report.PopulationHeader, recs[0])
			require.Len(t, recs, 1+5, "the five actions at t0")
			for _, r := range recs[1:] {
				require.Equal(t, "2026-05-04T09:00:00.000Z", r[1])
			}

			// re-running changes nothing; a new policy adds a version.
			code, _, errs = cli(t, "", "--store", url, "correlate", "--quiet")
			require.Equal(t, 0, code, errs)
			require.Len(t, exportJSONL(t, url), len(want))
			pol := filepath.Join(dir, "policy.yaml")
			require.NoError(t, os.WriteFile(pol, []byte("max_age:\n  privileged: 2h\n"), 0o600))
			t.Setenv("KEYTRAIL_POLICY", pol)
			code, out, errs = cli(t, "", "--store", url, "correlate")
			require.Equal(t, 0, code, errs)
			require.NotContains(t, out, pv)
			rows2 := exportJSONL(t, url)
			require.Equal(t, "verified", rows2["prod:2"]["verdict"], "bob's hour-old tap counts under 2h")
			require.NotEqual(t, pv, rows2["prod:2"]["policy_version"])
			old := exportJSONL(t, url, "--policy-version", pv)
			require.Equal(t, "stale", old["prod:2"]["verdict"], "the old version stays queryable")

			code, _, errs = cli(t, "", "--store", url, "correlate", "--policy", filepath.Join(dir, "missing.yaml"))
			require.Equal(t, 1, code)
			require.Contains(t, errs, "missing.yaml")
			code, _, _ = cli(t, "", "--store", url, "export", "correlations", "--format", "xml")
			require.Equal(t, 2, code)
		})
	}
}

// hookRecorder is a local webhook that keeps request bodies and the
// Authorization headers it was sent.
type hookRecorder struct {
	mu     sync.Mutex
	bodies bytes.Buffer
	auths  []string
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies.Write(b)
	h.bodies.WriteByte('\n')
	h.auths = append(h.auths, r.Header.Get("Authorization"))
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookRecorder) all() (string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bodies.String(), strings.Join(h.auths, ",")
}

func TestCorrelateFollowCLI(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	url := stores(t)["chdb"]
	want := seedCorrelateStore(t, url, t0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	// Interrupt it as soon as it follows: what was stored is preloaded, and
	// Close finalises every pending verdict.
	errb := &cancelOn{marker: "following newly stored events", cancel: cancel}
	code := run(ctx, []string{"--store", url, "correlate", "--follow", "--from", "2026-05-04", "--interval", "1h"}, strings.NewReader(""), &out, errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "final verdicts:")
	require.Regexp(t, `(?m)^  unattributed +1$`, out.String())
	rows := exportJSONL(t, url)
	require.Len(t, rows, len(want))
	for id, v := range want {
		require.Equal(t, string(v), rows[id]["verdict"], id)
	}
}

// cancelOn is a writer that calls cancel once marker has been written to it.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

func (c *cancelOn) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
