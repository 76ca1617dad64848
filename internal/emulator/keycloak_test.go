package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
)

// keycloakList GETs /events or /admin-events with q and returns the
// status and the ids of the added events listed (those named "kt-…"), in
// the order listed.
func keycloakList(t *testing.T, srv *Server, endpoint string, q url.Values) (int, []string) {
	t.Helper()
	res, err := http.PostForm(srv.KeycloakURL()+"/realms/"+srv.Creds.Realm+"/protocol/openid-connect/token",
		url.Values{"grant_type": {"client_credentials"}, "client_id": {srv.Creds.ClientID}, "client_secret": {srv.Creds.ClientSecret}})
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	require.NoError(t, res.Body.Close())
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet,
		srv.KeycloakURL()+"/admin/realms/"+srv.Creds.Realm+"/"+endpoint+"?"+q.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, nil
	}
	var evs []struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(b, &evs), string(b))
	var ids []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.ID, "kt-") {
			ids = append(ids, ev.ID)
		}
	}
	return res.StatusCode, ids
}

// TestKeycloakVersions: each release reads dateFrom, dateTo and direction
// as Keycloak's source does, its bugs included, and events of the same
// millisecond come in one order, then the other.
func TestKeycloakVersions(t *testing.T) {
	day := org.Config().Start.AddDate(0, 0, 1) // 00:00 UTC
	srv, err := Start(org, Options{Clock: clockwork.NewFakeClockAt(day.Add(18 * time.Hour))})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	k := srv.Keycloak
	add := func(admin bool, id string, at time.Time) {
		ms := at.UnixMilli()
		k.Add(KeycloakEvent{Admin: admin, Time: ms, Raw: fmt.Appendf(nil, `{"id": %q, "time": %d}`, id, ms)})
	}
	for _, admin := range []bool{false, true} {
		add(admin, "kt-early", day.Add(-6*time.Hour))
		add(admin, "kt-6h", day.Add(6*time.Hour))
		add(admin, "kt-12h-a", day.Add(12*time.Hour))
		add(admin, "kt-12h-b", day.Add(12*time.Hour))
	}
	date := func(t time.Time) string { return t.Format("2006-01-02") }
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	newest := []string{"kt-12h-a", "kt-12h-b", "kt-6h", "kt-early"}
	ofDay := []string{"kt-12h-a", "kt-12h-b", "kt-6h"}
	type ask struct {
		endpoint string
		q        url.Values
		status   int
		ids      []string // in any order of the same millisecond
	}
	both := func(q url.Values, status int, ids ...string) []ask {
		return []ask{{"events", q, status, ids}, {"admin-events", q, status, ids}}
	}
	for _, tc := range []struct {
		version KeycloakVersion
		zone    *time.Location
		asks    []ask
	}{
		{KeycloakCurrent, nil, concat(
			both(url.Values{"dateFrom": {date(day)}, "dateTo": {date(day)}}, 200, ofDay...),
			both(url.Values{"dateFrom": {ms(day)}, "dateTo": {ms(day.Add(6 * time.Hour))}}, 200, "kt-6h"),
			both(url.Values{"dateFrom": {ms(day.Add(-time.Hour))}, "direction": {"asc"}}, 200, "kt-6h", "kt-12h-a", "kt-12h-b"),
			both(url.Values{"direction": {"up"}}, 400),
		)},
		{Keycloak2620, nil, concat(
			both(url.Values{"dateFrom": {ms(day)}, "dateTo": {ms(day.Add(24 * time.Hour))}}, 200),
			both(url.Values{"dateTo": {date(day)}}, 200),
			both(url.Values{"dateFrom": {ms(day)}}, 200, ofDay...),
		)},
		{Keycloak260, nil, concat(
			both(url.Values{"dateFrom": {ms(day)}}, 400),
			both(url.Values{"dateTo": {ms(day)}}, 400),
			both(url.Values{"dateFrom": {date(day)}, "direction": {"asc"}}, 200, ofDay...),
			[]ask{{"events", url.Values{"dateFrom": {date(day)}, "dateTo": {date(day)}}, 200, ofDay},
				{"admin-events", url.Values{"dateFrom": {date(day)}, "dateTo": {date(day)}}, 200, nil},
				{"admin-events", url.Values{"dateTo": {date(day)}}, 200, []string{"kt-early"}}},
		)},
		{Keycloak25, nil, concat(
			both(url.Values{"dateFrom": {ms(day)}}, 400),
			both(url.Values{"dateFrom": {date(day)}, "dateTo": {date(day)}}, 200),
			both(url.Values{"dateFrom": {date(day)}, "dateTo": {date(day.AddDate(0, 0, 1))}}, 200, ofDay...),
			[]ask{{"admin-events", url.Values{"first": {"1"}, "max": {"2"}}, 200, []string{"kt-12h-b", "kt-6h"}}},
		)},
		// a server 10 hours behind UTC starts the day at 10:00 UTC
		{Keycloak25, time.FixedZone("UTC-10", -10*3600), concat(
			both(url.Values{"dateFrom": {date(day)}}, 200, "kt-12h-a", "kt-12h-b"),
		)},
	} {
		t.Run(fmt.Sprintf("%q", tc.version), func(t *testing.T) {
			k.Version, k.Zone = tc.version, tc.zone
			for _, a := range tc.asks {
				status, ids := keycloakList(t, srv, a.endpoint, a.q)
				require.Equal(t, a.status, status, "%s?%s", a.endpoint, a.q.Encode())
				if a.ids == nil {
					require.Empty(t, ids, "%s?%s", a.endpoint, a.q.Encode())
					continue
				}
				require.Equal(t, tieFree(a.ids), tieFree(ids), "%s?%s", a.endpoint, a.q.Encode())
			}
		})
	}
	k.Version, k.Zone = KeycloakCurrent, nil
	_, first := keycloakList(t, srv, "admin-events", url.Values{})
	_, second := keycloakList(t, srv, "admin-events", url.Values{})
	require.Equal(t, tieFree(newest), tieFree(first))
	require.Equal(t, first[0], second[1], "the same millisecond's events come the other way round on the next request")
	require.Equal(t, first[1], second[0])
}

func concat[T any](s ...[]T) []T {
	var out []T
	for _, x := range s {
		out = append(out, x...)
	}
	return out
}

// tieFree names the test events of the same millisecond alike.
func tieFree(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strings.TrimSuffix(strings.TrimSuffix(id, "-a"), "-b")
	}
	return out
}
