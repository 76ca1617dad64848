package storetest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
)

// Backend opens a fresh, empty database on the engine under test.
type Backend struct {
	Name string
	// Open returns a store on a new database named db.
	Open func(tb testing.TB, db string) store.Store
	// Kill and Restart crash and restart the engine; nil for the embedded one.
	Kill    func()
	Restart func() error
	// InsertFormat inserts data in a ClickHouse input format (JSONEachRow)
	// the way a loader would on this engine: InsertInline, or a Server's
	// InsertHTTP. Benchmarks use it for their peers.
	InsertFormat func(ctx context.Context, s store.Store, table, format string, data []byte) error
}

var dbSeq struct {
	sync.Mutex
	n int
}

// FreshDB returns a database name unique within the test binary.
func FreshDB(tb testing.TB) string {
	dbSeq.Lock()
	defer dbSeq.Unlock()
	dbSeq.n++
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '_'
	}, tb.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("kt_%s_%d_%d", name, time.Now().UnixNano()%1e6, dbSeq.n)
}

// Migrated opens a fresh database and applies every migration.
func Migrated(tb testing.TB, b Backend) store.Store {
	tb.Helper()
	s := b.Open(tb, FreshDB(tb))
	_, err := schema.Migrate(context.Background(), s)
	require.NoError(tb, err)
	return s
}

// Run runs the conformance suite against b.
func Run(t *testing.T, b Backend) {
	t.Run("MigrateTwice", func(t *testing.T) { testMigrateTwice(t, b) })
	t.Run("MigrateReplay", func(t *testing.T) { testMigrateReplay(t, b) })
	t.Run("CorrelationsByTime", func(t *testing.T) { testCorrelationsByTime(t, b) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, b) })
	t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, b) })
	t.Run("ConcurrentInserts", func(t *testing.T) { testConcurrent(t, b) })
	t.Run("BoundValues", func(t *testing.T) { testBoundValues(t, b) })
	t.Run("BadSQL", func(t *testing.T) { testBadSQL(t, b) })
	t.Run("Deadline", func(t *testing.T) { testDeadline(t, b) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, b) })
	t.Run("BatchColumns", func(t *testing.T) { testBatchColumns(t, b) })
	t.Run("BatchErrors", func(t *testing.T) { testBatchErrors(t, b) })
	t.Run("StreamBounded", func(t *testing.T) { testStreamBounded(t, b) })
	t.Run("InterleavedReads", func(t *testing.T) { testInterleaved(t, b) })
	t.Run("CloseMidStream", func(t *testing.T) { testCloseMidStream(t, b) })
	t.Run("Versions", func(t *testing.T) { testVersions(t, b) })
	if b.Kill != nil {
		t.Run("KilledMidQuery", func(t *testing.T) { testKilled(t, b) })
	}
}

func testMigrateTwice(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, FreshDB(t))
	v, err := schema.Version(ctx, s)
	require.NoError(t, err)
	require.Equal(t, 0, v)

	ran, err := schema.Migrate(ctx, s)
	require.NoError(t, err)
	require.NotEmpty(t, ran)
	ran, err = schema.Migrate(ctx, s)
	require.NoError(t, err)
	require.Empty(t, ran, "second migrate must apply nothing")

	v, err = schema.Version(ctx, s)
	require.NoError(t, err)
	require.Equal(t, schema.Latest(), v)
	ledger, err := schema.Ledger(ctx, s)
	require.NoError(t, err)
	require.Len(t, ledger, schema.Latest(), "each migration recorded once")
	for _, table := range schema.Tables {
		_, err := store.CountRows(ctx, s, "SELECT count() FROM "+store.QuoteIdent(table))
		require.NoError(t, err, "table %s", table)
	}
}

// testMigrateReplay: a migrate that ran every statement but crashed before
// recording them in the ledger is completed by the next one (every statement
// is idempotent, ADD COLUMN included).
func testMigrateReplay(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, FreshDB(t))
	ms, err := schema.Migrations()
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	for _, m := range ms {
		stmts, err := schema.Render(schema.Target{Dialect: s.Dialect(), Database: info.Database}, m.SQL)
		require.NoError(t, err)
		for _, st := range stmts {
			require.NoError(t, s.Exec(ctx, st), "%04d_%s", m.Version, m.Name)
		}
	}
	ran, err := schema.Migrate(ctx, s)
	require.NoError(t, err)
	require.Len(t, ran, schema.Latest(), "every migration re-applied and recorded")
}

// hostile strings every String column must carry unchanged.
var hostile = []string{
	"",
	"plain",
	"Łukasz Żółć — 李雷 — Zoë — مرحبا — 🔑🗝️",
	"quote ' double \" backtick ` backslash \\ end\\",
	"tab\tnewline\ncr\rnul\x00bell\x07",
	"?placeholder? -- comment /* block */",
	"\xff\xfe not utf-8 \xc3",
	strings.Repeat("0123456789abcdef", 100*1024/16), // 100 KB
}

