package warehouse

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
)

var (
	repFrom   = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	repTo     = repFrom.AddDate(0, 0, 7)
	repGenAt  = time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	repKey    = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	repPolicy = "policy-v2"
)

// hostile are names the pack must carry intact.
var hostile = []string{
	"Łukasz", "李雷", "Zoë",
	"مرحبا שלום",
	"emoji 😀🔑👩‍💻",
	strings.Repeat("Ł", 10000),
	"ctl\x01\x07\x1b[31mred\x7f",
	"=HYPERLINK(\"http://x\")",
	"tab\tnew\nline",
	"quote ' and \\ backslash",
}

// correlation returns a human (or run) action i at ts with verdict v.
func correlation(i int, ts time.Time, inst string, v model.Verdict, policy string) model.Correlation {
	actor := hostile[i%len(hostile)]
	c := model.Correlation{
		ActionID: fmt.Sprintf("%s/%d", inst, 1000+i), ActionTS: ts, Instance: inst,
		Kind: model.KindAudit, Channel: model.ChannelUI, Action: model.ActionTrigger, Privileged: i%2 == 0,
		DagID: "etl_" + actor, Actor: actor, Person: actor + "@example.com", Verdict: v,
		PolicyVersion: policy, Reason: "reason " + actor, ComputedAt: repGenAt,
	}
	switch v {
	case model.VerdictVerified, model.VerdictStale:
		c.AssertionID, c.AssertionTS, c.AssertionAgeMS = fmt.Sprintf("okta-%d", i), ts.Add(-time.Minute), 60000
		c.Factor, c.AuthenticatorAAGUID, c.AuthenticatorModel = model.FactorWebAuthn, "cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"
	case model.VerdictInherited, model.VerdictUnattributed:
		c.Kind, c.Channel, c.Action, c.Privileged, c.Actor = model.KindRun, model.ChannelSystem, model.ActionRun, false, ""
		c.RunID = fmt.Sprintf("scheduled__%d", i)
		if v == model.VerdictInherited {
			c.InheritedFrom, c.InheritedVerdict = fmt.Sprintf("%s/%d", inst, 999+i), model.VerdictVerified
		} else {
			c.Person = ""
		}
	}
	return c
}

