//go:build !nochdb

package dashboards_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/dashboards"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/chdb"
	"github.com/keytrail/keytrail/store/storetest"
)

// dataDir is the test binary's one chDB data directory (one session per
// process); each test uses its own database in it.
var dataDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "keytrail-dashboards-test-")
	if err != nil {
		panic(err)
	}
	dataDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func openStore(tb testing.TB) store.Store {
	tb.Helper()
	lib := os.Getenv("CHDB_LIB_PATH")
	if lib == "" {
		storetest.Missing(tb, "CHDB_LIB_PATH is not set")
	}
	if _, err := os.Stat(lib); err != nil {
		storetest.Missing(tb, "libchdb.so: %v", err)
	}
	ctx := context.Background()
	s, err := store.Open(ctx, "chdb://"+dataDir+"?database="+storetest.FreshDB(tb))
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	_, err = schema.Migrate(ctx, s)
	require.NoError(tb, err)
	return s
}

// The seed's time range: panels are expanded for [rangeFrom, rangeTo].
var (
	rangeFrom = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rangeTo   = time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	before    = time.Date(2026, 2, 20, 12, 0, 0, 0, time.UTC) // outside the range, earlier
	after     = time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)  // outside the range, later
)

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, time.UTC)
}

// write inserts vs with an explicit row version, so a test controls which copy
// of a replayed row FINAL keeps.
func write[T any](tb testing.TB, s store.Store, t store.Table[T], version uint64, vs ...T) {
	tb.Helper()
	require.NoError(tb, t.WriteVersion(context.Background(), s, vs, version), t.Name)
}

