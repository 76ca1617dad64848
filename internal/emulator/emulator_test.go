package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

var org = func() *demo.Org {
	o, err := demo.Generate(demo.Config{People: 16, Days: 2, Seed: 21})
	if err != nil {
		panic(err)
	}
	return o
}()

// TestFeedsNormalize: every record the emulators serve is one the source's
// normalizer accepts, with an id of its own (a run's versions each have
// theirs), and DAG run versions pass through the states in order.
func TestFeedsNormalize(t *testing.T) {
	norms := Normalizers()
	for _, f := range org.Feeds() {
		t.Run(string(f.Stream)+"/"+f.Instance, func(t *testing.T) {
			require.NotEmpty(t, f.Items)
			ids := map[string]bool{}
			for i := range f.Items {
				id, err := EventID(norms, f.Source, f.Instance, f.Append(nil, i))
				require.NoError(t, err, "item %d", i)
				require.False(t, ids[id], "id %s twice", id)
				ids[id] = true
				require.GreaterOrEqual(t, f.Items[i].Visible, f.Items[i].TS)
				if i > 0 {
					require.GreaterOrEqual(t, f.Items[i].Visible, f.Items[i-1].Visible, "listed in order")
				}
			}
		})
	}
}

// TestInventoryMatchesEvents: the inventories name the credentials the
// sign-ins name, so a key registered before collection began gets its
// AAGUID (Keycloak, Entra) or model (Okta) from the inventory.
func TestInventoryMatchesEvents(t *testing.T) {
	norms := Normalizers()
	end := org.Config().Start.AddDate(0, 0, org.Config().Days)
	invCreds := map[model.Source]map[string]model.Authenticator{}
	for p, P := range org.People {
		if !demo.HasInventory(P.Source) {
			continue
		}
		kind := map[model.Source]string{model.SourceOkta: "factors", model.SourceEntra: "fido2Methods", model.SourceKeycloak: "credentials"}[P.Source]
		doc, err := ingest.AppendSnapshot(nil, ingest.Snapshot{Source: P.Source, Kind: kind, Subject: P.Subject, URL: "https://x", FetchedAt: end,
			Response: org.AppendInventory(nil, p, end)})
		require.NoError(t, err)
		o, err := norms[P.Source].Normalize(doc, "i")
		require.NoError(t, err)
		for _, a := range o.Authenticators {
			if invCreds[P.Source] == nil {
				invCreds[P.Source] = map[string]model.Authenticator{}
			}
			require.Equal(t, P.Subject, a.Subject)
			invCreds[P.Source][a.CredentialID] = a
		}
	}
	for _, src := range []model.Source{model.SourceOkta, model.SourceKeycloak} {
		require.NotEmpty(t, invCreds[src], src)
		used := 0
		for _, f := range org.Feeds() {
			if f.Source != src {
				continue
			}
			for i := range f.Items {
				o, err := norms[src].Normalize(f.Append(nil, i), "i")
				require.NoError(t, err)
				for _, a := range o.Auth {
					if a.Factor != model.FactorWebAuthn || a.CredentialID == "" || a.Outcome != model.OutcomeSuccess {
						continue
					}
					inv, ok := invCreds[src][a.CredentialID]
					if !ok {
						continue // removed before the end of the period
					}
					used++
					if src == model.SourceKeycloak {
						require.NotEmpty(t, inv.AAGUID)
					}
					require.NotEmpty(t, inv.Model)
				}
			}
		}
		require.Positive(t, used, "%s sign-ins name inventory credentials", src)
	}
	require.NotEmpty(t, invCreds[model.SourceEntra])
}

func TestParseGraphFilter(t *testing.T) {
	ms := func(s string) int64 { t, _ := time.Parse(time.RFC3339, s); return t.UnixMilli() }
	for _, tc := range []struct {
		filter   string
		from, to int64
		types    []string
		err      bool
	}{
		{"", -1 << 62, 1 << 62, nil, false},
		{"createdDateTime ge 2025-03-03T00:00:00Z and createdDateTime le 2025-03-04T00:00:00Z", ms("2025-03-03T00:00:00Z"), ms("2025-03-04T00:00:00Z") + 1, nil, false},
		{"createdDateTime eq 2025-03-03T00:00:00Z", ms("2025-03-03T00:00:00Z"), ms("2025-03-03T00:00:00Z") + 1, nil, false},
		// Graph documents eq, le and ge on the audit logs' times.
		{"createdDateTime ge 2025-03-03T00:00:00Z and createdDateTime lt 2025-03-04T00:00:00Z", 0, 0, nil, true},
		{"createdDateTime gt 2025-03-03T00:00:00Z", 0, 0, nil, true},
		{"createdDateTime ge 2025-03-03T00:00:00.000Z and (signInEventTypes/any(t: t eq 'nonInteractiveUser'))", ms("2025-03-03T00:00:00Z"), 1 << 62, []string{"nonInteractiveUser"}, false},
		{"signInEventTypes/any(x:x eq 'servicePrincipal') AND createdDateTime le 2025-03-03T00:00:00Z", -1 << 62, ms("2025-03-03T00:00:00Z") + 1, []string{"servicePrincipal"}, false},
		{"startsWith(appDisplayName,'Azure')", 0, 0, nil, true},
		{"activityDateTime ge 2025-03-03T00:00:00Z", 0, 0, nil, true},
		{"createdDateTime ge yesterday", 0, 0, nil, true},
	} {
		f, err := parseGraphFilter(tc.filter, "createdDateTime")
		if tc.err {
			require.Error(t, err, tc.filter)
			continue
		}
		require.NoError(t, err, tc.filter)
		require.Equal(t, tc.from, f.from, tc.filter)
		require.Equal(t, tc.to, f.to, tc.filter)
		for _, ty := range tc.types {
			require.True(t, f.eventTypes[ty], tc.filter)
		}
	}
}

