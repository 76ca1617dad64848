package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest"
)

func fixture(source, file string) string {
	return filepath.Join("..", "..", "ingest", source, "testdata", file)
}

// jsonLines decodes every line of out.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		rows = append(rows, m)
	}
	return rows
}

func find(rows []map[string]any, match map[string]any) map[string]any {
	for _, r := range rows {
		ok := true
		for k, v := range match {
			if r[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

func TestIngestEventsDeadLetters(t *testing.T) {
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ingestJSON := func(source, instance string, files ...string) []ingest.Result {
				t.Helper()
				args := append([]string{"--store", url, "ingest", "--source", source, "--instance", instance, "--json"}, files...)
				code, out, errs := cli(t, "", args...)
				require.Equal(t, 0, code, errs)
				var res []ingest.Result
				for _, m := range jsonLines(t, out) {
					b, _ := json.Marshal(m)
					var r ingest.Result
					require.NoError(t, json.Unmarshal(b, &r))
					res = append(res, r)
				}
				require.Len(t, res, len(files))
				return res
			}
			// IdPs first here; the order does not matter (TestVerdictsIndependentOfSourceOrder).
			okta := ingestJSON("okta", "prod", fixture("okta", "logs_page.json"))[0]
			require.Positive(t, okta.Accepted)
			require.Equal(t, okta.Records, okta.Accepted+okta.Duplicates+okta.Conflicts+okta.DeadLetters)
			again := ingestJSON("okta", "prod", fixture("okta", "logs_page.json"))[0]
			require.Zero(t, again.Accepted, "re-ingesting adds nothing")
			require.Equal(t, okta.Accepted+okta.Duplicates, again.Duplicates)
			ingestJSON("keycloak", "prod", fixture("keycloak", "user_events.json"), fixture("keycloak", "admin_events.json"))
			ingestJSON("entra", "prod", fixture("entra", "signins_page.json"), fixture("entra", "directory_audits_page.json"))
			ingestJSON("google", "prod", fixture("google", "activities_page.json"))

			// Airflow 2.7 and 3.1 audit logs and runs; the human summary and
			// the unknown-name report.
			code, out, errs := cli(t, "", "--store", url, "ingest", "--source", "airflow", "--instance", "af2",
				fixture("airflow", "v1_2.7_event_logs.json"), fixture("airflow", "v1_2.10_dag_runs.json"))
			require.Equal(t, 0, code, errs)
			require.Contains(t, out, "v1_2.7_event_logs.json: ")
			require.Regexp(t, `\d+ records, \d+ accepted, 0 duplicates, 0 conflicts, 0 dead letters\n`, out)
			require.Contains(t, errs, "custom_plugin_action (1)")
			ingestJSON("airflow", "af3", fixture("airflow", "v2_3.1_event_logs.json"), fixture("airflow", "v2_3.1_dag_runs.json"))

			// Bad input from stdin is dead-lettered, never fatal.
			code, out, errs = cli(t, "{\"eventType\": \"user.session.start\"}\nnot json at all\n", "--store", url, "ingest", "--source", "okta", "--json", "-")
			require.Equal(t, 0, code, errs)
			bad := jsonLines(t, out)[0]
			require.EqualValues(t, 2, bad["records"])
			require.EqualValues(t, 2, bad["dead_letters"])
			require.Contains(t, errs, "see keytrail deadletters")
			code, out, _ = cli(t, "", "--store", url, "deadletters", "--format", "jsonl")
			require.Equal(t, 0, code)
			dls := jsonLines(t, out)
			require.Len(t, dls, 2)
			require.NotNil(t, find(dls, map[string]any{"raw": "not json at all", "source": "okta"}))
			for _, d := range dls {
				require.NotEmpty(t, d["error"])
				require.Regexp(t, `^-#byte=\d+$`, d["origin"])
			}
			code, out, _ = cli(t, "", "--store", url, "deadletters")
			require.Equal(t, 0, code)
			require.Contains(t, out, "2 dead letters")

			// An unreadable file is an error; the readable ones are still ingested.
			code, _, errs = cli(t, "", "--store", url, "ingest", "--source", "google", filepath.Join(t.TempDir(), "missing.json"), fixture("google", "single_activity.json"))
			require.Equal(t, 1, code)
			require.Contains(t, errs, "could not read 1 of 2 inputs")
			code, _, errs = cli(t, "", "--store", url, "ingest", "--source", "ldap", "x.json")
			require.Equal(t, 2, code, errs)

			// Factor, hardware and person for key logins, passwords, OTP, push
			// and synced passkeys.
			code, out, errs = cli(t, "", "--store", url, "events", "--kind", "auth")
			require.Equal(t, 0, code, errs)
			auth := jsonLines(t, out)
			for _, c := range []struct {
				match    map[string]any
				factor   string
				hardware any
				person   string
			}{
				{map[string]any{"credential_id": "fwf1a2b3c4YubiKey001", "category": "mfa"}, "webauthn", true, "alice@example.com"},
				{map[string]any{"credential_id": "fwf9bobIcloudPasskey", "category": "mfa"}, "passkey_synced", false, "bob@example.com"},
				{map[string]any{"email": "bob@example.com", "factor": "push"}, "push", false, "bob@example.com"},
				{map[string]any{"email": "bob@example.com", "factor": "totp"}, "totp", false, "bob@example.com"},
				{map[string]any{"email": "alice@example.com", "category": "login", "factor": "password"}, "password", false, "alice@example.com"},
				{map[string]any{"credential_id": "AQIDBAUGBwgJCgsMDQ4PEA", "category": "login"}, "webauthn", true, "keycloak:0b7e4d2a-1c3f-4e5a-9b8c-7d6e5f4a3b2c"},
				{map[string]any{"email": "alice@contoso.com", "aaguid": "fa2b99dc-9e39-4257-8f92-4a30d23c4118"}, "webauthn", true, "alice@contoso.com"},
				{map[string]any{"email": "carol@example.com", "event_id": "login/C03az79cb/2024-05-14T09:12:03.000Z/-2329294394874562525/0/login_verification"}, "webauthn", true, "carol@example.com"},
			} {
				r := find(auth, c.match)
				require.NotNil(t, r, "no auth event %v", c.match)
				require.Equal(t, c.factor, r["factor"], "%v", c.match)
				require.Equal(t, c.hardware, r["hardware"], "%v", c.match)
				require.Equal(t, c.person, r["person"], "%v", c.match)
				require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, r["ts"])
				for _, k := range []string{"source", "instance", "event_id", "ts", "person", "subject", "email", "category", "outcome", "factor", "hardware", "aaguid", "credential_id", "app", "session_id", "ip"} {
					require.Contains(t, r, k)
				}
			}
			// Nothing is counted twice: one row per event id.
			seen := map[string]bool{}
			for _, r := range auth {
				k := r["source"].(string) + "/" + r["instance"].(string) + "/" + r["event_id"].(string)
				require.False(t, seen[k], "duplicate %s", k)
				seen[k] = true
			}

			// Airflow: channel/action/privileged and people behind FAB owners.
			code, out, errs = cli(t, "", "--store", url, "events", "--kind", "airflow")
			require.Equal(t, 0, code, errs)
			af := jsonLines(t, out)
			trig := find(af, map[string]any{"instance": "af2", "event_log_id": 1001.0})
			require.NotNil(t, trig)
			require.Equal(t, "ui", trig["channel"])
			require.Equal(t, "trigger", trig["action"])
			require.Equal(t, true, trig["privileged"])
			require.Equal(t, "alice@example.com", trig["person"])
			require.NotNil(t, find(af, map[string]any{"instance": "af3", "channel": "api"}), "3.x API events")
			code, out, errs = cli(t, "", "--store", url, "events", "--kind", "runs", "--format", "csv")
			require.Equal(t, 0, code, errs)
			require.True(t, strings.HasPrefix(out, "instance,dag_id,run_id,run_type,triggered_by,triggering_user,person,logical_date,start_date,end_date,state\n"), out)
			require.Greater(t, strings.Count(out, "\n"), 2)

			// The operator mapping resolves CLI users for later ingests.
			mapping := filepath.Join(t.TempDir(), "people.csv")
			require.NoError(t, os.WriteFile(mapping, []byte("person,source,subject\nops-root,airflow,cli:root\n"), 0o600))
			code, out, errs = cli(t, "", "--store", url, "identities", "import", mapping)
			require.Equal(t, 0, code, errs)
			require.Contains(t, out, "imported 1 mapping rows")
			code, out, _ = cli(t, "", "--store", url, "identities", "list")
			require.Equal(t, 0, code)
			require.Contains(t, out, "ops-root\tairflow\tcli:root\tmapping\n")
			require.Contains(t, out, "alice@example.com\tairflow\tokta_00u1a2b3c4d5e6f7g8h9\tinferred\n")
			code, _, errs = cli(t, "", "--store", url, "ingest", "--source", "airflow", "--instance", "af4", fixture("airflow", "v1_2.10_event_logs.json"))
			require.Equal(t, 0, code, errs)
			code, out, _ = cli(t, "", "--store", url, "events", "--kind", "airflow")
			require.Equal(t, 0, code)
			root := find(jsonLines(t, out), map[string]any{"instance": "af4", "actor": "root"})
			require.NotNil(t, root)
			require.Equal(t, "cli", root["channel"])
			require.Equal(t, "ops-root", root["person"])

			// AAGUID lists.
			deny := filepath.Join(t.TempDir(), "deny.txt")
			require.NoError(t, os.WriteFile(deny, []byte("# lost keys\nCB69481E-8FF7-4039-93EC-0A2729A154A8\n"), 0o600))
			code, out, errs = cli(t, "", "--store", url, "aaguids", "deny", deny)
			require.Equal(t, 0, code, errs)
			require.Contains(t, out, "added 1 AAGUIDs to the deny list")
			code, out, _ = cli(t, "", "--store", url, "aaguids", "list")
			require.Equal(t, 0, code)
			require.Regexp(t, `cb69481e-8ff7-4039-93ec-0a2729a154a8\t[^\n]*hardware=false\t[^\n]*deny\n`, out)
			code, _, errs = cli(t, "", "--store", url, "mds", "import", mapping)
			require.Equal(t, 1, code, "a CSV is not an MDS3 blob")
			require.Contains(t, errs, "mds")
		})
	}
}