// seed writes a few rows into every table. Each ReplacingMergeTree table also
// gets a superseded copy of one row, written first with a lower version, so a
// panel that forgets FINAL counts it twice or reads the stale value.
//
// What the panels must show for [rangeFrom, rangeTo], latest policy "p2":
//   - privileged human actions: a1 a2 a3 verified, a4 weak_factor (superseded
//     copy says verified), a5 no_assertion, a6 unknown_identity → 3/6 verified;
//     a7 (verified) is before the range. Policy "p1" says all verified.
//   - runs: r1 inherited from verified, r2 inherited from weak_factor, r3
//     unattributed, r4 verified → 3 of 4 attributed.
func seed(tb testing.TB, s store.Store) {
	tb.Helper()
	const old, cur = 1, 2
	corr := func(id, kind string, ts time.Time, priv bool, person, actor string, verdict model.Verdict, policy string, computed time.Time) model.Correlation {
		c := model.Correlation{
			ActionID: "airflow-prod/" + id, ActionTS: ts, Instance: "airflow-prod", Kind: kind, Privileged: priv,
			DagID: "etl_daily", Actor: actor, Person: person, Verdict: verdict, PolicyVersion: policy, ComputedAt: computed,
			Channel: model.ChannelUI, Action: model.ActionTrigger, Reason: string(verdict) + " for " + id,
		}
		if kind == model.KindRun {
			c.Channel, c.Action, c.RunID = "", model.ActionRun, "run_"+id
		}
		if verdict == model.VerdictVerified || verdict == model.VerdictWeakFactor {
			c.AssertionID, c.AssertionTS, c.AssertionAgeMS = "okta/evt-"+id, ts.Add(-90*time.Second), 90_000
			c.Factor = model.FactorWebAuthn
			if verdict == model.VerdictWeakFactor {
				c.Factor = model.FactorPassword
			}
		}
		return c
	}
	p1, p2 := at(1, 0, 0), at(7, 23, 0) // computed_at of the two policy versions
	type a struct {
		id, kind string
		ts       time.Time
		priv     bool
		person   string
		verdict  model.Verdict
	}
	actions := []a{
		{"a1", model.KindAudit, at(2, 10, 0), true, "alice", model.VerdictVerified},
		{"a2", model.KindAudit, at(2, 11, 0), true, "bob", model.VerdictVerified},
		{"a3", model.KindAudit, at(3, 9, 0), true, "alice", model.VerdictVerified},
		{"a4", model.KindAudit, at(3, 10, 0), true, "carol", model.VerdictWeakFactor},
		{"a5", model.KindAudit, at(3, 12, 0), true, "dave", model.VerdictNoAssertion},
		{"a6", model.KindAudit, at(3, 13, 0), true, "", model.VerdictUnknownIdentity},
		{"a7", model.KindAudit, before, true, "alice", model.VerdictVerified},
		{"n1", model.KindAudit, at(2, 15, 0), false, "bob", model.VerdictVerified},
		{"n2", model.KindAudit, at(3, 16, 0), false, "erin", model.VerdictStale},
		{"r1", model.KindRun, at(2, 12, 0), false, "alice", model.VerdictInherited},
		{"r2", model.KindRun, at(3, 11, 0), false, "carol", model.VerdictInherited},
		{"r3", model.KindRun, at(3, 14, 0), false, "", model.VerdictUnattributed},
		{"r4", model.KindRun, at(3, 15, 0), false, "bob", model.VerdictVerified},
	}
	var v1, v2 []model.Correlation
	for _, x := range actions {
		actor := "okta_" + x.person
		if x.person == "" {
			actor = "svc-" + x.id
		}
		v1 = append(v1, corr(x.id, x.kind, x.ts, x.priv, x.person, actor, model.VerdictVerified, "p1", p1))
		c := corr(x.id, x.kind, x.ts, x.priv, x.person, actor, x.verdict, "p2", p2)
		switch x.id {
		case "r1":
			c.InheritedFrom, c.InheritedVerdict = "airflow-prod/a1", model.VerdictVerified
		case "r2":
			c.InheritedFrom, c.InheritedVerdict = "airflow-prod/a4", model.VerdictWeakFactor
		}
		v2 = append(v2, c)
	}
	stale := corr("a4", model.KindAudit, at(3, 10, 0), true, "carol", "okta_carol", model.VerdictVerified, "p2", at(7, 22, 0))
	write(tb, s, store.Correlations, old, stale)
	write(tb, s, store.Correlations, cur, v1...)
	write(tb, s, store.Correlations, cur, v2...)

	alert := func(action, target, status string, attempts int64, lastErr string, ts time.Time, sent bool) model.Alert {
		al := model.Alert{AlertID: "al-" + action, ActionID: "airflow-prod/" + action, ActionTS: ts, Verdict: model.VerdictWeakFactor,
			Status: status, Target: target, Summary: "unverified " + action, PolicyVersion: "p2", Attempts: attempts,
			LastError: lastErr, CreatedAt: ts.Add(time.Minute)}
		if sent {
			al.SentAt = ts.Add(2 * time.Minute)
		}
		return al
	}
	write(tb, s, store.Alerts, old, alert("a5", "webhook", model.AlertFiring, 1, "", at(3, 12, 0), false))
	write(tb, s, store.Alerts, cur,
		alert("a4", "alertmanager", model.AlertFiring, 1, "", at(3, 10, 0), true),
		alert("a6", "alertmanager", model.AlertResolved, 1, "", at(3, 13, 0), true),
		alert("a4", "webhook", model.AlertFiring, 2, "HTTP 503", at(3, 10, 0), true),
		alert("a5", "webhook", model.AlertFiring, 3, "connection refused", at(3, 12, 0), false),
		alert("a7", "webhook", model.AlertFiring, 9, "outside the range", before, false),
	)

	dl := func(src model.Source, origin string, ts time.Time, raw string) model.DeadLetter {
		return model.DeadLetter{Source: src, Instance: "prod", Origin: origin, ReceivedAt: ts, Error: "decode " + origin,
			Raw: []byte(raw), SHA256: model.SHA256Hex([]byte(raw))}
	}
	write(tb, s, store.DeadLetters, old, dl(model.SourceOkta, "page-1", at(2, 8, 5), "{bad 1"))
	write(tb, s, store.DeadLetters, cur,
		dl(model.SourceOkta, "page-1", at(2, 8, 5), "{bad 1"),
		dl(model.SourceOkta, "page-2", at(2, 8, 40), "{bad 2"),
		dl(model.SourceAirflow, "log.csv", at(3, 7, 0), "{bad 3"),
		dl(model.SourceAirflow, "old.csv", before, "{bad 4"),
	)

	raw := func(src model.Source, id string, ts time.Time) model.RawRecord {
		b := []byte(`{"id":"` + id + `"}`)
		return model.RawRecord{Source: src, Instance: "prod", EventID: id, TS: ts.Add(-time.Minute), ReceivedAt: ts, Raw: b, SHA256: model.SHA256Hex(b)}
	}
	write(tb, s, store.RawRecords, old, raw(model.SourceOkta, "o1", at(2, 8, 1)))
	write(tb, s, store.RawRecords, cur,
		raw(model.SourceOkta, "o1", at(2, 8, 1)), raw(model.SourceOkta, "o2", at(2, 8, 2)), raw(model.SourceOkta, "o3", at(2, 8, 3)),
		raw(model.SourceEntra, "e1", at(2, 9, 0)),
		raw(model.SourceAirflow, "1001", at(3, 10, 0)), raw(model.SourceAirflow, "1002", at(3, 10, 30)),
		raw(model.SourceAirflow, "0999", before),
	)

	now := time.Now().UTC().Truncate(time.Millisecond)
	write(tb, s, store.Cursors, old, model.Cursor{Collector: "okta/prod", Position: "stale", UpdatedAt: now.Add(-48 * time.Hour)})
	write(tb, s, store.Cursors, cur,
		model.Cursor{Collector: "okta/prod", Position: now.Add(-15 * time.Minute).Format(time.RFC3339), UpdatedAt: now.Add(-10 * time.Minute)},
		model.Cursor{Collector: "airflow/prod", Position: "12345", UpdatedAt: now.Add(-2 * time.Hour)},
	)

	ae := func(id int64, ts time.Time, ch model.Channel, human bool) model.AirflowEvent {
		return model.AirflowEvent{Instance: "airflow-prod", EventLogID: id, TS: ts, Event: "trigger", Channel: ch, Action: model.ActionTrigger,
			Human: human, Privileged: human, Actor: "okta_alice", Person: "alice", DagID: "etl_daily", MapIndex: -1}
	}
	write(tb, s, store.AirflowEvents, old, ae(1, at(2, 10, 0), model.ChannelUI, true))
	write(tb, s, store.AirflowEvents, cur,
		ae(1, at(2, 10, 0), model.ChannelUI, true), ae(2, at(2, 10, 20), model.ChannelUI, true),
		ae(3, at(3, 9, 0), model.ChannelAPI, true), ae(4, at(3, 9, 30), model.ChannelCLI, true),
		ae(5, at(3, 9, 31), model.ChannelSystem, false), ae(6, at(3, 9, 32), model.ChannelSystem, false),
		ae(7, before, model.ChannelUI, true),
	)

	run := func(id, typ, state string, ts time.Time) model.DagRun {
		return model.DagRun{Instance: "airflow-prod", DagID: "etl_" + typ, RunID: id, RunType: typ, TS: ts, StartDate: ts, State: state, Conf: "{}"}
	}
	write(tb, s, store.DagRuns, old, run("m1", model.RunManual, "running", at(2, 12, 0)))
	write(tb, s, store.DagRuns, cur,
		run("m1", model.RunManual, "success", at(2, 12, 0)),
		run("s1", model.RunScheduled, "success", at(2, 0, 0)), run("s2", model.RunScheduled, "success", at(3, 0, 0)),
		run("s3", model.RunScheduled, "failed", at(4, 0, 0)),
		run("b1", model.RunBackfill, "running", at(4, 1, 0)),
		run("s0", model.RunScheduled, "success", before),
	)

	var ids []model.Identity
	for _, p := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		ids = append(ids, model.Identity{Person: p, Source: model.SourceOkta, Subject: "00u" + p, Origin: model.OriginMapping, UpdatedAt: at(1, 0, 0)})
	}
	write(tb, s, store.Identities, old, model.Identity{Person: "alice-old", Source: model.SourceOkta, Subject: "00ualice", Origin: model.OriginInferred, UpdatedAt: before})
	write(tb, s, store.Identities, cur, ids...)

	yes, no := model.Bool(true), model.Bool(false)
	const yubi5, yubi5c = "cb69481e-8ff7-4039-93ec-0a2729a154a8", "ee882879-721c-4913-9775-3dfcce97072a"
	key := func(person, cred, action string, ts time.Time, hw, be *bool, mdl, aaguid string) model.Authenticator {
		return model.Authenticator{Source: model.SourceOkta, Instance: "prod", EventID: "ev-" + cred + "-" + action, TS: ts,
			Person: person, Subject: "00u" + person, Email: person + "@example.com", Action: action, CredentialID: cred,
			AAGUID: aaguid, Model: mdl, Hardware: hw, BackupEligible: be}
	}
	write(tb, s, store.Authenticators, old, key("carol", "c5", model.AuthenticatorRegister, at(2, 9, 30), yes, no, "YubiKey 5 NFC", yubi5))
	write(tb, s, store.Authenticators, cur,
		key("alice", "c1", model.AuthenticatorRegister, before, yes, no, "YubiKey 5 NFC", yubi5),
		key("alice", "c2", model.AuthenticatorRegister, before, no, yes, "iCloud Keychain", "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"),
		key("bob", "c3", model.AuthenticatorRegister, at(2, 9, 0), no, yes, "", ""),
		key("carol", "c4", model.AuthenticatorRegister, at(2, 9, 10), yes, no, "YubiKey 5C", yubi5c),
		key("carol", "c4", model.AuthenticatorRemove, at(3, 8, 0), nil, nil, "", ""),
		key("carol", "c5", model.AuthenticatorRegister, at(2, 9, 30), no, no, "Windows Hello", ""),
		key("erin", "c6", model.AuthenticatorRegister, at(2, 9, 40), yes, no, "YubiKey 5C", yubi5c),
		key("erin", "c7", model.AuthenticatorRegister, at(2, 9, 50), nil, nil, "", ""),
		key("frank", "c8", model.AuthenticatorRegister, after, yes, no, "YubiKey 5C", yubi5c),
	)
	zed := key("", "c9", model.AuthenticatorRegister, at(2, 9, 55), yes, no, "YubiKey 5 NFC", yubi5)
	zed.Email = "zed@example.com"
	write(tb, s, store.Authenticators, cur, zed)

	auth := func(person, id string, ts time.Time, cat model.Category, out model.Outcome, f model.Factor, hw *bool) model.AuthEvent {
		return model.AuthEvent{Source: model.SourceOkta, Instance: "prod", EventID: id, TS: ts, Person: person, Subject: "00u" + person,
			Email: person + "@example.com", EventType: "user.authentication.auth_via_mfa", Category: cat, Outcome: out, Factor: f, Hardware: hw}
	}
	write(tb, s, store.AuthEvents, old, auth("bob", "e3", at(2, 10, 55), model.CategoryMFA, model.OutcomeSuccess, model.FactorPassword, no))
	write(tb, s, store.AuthEvents, cur,
		auth("alice", "e1", at(2, 9, 55), model.CategoryMFA, model.OutcomeSuccess, model.FactorWebAuthn, yes),
		auth("alice", "e2", at(3, 8, 55), model.CategoryMFA, model.OutcomeSuccess, model.FactorWebAuthn, yes),
		auth("bob", "e3", at(2, 10, 55), model.CategoryMFA, model.OutcomeSuccess, model.FactorWebAuthn, yes),
		auth("carol", "e4", at(3, 9, 58), model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, no),
		auth("carol", "e5", at(3, 9, 59), model.CategoryMFA, model.OutcomeSuccess, model.FactorTOTP, no),
		auth("dave", "e6", at(3, 11, 0), model.CategoryMFA, model.OutcomeFailure, model.FactorWebAuthn, yes),
		auth("erin", "e7", at(3, 15, 0), model.CategoryLogin, model.OutcomeSuccess, model.FactorPasskeySynced, no),
		auth("alice", "e8", at(3, 9, 30), model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil),
		auth("alice", "e9", before, model.CategoryMFA, model.OutcomeSuccess, model.FactorWebAuthn, yes),
	)
}

