package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

// pdfText extracts the text of a PDF with pdftotext. Without poppler-utils the
// test skips locally and fails in CI.
func pdfText(tb testing.TB, path string) string {
	tb.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("pdftotext (Debian poppler-utils) is required in CI: %v", err)
		}
		tb.Skipf("pdftotext not installed: %v", err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", path, "-").CombinedOutput()
	require.NoError(tb, err, "pdftotext: %s", out)
	return string(out)
}

// requireHas checks that text contains sub without dumping the whole text.
func requireHas(tb testing.TB, text, sub string) {
	tb.Helper()
	if !strings.Contains(text, sub) {
		tb.Fatalf("PDF text (%d bytes) lacks %q", len(text), sub)
	}
}

var spaces = regexp.MustCompile(`\s+`)

// flat collapses whitespace so phrases wrapped across lines still match.
func flat(s string) string { return spaces.ReplaceAllString(s, " ") }

func readCSV(tb testing.TB, path string) [][]string {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(tb, err)
	return recs
}

func TestPDFMatchesPopulation(t *testing.T) {
	dir, _ := writeFixture(t, fixtureSource(), testOptions())
	text := pdfText(t, filepath.Join(dir, FilePDF))
	ft := flat(text)
	for _, title := range sectionTitles {
		requireHas(t, text, title)
	}
	for _, name := range []string{"Łukasz", "李雷", "Zoë"} {
		requireHas(t, text, name)
	}

	// Recount the summary from population.csv alone.
	recs := readCSV(t, filepath.Join(dir, FilePopulationCSV))
	require.Equal(t, PopulationHeader, recs[0])
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var human, humanOK, priv, privOK, runs, runsAttr int
	verdicts := map[string][3]int{}
	for _, r := range recs[1:] {
		v := r[col["verdict"]]
		if r[col["action"]] == string(model.ActionRun) {
			runs++
			if v != string(model.VerdictUnattributed) && v != string(model.VerdictUnknownIdentity) {
				runsAttr++
			}
			continue
		}
		human++
		if v == "verified" {
			humanOK++
		}
		if r[col["privileged"]] == "true" {
			priv++
			if v == "verified" {
				privOK++
			}
		}
	}
	_ = verdicts
	share := func(a, b int) string { return Share{Count: int64(a), Of: int64(b)}.String() }
	requireHas(t, ft, fmt.Sprintf("In the period, %d actions were in scope: %d human actions (UI, API, CLI) and %d DAG runs.", len(recs)-1, human, runs))
	requireHas(t, ft, "Human actions verified with a hardware security key: "+share(humanOK, human))
	requireHas(t, ft, "Privileged actions verified: "+share(privOK, priv))
	requireHas(t, ft, "DAG runs attributed to a person: "+share(runsAttr, runs))
	exc := readCSV(t, filepath.Join(dir, FileExceptions))
	requireHas(t, ft, fmt.Sprintf("%d actions are exceptions and are listed in exceptions.csv", len(exc)-1))
	auth := readCSV(t, filepath.Join(dir, FileAuthenticators))
	requireHas(t, ft, fmt.Sprintf("%d credentials were registered, removed or used in the period", len(auth)-1))

	// The cover carries the data digest, recomputable from the files.
	var b strings.Builder
	for _, n := range []string{FileAuthenticators, FileExceptions, FilePopulationCSV, FilePopulationJSONL, FileSample} {
		body, err := os.ReadFile(filepath.Join(dir, n))
		require.NoError(t, err)
		fmt.Fprintf(&b, "%s  %s\n", model.SHA256Hex(body), n)
	}
	requireHas(t, ft, model.SHA256Hex([]byte(b.String())))
	requireHas(t, ft, Fingerprint(testKey.Public().(ed25519.PublicKey)))
	require.Regexp(t, `Page 1 of \d+`, text)
}

func TestEmptyPeriod(t *testing.T) {
	dir, s := writeFixture(t, &memSource{}, testOptions())
	require.Zero(t, s.Actions)
	text := pdfText(t, filepath.Join(dir, FilePDF))
	requireHas(t, flat(text), EmptyPeriodNote)
	requireHas(t, text, "No actions in this period")
	for _, title := range sectionTitles {
		requireHas(t, text, title)
	}
	recs := readCSV(t, filepath.Join(dir, FilePopulationCSV))
	require.Len(t, recs, 1)
	r, err := Verify(dir, []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)})
	require.NoError(t, err)
	require.NoError(t, r.Err())
	if info, err := exec.LookPath("pdfinfo"); err == nil {
		out, err := exec.Command(info, filepath.Join(dir, FilePDF)).CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.NotContains(t, string(out), "Syntax Error")
	}
}