// get fetches path from srv with auth and decodes the JSON answer.
func get(t *testing.T, rawURL string, auth func(*http.Request), v any) http.Header {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	auth(req)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, v))
	return res.Header
}

// TestOktaPolling: a polling request always answers a next link, an empty
// page included, and events listed later come after the link.
func TestOktaPolling(t *testing.T) {
	clock := clockwork.NewFakeClockAt(org.Config().Start.Add(12 * time.Hour))
	srv, err := Start(org, Options{Clock: clock})
	require.NoError(t, err)
	defer srv.Close()
	auth := func(r *http.Request) { r.Header.Set("Authorization", "SSWS "+srv.Creds.OktaToken) }
	link := srv.OktaURL() + "/api/v1/logs?" + url.Values{"since": {org.Config().Start.Format(time.RFC3339)}, "sortOrder": {"ASCENDING"}, "limit": {"1000"}}.Encode()
	var events []json.RawMessage
	h := get(t, link, auth, &events)
	require.NotEmpty(t, events)
	next := ""
	for _, l := range h.Values("Link") {
		if strings.HasSuffix(l, `rel="next"`) {
			next = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
		}
	}
	require.NotEmpty(t, next)
	var none []json.RawMessage
	h = get(t, next, auth, &none)
	require.Empty(t, none)
	require.Contains(t, strings.Join(h.Values("Link"), " "), `rel="next"`, "caught up: an empty page with a next link")
	clock.Advance(12 * time.Hour)
	var later []json.RawMessage
	get(t, next, auth, &later)
	require.NotEmpty(t, later)
}

// TestAirflowRuns: the dagRuns endpoint shows each run's current version,
// which changes as the clock passes: queued, running, then its end state.
func TestAirflowRuns(t *testing.T) {
	data := NewData(org, Faults{})
	f := data.Feed(demo.StreamAirflowDagRuns, "af-legacy")
	// a run with three versions
	versions := map[string][]int{}
	for i, it := range f.Items {
		versions[it.Subject] = append(versions[it.Subject], i)
	}
	var run string
	for s, v := range versions {
		if len(v) == 3 && f.Items[v[1]].TS > f.Items[v[0]].TS && f.Items[v[2]].TS > f.Items[v[1]].TS {
			run = s
			break
		}
	}
	require.NotEmpty(t, run)
	v := versions[run]
	clock := clockwork.NewFakeClockAt(f.Items[v[0]].Time())
	srv, err := Start(org, Options{Clock: clock})
	require.NoError(t, err)
	defer srv.Close()
	auth := func(r *http.Request) { r.SetBasicAuth(srv.Creds.AirflowUser, srv.Creds.AirflowPassword) }
	dag, runID, _ := strings.Cut(run, "/")
	state := func() string {
		var page struct {
			Runs []struct {
				RunID string `json:"dag_run_id"`
				State string `json:"state"`
			} `json:"dag_runs"`
		}
		get(t, srv.AirflowURL("af-legacy")+"/api/v1/dags/"+dag+"/dagRuns?limit=100&updated_at_gte="+url.QueryEscape(f.Items[v[0]].Time().Format(time.RFC3339Nano)), auth, &page)
		for _, r := range page.Runs {
			if r.RunID == runID {
				return r.State
			}
		}
		return ""
	}
	require.Equal(t, demo.RunQueued, state())
	clock.Advance(f.Items[v[1]].Time().Sub(clock.Now()))
	require.Equal(t, demo.RunRunning, state())
	clock.Advance(f.Items[v[2]].Time().Sub(clock.Now()))
	require.Contains(t, []string{demo.RunSuccess, demo.RunFailed}, state())
}