func ms(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func testRoundTrip(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	t0 := ms("2026-03-04T05:06:07.089Z")
	t1 := ms("2026-03-04T05:06:07.001Z")
	for i, h := range hostile {
		id := fmt.Sprintf("ev-%d", i)
		ts := t0.Add(time.Duration(i) * time.Millisecond)

		raw := model.RawRecord{Source: model.SourceOkta, Instance: h, EventID: id, TS: ts, ReceivedAt: t1, Raw: []byte(h), SHA256: model.SHA256Hex([]byte(h))}
		roundTrip(t, ctx, s, store.RawRecords, raw, "WHERE event_id = ?", id)

		var hw *bool
		if i%3 == 1 {
			hw = model.Bool(true)
		} else if i%3 == 2 {
			hw = model.Bool(false)
		}
		var methods []string
		if i%2 == 0 {
			methods = []string{h, "FIDO2 security key", ""}
		} else {
			methods = []string{}
		}
		auth := model.AuthEvent{Source: model.SourceEntra, Instance: "prod", EventID: id, TS: ts, Person: h, Subject: "sub-" + id, Email: h,
			EventType: h, Category: model.CategoryLogin, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, Hardware: hw,
			AAGUID: "cb69481e-8ff7-4039-93ec-0a2729a154a8", CredentialID: h, App: h, SessionID: h, IP: "2001:db8::1", Detail: h,
			Methods: methods, RawSHA256: raw.SHA256, ReceivedAt: t1}
		roundTrip(t, ctx, s, store.AuthEvents, auth, "WHERE event_id = ?", id)

		reg := model.Authenticator{Source: model.SourceOkta, Instance: "prod", EventID: id, TS: ts, Person: h, Subject: h, Email: h,
			Action: model.AuthenticatorRegister, CredentialID: h, AAGUID: h, Model: h, Hardware: hw, BackupEligible: hw, RawSHA256: h, ReceivedAt: t1}
		roundTrip(t, ctx, s, store.Authenticators, reg, "WHERE event_id = ?", id)

		var ld time.Time
		if i%2 == 0 {
			ld = ts
		}
		af := model.AirflowEvent{Instance: "af", EventLogID: int64(1e12) + int64(i), TS: ts, Event: h, Channel: model.ChannelUI,
			Action: model.ActionTrigger, Human: i%2 == 0, Privileged: i%2 == 1, Actor: h, Person: h, DagID: h, TaskID: h, RunID: h,
			MapIndex: -1, TryNumber: int64(i), LogicalDate: ld, Extra: h, RawSHA256: h, ReceivedAt: t1}
		roundTrip(t, ctx, s, store.AirflowEvents, af, "WHERE event_log_id = ?", af.EventLogID)

		run := model.DagRun{Instance: "af", DagID: h, RunID: id, RunType: model.RunManual, TriggeredBy: h, TriggeringUser: h, Person: h,
			TS: ts, LogicalDate: ld, StartDate: ld, EndDate: time.Time{}, State: h, Conf: h, RawSHA256: h, ReceivedAt: t1}
		roundTrip(t, ctx, s, store.DagRuns, run, "WHERE run_id = ?", id)

		ident := model.Identity{Person: h, Source: model.SourceGoogle, Subject: id, Origin: model.OriginMapping, UpdatedAt: ts}
		roundTrip(t, ctx, s, store.Identities, ident, "WHERE subject = ?", id)

		am := model.AuthenticatorModel{AAGUID: id, Model: h, Hardware: i%2 == 0, Synced: i%2 == 1, Platform: true, Status: h, Source: "mds3", UpdatedAt: ts}
		roundTrip(t, ctx, s, store.AAGUIDs, am, "WHERE aaguid = ?", id)

		corr := model.Correlation{ActionID: id, ActionTS: ts, Instance: h, Kind: model.KindAudit, Channel: model.ChannelAPI, Action: model.ActionClear,
			Privileged: true, DagID: h, RunID: h, Actor: h, Person: h, Verdict: model.VerdictStale, TriggerActionID: h, InheritedFrom: h, InheritedVerdict: model.VerdictVerified,
			AssertionID: h, AssertionTS: ld, AssertionAgeMS: -4999, Factor: model.FactorWebAuthn, AuthenticatorAAGUID: h, AuthenticatorModel: h,
			PolicyVersion: "p1", Reason: h, ComputedAt: t1}
		roundTrip(t, ctx, s, store.Correlations, corr, "WHERE action_id = ?", id)

		alert := model.Alert{AlertID: id, ActionID: h, ActionTS: ts, Verdict: model.VerdictNoAssertion, Status: model.AlertFiring, Target: h,
			Summary: h, PolicyVersion: "p1", Attempts: 3, LastError: h, CreatedAt: t1, SentAt: ld, ResolvedAt: time.Time{}}
		roundTrip(t, ctx, s, store.Alerts, alert, "WHERE alert_id = ?", id)

		dl := model.DeadLetter{Source: model.SourceAirflow, Instance: id, Origin: h, ReceivedAt: t1, Error: h, Raw: []byte(h), SHA256: model.SHA256Hex([]byte(h))}
		roundTrip(t, ctx, s, store.DeadLetters, dl, "WHERE instance = ?", id)

		cur := model.Cursor{Collector: id, Position: h, UpdatedAt: ts}
		roundTrip(t, ctx, s, store.Cursors, cur, "WHERE collector = ?", id)

		pol := store.PolicyRecord{PolicyVersion: id, PolicyText: h, RecordedAt: ts}
		roundTrip(t, ctx, s, store.Policies, pol, "WHERE policy_version = ?", id)

		rep := store.ReportRecord{ReportID: id, GeneratedAt: ts, PeriodFrom: t1, PeriodTo: ts, Scope: h, PolicyVersion: h, Manifest: h, ManifestSHA256: h}
		roundTrip(t, ctx, s, store.Reports, rep, "WHERE report_id = ?", id)

		ret := store.RetentionEntry{ExecutedAt: ts, Table: id, Partition: h, Rows: uint64(i), Bytes: 1 << 40, Cutoff: t1, Operator: h}
		roundTrip(t, ctx, s, store.RetentionLog, ret, "WHERE table_name = ?", id)
	}
}

func roundTrip[T any](t *testing.T, ctx context.Context, s store.Store, tbl store.Table[T], v T, where string, args ...any) {
	t.Helper()
	require.NoError(t, tbl.Write(ctx, s, []T{v}), "write %s", tbl.Name)
	got, err := tbl.All(ctx, s, where, args...)
	require.NoError(t, err, "read %s", tbl.Name)
	require.Len(t, got, 1, "table %s", tbl.Name)
	require.Equal(t, normalizeEmpty(v), normalizeEmpty(got[0]), "table %s", tbl.Name)
}

// normalizeEmpty treats nil and empty slices alike; the engines store no
// difference between them.
func normalizeEmpty[T any](v T) T {
	if a, ok := any(&v).(*model.AuthEvent); ok && len(a.Methods) == 0 {
		a.Methods = nil
	}
	return v
}

func testIdempotent(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	ev := model.AuthEvent{Source: model.SourceOkta, Instance: "prod", EventID: "dup-1", TS: ms("2026-01-31T23:59:59.999Z"),
		Subject: "00u1", Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, ReceivedAt: ms("2026-02-01T00:00:00Z")}
	for i := 0; i < 3; i++ {
		require.NoError(t, store.AuthEvents.Write(ctx, s, []model.AuthEvent{ev}))
	}
	n, err := store.CountRows(ctx, s, "SELECT count() FROM auth_events FINAL WHERE event_id = ?", "dup-1")
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "an event written three times is counted once")

	// Same for Airflow rows keyed by instance + event_log_id, and raw records.
	af := model.AirflowEvent{Instance: "af1", EventLogID: 42, TS: ms("2026-01-01T00:00:00.5Z"), Event: "trigger", ReceivedAt: ms("2026-01-01T00:00:01Z")}
	require.NoError(t, store.AirflowEvents.Write(ctx, s, []model.AirflowEvent{af, af}))
	af.Person = "updated"
	require.NoError(t, store.AirflowEvents.Write(ctx, s, []model.AirflowEvent{af}))
	got, err := store.AirflowEvents.All(ctx, s, "WHERE instance = ?", "af1")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "updated", got[0].Person, "the newest write of a row wins")
}

