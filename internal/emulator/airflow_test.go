package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
)

// airflowClient asks one deployment of srv, authenticated as its API
// wants: basic auth on /api/v1, a token from POST /auth/token on /api/v2.
type airflowClient struct {
	t    *testing.T
	base string // the deployment's /api/v1 or /api/v2
	auth func(*http.Request)
}

func newAirflowClient(t *testing.T, srv *Server, instance string) *airflowClient {
	t.Helper()
	a := srv.Airflow[instance]
	c := &airflowClient{t: t, base: srv.AirflowURL(instance) + a.api()}
	if a.api() == "/api/v1" {
		c.auth = func(r *http.Request) { r.SetBasicAuth(srv.Creds.AirflowUser, srv.Creds.AirflowPassword) }
		return c
	}
	body, err := json.Marshal(map[string]string{"username": srv.Creds.AirflowUser, "password": srv.Creds.AirflowPassword})
	require.NoError(t, err)
	res, err := http.Post(srv.AirflowURL(instance)+"/auth/token", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok.AccessToken) }
	return c
}

// list GETs path?q and returns the status, the number of rows under name
// and total_entries (the error's detail when not 200).
func (c *airflowClient) list(path, name string, q url.Values) (status, rows, total int, detail string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	require.NoError(c.t, err)
	c.auth(req)
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	var page map[string]json.RawMessage
	require.NoError(c.t, json.Unmarshal(b, &page), string(b))
	if res.StatusCode != http.StatusOK {
		var d string
		require.NoError(c.t, json.Unmarshal(page["detail"], &d))
		return res.StatusCode, 0, 0, d
	}
	var items []json.RawMessage
	require.NoError(c.t, json.Unmarshal(page[name], &items))
	require.NoError(c.t, json.Unmarshal(page["total_entries"], &total))
	return res.StatusCode, len(items), total, ""
}

// everything returns a server whose clock is past the org's period, so
// every record is listed.
func everything(t *testing.T) *Server {
	t.Helper()
	srv, err := Start(org, Options{Clock: clockwork.NewFakeClockAt(org.Config().Start.AddDate(0, 0, org.Config().Days+1))})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

// TestAirflowPageLimit: on both APIs a limit above maximum_page_limit is
// lowered to it without an error (100 by default), and total_entries counts
// every row the filters match, as Airflow's check_limit does.
func TestAirflowPageLimit(t *testing.T) {
	srv := everything(t)
	from := org.Config().Start.Format(time.RFC3339)
	for _, instance := range []string{"af-legacy", "af-prod"} {
		t.Run(instance, func(t *testing.T) {
			c := newAirflowClient(t, srv, instance)
			for _, ep := range []struct {
				path, name string
				q          url.Values
			}{
				{"/eventLogs", "event_logs", url.Values{}},
				{"/dags/~/dagRuns", "dag_runs", url.Values{"updated_at_gte": {from}, "order_by": {"updated_at"}}},
			} {
				q := func(limit, offset int) url.Values {
					v := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
					for k, x := range ep.q {
						v[k] = x
					}
					return v
				}
				status, rows, all, _ := c.list(ep.path, ep.name, q(1000, 0))
				require.Equal(t, http.StatusOK, status)
				require.Greater(t, all, 100, "%s: enough rows to see the cap", ep.path)
				require.Equal(t, 100, rows, "%s: the default maximum_page_limit", ep.path)

				srv.Airflow[instance].Configure(AirflowConfig{MaximumPageLimit: 7})
				status, rows, total, _ := c.list(ep.path, ep.name, q(50, 3))
				require.Equal(t, http.StatusOK, status)
				require.Equal(t, 7, rows, "%s: limit 50 lowered to 7", ep.path)
				require.Equal(t, all, total, "%s: total_entries counts every match", ep.path)
				_, rows, _, _ = c.list(ep.path, ep.name, q(5, all-3))
				require.Equal(t, 3, rows, "%s: the last page", ep.path)
				srv.Airflow[instance].Configure(AirflowConfig{})
			}
		})
	}
}

// TestAirflowEventLogsOrderBy: 2.x orders the audit log by the API's
// field names only (event_log_id), 3.x by the column's (id) as well.
func TestAirflowEventLogsOrderBy(t *testing.T) {
	srv := everything(t)
	for instance, idStatus := range map[string]int{"af-legacy": http.StatusBadRequest, "af-prod": http.StatusOK} {
		c := newAirflowClient(t, srv, instance)
		status, _, _, _ := c.list("/eventLogs", "event_logs", url.Values{"order_by": {"event_log_id"}})
		require.Equal(t, http.StatusOK, status, instance)
		status, _, _, detail := c.list("/eventLogs", "event_logs", url.Values{"order_by": {"id"}})
		require.Equal(t, idStatus, status, instance)
		if status != http.StatusOK {
			require.Contains(t, detail, "Ordering with 'id' is disallowed", instance)
		}
	}
}

// TestAirflowBefore26: Airflow 2.5 and older answer dagRuns with
// updated_at_gte/lte 400 (strict validation of the spec, which does not
// name them yet); the audit log and dagRuns without them still answer.
func TestAirflowBefore26(t *testing.T) {
	srv := everything(t)
	srv.Airflow["af-legacy"].Configure(AirflowConfig{Before26: true})
	c := newAirflowClient(t, srv, "af-legacy")
	from := org.Config().Start.Format(time.RFC3339)
	status, _, _, detail := c.list("/dags/~/dagRuns", "dag_runs", url.Values{"updated_at_gte": {from}, "updated_at_lte": {from}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "Extra query parameter(s) updated_at_gte, updated_at_lte not in spec", detail)
	status, rows, _, _ := c.list("/dags/~/dagRuns", "dag_runs", url.Values{"limit": {"10"}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 10, rows)
	status, rows, _, _ = c.list("/eventLogs", "event_logs", url.Values{"limit": {"10"}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 10, rows)
}
