package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/internal/oidctest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/server"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// TestServeEndToEnd fills a store on each engine by pushing a demo
// organisation through the intake endpoints (signed pushes per source, an
// Okta Event Hook delivery, an ID token), correlates it, and reads it back
// through the API: every page of correlations, evidence chains, coverage,
// an evidence pack. Every pushed record is stored once, even when pushed
// twice, and the ID token backs a verified action.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	org, err := demo.Generate(demo.Config{People: 8, Days: 2, Seed: 5})
	require.NoError(t, err)
	m, err := org.WriteFiles(dir, nil)
	require.NoError(t, err)
	for name, s := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := warehouse.New(s)
			f, err := os.Open(filepath.Join(dir, m.Mapping))
			require.NoError(t, err)
			rows, err := identity.ParseMapping(f)
			f.Close()
			require.NoError(t, err)
			require.NoError(t, w.ImportIdentities(ctx, rows, time.Now()))
			// One sender per source and instance of the demo's files.
			senders := map[string]server.Shipper{}
			for _, fi := range m.Files {
				k := senderKey(fi.Source, fi.Instance)
				if _, ok := senders[k]; ok {
					continue
				}
				env := strings.NewReplacer(":", "_", "/", "_", "-", "_").Replace("KT_TEST_" + name + "_" + k)
				t.Setenv(env, secret("sender-secret-"+k+"-"+time.Now().Format(time.RFC3339Nano)))
				senders[k] = server.Shipper{Source: fi.Source, Instance: fi.Instance, Secret: server.Secret{Env: env}}
			}
			h := start(t, w, func(c *server.Config, _ *server.Deps) {
				c.BodyLimits.Ingest = 64 << 20
				for _, sh := range senders {
					if sh.Source == model.SourceAirflow && sh.Instance == "af-prod" || sh.Source == model.SourceOkta && sh.Instance == "acme" {
						continue
					}
					c.Intake.Shippers = append(c.Intake.Shippers, sh)
				}
			})
			for k, sh := range senders {
				if sh.Source == model.SourceAirflow && sh.Instance == "af-prod" {
					h.Keys[k] = h.Keys["SHIP_AIRFLOW"]
				} else if sh.Source == model.SourceOkta && sh.Instance == "acme" {
					h.Keys[k] = h.Keys["SHIP_OKTA"]
				} else {
					h.Keys[k] = sh.Secret.Env
				}
			}
			h2 := h
			// Every demo file goes in as a signed push of its source (IdPs
			// first), through a sender configured per source and instance.
			push := func(src model.Source, inst string, body []byte) {
				t.Helper()
				u := h2.URL + "/v1/ingest/" + string(src) + "?instance=" + url.QueryEscape(inst)
				status, b, _ := do(t, "POST", u, body, h2.signedKey(t, src, inst, body))
				require.Equal(t, http.StatusAccepted, status, string(b))
			}
			for _, fi := range idpFirst(m.Files) {
				b, err := os.ReadFile(filepath.Join(dir, fi.Path))
				require.NoError(t, err)
				push(fi.Source, fi.Instance, b)
			}
			stored := func() int64 {
				n, err := store.CountRows(ctx, s, "SELECT count() FROM raw_records FINAL")
				require.NoError(t, err)
				return n
			}
			before := stored()
			require.Equal(t, int64(m.Expected.Stored), before, "every demo record stored once")

			// An Okta Event Hook delivery, delivered twice (Okta is at-least-once).
			hook := []byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + oktaEvent("hook-evt-1") + `]}}`)
			for range 2 {
				status, b, _ := do(t, "POST", h.URL+"/v1/hooks/okta/acme", hook, map[string]string{"Authorization": h.secretOf("OKTA_HOOK")})
				require.Equal(t, http.StatusOK, status, string(b))
			}
			// An ID token of a person with a hardware key, handed over twice,
			// once bare and once in its JSON envelope.
			person := rows[0]
			c := h.Issuer.Claims("proxy-user-1", idAudience)
			c["amr"], c["email"] = []string{"pwd", "hwk", "mfa"}, person.Person
			at := m.End.Add(-time.Hour)
			c["auth_time"] = at.Unix()
			tok := secret(h.Issuer.Mint(c))
			for _, body := range [][]byte{[]byte(tok), []byte(`{"id_token":"` + tok + `"}`)} {
				status, b, _ := do(t, "POST", h.URL+"/v1/ingest/oidc", body, h.signed("IDTOK", body, time.Now()))
				require.Equal(t, http.StatusAccepted, status, string(b))
			}
			require.Equal(t, before+2, stored(), "the hook event and the token stored once each")
			n, err := store.CountRows(ctx, s, "SELECT count() FROM auth_events FINAL WHERE source = 'oidc' AND factor = 'webauthn' AND hardware = 1 AND person = ?", person.Person)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
			// A privileged action by that person a minute after the token is
			// verified by it.
			afRec := `{"event_log_id": 99000001, "when": "` + at.Add(time.Minute).UTC().Format("2006-01-02T15:04:05.000000+00:00") +
				`", "event": "trigger", "dag_id": "etl_oidc", "owner": "` + person.Person + `", "extra": "{}"}`
			afBody := []byte(`{"event_logs":[` + afRec + `],"total_entries":1}`)
			inst := "af-legacy"
			push(model.SourceAirflow, inst, afBody)
			mappingRow := model.Identity{Person: person.Person, Source: model.SourceAirflow, Subject: person.Person}
			require.NoError(t, w.ImportIdentities(ctx, []model.Identity{mappingRow}, time.Now()))
			_, err = correlation.Correlate(ctx, w, correlate.DefaultPolicy(), correlation.CorrelateOptions{})
			require.NoError(t, err)

			auth := map[string]string{"Authorization": "Bearer " + h.token("kt-auditors")}
			// Every page of correlations, following next_cursor.
			total, pages := 0, 0
			seen := map[string]bool{}
			next := h.URL + "/v1/correlations?limit=500"
			for next != "" {
				status, b, _ := do(t, "GET", next, nil, auth)
				require.Equal(t, http.StatusOK, status, string(b))
				var page struct {
					Items []struct {
						ActionID string `json:"action_id"`
						Verdict  string `json:"verdict"`
					}
					Next *string `json:"next_cursor"`
				}
				require.NoError(t, json.Unmarshal(b, &page))
				for _, it := range page.Items {
					require.False(t, seen[it.ActionID], "action %s on two pages", it.ActionID)
					seen[it.ActionID] = true
				}
				total += len(page.Items)
				pages++
				next = ""
				if page.Next != nil {
					next = h.URL + "/v1/correlations?limit=500&cursor=" + *page.Next
				}
			}
			require.Equal(t, m.Expected.AuditActions+m.Expected.Runs+1, total)
			require.Greater(t, pages, 1)
			// Filters.
			status, b, _ := do(t, "GET", h.URL+"/v1/correlations?verdict=verified&privileged=true&instance="+inst+"&dag_id=etl_oidc", nil, auth)
			require.Equal(t, http.StatusOK, status, string(b))
			require.Contains(t, string(b), inst+":99000001")
			require.Contains(t, string(b), `"verdict":"verified"`)
			status, b, _ = do(t, "GET", h.URL+"/v1/correlations?verdict=maybe", nil, auth)
			require.Equal(t, http.StatusBadRequest, status, string(b))
			// The evidence chain of the token-verified action.
			status, b, _ = do(t, "GET", h.URL+"/v1/actions/"+url.PathEscape(inst+":99000001"), nil, auth)
			require.Equal(t, http.StatusOK, status, string(b))
			var chain struct {
				Verdict     string `json:"verdict"`
				Reason      string `json:"reason"`
				AuditRecord struct {
					SHA256 string `json:"sha256"`
					Raw    string `json:"raw"`
				} `json:"audit_record"`
				Identity  struct{ Origin, Rule string }
				Assertion struct {
					Source string `json:"source"`
					Record struct{ Raw, SHA256 string }
				}
				PolicyVersion string `json:"policy_version"`
			}
			require.NoError(t, json.Unmarshal(b, &chain))
			require.Equal(t, "verified", chain.Verdict)
			require.NotEmpty(t, chain.Reason)
			require.NotEmpty(t, chain.PolicyVersion)
			require.JSONEq(t, afRec, chain.AuditRecord.Raw)
			require.Equal(t, model.SHA256Hex([]byte(chain.AuditRecord.Raw)), chain.AuditRecord.SHA256)
			require.Equal(t, "mapping", chain.Identity.Origin)
			require.Equal(t, "oidc", chain.Assertion.Source)
			require.Contains(t, chain.Assertion.Record.Raw, tok)
			// A demo action verified by a security key: its registration is in the chain.
			status, b, _ = do(t, "GET", h.URL+"/v1/correlations?verdict=verified&limit=1000", nil, auth)
			require.Equal(t, http.StatusOK, status)
			var ids struct {
				Items []struct {
					ActionID string `json:"action_id"`
					AAGUID   string `json:"authenticator_aaguid"`
				}
			}
			require.NoError(t, json.Unmarshal(b, &ids))
			withKey := ""
			for _, it := range ids.Items {
				if it.AAGUID != "" {
					withKey = it.ActionID
					break
				}
			}
			require.NotEmpty(t, withKey)
			status, b, _ = do(t, "GET", h.URL+"/v1/actions/"+url.PathEscape(withKey), nil, auth)
			require.Equal(t, http.StatusOK, status, string(b))
			require.Contains(t, string(b), `"authenticator":{`)
			status, b, _ = do(t, "GET", h.URL+"/v1/actions/nope:1", nil, auth)
			require.Equal(t, http.StatusNotFound, status)
			require.Equal(t, "not_found", errorCode(t, b))
			// Coverage by every grouping adds up to the population.
			for _, g := range []string{"day", "person", "dag", "instance"} {
				status, b, _ = do(t, "GET", h.URL+"/v1/coverage?group_by="+g, nil, auth)
				require.Equal(t, http.StatusOK, status, string(b))
				var cov struct{ Rows []struct{ Actions int } }
				require.NoError(t, json.Unmarshal(b, &cov))
				sum := 0
				for _, r := range cov.Rows {
					sum += r.Actions
				}
				require.Equal(t, total, sum, g)
			}
			// An evidence pack in the background, then its files.
			req := []byte(`{"from":"` + m.Start.Format("2006-01-02") + `","to":"` + m.End.Add(24*time.Hour).Format("2006-01-02") + `"}`)
			status, b, hdr := do(t, "POST", h.URL+"/v1/reports", req, auth)
			require.Equal(t, http.StatusAccepted, status, string(b))
			loc := hdr.Get("Location")
			var job struct {
				ID, State string
				Files     []struct{ Name string }
			}
			require.Eventually(t, func() bool {
				_, b, _ := do(t, "GET", h.URL+loc, nil, auth)
				require.NoError(t, json.Unmarshal(b, &job))
				return job.State != server.ReportRunning
			}, time.Minute, 50*time.Millisecond)
			require.Equal(t, server.ReportDone, job.State)
			status, b, _ = do(t, "GET", h.URL+loc+"/files/population.csv", nil, auth)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, total+1, strings.Count(string(b), "\n"))
			for _, bad := range []string{"..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "nothing.csv"} {
				status, _, _ = do(t, "GET", h.URL+loc+"/files/"+bad, nil, auth)
				require.Equal(t, http.StatusNotFound, status, bad)
			}
			status, b, _ = do(t, "GET", h.URL+"/v1/reports", nil, auth)
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, string(b), job.ID)
			// Store-derived metrics.
			_, b, _ = do(t, "GET", h.URL+"/metrics", nil, nil)
			require.Contains(t, string(b), `keytrail_correlations{verdict="verified"}`)
			require.Contains(t, string(b), `keytrail_store_stats_up 1`)
			require.Contains(t, string(b), `keytrail_report_duration_seconds_count 1`)
			_ = oidctest.RS256
		})
	}
}

// oktaEvent is a minimal Okta LogEvent (a WebAuthn verification).
func oktaEvent(id string) string {
	return `{"uuid":"` + id + `","published":"2025-03-03T10:00:00.000Z","eventType":"user.authentication.auth_via_mfa",` +
		`"actor":{"id":"00uhook1","type":"User","alternateId":"hook.user@example.com"},"outcome":{"result":"SUCCESS"},` +
		`"debugContext":{"debugData":{"factor":"FIDO_WEBAUTHN"}},"client":{"ipAddress":"10.0.0.1"}}`
}

// signedKey signs body for a sender of src/instance, configuring one per
// (source, instance) the demo uses on first sight.
func (h *harness) signedKey(t testing.TB, src model.Source, inst string, body []byte) map[string]string {
	return h.signed(senderKey(src, inst), body, time.Now())
}

func senderKey(src model.Source, inst string) string { return "SHIP:" + string(src) + "/" + inst }