func testConcurrent(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	const workers, batches, per = 4, 5, 500
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	base := ms("2026-05-01T00:00:00Z")
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for bi := 0; bi < batches; bi++ {
				evs := make([]model.AuthEvent, per)
				for i := range evs {
					n := (w*batches+bi)*per + i
					evs[i] = model.AuthEvent{Source: model.SourceKeycloak, Instance: "kc", EventID: fmt.Sprintf("c-%d", n),
						TS: base.Add(time.Duration(n) * time.Second), Subject: fmt.Sprintf("u%d", n%17), Category: model.CategoryLogin,
						Outcome: model.OutcomeSuccess, Factor: model.FactorPassword, ReceivedAt: base}
				}
				if err := store.AuthEvents.Write(ctx, s, evs); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n, err := store.CountRows(ctx, s, "SELECT count() FROM auth_events FINAL")
	require.NoError(t, err)
	require.EqualValues(t, workers*batches*per, n)
	n, err = store.CountRows(ctx, s, "SELECT uniqExact(event_id) FROM auth_events")
	require.NoError(t, err)
	require.EqualValues(t, workers*batches*per, n)
}

func testBoundValues(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	for _, h := range hostile {
		rows, err := s.Query(ctx, "SELECT ? AS v, length(?) AS n", h, h)
		require.NoError(t, err)
		require.True(t, rows.Next())
		var got string
		var n uint64
		require.NoError(t, rows.Scan(&got, &n))
		require.NoError(t, rows.Close())
		require.Equal(t, h, got)
		require.EqualValues(t, len(h), n)
	}
	// A bound value is data, never SQL.
	evil := "x' OR 1=1 --"
	n, err := store.CountRows(ctx, s, "SELECT count() FROM schema_migrations WHERE name = ?", evil)
	require.NoError(t, err)
	require.EqualValues(t, 0, n)

	tm := ms("2026-07-08T09:10:11.012Z")
	rows, err := s.Query(ctx, "SELECT ? AS t, ? AS i, ? AS u, ? AS f, ? AS arr", tm, int64(-5), uint64(1<<63), 1.5, []string{"a", "b'c"})
	require.NoError(t, err)
	require.True(t, rows.Next())
	var gt time.Time
	var gi int64
	var gu uint64
	var gf float64
	var garr []string
	require.NoError(t, rows.Scan(&gt, &gi, &gu, &gf, &garr))
	require.NoError(t, rows.Close())
	require.True(t, tm.Equal(gt), "time %v != %v", gt, tm)
	require.Equal(t, int64(-5), gi)
	require.Equal(t, uint64(1<<63), gu)
	require.Equal(t, 1.5, gf)
	require.Equal(t, []string{"a", "b'c"}, garr)

	_, err = s.Query(ctx, "SELECT ?, ?", 1)
	require.ErrorIs(t, err, store.ErrBind)

	// Arrays of hostile strings: as a value, and as the set of an IN.
	arr := append([]string{}, hostile[:7]...)
	rows, err = s.Query(ctx, "SELECT ? AS a, length(?) AS n", arr, arr)
	require.NoError(t, err)
	require.True(t, rows.Next())
	var garr2 []string
	var gn uint64
	require.NoError(t, rows.Scan(&garr2, &gn))
	require.NoError(t, rows.Close())
	require.Equal(t, arr, garr2)
	require.EqualValues(t, len(arr), gn)
	for _, h := range hostile {
		n, err := store.CountRows(ctx, s, "SELECT count() FROM (SELECT arrayJoin(?) AS x) WHERE x IN (SELECT arrayJoin(?))", []string{h, "other"}, []any{h})
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "%q", h)
	}

	// NULLs: nil, a nil *bool, the zero time.
	rows, err = s.Query(ctx, "SELECT ? AS a, ? AS b, ? AS c, ? AS d", nil, (*bool)(nil), time.Time{}, model.Bool(true))
	require.NoError(t, err)
	require.True(t, rows.Next())
	require.Equal(t, []any{nil, nil, nil, uint64(1)}, rows.Values())
	var na string
	var nb, nd *bool
	var nc time.Time
	require.NoError(t, rows.Scan(&na, &nb, &nc, &nd))
	require.NoError(t, rows.Close())
	require.Empty(t, na)
	require.Nil(t, nb)
	require.True(t, nc.IsZero())
	require.True(t, *nd)
}