// TestIngestConflictsAndDamage: a BOM-prefixed Graph page cut mid-record
// keeps its intact records and yields one dead letter; a record with a stored
// id and other bytes is counted as a conflict, not a duplicate.
func TestIngestConflictsAndDamage(t *testing.T) {
	page, err := os.ReadFile(fixture("entra", "signins_page.json"))
	require.NoError(t, err)
	full := ingest.Split(page, [][]string{{"value"}})
	require.Greater(t, len(full), 3)
	cut := append([]byte("\xEF\xBB\xBF"), page[:int(full[3].Offset)+40]...)
	dir := t.TempDir()
	cutFile := filepath.Join(dir, "cut.json")
	require.NoError(t, os.WriteFile(cutFile, cut, 0o600))
	var rec map[string]any
	require.NoError(t, json.Unmarshal(full[0].Raw, &rec))
	rec["ipAddress"] = "203.0.113.99"
	edited, err := json.Marshal(rec)
	require.NoError(t, err)
	editedFile := filepath.Join(dir, "edited.json")
	require.NoError(t, os.WriteFile(editedFile, append(edited, '\n'), 0o600))
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			code, out, errs := cli(t, "", "--store", url, "ingest", "--source", "entra", "--json", cutFile, editedFile)
			require.Equal(t, 0, code, errs)
			rows := jsonLines(t, out)
			require.Len(t, rows, 2)
			require.Equal(t, map[string]any{"file": cutFile, "records": 4.0, "accepted": 3.0, "duplicates": 0.0, "conflicts": 0.0, "dead_letters": 1.0, "batches": 1.0}, rows[0])
			require.Equal(t, map[string]any{"file": editedFile, "records": 1.0, "accepted": 0.0, "duplicates": 0.0, "conflicts": 1.0, "dead_letters": 0.0, "batches": 1.0}, rows[1])
			require.Contains(t, errs, "1 records rejected")
			require.Contains(t, errs, "1 records have the id of a stored record but other bytes: kept in the conflicts table")
			code, out, errs = cli(t, "", "--store", url, "sql", "--format", "jsonl", "SELECT raw, origin FROM conflicts FINAL")
			require.Equal(t, 0, code, errs)
			c := jsonLines(t, out)
			require.Len(t, c, 1)
			require.Equal(t, string(edited), c[0]["raw"])
			require.Equal(t, editedFile+"#byte=0", c[0]["origin"])
			code, out, _ = cli(t, "", "--store", url, "deadletters", "--format", "jsonl")
			require.Equal(t, 0, code)
			dl := jsonLines(t, out)
			require.Len(t, dl, 1)
			require.Equal(t, string(page[full[3].Offset:int(full[3].Offset)+40]), dl[0]["raw"])
			require.Equal(t, fmt.Sprintf("%s#byte=%d", cutFile, full[3].Offset+3), dl[0]["origin"])
			require.Contains(t, dl[0]["error"], "truncated or damaged JSON: array element 4")
		})
	}
}

func TestPrintIngestResult(t *testing.T) {
	res := ingest.Result{File: "f.json", Records: 10, Accepted: 4, Duplicates: 1, Conflicts: 1, DeadLetters: 0, Batches: 2}
	var b strings.Builder
	printIngestResult(&b, false, res, nil)
	printIngestResult(&b, false, res, errors.New("store write failed: boom"))
	printIngestResult(&b, true, res, errors.New("store write failed: boom"))
	require.Equal(t, `f.json: 10 records, 4 accepted, 1 duplicates, 1 conflicts, 0 dead letters
f.json: 10 records, 4 accepted, 1 duplicates, 1 conflicts, 0 dead letters (stopped by a store failure after 2 batches; these were stored)
{"file":"f.json","records":10,"accepted":4,"duplicates":1,"conflicts":1,"dead_letters":0,"batches":2,"error":"store write failed: boom"}
`, b.String())
}