func TestHostileStringsRender(t *testing.T) {
	src := fixtureSource()
	for i, h := range hostileStrings {
		c := &src.rows[i*7]
		c.Actor, c.Person, c.DagID, c.Reason, c.RunID = h, h, h, h, h
		c.Verdict, c.AssertionTS, c.AssertionID = model.VerdictNoAssertion, time.Time{}, ""
		src.auths = append(src.auths, AuthenticatorRow{Person: h, Source: model.SourceKeycloak, Model: h, AAGUID: h, Uses: 1})
		src.cov = append(src.cov, model.SourceCoverage{Source: model.SourceAirflow, Instance: h, Cursor: h, Events: 1})
	}
	opts := testOptions()
	opts.Organisation = strings.Repeat("组织 ", 3000)
	opts.PolicyText = strings.Join(hostileStrings, "\n")
	dir, _ := writeFixture(t, src, opts)
	text := pdfText(t, filepath.Join(dir, FilePDF))
	requireHas(t, text, "李雷")
	requireHas(t, text, "ש") // RTL runs print in logical order; pdftotext reorders them
	require.False(t, strings.Contains(text, "\x1b"), "escape character reached the PDF")
	requireHas(t, text, "Page 1 of ")
	r, err := VerifyWithSource(context.Background(), dir, []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}, src)
	require.NoError(t, err)
	require.NoError(t, r.Err())

	// The JSONL keeps the exact values (invalid UTF-8 aside) and stays valid JSON.
	body, err := os.ReadFile(filepath.Join(dir, FilePopulationJSONL))
	require.NoError(t, err)
	found := false
	for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), "%s", line)
		if m["actor"] == hostileStrings[3] {
			found = true
		}
	}
	require.True(t, found, "10 000-character actor kept whole in JSONL")
	// The CSV guards the formula.
	recs := readCSV(t, filepath.Join(dir, FilePopulationCSV))
	require.Equal(t, "'"+hostileStrings[6], recs[1+6*7][8])
}

func TestDeterministic(t *testing.T) {
	a, _ := writeFixture(t, fixtureSource(), testOptions())
	b, _ := writeFixture(t, fixtureSource(), testOptions())
	names := []string{FilePopulationCSV, FilePopulationJSONL, FileExceptions, FileAuthenticators, FileSample, FilePDF, FileManifest, FileSignature}
	for _, n := range names {
		x, err := os.ReadFile(filepath.Join(a, n))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, n))
		require.NoError(t, err)
		require.True(t, bytes.Equal(x, y), "%s differs between two runs", n)
	}
	entries, err := os.ReadDir(a)
	require.NoError(t, err)
	require.Len(t, entries, len(names))

	opts := testOptions()
	opts.GeneratedAt = opts.GeneratedAt.Add(time.Second)
	c, _ := writeFixture(t, fixtureSource(), opts)
	x, _ := os.ReadFile(filepath.Join(a, FilePopulationCSV))
	y, _ := os.ReadFile(filepath.Join(c, FilePopulationCSV))
	require.Equal(t, x, y, "data files do not depend on the generation time")
}