func testBadSQL(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	_, err := s.Query(ctx, "SELEC 1")
	require.Error(t, err)
	code, ok := store.Code(err)
	require.True(t, ok, "error carries an engine code: %v", err)
	require.Equal(t, store.CodeSyntaxError, code)

	_, err = s.Query(ctx, "SELECT * FROM no_such_table")
	code, ok = store.Code(err)
	require.True(t, ok, "error carries an engine code: %v", err)
	require.Equal(t, store.CodeUnknownTable, code)

	// An empty result still names its columns.
	rows, err := s.Query(ctx, "SELECT number AS n, toString(number) AS s FROM numbers(10) WHERE number > ?", 100)
	require.NoError(t, err)
	require.Equal(t, []string{"n", "s"}, rows.Columns())
	require.Equal(t, []string{"UInt64", "String"}, rows.Types())
	require.False(t, rows.Next())
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())

	// The store still works after errors.
	n, err := store.CountRows(ctx, s, "SELECT 7")
	require.NoError(t, err)
	require.EqualValues(t, 7, n)
}

// longQuery runs for minutes on any engine.
const longQuery = "SELECT count() FROM numbers(100000000000) WHERE NOT ignore(sipHash64(number))"

func testDeadline(t *testing.T, b Backend) {
	s := Migrated(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := store.CountRows(ctx, s, longQuery)
	took := time.Since(start)
	require.Error(t, err)
	require.Less(t, took, 5*time.Second, "a query past its deadline returns promptly (took %v)", took)
	// The engine is usable again soon after.
	require.Eventually(t, func() bool {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := store.CountRows(c, s, "SELECT 1")
		return err == nil && n == 1
	}, 20*time.Second, 100*time.Millisecond)
}

func testKilled(t *testing.T, b Backend) {
	s := Migrated(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := store.CountRows(ctx, s, longQuery)
		errc <- err
	}()
	time.Sleep(500 * time.Millisecond)
	b.Kill()
	select {
	case err := <-errc:
		require.Error(t, err)
		require.Less(t, time.Since(start), 5500*time.Millisecond)
	case <-time.After(10 * time.Second):
		t.Fatal("query against a killed server did not return within its deadline")
	}
	// A new query while the server is down fails within its deadline.
	c2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	start = time.Now()
	_, err := store.CountRows(c2, s, "SELECT 1")
	require.Error(t, err)
	require.Less(t, time.Since(start), 4*time.Second)

	require.NoError(t, b.Restart())
	require.Eventually(t, func() bool {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := store.CountRows(c, s, "SELECT count() FROM schema_migrations")
		return err == nil && n >= 1
	}, 30*time.Second, 100*time.Millisecond, "a restarted server serves the same store again")
	if errors.Is(err, context.Canceled) {
		t.Log("cancelled")
	}
}

func testRetention(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	mk := func(id, ts string) model.AuthEvent {
		return model.AuthEvent{Source: model.SourceOkta, Instance: "p", EventID: id, TS: ms(ts), Subject: "u", ReceivedAt: ms(ts)}
	}
	require.NoError(t, store.AuthEvents.Write(ctx, s, []model.AuthEvent{
		mk("jan1", "2026-01-05T00:00:00Z"), mk("jan2", "2026-01-31T23:59:59.999Z"),
		mk("feb", "2026-02-01T00:00:00Z"), mk("mar", "2026-03-20T00:00:00Z"),
	}))
	cutoff := ms("2026-02-15T00:00:00Z")
	parts, err := schema.Retain(ctx, s, cutoff, "tester", true)
	require.NoError(t, err)
	require.Len(t, parts, 1, "only January ends before the cutoff month")
	require.Equal(t, "202601", parts[0].Partition)
	require.EqualValues(t, 2, parts[0].Rows)
	n, err := store.CountRows(ctx, s, "SELECT count() FROM auth_events")
	require.NoError(t, err)
	require.EqualValues(t, 4, n, "a dry run drops nothing")

	_, err = schema.Retain(ctx, s, cutoff, "tester", false)
	require.NoError(t, err)
	left, err := store.AuthEvents.All(ctx, s, "ORDER BY event_id")
	require.NoError(t, err)
	require.Len(t, left, 2)
	require.Equal(t, "feb", left[0].EventID)
	log, err := store.RetentionLog.All(ctx, s, "")
	require.NoError(t, err)
	require.Len(t, log, 1)
	require.Equal(t, "auth_events", log[0].Table)
	require.Equal(t, "202601", log[0].Partition)
	require.EqualValues(t, 2, log[0].Rows)
	require.Equal(t, "tester", log[0].Operator)
	require.True(t, cutoff.Equal(log[0].Cutoff))
}

// testBatchColumns writes every column type a batch takes, with its edge
// values, and reads them back through Scan and Values.
func testBatchColumns(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	ts := s.Dialect().TimeType()
	require.NoError(t, s.Exec(ctx, `CREATE TABLE IF NOT EXISTS edge (
		id UInt32, s String, raw String, i Int64, u UInt64, b UInt8, nb Nullable(UInt8), f Float64,
		t `+ts+`, nt Nullable(`+ts+`), arr Array(String)
	) ENGINE = MergeTree ORDER BY id`))
	t0 := ms("1969-12-31T23:59:59.999Z")
	t1 := ms("2026-03-04T05:06:07.089Z")
	t2 := ms("2105-12-31T23:59:59.999Z")
	ids := []uint32{0, 1, 2, math.MaxUint32}
	strs := []string{"", hostile[2], hostile[4], hostile[7]}
	raws := [][]byte{nil, []byte(hostile[6]), {0, 1, 2, 0xff}, []byte(hostile[3])}
	i64 := []int64{math.MinInt64, -1, 0, math.MaxInt64}
	u64 := []uint64{0, 1, 1 << 63, math.MaxUint64}
	bools := []bool{false, true, true, false}
	nbools := []*bool{nil, model.Bool(true), model.Bool(false), nil}
	floats := []float64{0, -1.5, math.MaxFloat64, math.SmallestNonzeroFloat64}
	times := []time.Time{t1, t0, t2, {}}
	ntimes := []time.Time{{}, t1, t0, t2}
	arrs := [][]string{nil, {}, {"", hostile[3]}, hostile}
	bt, err := s.PrepareBatch(ctx, "edge", []string{"id", "s", "raw", "i", "u", "b", "nb", "f", "t", "nt", "arr"})
	require.NoError(t, err)
	// Two appends per column: a batch concatenates them.
	for i, col := range []any{ids, strs, raws, i64, u64, bools, nbools, floats, times, ntimes, arrs} {
		require.NoError(t, bt.Column(i).Append(sliceHead(col, 2)), "column %d", i)
		require.NoError(t, bt.Column(i).Append(sliceTail(col, 2)), "column %d", i)
	}
	require.Equal(t, 4, bt.Rows())
	require.NoError(t, bt.Send())

	rows, err := s.Query(ctx, "SELECT id, s, raw, i, u, b, nb, f, t, nt, arr FROM edge ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	require.Equal(t, []string{"id", "s", "raw", "i", "u", "b", "nb", "f", "t", "nt", "arr"}, rows.Columns())
	n := 0
	for rows.Next() {
		var (
			id      uint32
			str     string
			raw     []byte
			i       int64
			u       uint64
			bo      bool
			nbo     *bool
			f       float64
			tm, ntm time.Time
			arr     []string
		)
		require.NoError(t, rows.Scan(&id, &str, &raw, &i, &u, &bo, &nbo, &f, &tm, &ntm, &arr))
		require.Equal(t, ids[n], id)
		require.Equal(t, strs[n], str)
		require.Equal(t, string(raws[n]), string(raw))
		require.Equal(t, i64[n], i)
		require.Equal(t, u64[n], u)
		require.Equal(t, bools[n], bo)
		require.Equal(t, nbools[n], nbo)
		require.Equal(t, floats[n], f)
		if times[n].IsZero() {
			require.Equal(t, time.Unix(0, 0).UTC(), tm, "the zero time is the epoch in a column that is not Nullable")
		} else {
			require.True(t, times[n].Equal(tm), "row %d: %v != %v", n, tm, times[n])
		}
		require.True(t, ntimes[n].Equal(ntm), "row %d: %v != %v", n, ntm, ntimes[n])
		require.Equal(t, len(arrs[n]), len(arr))
		if len(arr) > 0 {
			require.Equal(t, arrs[n], arr)
		}
		vals := rows.Values()
		require.Len(t, vals, 11)
		require.Equal(t, uint64(ids[n]), vals[0])
		require.Equal(t, strs[n], vals[1])
		if nbools[n] == nil {
			require.Nil(t, vals[6])
		}
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 4, n)
}

func sliceHead(v any, n int) any {
	rv := reflect.ValueOf(v)
	return rv.Slice(0, n).Interface()
}

func sliceTail(v any, n int) any {
	rv := reflect.ValueOf(v)
	return rv.Slice(n, rv.Len()).Interface()
}

func testBatchErrors(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	_, err := s.PrepareBatch(ctx, "cursors", []string{"collector", "no_such_column"})
	require.Error(t, err)
	_, err = s.PrepareBatch(ctx, "no_such_table", []string{"x"})
	require.Error(t, err)

	bt, err := s.PrepareBatch(ctx, "cursors", []string{"collector", "position", "updated_at", "version"})
	require.NoError(t, err)
	require.Error(t, bt.Column(0).Append([]int64{1}), "a slice of the wrong type is refused")
	require.NoError(t, bt.Column(0).Append([]string{"a", "b"}))
	require.NoError(t, bt.Column(1).Append([]string{"x"}))
	require.NoError(t, bt.Column(2).Append([]time.Time{ms("2026-01-01T00:00:00Z"), ms("2026-01-01T00:00:00Z")}))
	require.NoError(t, bt.Column(3).Append([]uint64{1, 1}))
	require.Error(t, bt.Send(), "columns of different lengths are refused")
	require.NoError(t, bt.Abort())
	n, err := store.CountRows(ctx, s, "SELECT count() FROM cursors")
	require.NoError(t, err)
	require.Zero(t, n, "nothing of a refused batch is stored")
}

// testStreamBounded reads a result far larger than the memory the read may
// hold: the live heap grows by a small fraction of the result. The growth is
// measured from the live heap just before the read, so what earlier tests of
// the same binary left alive does not count against the read.
func testStreamBounded(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	const rowsN, width = 4_000_000, 100 // ~400 MB of strings
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	rows, err := s.Query(ctx, "SELECT number, concat(toString(number), ?) FROM numbers(?)", strings.Repeat("x", width), rowsN)
	require.NoError(t, err)
	defer rows.Close()
	var maxLive uint64
	n := uint64(0)
	for rows.Next() {
		var id uint64
		var v string
		require.NoError(t, rows.Scan(&id, &v))
		if id != n || len(v) < width {
			require.Equal(t, n, id)
		}
		n++
		if n%400_000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			maxLive = max(maxLive, ms.HeapAlloc)
		}
	}
	require.NoError(t, rows.Err())
	require.EqualValues(t, rowsN, n)
	grown := uint64(0)
	if maxLive > base {
		grown = maxLive - base
	}
	t.Logf("%s: live heap while streaming %d MB of rows: %d MB before the read, at most %d MB more during it", b.Name, rowsN*width>>20, base>>20, grown>>20)
	require.Less(t, grown, uint64(80<<20), "a streamed read holds blocks, not the result")
}

// testInterleaved pulls several reads at once in turn, and writes and
// queries while they are open: no read waits for another.
func testInterleaved(t *testing.T, b Backend) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := Migrated(t, b)
	const readers, rowsN = 6, 150_000
	var rs []store.Rows
	for i := 0; i < readers; i++ {
		r, err := s.Query(ctx, "SELECT number * ? FROM numbers(?)", uint64(i+1), rowsN)
		require.NoError(t, err)
		defer r.Close()
		rs = append(rs, r)
	}
	for n := uint64(0); n < rowsN; n++ {
		for i, r := range rs {
			require.True(t, r.Next(), "reader %d row %d: %v", i, n, r.Err())
			var v uint64
			require.NoError(t, r.Scan(&v))
			require.Equal(t, n*uint64(i+1), v)
		}
		if n == rowsN/2 {
			// Mid-stream: a write and a read on the same store.
			require.NoError(t, store.Cursors.Write(ctx, s, []model.Cursor{{Collector: "c", Position: "p", UpdatedAt: ms("2026-01-01T00:00:00Z")}}))
			got, err := store.Cursors.All(ctx, s, "")
			require.NoError(t, err)
			require.Len(t, got, 1)
		}
	}
	for i, r := range rs {
		require.False(t, r.Next(), "reader %d ends", i)
		require.NoError(t, r.Err())
	}

	// A read whose callback writes, through Table.Read.
	require.NoError(t, store.Cursors.Read(ctx, s, "", nil, func(c model.Cursor) error {
		c.Collector += "-copy"
		return store.Cursors.Write(ctx, s, []model.Cursor{c})
	}))
	n, err := store.CountRows(ctx, s, "SELECT count() FROM cursors FINAL")
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	// Iterators pulled in turn.
	next1, stop1 := iter.Pull2(store.Cursors.Iter(ctx, s, "WHERE collector = ?", "c"))
	defer stop1()
	next2, stop2 := iter.Pull2(store.Cursors.Iter(ctx, s, "WHERE collector = ?", "c-copy"))
	defer stop2()
	c1, err1, ok1 := next1()
	c2, err2, ok2 := next2()
	require.True(t, ok1 && ok2)
	require.NoError(t, err1)
	require.NoError(t, err2)
	require.Equal(t, "c", c1.Collector)
	require.Equal(t, "c-copy", c2.Collector)
	_, _, ok1 = next1()
	require.False(t, ok1)
}

