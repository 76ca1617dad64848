package keycloak

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/model"
)

var org = func() *demo.Org {
	o, err := demo.Generate(demo.Config{People: 32, Days: 2, Seed: 14})
	if err != nil {
		panic(err)
	}
	return o
}()

// lag covers the generator's lateness (up to 3 h).
const lag = 3*time.Hour + 15*time.Minute

func newEnv(t *testing.T, faults emulator.Faults) (*collecttest.Env, Config) {
	t.Helper()
	e := collecttest.NewEnv(t, org, faults, lag+time.Hour)
	t.Setenv("KEYTRAIL_TEST_KEYCLOAK_SECRET", e.Srv.Creds.ClientSecret)
	return e, Config{Instance: demo.IdPInstance(model.SourceKeycloak), BaseURL: e.Srv.KeycloakURL(), Realm: e.Srv.Creds.Realm,
		ClientID: e.Srv.Creds.ClientID, ClientSecret: collect.Secret{Env: "KEYTRAIL_TEST_KEYCLOAK_SECRET"},
		Lag: lag, PageSize: 2, StartConfig: collect.StartConfig{Start: e.Start}, Poll: collecttest.Poll()}
}

func runner(t *testing.T, e *collecttest.Env, cfg Config, pub *collecttest.Recorder, cursors collect.CursorStore) *collect.Runner {
	t.Helper()
	col, err := New(cfg, e.Opts)
	require.NoError(t, err)
	return e.Runner(col, pub, cursors)
}

func check(t *testing.T, e *collecttest.Env, pub *collecttest.Recorder, runners ...*collect.Runner) collecttest.Report {
	t.Helper()
	rep := e.Check(t, pub, e.Srv.Keycloak.Ledger(), []*demo.Feed{e.Srv.Data.Feed(demo.StreamKeycloakEvents, "")}, runners...)
	norms := emulator.Normalizers()
	for _, r := range pub.Records() {
		if _, err := emulator.EventID(norms, r.Source, r.Instance, r.Raw); err == nil {
			require.NotEmpty(t, r.Key, "a Keycloak event is keyed by its user")
		}
	}
	return rep
}

// TestCollect runs the collector through every fault, with bursts of
// events of one millisecond and admin events added to the organisation's.
func TestCollect(t *testing.T) {
	for _, tc := range collecttest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			e, cfg := newEnv(t, tc.Faults)
			if tc.Timeout > 0 {
				cfg.Poll.Timeout = tc.Timeout
			}
			added := bursts(e.Start)
			e.Srv.Keycloak.Add(added...)
			pub := &collecttest.Recorder{FailEvery: tc.Bus}
			r := runner(t, e, cfg, pub, &collect.MemCursors{})
			e.Drive(t, time.Time{}, r)
			rep := checkAdded(t, e, pub, added, false, r)
			if tc.Check != nil {
				tc.Check(t, e.Srv.Keycloak.Ledger().Stats(), rep)
			}
		})
	}
}

// versions are the Keycloak releases the collector is run against, with
// the mode each needs (the releases before 26.2 take dates only) and, for
// those, a server time zone away from UTC.
var versions = []struct {
	name      string
	version   emulator.KeycloakVersion
	datesOnly bool
	zone      *time.Location
}{
	{"26.2+", emulator.KeycloakCurrent, false, nil},
	{"26.2+ dates_only", emulator.KeycloakCurrent, true, time.FixedZone("UTC+14", 14*3600)},
	{"26.2.0", emulator.Keycloak2620, false, nil},
	{"26.0-26.1", emulator.Keycloak260, true, time.FixedZone("UTC+14", 14*3600)},
	{"25", emulator.Keycloak25, true, time.FixedZone("UTC-10", -10*3600)},
}