// seedHistory writes a correlated week: correlations under the current and an
// older policy (one re-written), auth events, key registrations and removals,
// Airflow events with event_log_ids 1..10 and 15..20 on prod, and cursors.
func seedHistory(t testing.TB, w *Warehouse) []model.Correlation {
	t.Helper()
	ctx := context.Background()
	verdicts := []model.Verdict{model.VerdictVerified, model.VerdictVerified, model.VerdictWeakFactor, model.VerdictStale,
		model.VerdictNoAssertion, model.VerdictUnknownIdentity, model.VerdictInherited, model.VerdictUnattributed, model.VerdictVerified}
	var cs []model.Correlation
	for i := 0; i < 60; i++ {
		inst := []string{"prod", "staging"}[i%2]
		ts := repFrom.Add(time.Duration(i) * 151 * time.Minute).Add(time.Duration(i%3) * time.Millisecond)
		cs = append(cs, correlation(i, ts, inst, verdicts[i%len(verdicts)], repPolicy))
	}
	// Same time, ids ordered by action_id; and edges of the period.
	tie := repFrom.Add(36 * time.Hour)
	cs = append(cs, correlation(100, tie, "prod", model.VerdictVerified, repPolicy), correlation(101, tie, "prod", model.VerdictStale, repPolicy))
	edgeIn := correlation(102, repFrom, "prod", model.VerdictVerified, repPolicy)
	edgeOut := correlation(103, repTo, "prod", model.VerdictVerified, repPolicy)
	before := correlation(104, repFrom.Add(-time.Millisecond), "prod", model.VerdictVerified, repPolicy)
	old := correlation(105, repFrom.Add(time.Hour), "prod", model.VerdictVerified, "policy-v1")
	cs = append(cs, edgeIn)
	require.NoError(t, store.Correlations.Write(ctx, w.S, append(append([]model.Correlation(nil), cs...), edgeOut, before, old)))
	// Re-write one row later with a different verdict: FINAL keeps the newer.
	changed := cs[0]
	changed.Verdict, changed.Reason = model.VerdictNoAssertion, "re-correlated"
	require.NoError(t, store.Correlations.Write(ctx, w.S, []model.Correlation{changed}))
	cs[0] = changed
	require.NoError(t, w.SetCurrentPolicy(ctx, repPolicy, repGenAt))

	hw := true
	require.NoError(t, store.Authenticators.Write(ctx, w.S, []model.Authenticator{
		{Source: model.SourceOkta, Instance: "acme.okta.com", EventID: "reg-1", TS: repFrom.AddDate(0, -1, 0), Person: "Zoë@example.com", Email: "zoe@acme", Action: model.AuthenticatorRegister, CredentialID: "cred-old", AAGUID: "cb69481e-8ff7-4039-93ec-0a2729a154a8", Model: "YubiKey 5 Series", Hardware: &hw},
		{Source: model.SourceOkta, Instance: "acme.okta.com", EventID: "reg-2", TS: repFrom.Add(2 * time.Hour), Person: "李雷@example.com", Email: "li@acme", Action: model.AuthenticatorRegister, CredentialID: "cred-new", AAGUID: "ee882879-721c-4913-9775-3dfcce97072a", Model: "YubiKey 5 NFC", Hardware: &hw},
		{Source: model.SourceOkta, Instance: "acme.okta.com", EventID: "rem-2", TS: repFrom.Add(50 * time.Hour), Person: "李雷@example.com", Email: "li@acme", Action: model.AuthenticatorRemove, CredentialID: "cred-new"},
		{Source: model.SourceEntra, Instance: "tenant", EventID: "reg-3", TS: repFrom.AddDate(0, -2, 0), Person: hostile[5], Action: model.AuthenticatorRegister, CredentialID: "cred-idle"},
	}))
	var evs []model.AuthEvent
	for i := 0; i < 5; i++ {
		evs = append(evs, model.AuthEvent{Source: model.SourceOkta, Instance: "acme.okta.com", EventID: fmt.Sprintf("ok-%d", i), TS: repFrom.Add(time.Duration(10+i) * time.Hour),
			Person: "Zoë@example.com", Subject: "00u1", Email: "zoe@acme", Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, Hardware: &hw, CredentialID: "cred-old"})
	}
	evs = append(evs,
		model.AuthEvent{Source: model.SourceOkta, Instance: "acme.okta.com", EventID: "ok-fail", TS: repFrom.Add(20 * time.Hour), Person: "Zoë@example.com", Subject: "00u1", Category: model.CategoryMFA, Outcome: model.OutcomeFailure, Factor: model.FactorWebAuthn, CredentialID: "cred-old"},
		model.AuthEvent{Source: model.SourceGoogle, Instance: "acme.example", EventID: "g-1", TS: repFrom.Add(30 * time.Hour), Person: "x@example.com", Category: model.CategoryLogin, Outcome: model.OutcomeSuccess, Factor: model.FactorPassword},
		model.AuthEvent{Source: model.SourceOkta, Instance: "acme.okta.com", EventID: "ok-late", TS: repTo.Add(time.Hour), Person: "Zoë@example.com", Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, CredentialID: "cred-old"},
	)
	require.NoError(t, store.AuthEvents.Write(ctx, w.S, evs))
	var af []model.AirflowEvent
	for id := int64(1); id <= 20; id++ {
		if id >= 11 && id <= 14 {
			continue
		}
		af = append(af, model.AirflowEvent{Instance: "prod", EventLogID: id, TS: repFrom.Add(time.Duration(id) * time.Hour), Event: "trigger", Channel: model.ChannelUI, Action: model.ActionTrigger, Human: true, Actor: hostile[int(id)%len(hostile)], MapIndex: -1})
	}
	for id := int64(500); id < 505; id++ {
		af = append(af, model.AirflowEvent{Instance: "staging", EventLogID: id, TS: repFrom.Add(time.Duration(id-400) * time.Hour), Event: "cli_task_run", Channel: model.ChannelCLI, MapIndex: -1})
	}
	require.NoError(t, store.AirflowEvents.Write(ctx, w.S, af))
	require.NoError(t, store.Cursors.Write(ctx, w.S, []model.Cursor{
		{Collector: "airflow/prod", Position: "event_log_id=20", UpdatedAt: repGenAt},
		{Collector: "okta/acme.okta.com", Position: "https://acme.okta.com/api/v1/logs?after=abc", UpdatedAt: repGenAt},
	}))
	return cs
}