// row is one result row by column name.
type row map[string]any

func runSQL(tb testing.TB, s store.Store, sql string) []row {
	tb.Helper()
	rs, err := s.Query(context.Background(), sql)
	require.NoError(tb, err, sql)
	defer rs.Close()
	var out []row
	for rs.Next() {
		r := row{}
		for i, c := range rs.Columns() {
			r[c] = rs.Values()[i]
		}
		out = append(out, r)
	}
	require.NoError(tb, rs.Err(), sql)
	return out
}

// num returns a numeric result value as float64 (NaN for NULL).
func num(tb testing.TB, v any) float64 {
	tb.Helper()
	switch x := v.(type) {
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		return x
	}
	tb.Fatalf("not a number: %#v", v)
	return 0
}

// series sums a long-format time series by its label column.
func series(tb testing.TB, rows []row, label, value string) map[string]float64 {
	tb.Helper()
	out := map[string]float64{}
	for _, r := range rows {
		_, ok := r["time"].(time.Time)
		require.True(tb, ok, "time column is a time: %#v", r["time"])
		out[fmt.Sprint(r[label])] += num(tb, r[value])
	}
	return out
}

// column returns one column of every row.
func column(rows []row, name string) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r[name]
	}
	return out
}

// table projects rows onto columns, for comparing whole results.
func table(tb testing.TB, rows []row, cols ...string) [][]any {
	tb.Helper()
	out := make([][]any, len(rows))
	for i, r := range rows {
		for _, c := range cols {
			v, ok := r[c]
			require.True(tb, ok, "result has column %s (has %v)", c, keys(r))
			if n, isUint := v.(uint64); isUint {
				v = int64(n)
			}
			out[i] = append(out[i], v)
		}
	}
	return out
}