// testEvent is a user or admin event listed beside the organisation's,
// named kt-….
func testEvent(admin bool, id string, at time.Time, late time.Duration) emulator.KeycloakEvent {
	ms := at.UnixMilli()
	raw := fmt.Appendf(nil, `{"id": %q, "time": %d, "type": "LOGIN", "realmId": "corp", "clientId": "airflow", "userId": "u-%s", "ipAddress": "192.0.2.1"}`, id, ms, id)
	if admin {
		raw = fmt.Appendf(nil, `{"id": %q, "time": %d, "realmId": "corp", "authDetails": {"realmId": "master", "clientId": "admin-cli", "userId": "admin-1", "ipAddress": "192.0.2.2"}, "operationType": "UPDATE", "resourceType": "USER", "resourcePath": "users/u-%s"}`, id, ms, id)
	}
	return emulator.KeycloakEvent{Admin: admin, Time: ms, Listed: at.Add(late).UnixMilli(), Raw: raw}
}

// bursts returns user and admin events over the organisation's period
// and the day before it: runs of up to 6 of the same millisecond (longer
// than a page of 2), some listed up to 2 h late (within lag), around each
// UTC midnight and at start.
func bursts(start time.Time) []emulator.KeycloakEvent {
	var out []emulator.KeycloakEvent
	burst := func(name string, admin bool, at time.Time, n int, late time.Duration) {
		for j := range n {
			out = append(out, testEvent(admin, fmt.Sprintf("kt-%s-%d-%t-%d", name, at.UnixMilli(), admin, j), at, late))
		}
	}
	k := 0
	for at := start.Add(-26 * time.Hour); at.Before(start.Add(48 * time.Hour)); at = at.Add(53*time.Minute + 17*time.Second + 3*time.Millisecond) {
		k++
		burst("a", k%3 != 0, at, 1+k%6, time.Duration(k%4)*40*time.Minute)
		burst("b", k%3 == 0, at.Add(time.Duration(k%5)*time.Millisecond), 1+k%3, 0)
	}
	for d := range 3 {
		midnight := start.Truncate(24*time.Hour).AddDate(0, 0, d)
		burst("m", false, midnight.Add(-time.Millisecond), 3, 0)
		burst("m", true, midnight.Add(-time.Millisecond), 3, 0)
		burst("m", false, midnight, 3, 0)
		burst("m", true, midnight, 3, time.Minute)
	}
	burst("s", false, start, 2, 0)
	burst("s", true, start, 2, 0)
	return out
}

// eventID is the "id" of an event.
func eventID(raw []byte) string {
	var ev struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &ev)
	return ev.ID
}

// checkAdded checks what pub holds: the organisation's events as check
// does, and every one of added from start on published, once unless
// again (none before start).
func checkAdded(t *testing.T, e *collecttest.Env, pub *collecttest.Recorder, added []emulator.KeycloakEvent, again bool, runners ...*collect.Runner) collecttest.Report {
	t.Helper()
	ours := &collecttest.Recorder{}
	published := map[string]int{}
	for _, rec := range pub.Records() {
		if id := eventID(rec.Raw); strings.HasPrefix(id, "kt-") {
			published[id]++
		} else {
			require.NoError(t, ours.Publish(context.Background(), rec))
		}
	}
	rep := check(t, e, ours, runners...)
	due := 0
	for _, ev := range added {
		id := eventID(ev.Raw)
		if ev.Time < e.Start.UnixMilli() {
			require.Zero(t, published[id], "%s is before start", id)
			continue
		}
		due++
		if again {
			require.Positive(t, published[id], "%s (admin %t, %s) published", id, ev.Admin, time.UnixMilli(ev.Time).UTC())
		} else {
			require.Equal(t, 1, published[id], "%s (admin %t, %s) published once", id, ev.Admin, time.UnixMilli(ev.Time).UTC())
		}
	}
	require.Greater(t, due, 300)
	return rep
}