func reportOptions(dirKey ed25519.PrivateKey) report.Options {
	return report.Options{From: repFrom, To: repTo, GeneratedAt: repGenAt, Organisation: "Acme — Zoë's team", SigningKey: dirKey, Seed: "s1", SampleSize: 25}
}

func sortedCorrelations(cs []model.Correlation, instance string) []model.Correlation {
	var out []model.Correlation
	for _, c := range cs {
		if !c.ActionTS.Before(repFrom) && c.ActionTS.Before(repTo) && (instance == "" || c.Instance == instance) {
			out = append(out, c)
		}
	}
	// insertion sort by (ts, id): small
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && (out[j].ActionTS.Before(out[j-1].ActionTS) || out[j].ActionTS.Equal(out[j-1].ActionTS) && out[j].ActionID < out[j-1].ActionID); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestReportSource(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seeded := seedHistory(t, w)
			src, err := w.ReportSource(ctx, "")
			require.NoError(t, err)
			require.Equal(t, repPolicy, src.PolicyVersion())
			q := report.Query{From: repFrom, To: repTo}

			for _, inst := range []string{"", "prod"} {
				want := sortedCorrelations(seeded, inst)
				var got []model.Correlation
				var progress [][2]int64
				src.Progress = func(done, total int64) { progress = append(progress, [2]int64{done, total}) }
				require.NoError(t, src.Correlations(ctx, report.Query{From: repFrom, To: repTo, Instance: inst}, func(c model.Correlation) error {
					got = append(got, c)
					return nil
				}))
				src.Progress = nil
				require.Len(t, got, len(want), "instance %q", inst)
				for i := range want {
					require.Equal(t, want[i].ActionID, got[i].ActionID, "row %d", i)
					require.Equal(t, want[i].Verdict, got[i].Verdict, "row %d", i)
					require.Equal(t, want[i].Actor, got[i].Actor, "row %d", i)
					require.True(t, want[i].ActionTS.Equal(got[i].ActionTS), "row %d", i)
				}
				require.NotEmpty(t, progress)
				last := progress[len(progress)-1]
				require.EqualValues(t, len(want), last[0], "progress ends at the rows read")
				require.GreaterOrEqual(t, last[1], last[0], "the estimate counts replaced copies too")
			}

			// fn's error stops the stream and comes back; a cancelled ctx too.
			stop := fmt.Errorf("stop")
			n := 0
			err = src.Correlations(ctx, q, func(model.Correlation) error { n++; return stop })
			require.ErrorIs(t, err, stop)
			require.Equal(t, 1, n)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			require.ErrorIs(t, src.Correlations(cctx, q, func(model.Correlation) error { return nil }), context.Canceled)
			_, err = src.Coverage(cctx, q)
			require.ErrorIs(t, err, context.Canceled)

			var auths []report.AuthenticatorRow
			require.NoError(t, src.Authenticators(ctx, q, func(a report.AuthenticatorRow) error { auths = append(auths, a); return nil }))
			require.Len(t, auths, 2, "%+v", auths) // cred-idle was neither registered, removed nor used in the period
			zoe, li := auths[0], auths[1]
			if zoe.CredentialID != "cred-old" {
				zoe, li = li, zoe
			}
			require.Equal(t, "cred-old", zoe.CredentialID)
			require.EqualValues(t, 5, zoe.Uses)
			require.Equal(t, "Zoë@example.com", zoe.Person)
			require.Equal(t, "YubiKey 5 Series", zoe.Model)
			require.True(t, *zoe.Hardware)
			require.Nil(t, zoe.BackupEligible)
			require.True(t, zoe.RegisteredAt.Equal(repFrom.AddDate(0, -1, 0)))
			require.True(t, zoe.FirstUsedAt.Equal(repFrom.Add(10*time.Hour)))
			require.True(t, zoe.LastUsedAt.Equal(repFrom.Add(14*time.Hour)))
			require.True(t, zoe.RemovedAt.IsZero())
			require.Equal(t, "cred-new", li.CredentialID)
			require.Zero(t, li.Uses)
			require.True(t, li.FirstUsedAt.IsZero())
			require.True(t, li.RemovedAt.Equal(repFrom.Add(50*time.Hour)))
			require.Equal(t, "ee882879-721c-4913-9775-3dfcce97072a", li.AAGUID)
			require.Less(t, auths[0].Person, auths[1].Person) // ordered by person

			cov, err := src.Coverage(ctx, q)
			require.NoError(t, err)
			byKey := map[string]model.SourceCoverage{}
			var keys []string
			for _, c := range cov {
				keys = append(keys, CollectorName(c.Source, c.Instance))
				byKey[CollectorName(c.Source, c.Instance)] = c
			}
			require.Equal(t, []string{"airflow/prod", "airflow/staging", "google/acme.example", "okta/acme.okta.com"}, keys)
			p := byKey["airflow/prod"]
			require.EqualValues(t, 16, p.Events)
			require.Equal(t, []model.IDRange{{From: 1, To: 10}, {From: 15, To: 20}}, p.IDRanges)
			require.Equal(t, []model.IDRange{{From: 11, To: 14}}, p.IDGaps)
			require.Equal(t, "event_log_id=20", p.Cursor)
			require.True(t, p.First.Equal(repFrom.Add(time.Hour)))
			require.True(t, p.Last.Equal(repFrom.Add(20*time.Hour)))
			s := byKey["airflow/staging"]
			require.Equal(t, []model.IDRange{{From: 500, To: 504}}, s.IDRanges)
			require.Empty(t, s.IDGaps)
			require.EqualValues(t, 8, byKey["okta/acme.okta.com"].Events) // 6 auth events + registration + removal in the period
			require.Equal(t, "https://acme.okta.com/api/v1/logs?after=abc", byKey["okta/acme.okta.com"].Cursor)

			// Small stream windows bisect down to listing ids: same answer.
			src.IDStreamWindow = 2
			cov2, err := src.Coverage(ctx, q)
			require.NoError(t, err)
			require.Equal(t, cov, cov2)

			cov, err = src.Coverage(ctx, report.Query{From: repFrom, To: repTo, Instance: "staging"})
			require.NoError(t, err)
			for _, c := range cov {
				require.NotEqual(t, "prod", c.Instance, "instance scopes Airflow coverage")
			}

			qs := src.Queries(q)
			names := map[string]bool{}
			for _, mq := range qs {
				names[mq.Name] = true
				require.NotEmpty(t, mq.SQL)
				require.NotContains(t, mq.SQL, "{{")
			}
			for _, n := range []string{report.QueryCorrelations, report.QueryAuthenticators, report.QueryCoverage} {
				require.True(t, names[n], n)
			}
			require.Equal(t, qs, src.Queries(q), "stable")
		})
	}
}