func TestVerifyDetectsTampering(t *testing.T) {
	pub := []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}
	src := fixtureSource()
	dir, _ := writeFixture(t, src, testOptions())
	r, err := VerifyWithSource(context.Background(), dir, pub, src)
	require.NoError(t, err)
	require.NoError(t, r.Err())
	require.True(t, r.Authenticated)
	require.Equal(t, int64(len(src.rows)), r.RowsChecked)
	require.Equal(t, 6, r.FilesChecked)
	r, err = Verify(dir, nil)
	require.NoError(t, err)
	require.False(t, r.OK, "no trusted key: intact, but the signer is not authenticated")
	require.Empty(t, r.Differences)
	require.ErrorIs(t, r.Err(), ErrUnauthenticated)

	copyPack := func(t *testing.T) string {
		dst := t.TempDir()
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
		}
		return dst
	}
	files := []string{FilePopulationCSV, FilePopulationJSONL, FileExceptions, FileAuthenticators, FileSample, FilePDF, FileManifest, FileSignature}
	for _, name := range files {
		for _, where := range []string{"first", "middle", "last"} {
			t.Run(name+"/"+where, func(t *testing.T) {
				d := copyPack(t)
				p := filepath.Join(d, name)
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				i := map[string]int{"first": 0, "middle": len(b) / 2, "last": len(b) - 1}[where]
				b[i] ^= 0x01
				require.NoError(t, os.WriteFile(p, b, 0o644))
				for _, key := range [][]ed25519.PublicKey{pub, nil} {
					r, err := Verify(d, key)
					require.NoError(t, err)
					require.False(t, r.OK)
					require.ErrorIs(t, r.Err(), ErrMismatch)
					if name != FileManifest {
						require.Equal(t, name, r.Differences[0].File, "first difference names the file: %v", r.Differences)
					}
				}
			})
		}
	}
	t.Run("wrong key", func(t *testing.T) {
		other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey)
		r, err := Verify(dir, []ed25519.PublicKey{other})
		require.NoError(t, err)
		require.False(t, r.OK)
	})
	t.Run("re-signed by another key", func(t *testing.T) {
		d := copyPack(t)
		other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
		body, err := os.ReadFile(filepath.Join(d, FileManifest))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(d, FileSignature), ed25519.Sign(other, body), 0o644))
		r, err := Verify(d, pub)
		require.NoError(t, err)
		require.False(t, r.OK)
	})
	t.Run("file removed", func(t *testing.T) {
		d := copyPack(t)
		require.NoError(t, os.Remove(filepath.Join(d, FileSample)))
		r, err := Verify(d, pub)
		require.NoError(t, err)
		require.False(t, r.OK)
		require.Equal(t, FileSample, r.Differences[0].File)
	})
	t.Run("unlisted file", func(t *testing.T) {
		d := copyPack(t)
		require.NoError(t, os.WriteFile(filepath.Join(d, "notes.txt"), []byte("auditor notes"), 0o644))
		r, err := Verify(d, pub)
		require.NoError(t, err)
		require.False(t, r.OK)
		require.Equal(t, "notes.txt", r.Differences[0].File)
	})

	store := func(mut func(s *memSource)) *memSource {
		s := fixtureSource()
		mut(s)
		return s
	}
	for _, tc := range []struct {
		name string
		src  *memSource
		want string
	}{
		{"verdict changed", store(func(s *memSource) { s.rows[10].Verdict = model.VerdictUnattributed }), `row 11 (action_id "prod/00000010"): field verdict`},
		{"row added", store(func(s *memSource) { s.rows = append(s.rows, fixtureRow(9999, t0.AddDate(0, 0, 13))) }), "is in the store but not in the pack"},
		{"row removed", store(func(s *memSource) { s.rows = s.rows[:len(s.rows)-1] }), "is in the pack but not in the store"},
		{"key model changed", store(func(s *memSource) { s.auths[0].Model = "YubiKey Bio" }), FileAuthenticators},
		{"gap appeared", store(func(s *memSource) { s.cov[1].IDGaps = []model.IDRange{{From: 5, To: 5}} }), "coverage differs"},
	} {
		t.Run("store/"+tc.name, func(t *testing.T) {
			r, err := VerifyWithSource(context.Background(), dir, pub, tc.src)
			require.NoError(t, err)
			require.False(t, r.OK)
			require.Contains(t, r.Err().Error(), tc.want)
		})
	}
}

func TestSampleReproducible(t *testing.T) {
	for _, n := range SampleSizes {
		opts := testOptions()
		opts.SampleSize = n
		dir, _ := writeFixture(t, fixtureSource(), opts)
		// Re-draw from population.csv with the documented algorithm.
		pop := readCSV(t, filepath.Join(dir, FilePopulationCSV))[1:]
		type kr struct{ key, id string }
		var all []kr
		for _, r := range pop {
			all = append(all, kr{SampleKey(opts.Seed, r[0]), r[0]})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].key < all[j].key })
		sample := readCSV(t, filepath.Join(dir, FileSample))
		require.Equal(t, sampleHeader, sample[0])
		require.Len(t, sample, n+1)
		for i, r := range sample[1:] {
			require.Equal(t, strconv.Itoa(i+1), r[0])
			require.Equal(t, all[i].key, r[1])
			require.Equal(t, all[i].id, r[2])
		}
	}
	opts := testOptions()
	opts.SampleSize = 30
	require.ErrorContains(t, opts.Validate(), "sample size 30")
}