// TestVersions runs the collector against each release, bursts of events
// of one millisecond across page boundaries and events listed late added
// to the organisation's: every event from start on is published once, the
// organisation's as the ledger says and the added ones, admin events
// included. Releases before 26.2 refuse the default mode visibly (400).
func TestVersions(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e, cfg := newEnv(t, emulator.Faults{})
			e.Srv.Keycloak.Version, e.Srv.Keycloak.Zone = v.version, v.zone
			added := bursts(e.Start)
			e.Srv.Keycloak.Add(added...)
			cfg.DatesOnly = v.datesOnly
			pub := &collecttest.Recorder{}
			r := runner(t, e, cfg, pub, &collect.MemCursors{})
			e.Drive(t, time.Time{}, r)

			rep := checkAdded(t, e, pub, added, false, r)
			require.Zero(t, rep.Repeats)

			if v.version == emulator.Keycloak260 || v.version == emulator.Keycloak25 {
				cfg.DatesOnly = false
				pub2 := &collecttest.Recorder{}
				r2 := runner(t, e, cfg, pub2, &collect.MemCursors{})
				e.Drive(t, e.Clock.Now().Add(time.Hour), r2)
				require.Len(t, r2.Status(), 3)
				for _, s := range r2.Status() {
					if s.Stream != "credentials" {
						require.Contains(t, s.LastError, "400 Bad Request", s.Stream)
						require.Zero(t, s.Published, s.Stream)
					}
				}
			}
		})
	}
}

// TestArrivals reads each release page by page while events arrive
// between the pages, windows being walked included: runs of one
// millisecond and events of the last minute listed late (within lag).
// Once the streams caught up, every event was read.
func TestArrivals(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e, cfg := newEnv(t, emulator.Faults{})
			e.Srv.Keycloak.Version, e.Srv.Keycloak.Zone = v.version, v.zone
			cfg.DatesOnly = v.datesOnly
			cfg.Lag = 2 * time.Minute
			cfg.Start = e.Clock.Now()
			col, err := New(cfg, e.Opts)
			require.NoError(t, err)
			streams := col.Streams[:2] // events, admin_events
			cursors := make([]string, len(streams))
			complete := make([]time.Time, len(streams))
			var added []emulator.KeycloakEvent
			read := map[string]int{}
			stop := e.Clock.Now().Add(30 * time.Minute) // no arrivals after
			for n := 0; ; n++ {
				require.Less(t, n, 20000, "the streams never caught up")
				more := false
				for i, s := range streams {
					page, err := s.Next(context.Background(), cursors[i])
					require.NoError(t, err)
					for _, rec := range page.Records {
						if id := eventID(rec.Raw); strings.HasPrefix(id, "kt-") {
							read[id]++
						}
					}
					cursors[i], complete[i] = page.Cursor, page.Complete
					more = more || page.More
					now := e.Clock.Now()
					if now.After(stop) || n%3 != 0 {
						continue
					}
					admin := s.Name() == "admin_events"
					late := time.Duration(n%60) * time.Second
					for j := range 3 {
						added = append(added, testEvent(admin, fmt.Sprintf("kt-now-%d-%d", n, j), now, 0))
					}
					for j := range 2 {
						added = append(added, testEvent(admin, fmt.Sprintf("kt-late-%d-%d", n, j), now.Add(-late), late))
					}
					e.Srv.Keycloak.Add(added[len(added)-5:]...)
				}
				if !more && e.Clock.Now().After(stop.Add(cfg.Lag+time.Minute)) {
					break
				}
				if more {
					e.Clock.Advance(time.Duration(n%3) * time.Second)
				} else {
					e.Clock.Advance(30 * time.Second)
				}
			}
			require.Greater(t, len(added), 300)
			for i, s := range streams {
				require.True(t, complete[i].After(stop), "%s complete up to %s", s.Name(), complete[i])
			}
			for _, ev := range added {
				if read[eventID(ev.Raw)] == 0 {
					t.Errorf("%s (admin %t, %s, listed %s) never read", eventID(ev.Raw), ev.Admin, time.UnixMilli(ev.Time).UTC(), time.UnixMilli(ev.Listed).UTC())
				}
			}
		})
	}
}

// TestRestart stops the collector mid-walk and starts a new one on the
// saved cursors.
func TestRestart(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{})
	cfg.PageSize = 1
	added := bursts(e.Start)
	e.Srv.Keycloak.Add(added...)
	cursors := &collect.MemCursors{}
	pub := &collecttest.Recorder{}
	first := runner(t, e, cfg, pub, cursors)
	e.Drive(t, e.Start.Add(20*time.Hour), first)
	second := runner(t, e, cfg, pub, cursors)
	e.Drive(t, time.Time{}, second)
	// the second runner's settling pass publishes again what the first
	// read fresh
	checkAdded(t, e, pub, added, true, first, second)
}