// requireEngines is true when a missing tool must fail the test (CI).
func requireEngines() bool {
	return os.Getenv("CI") == "true" || os.Getenv("KEYTRAIL_REQUIRE_ENGINES") == "1"
}

func pdfText(t testing.TB, path string) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if requireEngines() {
			t.Fatalf("pdftotext (Debian poppler-utils) is required (CI or KEYTRAIL_REQUIRE_ENGINES=1): %v", err)
		}
		t.Skipf("pdftotext not installed: %v", err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", path, "-").CombinedOutput()
	require.NoError(t, err, "pdftotext: %s", out)
	return string(out)
}

var spaces = regexp.MustCompile(`\s+`)

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return recs
}

var reportSections = []string{"Executive summary", "Control mapping", "Daily verification", "Exceptions", "Authenticator inventory", "Completeness", "Sampling", "Methodology", "Signing key"}

func TestReportPack(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seeded := seedHistory(t, w)
			want := len(sortedCorrelations(seeded, ""))
			dir := t.TempDir()
			m, err := w.Report(ctx, reportOptions(repKey), dir, nil)
			require.NoError(t, err)
			require.Equal(t, repPolicy, m.PolicyVersion)

			recs := readCSV(t, filepath.Join(dir, report.FilePopulationCSV))
			require.Equal(t, 1+want, len(recs))
			var rows int64
			for _, q := range m.Queries {
				if q.Name == report.QueryCorrelations {
					rows = q.Rows
				}
			}
			require.EqualValues(t, len(recs)-1, rows)

			// The PDF: every section, and the numbers of population.csv.
			text := pdfText(t, filepath.Join(dir, report.FilePDF))
			ft := spaces.ReplaceAllString(text, " ")
			for _, s := range reportSections {
				require.Contains(t, text, s)
			}
			col := map[string]int{}
			for i, h := range recs[0] {
				col[h] = i
			}
			var human, humanOK, runs int
			for _, r := range recs[1:] {
				if r[col["action"]] == string(model.ActionRun) {
					runs++
					continue
				}
				human++
				if r[col["verdict"]] == "verified" {
					humanOK++
				}
			}
			require.Contains(t, ft, fmt.Sprintf("In the period, %d actions were in scope: %d human actions (UI, API, CLI) and %d DAG runs.", len(recs)-1, human, runs))
			require.Contains(t, ft, "Human actions verified with a hardware security key: "+report.Share{Count: int64(humanOK), Of: int64(human)}.String())
			exc := readCSV(t, filepath.Join(dir, report.FileExceptions))
			require.Contains(t, ft, fmt.Sprintf("%d actions are exceptions", len(exc)-1))
			require.Contains(t, ft, "11–14") // the gap, in Completeness
			require.Contains(t, text, "李雷")
			require.Contains(t, text, "Łukasz")
			require.Contains(t, ft, report.Fingerprint(repKey.Public().(ed25519.PublicKey)))

			// Hostile strings survive into the population exactly.
			jl, err := os.ReadFile(filepath.Join(dir, report.FilePopulationJSONL))
			require.NoError(t, err)
			require.Contains(t, string(jl), strings.Repeat("Ł", 10000))
			require.Contains(t, string(jl), `emoji 😀🔑👩‍💻`)

			// Recorded in the reports table.
			recsDB, err := store.Reports.All(ctx, w.S, "WHERE report_id = ?", m.ReportID)
			require.NoError(t, err)
			require.Len(t, recsDB, 1)
			body, err := os.ReadFile(filepath.Join(dir, report.FileManifest))
			require.NoError(t, err)
			require.Equal(t, string(body), recsDB[0].Manifest)

			// Verify passes, with the key and against the store.
			res, notes, err := w.VerifyReport(ctx, dir, []ed25519.PublicKey{repKey.Public().(ed25519.PublicKey)})
			require.NoError(t, err)
			require.NoError(t, res.Err())
			require.Empty(t, notes)
			require.EqualValues(t, want, res.RowsChecked)

			// Same store, same options: identical files.
			dir2 := t.TempDir()
			_, err = w.Report(ctx, reportOptions(repKey), dir2, nil)
			require.NoError(t, err)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			for _, e := range entries {
				a, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				b, err := os.ReadFile(filepath.Join(dir2, e.Name()))
				require.NoError(t, err)
				require.True(t, bytes.Equal(a, b), "%s differs between runs", e.Name())
			}

			// A collector moving on is a note, not a mismatch.
			require.NoError(t, store.Cursors.Write(ctx, w.S, []model.Cursor{{Collector: "airflow/prod", Position: "event_log_id=99", UpdatedAt: repGenAt}}))
			res, notes, err = w.VerifyReport(ctx, dir, []ed25519.PublicKey{repKey.Public().(ed25519.PublicKey)})
			require.NoError(t, err)
			require.NoError(t, res.Err())
			require.Len(t, notes, 1)
			require.Contains(t, notes[0], "airflow/prod")
		})
	}
}