// testCloseMidStream abandons reads early, by Close and by cancelling their
// context; the store goes on working.
func testCloseMidStream(t *testing.T, b Backend) {
	s := Migrated(t, b)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		rows, err := s.Query(ctx, "SELECT number FROM numbers(100000000)")
		require.NoError(t, err)
		require.True(t, rows.Next())
		require.NoError(t, rows.Close())
	}
	cctx, cancel := context.WithCancel(ctx)
	rows, err := s.Query(cctx, "SELECT number FROM numbers(100000000)")
	require.NoError(t, err)
	require.True(t, rows.Next())
	cancel()
	for rows.Next() {
	}
	require.ErrorIs(t, rows.Err(), context.Canceled)
	require.NoError(t, rows.Close())
	n, err := store.CountRows(ctx, s, "SELECT 7")
	require.NoError(t, err)
	require.EqualValues(t, 7, n)
}

// testVersions: the newest write of a row wins without waiting for the
// clock, and an injected clock decides versions exactly.
func testVersions(t *testing.T, b Backend) {
	ctx := context.Background()
	s := Migrated(t, b)
	for i := 0; i < 5; i++ {
		require.NoError(t, store.Cursors.Write(ctx, s, []model.Cursor{{Collector: "v", Position: fmt.Sprint(i), UpdatedAt: ms("2026-01-01T00:00:00Z")}}))
	}
	got, err := store.Cursors.All(ctx, s, "WHERE collector = ?", "v")
	require.NoError(t, err)
	require.Equal(t, "4", got[0].Position, "five writes in a row: the last wins")

	clock := ms("2030-01-01T00:00:00Z")
	v := store.NewVersions(func() time.Time { return clock })
	late, early := v.Next(), v.Next()-10
	require.NoError(t, store.Cursors.WriteVersion(ctx, s, []model.Cursor{{Collector: "w", Position: "late"}}, late))
	require.NoError(t, store.Cursors.WriteVersion(ctx, s, []model.Cursor{{Collector: "w", Position: "early"}}, early))
	var version uint64
	err = store.Cursors.ReadVersions(ctx, s, "WHERE collector = ?", []any{"w"}, func(c model.Cursor, v uint64) error {
		require.Equal(t, "late", c.Position, "a higher version wins whatever the write order")
		version = v
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, late, version)
	require.EqualValues(t, clock.UnixMilli(), late)
}

// testCorrelationsByTime upgrades a store holding correlations to the
// time-ordered key (migration 0007; a cluster keeps its key): every row
// survives, replaced copies still collapse, and a migration interrupted
// after any of its statements converges when run again.
func testCorrelationsByTime(t *testing.T, b Backend) {
	ctx := context.Background()
	migrations, err := schema.Migrations()
	require.NoError(t, err)
	var byTime schema.Migration
	for _, m := range migrations {
		if m.Name == "correlations_by_time" {
			byTime = m
		}
	}
	require.NotZero(t, byTime.Version)
	probe := b.Open(t, FreshDB(t))
	info, err := probe.Info(ctx)
	require.NoError(t, err)
	target := schema.Target{Dialect: probe.Dialect(), Database: info.Database}
	stmts, err := schema.Render(target, byTime.SQL)
	require.NoError(t, err)
	// Interrupted: never started, after the copy, after the rename, after the
	// last statement but before the ledger records the migration. On a
	// cluster the migration has no statement (the key stays).
	steps := []int{0, 3, 4, len(stmts)}
	cluster := probe.Dialect().Cluster != ""
	if cluster {
		require.Empty(t, stmts)
		steps = []int{0}
	}
	for _, done := range steps {
		t.Run(fmt.Sprintf("after %d statements", done), func(t *testing.T) {
			s := b.Open(t, FreshDB(t))
			_, err := schema.MigrateTo(ctx, s, byTime.Version-1)
			require.NoError(t, err)
			var old, want []model.Correlation
			for i := 0; i < 50; i++ {
				c := model.Correlation{ActionID: fmt.Sprintf("prod/%d", i), ActionTS: ms("2026-01-01T00:00:00Z").Add(time.Duration(49-i) * 37 * time.Hour),
					Instance: "prod", Kind: model.KindAudit, Verdict: model.VerdictStale, PolicyVersion: []string{"p1", "p2"}[i%2], Reason: "old"}
				old = append(old, c)
				c.Reason = "new"
				want = append(want, c)
			}
			require.NoError(t, store.Correlations.WriteVersion(ctx, s, old, 1))
			require.NoError(t, store.Correlations.WriteVersion(ctx, s, want, 2))
			info, err := s.Info(ctx)
			require.NoError(t, err)
			stmts, err := schema.Render(schema.Target{Dialect: s.Dialect(), Database: info.Database}, byTime.SQL)
			require.NoError(t, err)
			for _, st := range stmts[:done] {
				require.NoError(t, s.Exec(ctx, st))
			}
			_, err = schema.Migrate(ctx, s)
			require.NoError(t, err)
			got, err := store.Correlations.All(ctx, s, "ORDER BY policy_version, action_ts, action_id")
			require.NoError(t, err)
			require.Len(t, got, len(want))
			byID := map[string]model.Correlation{}
			for _, c := range got {
				byID[c.ActionID] = c
			}
			for _, c := range want {
				require.Equal(t, "new", byID[c.ActionID].Reason, c.ActionID)
				require.True(t, c.ActionTS.Equal(byID[c.ActionID].ActionTS))
			}
			var key string
			rows, err := s.Query(ctx, "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'correlations'")
			require.NoError(t, err)
			if rows.Next() {
				require.NoError(t, rows.Scan(&key))
			}
			require.NoError(t, rows.Close())
			if key != "" && !cluster { // 18.16 has no sorting_key column; the query fails there
				require.Equal(t, "policy_version, action_ts, action_id", key)
			}
			n, err := store.CountRows(ctx, s, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'correlations_by_%'")
			require.NoError(t, err)
			require.Zero(t, n, "no table of the rebuild is left behind")
		})
	}
}