func keys(r row) []string {
	var out []string
	for k := range r {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// expectations hold, for every panel ("<dashboard uid>/<panel title>"), what
// its query must return on the seed. A panel without an entry fails
// TestPanelQueries.
var expectations = map[string]func(t *testing.T, rows []row){
	"keytrail-overview/Privileged actions verified": func(t *testing.T, rows []row) {
		require.Len(t, rows, 1)
		require.InDelta(t, 0.5, num(t, rows[0]["verified_share"]), 1e-9, "3 of 6 privileged actions under p2")
	},
	"keytrail-overview/Privileged actions not verified": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{{int64(3)}}, table(t, rows, "unverified"))
	},
	"keytrail-overview/DAG runs attributed": func(t *testing.T, rows []row) {
		require.Len(t, rows, 1)
		require.InDelta(t, 0.75, num(t, rows[0]["attributed_share"]), 1e-9)
	},
	"keytrail-overview/Dead letters": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{{int64(3)}}, table(t, rows, "dead_letters"))
	},
	"keytrail-overview/Share of privileged actions verified": func(t *testing.T, rows []row) {
		require.Len(t, rows, 6, "one hourly bucket per privileged action")
		var got []float64
		for _, r := range rows {
			got = append(got, num(t, r["verified_share"]))
		}
		require.Equal(t, []float64{1, 1, 1, 0, 0, 0}, got)
		require.Equal(t, at(2, 10, 0), rows[0]["time"].(time.Time).UTC())
	},
	"keytrail-overview/Verdicts by day": func(t *testing.T, rows []row) {
		got := map[string]int64{}
		for _, r := range rows {
			got[r["time"].(time.Time).UTC().Format(time.DateOnly)+" "+r["verdict"].(string)] = int64(num(t, r["actions"]))
		}
		require.Equal(t, map[string]int64{
			"2026-03-02 verified": 3, "2026-03-02 inherited": 1,
			"2026-03-03 verified": 2, "2026-03-03 weak_factor": 1, "2026-03-03 no_assertion": 1,
			"2026-03-03 unknown_identity": 1, "2026-03-03 inherited": 1, "2026-03-03 unattributed": 1, "2026-03-03 stale": 1,
		}, got)
	},
	"keytrail-overview/Unverified privileged actions": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{
			{"unresolved: svc-a6", "trigger", "etl_daily", "unknown_identity", "unknown_identity for a6", nil},
			{"dave", "trigger", "etl_daily", "no_assertion", "no_assertion for a5", nil},
			{"carol", "trigger", "etl_daily", "weak_factor", "weak_factor for a4", int64(90)},
		}, table(t, rows, "who", "action", "dag_id", "verdict", "reason", "assertion_age_s"))
	},
	"keytrail-overview/DAG runs: attributed vs unattributed": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{{"attributed", int64(3)}, {"unattributed", int64(1)}}, table(t, rows, "attribution", "runs"))
	},
	"keytrail-overview/Human Airflow actions by channel": func(t *testing.T, rows []row) {
		require.Equal(t, map[string]float64{"ui": 2, "api": 1, "cli": 1}, series(t, rows, "channel", "actions"))
	},
	"keytrail-overview/DAG runs by type": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{
			{"backfill", "running", int64(1)}, {"manual", "success", int64(1)},
			{"scheduled", "failed", int64(1)}, {"scheduled", "success", int64(2)},
		}, table(t, rows, "run_type", "state", "runs"))
	},
	"keytrail-overview/Ingest volume by source": func(t *testing.T, rows []row) {
		require.Equal(t, map[string]float64{"okta": 3, "entra": 1, "airflow": 2}, series(t, rows, "source", "records"))
	},
	"keytrail-overview/Dead letters by source": func(t *testing.T, rows []row) {
		require.Equal(t, map[string]float64{"okta": 2, "airflow": 1}, series(t, rows, "source", "dead_letters"))
	},
	"keytrail-overview/Collector cursor lag": func(t *testing.T, rows []row) {
		require.Equal(t, []any{"airflow/prod", "okta/prod"}, column(rows, "collector"), "most behind first")
		require.InDelta(t, 7200, num(t, rows[0]["seconds_since_update"]), 120)
		require.Nil(t, rows[0]["position_lag_seconds"], "an event id is not a time")
		require.InDelta(t, 600, num(t, rows[1]["seconds_since_update"]), 120, "FINAL keeps the newer cursor")
		require.InDelta(t, 900, num(t, rows[1]["position_lag_seconds"]), 120)
	},
	"keytrail-overview/Latest dead letters": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{{"airflow", "log.csv"}, {"okta", "page-2"}, {"okta", "page-1"}}, table(t, rows, "source", "origin"))
		require.Equal(t, "decode log.csv", rows[0]["error"])
	},
	"keytrail-overview/Alert delivery by target": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{
			{"alertmanager", int64(1), int64(1), int64(0), int64(1), ""},
			{"webhook", int64(2), int64(0), int64(1), int64(3), "connection refused"},
		}, table(t, rows, "target", "firing", "resolved", "undelivered", "max_attempts", "last_error"))
	},

	"keytrail-keys/People by strongest authenticator": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{{"hardware", int64(3)}, {"none", int64(2)}, {"software", int64(1)}, {"synced", int64(1)}},
			table(t, rows, "strongest", "people"))
	},
	"keytrail-keys/Authenticator inventory per person": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{
			{"dave", "none", int64(0), int64(0), int64(0), int64(0), ""},
			{"frank", "none", int64(0), int64(0), int64(0), int64(0), ""}, // registered after the range
			{"carol", "software", int64(0), int64(0), int64(1), int64(0), "Windows Hello"},
			{"bob", "synced", int64(0), int64(1), int64(0), int64(0), ""},
			{"alice", "hardware", int64(1), int64(1), int64(0), int64(0), "YubiKey 5 NFC, iCloud Keychain"},
			{"erin", "hardware", int64(1), int64(0), int64(0), int64(1), "YubiKey 5C"},
			{"unresolved: okta:zed@example.com", "hardware", int64(1), int64(0), int64(0), int64(0), "YubiKey 5 NFC"},
		}, table(t, rows, "person", "strongest", "hardware_keys", "synced_passkeys", "other_not_hardware", "undecided", "models"))
	},
	"keytrail-keys/Registrations and removals": func(t *testing.T, rows []row) {
		require.Equal(t, map[string]float64{"register": 6, "remove": 1}, series(t, rows, "action", "events"))
	},
	"keytrail-keys/Successful sign-ins by factor": func(t *testing.T, rows []row) {
		require.Equal(t, map[string]float64{"webauthn": 3, "password": 1, "totp": 1, "passkey_synced": 1}, series(t, rows, "factor", "sign_ins"))
	},
	"keytrail-keys/Sign-ins by factor and hardware backing": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{
			{"webauthn", "yes", int64(3), int64(2)},
			{"passkey_synced", "no", int64(1), int64(1)},
			{"password", "no", int64(1), int64(1)},
			{"totp", "no", int64(1), int64(1)},
		}, table(t, rows, "factor", "hardware_backed", "sign_ins", "people"))
	},
	"keytrail-keys/Hardware key models in use": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{
			{"YubiKey 5 NFC", "cb69481e-8ff7-4039-93ec-0a2729a154a8", int64(2), int64(2)},
			{"YubiKey 5C", "ee882879-721c-4913-9775-3dfcce97072a", int64(1), int64(1)},
		}, table(t, rows, "model", "aaguid", "keys", "people"))
	},
	"keytrail-keys/People signing in without a hardware key": func(t *testing.T, rows []row) {
		require.Equal(t, [][]any{{"carol", int64(2), int64(0), nil}, {"erin", int64(1), int64(0), nil}},
			table(t, rows, "who", "without_hardware", "with_hardware", "last_hardware_sign_in"))
	},
}