func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
	return dst
}

func TestReportTamper(t *testing.T) {
	ctx := context.Background()
	pub := []ed25519.PublicKey{repKey.Public().(ed25519.PublicKey)}
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seeded := seedHistory(t, w)
			dir := t.TempDir()
			_, err := w.Report(ctx, reportOptions(repKey), dir, nil)
			require.NoError(t, err)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 8)
			for _, e := range entries {
				t.Run("byte of "+e.Name(), func(t *testing.T) {
					d := copyDir(t, dir)
					p := filepath.Join(d, e.Name())
					b, err := os.ReadFile(p)
					require.NoError(t, err)
					b[len(b)/2] ^= 0x01
					require.NoError(t, os.WriteFile(p, b, 0o644))
					res, _, err := w.VerifyReport(ctx, d, pub)
					require.NoError(t, err)
					require.ErrorIs(t, res.Err(), report.ErrMismatch)
					require.Contains(t, res.Err().Error(), e.Name())
				})
			}
			t.Run("other key", func(t *testing.T) {
				other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
				res, _, err := w.VerifyReport(ctx, dir, []ed25519.PublicKey{other.Public().(ed25519.PublicKey)})
				require.NoError(t, err)
				require.ErrorIs(t, res.Err(), report.ErrMismatch)
			})
			t.Run("store row", func(t *testing.T) {
				c := seeded[7]
				c.Verdict = model.VerdictVerified
				c.Reason = "tampered"
				require.NoError(t, store.Correlations.Write(ctx, w.S, []model.Correlation{c}))
				res, _, err := w.VerifyReport(ctx, dir, pub)
				require.NoError(t, err)
				require.ErrorIs(t, res.Err(), report.ErrMismatch)
				require.Contains(t, res.Err().Error(), c.ActionID)
			})
			t.Run("store gap", func(t *testing.T) {
				require.NoError(t, store.AirflowEvents.Write(ctx, w.S, []model.AirflowEvent{{Instance: "prod", EventLogID: 12, TS: repFrom.Add(12 * time.Hour), MapIndex: -1}}))
				res, _, err := w.VerifyReport(ctx, dir, pub)
				require.NoError(t, err)
				require.ErrorIs(t, res.Err(), report.ErrMismatch)
				found := false
				for _, d := range res.Differences {
					found = found || strings.Contains(d.Detail, "coverage differs")
				}
				require.True(t, found, "%v", res.Differences)
			})
		})
	}
}