func TestSummaryGolden(t *testing.T) {
	_, s := writeFixture(t, fixtureSource(), testOptions())
	got, err := json.MarshalIndent(s, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "summary.golden.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./report -run TestSummaryGolden -update")
	require.Equal(t, string(want), string(got))
	require.Len(t, s.Controls, 15)
}

func TestManifest(t *testing.T) {
	src := fixtureSource()
	dir := t.TempDir()
	m, err := Write(context.Background(), src, testOptions(), dir)
	require.NoError(t, err)
	body, err := os.ReadFile(filepath.Join(dir, FileManifest))
	require.NoError(t, err)
	canon, err := CanonicalManifest(m)
	require.NoError(t, err)
	require.Equal(t, string(canon), string(body))

	var generic map[string]any
	require.NoError(t, json.Unmarshal(body, &generic))
	for _, k := range []string{"report_id", "period_from", "period_to", "scope", "keytrail_version", "policy_version", "queries", "coverage", "files", "data_digest", "sample", "public_key"} {
		require.Contains(t, generic, k)
	}
	require.Equal(t, "2026-01-01T00:00:00Z", generic["period_from"])
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{FileAuthenticators, FilePDF, FileExceptions, FilePopulationCSV, FilePopulationJSONL, FileSample}, names)
	require.Equal(t, int64(len(src.rows)), m.Queries[0].Rows)
	require.Equal(t, model.SHA256Hex([]byte(m.Queries[0].SQL)), m.Queries[0].SHA256)
	require.Equal(t, []model.IDRange{{From: 4001, To: 4002}}, m.Coverage[0].IDGaps)
	// Keys are sorted at every level.
	require.Less(t, bytes.Index(body, []byte(`"coverage"`)), bytes.Index(body, []byte(`"data_digest"`)))
	require.Less(t, bytes.Index(body, []byte(`"bytes"`)), bytes.Index(body, []byte(`"name"`)))
	sig, err := os.ReadFile(filepath.Join(dir, FileSignature))
	require.NoError(t, err)
	require.True(t, ed25519.Verify(testKey.Public().(ed25519.PublicKey), body, sig))
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.pem")
	pub, err := GenerateKey(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	priv, err := LoadPrivateKey(path)
	require.NoError(t, err)
	require.Equal(t, pub, priv.Public())
	_, err = GenerateKey(path)
	require.Error(t, err, "never overwrites a key")

	seedPath := filepath.Join(dir, "seed.b64")
	require.NoError(t, os.WriteFile(seedPath, []byte(base64.StdEncoding.EncodeToString(testSeed)+"\n"), 0o600))
	priv, err = LoadPrivateKey(seedPath)
	require.NoError(t, err)
	require.Equal(t, testKey, priv)

	got, err := ParsePublicKey([]byte(PublicKeyPEM(pub)))
	require.NoError(t, err)
	require.Equal(t, pub, got)
	got, err = ParsePublicKey([]byte(base64.StdEncoding.EncodeToString(pub)))
	require.NoError(t, err)
	require.Equal(t, pub, got)

	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("short")), "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"} {
		_, err := ParsePrivateKey([]byte(bad))
		require.ErrorIs(t, err, ErrKeyFormat, "%q", bad)
	}
	require.Regexp(t, `^SHA256:[0-9a-f]{64}$`, Fingerprint(pub))
}