// TestPanelQueries runs every panel's SQL, macros expanded for the seed's
// range, on a migrated and seeded embedded ClickHouse, and checks what each
// returns.
func TestPanelQueries(t *testing.T) {
	s := openStore(t)
	seed(t, s)
	ds, err := dashboards.Dashboards()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, d := range ds {
		for _, p := range d.Panels {
			if p.IsRow() {
				continue
			}
			name := d.UID + "/" + p.Title
			seen[name] = true
			t.Run(name, func(t *testing.T) {
				check, ok := expectations[name]
				require.True(t, ok, "panel %q has no expectation in queries_test.go: add what it returns on the seed", name)
				r, err := p.TimeRange(rangeFrom, rangeTo)
				require.NoError(t, err)
				for _, tg := range p.Targets {
					sql, err := r.Expand(tg.RawSQL)
					require.NoError(t, err)
					rows := runSQL(t, s, sql)
					require.NotEmpty(t, rows, "the seed exercises every panel:\n%s", sql)
					check(t, rows)
				}
			})
		}
	}
	for name := range expectations {
		require.True(t, seen[name], "expectation for a panel that does not exist: %s", name)
	}
}

// TestPanelQueriesEmptyStore runs every panel on a migrated store with no
// rows: a fresh install must show empty panels, not errors.
func TestPanelQueriesEmptyStore(t *testing.T) {
	s := openStore(t)
	ds, err := dashboards.Dashboards()
	require.NoError(t, err)
	for _, d := range ds {
		for _, p := range d.Panels {
			r, err := p.TimeRange(rangeFrom, rangeTo)
			require.NoError(t, err)
			for _, tg := range p.Targets {
				sql, err := r.Expand(tg.RawSQL)
				require.NoError(t, err)
				runSQL(t, s, sql)
			}
		}
	}
}
