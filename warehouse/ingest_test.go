package warehouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/keycloak"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// keycloakLogin is a Keycloak WebAuthn sign-in at ms since the epoch.
func keycloakLogin(id string, ms int64, extra string) string {
	return fmt.Sprintf(`{"id":%q,"time":%d,"type":"LOGIN","realmId":"corp","clientId":"airflow","userId":"u-1","sessionId":"s","ipAddress":"198.51.100.80","details":{"username":"dave","credential_type":"webauthn","public_key_credential_id":"cred-1"%s}}`, id, ms, extra)
}

// keycloakRegister is a Keycloak key registration at ms since the epoch.
func keycloakRegister(id string, ms int64) string {
	return fmt.Sprintf(`{"id":%q,"time":%d,"type":"CUSTOM_REQUIRED_ACTION","realmId":"corp","userId":"u-1","details":{"username":"dave","custom_required_action":"webauthn-register","credential_type":"webauthn","public_key_credential_id":"cred-1","public_key_credential_aaguid":"cb69481e-8ff7-4039-93ec-0a2729a154a8"}}`, id, ms)
}

// airflowLog is an Airflow 3.x audit row at t.
func airflowLog(id int, t time.Time) string {
	return fmt.Sprintf(`{"event_log_id":%d,"when":%q,"dag_id":"etl","event":"trigger_dag_run","owner":"dave","logical_date":%q,"extra":"{}"}`, id, t.Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
}

// airflowRun is an Airflow 3.x DAG run queued at t.
func airflowRun(id int, t time.Time) string {
	ts := t.Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"dag_run_id":"manual__%d","dag_id":"etl","logical_date":%q,"queued_at":%q,"start_date":%q,"end_date":%q,"run_type":"manual","state":"success","triggered_by":"ui","triggering_user_name":"dave","conf":{}}`, id, ts, ts, ts, ts)
}

func ingestLines(t *testing.T, w ingest.Sink, n ingest.Normalizer, origin string, lines []string) (ingest.Result, error) {
	t.Helper()
	in := &ingest.Ingester{Normalizer: n, Instance: "prod", Sink: w, BatchSize: 1000}
	return in.Ingest(context.Background(), origin, []byte(strings.Join(lines, "\n")))
}

func count(t *testing.T, w *Warehouse, query string, args ...any) int64 {
	t.Helper()
	n, err := store.CountRows(context.Background(), w.S, query, args...)
	require.NoError(t, err)
	return n
}

// partitions returns the number of active month partitions of table.
func partitions(t *testing.T, w *Warehouse, table string) int64 {
	t.Helper()
	info, err := w.S.Info(context.Background())
	require.NoError(t, err)
	return count(t, w, "SELECT uniqExact(partition) FROM system.parts WHERE active AND database = ? AND table = ?", info.Database, table)
}

// TestWritesSpanningManyMonths stores one batch with records in 150
// different months through every writer of a month-partitioned table: the
// ingest sink (raw records, sign-ins, registrations, Airflow rows, runs,
// conflicts, dead letters), identity re-resolution, correlations and alerts.
// A single insert spanning over 100 partitions fails on chDB.
func TestWritesSpanningManyMonths(t *testing.T) {
	ctx := context.Background()
	const months = 150
	start := time.Date(2010, 1, 15, 12, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return start.AddDate(0, i, 0) }
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var kc, kcOther, af, runs []string
			for i := range months {
				kc = append(kc, keycloakLogin(fmt.Sprint("login-", i), at(i).UnixMilli(), ""), keycloakRegister(fmt.Sprint("reg-", i), at(i).UnixMilli()))
				kcOther = append(kcOther, keycloakLogin(fmt.Sprint("login-", i), at(i).UnixMilli(), `,"x":"other bytes"`))
				af = append(af, airflowLog(i+1, at(i)))
				runs = append(runs, airflowRun(i+1, at(i)))
			}
			res, err := ingestLines(t, w, keycloak.New(), "kc.ndjson", kc)
			require.NoError(t, err)
			require.Equal(t, 2*months, res.Accepted, "%+v", res)
			res, err = ingestLines(t, w, keycloak.New(), "kc2.ndjson", kcOther)
			require.NoError(t, err)
			require.Equal(t, months, res.Conflicts, "%+v", res)
			res, err = ingestLines(t, w, airflow.New(), "af.ndjson", append(af, runs...))
			require.NoError(t, err)
			require.Equal(t, 2*months, res.Accepted, "%+v", res)
			// A registration is a sign-in row and a key row.
			for table, n := range map[string]int64{"raw_records": 4 * months, "auth_events": 2 * months, "authenticators": months, "airflow_events": months, "dag_runs": months, "conflicts": months} {
				require.EqualValues(t, n, count(t, w, "SELECT count() FROM "+table+" FINAL"), table)
				require.EqualValues(t, months, partitions(t, w, table), table)
			}

			// Dead letters partition by received_at: 150 months of them.
			var dead []model.DeadLetter
			for i := range months {
				raw := []byte(fmt.Sprint("broken ", i))
				dead = append(dead, model.DeadLetter{Source: model.SourceKeycloak, Instance: "prod", Origin: "x", ReceivedAt: at(i), Error: "e", Raw: raw, SHA256: model.SHA256Hex(raw)})
			}
			_, err = w.Write(ctx, &ingest.Batch{DeadLetters: dead})
			require.NoError(t, err)
			require.EqualValues(t, months, partitions(t, w, "dead_letters"))

			// A mapping moves the 150 months of sign-ins to another person.
			// (ClickHouse 18.16 cannot read them back: a FINAL read over 150
			// partitions of auth_events needs over 3.7 GiB there, so the
			// rewrite is checked on the embedded engine.)
			if w.S.Dialect().DateTime64 {
				mapped := []model.Identity{{Person: "dave@example.com", Source: model.SourceKeycloak, Subject: "u-1"}}
				require.NoError(t, w.ImportIdentities(ctx, mapped, time.Now()))
				idp, _, err := enrich.ResolveStored(ctx, w, mapped)
				require.NoError(t, err)
				require.Equal(t, 3*months, idp, "sign-ins and key rows")
				require.EqualValues(t, 2*months, count(t, w, "SELECT count() FROM auth_events FINAL WHERE person = 'dave@example.com'"))
			}

			// Verdicts and alerts over the same 150 months.
			var cs []model.Correlation
			var alerts []model.Alert
			for i := range months {
				id := fmt.Sprint("prod/", i+1)
				cs = append(cs, model.Correlation{ActionID: id, ActionTS: at(i), Instance: "prod", Kind: model.KindAudit, Verdict: model.VerdictNoAssertion, PolicyVersion: "p", ComputedAt: time.Now()})
				alerts = append(alerts, model.Alert{AlertID: id, ActionID: id, ActionTS: at(i), Verdict: model.VerdictNoAssertion, Status: model.AlertFiring, Target: "t", CreatedAt: time.Now()})
			}
			require.NoError(t, w.WriteCorrelations(ctx, cs))
			require.NoError(t, w.AlertRecorder().RecordAlerts(ctx, alerts))
			require.EqualValues(t, months, partitions(t, w, "correlations"))
			require.EqualValues(t, months, partitions(t, w, "alerts"))
		})
	}
}

func TestByMonth(t *testing.T) {
	var rs []model.RawRecord
	for i := range 250 {
		rs = append(rs, model.RawRecord{EventID: fmt.Sprint(i), TS: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, (i*7)%250, 0)})
	}
	parts := byMonth(rs)
	require.Len(t, parts, 3)
	seen := 0
	last := 0
	for _, p := range parts {
		ms := map[int]bool{}
		for _, r := range p {
			m := month(r.TS)
			require.GreaterOrEqual(t, m, last, "months in order")
			last = m
			ms[m] = true
		}
		require.LessOrEqual(t, len(ms), maxMonthsPerInsert)
		seen += len(p)
	}
	require.Equal(t, len(rs), seen)
	few := rs[:120]
	for i := range few {
		few[i].TS = time.Date(2000, time.Month(1+i%12), 1, 0, 0, 0, 0, time.UTC)
	}
	require.Equal(t, [][]model.RawRecord{few}, byMonth(few), "a batch within 100 months is written whole, in order")
}

// TestTimeEdges ingests records at the edges of each engine's time range:
// inside, the time is stored exactly and lands in its own month; outside,
// the record is a dead letter naming the field and the range, never a row
// clamped or wrapped into another month.
func TestTimeEdges(t *testing.T) {
	ms := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm
	}
	edges := []struct {
		at          string
		chdb, older bool // accepted on chDB (DateTime64) and on servers without DateTime64
	}{
		{"1899-12-31T23:59:59.999Z", false, false},
		{"1900-01-01T00:00:00Z", true, false},
		{"1969-12-31T23:59:59.999Z", true, false},
		{"1970-01-01T00:00:00Z", true, true},
		{"2105-12-31T23:59:59.999Z", true, true},
		{"2106-01-01T00:00:00Z", true, false},
		{"2106-02-07T06:28:16Z", true, false},
		{"2299-12-31T23:59:59.999Z", true, false},
		{"2300-01-01T00:00:00Z", false, false},
	}
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			first, last := w.S.Dialect().TimeRange()
			var logs, runs, logins []string
			for i, e := range edges {
				logs = append(logs, airflowLog(i+1, ms(e.at)))
				runs = append(runs, airflowRun(i, ms(e.at)))
				if ms(e.at).After(time.Unix(0, 0)) { // Keycloak times are ms since the epoch, 0 is none
					logins = append(logins, keycloakLogin(fmt.Sprint("edge-", i), ms(e.at).UnixMilli(), ""))
				}
			}
			results := map[string]ingest.Result{}
			for file, in := range map[string]struct {
				n     ingest.Normalizer
				lines []string
			}{"logs": {airflow.New(), logs}, "runs": {airflow.New(), runs}, "logins": {keycloak.New(), logins}} {
				res, err := ingestLines(t, w, in.n, file, in.lines)
				require.NoError(t, err)
				results[file] = res
			}
			want, wantLogins := 0, 0
			months := map[string]bool{}
			for i, e := range edges {
				ok := e.chdb
				if !w.S.Dialect().DateTime64 {
					ok = e.older
				}
				tm := ms(e.at)
				require.Equal(t, ok, !tm.Before(first) && !tm.After(last), "%s: the dialect's range", e.at)
				evs, err := store.AirflowEvents.All(context.Background(), w.S, "WHERE event_log_id = ?", i+1)
				require.NoError(t, err)
				run, err := store.DagRuns.All(context.Background(), w.S, "WHERE run_id = ?", fmt.Sprint("manual__", i))
				require.NoError(t, err)
				logins, err := store.AuthEvents.All(context.Background(), w.S, "WHERE event_id = ?", fmt.Sprint("edge-", i))
				require.NoError(t, err)
				if !ok {
					require.Empty(t, evs, "%s must not be stored", e.at)
					require.Empty(t, run, "%s must not be stored", e.at)
					require.Empty(t, logins, "%s must not be stored", e.at)
					dl, err := store.DeadLetters.All(context.Background(), w.S, "WHERE origin = ?", fmt.Sprintf("logs#byte=%d", offsetOf(logs, i)))
					require.NoError(t, err)
					require.Len(t, dl, 1, e.at)
					require.Contains(t, dl[0].Error, "raw_records.ts is "+e.at+", outside "+first.Format(time.RFC3339Nano)+" … "+last.Format(time.RFC3339Nano))
					continue
				}
				want++
				months[tm.Format("200601")] = true
				require.Len(t, evs, 1, e.at)
				require.Equal(t, tm, evs[0].TS, "%s is stored exactly", e.at)
				require.Equal(t, tm, evs[0].LogicalDate, "%s is stored exactly", e.at)
				require.Len(t, run, 1)
				require.Equal(t, tm, run[0].EndDate, "%s: every time column", e.at)
				if tm.After(time.Unix(0, 0)) {
					wantLogins++
					require.Len(t, logins, 1)
					require.Equal(t, tm, logins[0].TS)
				}
			}
			require.Equal(t, want, results["logs"].Accepted)
			require.Equal(t, len(edges)-want, results["logs"].DeadLetters)
			require.Equal(t, want, results["runs"].Accepted)
			require.Equal(t, wantLogins, results["logins"].Accepted)
			// Each stored time is in its own month's partition (18.16 would
			// put 2106 in 197001).
			info, err := w.S.Info(context.Background())
			require.NoError(t, err)
			rows, err := w.S.Query(context.Background(), "SELECT DISTINCT partition FROM system.parts WHERE active AND database = ? AND table = 'raw_records'", info.Database)
			require.NoError(t, err)
			got := map[string]bool{}
			for rows.Next() {
				var p string
				require.NoError(t, rows.Scan(&p))
				got[p] = true
			}
			require.NoError(t, rows.Err())
			rows.Close()
			require.Equal(t, months, got)
		})
	}
}

// offsetOf is the byte offset of lines[i] in lines joined by newlines.
func offsetOf(lines []string, i int) int {
	n := 0
	for _, l := range lines[:i] {
		n += len(l) + 1
	}
	return n
}

// TestConflictsStored: a record with a stored id and other bytes is kept in
// the conflicts table with its bytes and both digests, counted apart, and the
// stored record stays; seeing it again stores it once.
func TestConflictsStored(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
			orig, other := keycloakLogin("a", t0, ""), keycloakLogin("a", t0, `,"x":"edited"`)
			res, err := ingestLines(t, w, keycloak.New(), "one", []string{orig})
			require.NoError(t, err)
			require.Equal(t, 1, res.Accepted)
			second := []string{keycloakLogin("b", t0, ""), orig, other}
			for range 2 {
				res, err = ingestLines(t, w, keycloak.New(), "two", second)
				require.NoError(t, err)
				require.Equal(t, 1, res.Conflicts)
				require.Equal(t, 3, res.Accepted+res.Duplicates+res.Conflicts)
			}
			raw, err := store.RawRecords.All(ctx, w.S, "WHERE event_id = 'a'")
			require.NoError(t, err)
			require.Len(t, raw, 1)
			require.Equal(t, orig, string(raw[0].Raw), "the stored record stays")
			cs, err := Conflicts.All(ctx, w.S, "")
			require.NoError(t, err)
			require.Len(t, cs, 1)
			require.Equal(t, other, string(cs[0].Raw))
			require.Equal(t, model.SHA256Hex([]byte(other)), cs[0].SHA256)
			require.Equal(t, raw[0].SHA256, cs[0].StoredSHA256)
			require.Equal(t, fmt.Sprintf("two#byte=%d", offsetOf(second, 2)), cs[0].Origin)
			require.Equal(t, time.UnixMilli(t0).UTC(), cs[0].TS)
		})
	}
}

// racingSink is the warehouse with both ingests' lookups lined up before
// either writes, as two processes ingesting the same file at once would.
type racingSink struct {
	*Warehouse
	ready *sync.WaitGroup
}

func (r racingSink) Known(ctx context.Context, ids []ingest.RecordID) (map[ingest.RecordID]string, error) {
	r.ready.Done()
	r.ready.Wait()
	return r.Warehouse.Known(ctx, ids)
}

// TestConcurrentIngestCountsOnce runs two ingests of overlapping inputs whose
// lookups both happen before either writes: every stored record is counted
// accepted by one of them only, a racing copy with other bytes is a
// conflict, and the store keeps the first copy written, also after merges.
func TestConcurrentIngestCountsOnce(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
			one := []string{keycloakLogin("a", t0, ""), keycloakLogin("b", t0, ""), keycloakLogin("c", t0, "")}
			two := []string{keycloakLogin("a", t0, ""), keycloakLogin("b", t0, `,"x":"racing edit"`), keycloakLogin("d", t0, "")}
			var ready sync.WaitGroup
			ready.Add(2)
			sink := racingSink{w, &ready}
			results := make([]ingest.Result, 2)
			var wg sync.WaitGroup
			for i, lines := range [][]string{one, two} {
				wg.Go(func() {
					res, err := ingestLines(t, sink, keycloak.New(), fmt.Sprint("f", i), lines)
					require.NoError(t, err)
					results[i] = res
				})
			}
			wg.Wait()
			var sum ingest.Result
			for _, r := range results {
				require.Equal(t, 3, r.Accepted+r.Duplicates+r.Conflicts, "%+v", r)
				sum.Accepted += r.Accepted
				sum.Duplicates += r.Duplicates
				sum.Conflicts += r.Conflicts
			}
			require.Equal(t, ingest.Result{Accepted: 4, Duplicates: 1, Conflicts: 1}, sum, "%+v", results)
			require.NoError(t, w.S.Exec(ctx, "OPTIMIZE TABLE raw_records FINAL"))
			require.EqualValues(t, 4, count(t, w, "SELECT count() FROM raw_records"), "merged to one copy each")
			raw, err := store.RawRecords.All(ctx, w.S, "WHERE event_id = 'b'")
			require.NoError(t, err)
			require.Len(t, raw, 1)
			cs, err := Conflicts.All(ctx, w.S, "")
			require.NoError(t, err)
			require.Len(t, cs, 1)
			require.Equal(t, raw[0].SHA256, cs[0].StoredSHA256, "the copy kept is the one the conflict names")
			require.NotEqual(t, raw[0].SHA256, cs[0].SHA256)
			winner := results[0]
			if results[1].Conflicts == 0 {
				winner = results[1]
			}
			require.Zero(t, winner.Conflicts)
		})
	}
}

// TestFailedIngestSaysWhatWasStored breaks the store after the first batch:
// the error says what the batches before stored, and those rows are there.
func TestFailedIngestSaysWhatWasStored(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
			var lines []string
			for i := range 5 {
				lines = append(lines, keycloakLogin(fmt.Sprint("r", i), t0+int64(i), ""))
			}
			in := &ingest.Ingester{Normalizer: keycloak.New(), Instance: "prod", Sink: w, BatchSize: 2,
				Stored: func(ctx context.Context, _ *ingest.Batch) error { return w.S.Exec(ctx, "DROP TABLE auth_events") }}
			res, err := in.Ingest(ctx, "f", []byte(strings.Join(lines, "\n")))
			require.ErrorIs(t, err, ingest.ErrStore)
			require.Contains(t, err.Error(), "(storing records 3–4 of 5); the 1 batches before them were stored whole (2 accepted, 0 duplicates, 0 conflicts, 0 dead letters); re-running the input is safe")
			require.Equal(t, ingest.Result{File: "f", Records: 5, Accepted: 2, Batches: 1}, res)
			require.EqualValues(t, 2, count(t, w, "SELECT count() FROM raw_records FINAL"))
		})
	}
}

// TestIngestGroupsAcrossInstances: one IngestGroups of two instances that
// share ids, with more ids than one literal look-up binds on the server:
// each instance's records are stored and counted apart, Known finds each
// under its own instance, and the same groups again are duplicates only.
func TestIngestGroupsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	const n = 3000
	id := func(i int) string { return fmt.Sprintf("ev-'%04d-%s", i, strings.Repeat("x", 60)) }
	lines := func(from, to int) []byte {
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString(keycloakLogin(id(i), t0+int64(i), ""))
			b.WriteByte('\n')
		}
		return []byte(b.String())
	}
	groups := []ingest.Group{
		{Normalizer: keycloak.New(), Instance: "a", Inputs: []ingest.Input{{Origin: "a1", Data: lines(0, n/2)}, {Origin: "a2", Data: lines(n/2, n)}}},
		{Normalizer: keycloak.New(), Instance: "b", Inputs: []ingest.Input{{Origin: "b1", Data: lines(0, n/2)}}},
	}
	ids := make([]ingest.RecordID, 3*n)
	for i := range ids {
		ids[i].EventID = id(i % n)
	}
	require.Greater(t, len(lookupChunks(store.Dialect{}, ids)), 1, "the look-up takes several queries where ids are literals")
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			in := &ingest.Ingester{Sink: w}
			res, err := in.IngestGroups(ctx, groups)
			require.NoError(t, err)
			require.Equal(t, []ingest.Result{{Records: n, Accepted: n, Batches: 1}, {Records: n / 2, Accepted: n / 2, Batches: 1}}, res)
			require.EqualValues(t, n, count(t, w, "SELECT count() FROM raw_records FINAL WHERE instance = 'a'"))
			require.EqualValues(t, n/2, count(t, w, "SELECT count() FROM raw_records FINAL WHERE instance = 'b'"))

			var ask []ingest.RecordID
			for _, instance := range []string{"a", "b", "c"} {
				for i := range n {
					ask = append(ask, ingest.RecordID{Source: model.SourceKeycloak, Instance: instance, EventID: id(i)})
				}
			}
			known, err := w.Known(ctx, ask)
			require.NoError(t, err)
			require.Len(t, known, n+n/2)
			for i := range n {
				sum := model.SHA256Hex([]byte(keycloakLogin(id(i), t0+int64(i), "")))
				require.Equal(t, sum, known[ingest.RecordID{Source: model.SourceKeycloak, Instance: "a", EventID: id(i)}], i)
				b, ok := known[ingest.RecordID{Source: model.SourceKeycloak, Instance: "b", EventID: id(i)}]
				require.Equal(t, i < n/2, ok, i)
				if ok {
					require.Equal(t, sum, b, i)
				}
			}

			res, err = in.IngestGroups(ctx, groups)
			require.NoError(t, err)
			require.Equal(t, []ingest.Result{{Records: n, Duplicates: n, Batches: 1}, {Records: n / 2, Duplicates: n / 2, Batches: 1}}, res)
		})
	}
}

// TestLookupChunks: where ids are literals, every look-up's literals fit
// knownQueryBytes and the chunks cover ids in order; with query
// parameters one look-up takes them all.
func TestLookupChunks(t *testing.T) {
	ids := func(n, size int, c byte) []ingest.RecordID {
		out := make([]ingest.RecordID, n)
		for i := range out {
			out[i] = ingest.RecordID{Source: model.SourceOkta, Instance: fmt.Sprint(i % 3), EventID: fmt.Sprintf("%d-%s", i, strings.Repeat(string(c), size))}
		}
		return out
	}
	for _, c := range []struct {
		name   string
		d      store.Dialect
		ids    []ingest.RecordID
		chunks int
	}{
		{"none", store.Dialect{}, nil, 1},
		{"query parameters", store.Dialect{QueryParams: true}, ids(20000, 36, 'u'), 1},
		{"short ids in one look-up", store.Dialect{}, ids(1000, 4, '1'), 1},
		{"uuids", store.Dialect{}, ids(5000, 36, 'u'), 2},
		{"ids that escape to twice their size", store.Dialect{}, ids(2000, 100, '\''), 3},
		{"one id over the budget", store.Dialect{}, ids(2, knownQueryBytes, 'x'), 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			chunks := lookupChunks(c.d, c.ids)
			require.Equal(t, c.chunks, len(chunks))
			var all []ingest.RecordID
			for _, ch := range chunks {
				if len(ch) == 0 {
					continue
				}
				size := 0
				scopes := map[string]bool{}
				for _, id := range ch {
					size += len(store.QuoteString(id.EventID)) + 1
					scopes[id.Instance] = true
				}
				q, _ := keptCopiesQuery(ch[:1], 0)
				size += len(scopes) * (len(q) + 16)
				if !c.d.QueryParams && len(ch) > 1 {
					require.LessOrEqual(t, size, knownQueryBytes)
				}
				all = append(all, ch...)
			}
			require.True(t, slices.Equal(c.ids, all), "the chunks cover ids in order")
		})
	}
}