func TestPopulationFormat(t *testing.T) {
	c := model.Correlation{
		ActionID: "prod/42", ActionTS: time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("x", 3600)),
		Instance: "prod", Channel: model.ChannelUI, Action: model.ActionTrigger, Privileged: true,
		DagID: "etl", Actor: "okta_1", Person: "p@x", Verdict: model.VerdictVerified,
		AssertionID: "a1", AssertionTS: time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC), AssertionAgeMS: -500,
		Factor: model.FactorWebAuthn, PolicyVersion: "v1", Reason: "line\nbreak \"quoted\" \u2028",
	}
	col := func(name string) int {
		i := slices.Index(PopulationHeader, name)
		require.GreaterOrEqual(t, i, 0, name)
		return i
	}
	rec := AppendCSVRecord(nil, c)
	require.Len(t, rec, len(PopulationHeader))
	require.Equal(t, "2026-01-02T02:04:05.678Z", rec[col("action_ts")])
	require.Equal(t, "2026-01-02T02:00:00.000Z", rec[col("assertion_ts")])
	require.Equal(t, "-0.500", rec[col("assertion_age_s")])
	line := AppendJSONRow(nil, c)
	var m map[string]any
	require.NoError(t, json.Unmarshal(line, &m))
	require.Len(t, m, len(PopulationHeader))
	require.Equal(t, -0.5, m["assertion_age_s"])
	require.Equal(t, true, m["privileged"])
	require.Equal(t, c.Reason, m["reason"])
	// Keys in header order.
	last := -1
	for _, h := range PopulationHeader {
		i := bytes.Index(line, []byte(`"`+h+`":`))
		require.Greater(t, i, last, h)
		last = i
	}
	c.AssertionTS, c.AssertionAgeMS = time.Time{}, 0
	require.NoError(t, json.Unmarshal(AppendJSONRow(nil, c), &m))
	require.Nil(t, m["assertion_age_s"])
	require.Nil(t, m["assertion_ts"])
	require.Equal(t, "", AppendCSVRecord(nil, c)[col("assertion_age_s")])

	// The links of runs: a manual run names its trigger, an inherited run its
	// enabling action and that action's verdict.
	for _, tc := range []struct {
		c                           model.Correlation
		verdict, trigger, from, inh string
	}{
		{model.Correlation{Kind: model.KindRun, Verdict: model.VerdictWeakFactor, TriggerActionID: "prod:7"}, "weak_factor", "prod:7", "", ""},
		{model.Correlation{Kind: model.KindRun, Verdict: model.VerdictInherited, InheritedFrom: "prod:3", InheritedVerdict: model.VerdictStale}, "inherited", "", "prod:3", "stale"},
		{model.Correlation{Kind: model.KindRun, Verdict: model.VerdictUnattributed}, "unattributed", "", "", ""},
	} {
		rec := AppendCSVRecord(nil, tc.c)
		require.Equal(t, []string{tc.verdict, tc.trigger, tc.from, tc.inh},
			[]string{rec[col("verdict")], rec[col("trigger_action_id")], rec[col("inherited_from")], rec[col("inherited_verdict")]})
		var m map[string]any
		require.NoError(t, json.Unmarshal(AppendJSONRow(nil, tc.c), &m))
		require.Equal(t, tc.trigger, m["trigger_action_id"])
		require.Equal(t, tc.inh, m["inherited_verdict"])
	}
	for _, tm := range []time.Time{time.Date(1, 1, 1, 0, 0, 0, 1e6, time.UTC), time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)} {
		require.Equal(t, tm.UTC().Format(TimeFormat), FormatTime(tm))
	}
	require.Equal(t, "12.345", formatAge(12345))
	require.Equal(t, "0.007", formatAge(7))

	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	require.NoError(t, WriteCSVRow(w, c))
	w.Flush()
	require.NoError(t, WriteJSONRow(&buf, c))
}

func TestOptionsValidate(t *testing.T) {
	err := Options{}.Validate()
	require.ErrorContains(t, err, "period from and to are required")
	require.ErrorContains(t, err, "signing key is required")
	o := testOptions()
	o.To = o.From
	require.ErrorContains(t, o.Validate(), "not after its start")
	require.NoError(t, testOptions().Validate())
	_, err = Write(context.Background(), &memSource{}, Options{}, t.TempDir())
	require.Error(t, err)
}

func TestSourceErrorStopsWrite(t *testing.T) {
	boom := fmt.Errorf("store gone")
	src := &memSource{gen: func(i int) model.Correlation {
		return fixtureRow(i, t0.Add(time.Duration(i)*time.Second))
	}, n: 1000}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	_, err := Write(ctx, src, testOptions(), dir)
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(filepath.Join(dir, FileSignature))
	require.ErrorIs(t, err, os.ErrNotExist, "a failed pack is never signed")
	_ = boom
}