func TestReportEmptyPeriod(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			// Nothing correlated at all: a valid, signed pack that says so.
			dir := t.TempDir()
			m, err := w.Report(ctx, reportOptions(repKey), dir, nil)
			require.NoError(t, err)
			require.Empty(t, m.Coverage)
			require.Contains(t, spaces.ReplaceAllString(pdfText(t, filepath.Join(dir, report.FilePDF)), " "), "No actions in this period")
			res, _, err := w.VerifyReport(ctx, dir, []ed25519.PublicKey{repKey.Public().(ed25519.PublicKey)})
			require.NoError(t, err)
			require.NoError(t, res.Err())
			require.Len(t, readCSV(t, filepath.Join(dir, report.FilePopulationCSV)), 1)
		})
	}
}

// TestVerifyManifestWithoutPeriod: a manifest whose period key is damaged is
// a difference, never an engine error (18.16 binds a zero time as NULL).
func TestVerifyManifestWithoutPeriod(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seedHistory(t, w)
			dir := t.TempDir()
			_, err := w.Report(ctx, reportOptions(repKey), dir, nil)
			require.NoError(t, err)
			for _, key := range []string{`"period_from"`, `"period_to"`} {
				d := copyDir(t, dir)
				p := filepath.Join(d, report.FileManifest)
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				i := bytes.Index(b, []byte(key))
				require.Positive(t, i)
				b[i+3] ^= 0x01
				require.NoError(t, os.WriteFile(p, b, 0o644))
				res, _, err := w.VerifyReport(ctx, d, []ed25519.PublicKey{repKey.Public().(ed25519.PublicKey)})
				require.NoError(t, err, key)
				require.ErrorContains(t, res.Err(), "names no valid period", key)
			}
		})
	}
}
