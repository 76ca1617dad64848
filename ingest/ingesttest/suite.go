package ingesttest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// Suite is the conformance suite every identity-provider normalizer passes:
// golden files over testdata, 10 MB inputs, the fuzz contract and the
// benchmark beside its JSON peer. Each source's tests wire it up once.
type Suite struct {
	// New returns the normalizer under test.
	New func() ingest.Normalizer
	// ReID returns a copy of an accepted record with an id derived from i.
	ReID func(t testing.TB, raw []byte, i int) []byte
	// Update, when set and true, rewrites golden files instead of comparing.
	Update *bool
}

// GoldenAuth is the JSON view of an AuthEvent in golden files, with the field
// names `keytrail events --kind auth` uses.
type GoldenAuth struct {
	Source       string   `json:"source"`
	Instance     string   `json:"instance"`
	EventID      string   `json:"event_id"`
	TS           string   `json:"ts"`
	Person       string   `json:"person"`
	Subject      string   `json:"subject"`
	Email        string   `json:"email"`
	Principal    string   `json:"principal,omitempty"` // set only for non-human principals
	EventType    string   `json:"event_type"`
	Category     string   `json:"category"`
	Outcome      string   `json:"outcome"`
	Factor       string   `json:"factor"`
	Hardware     *bool    `json:"hardware"`
	AAGUID       string   `json:"aaguid"`
	CredentialID string   `json:"credential_id"`
	App          string   `json:"app"`
	SessionID    string   `json:"session_id"`
	IP           string   `json:"ip"`
	Detail       string   `json:"detail,omitempty"`
	Methods      []string `json:"methods,omitempty"`
}

// GoldenAuthenticator is the JSON view of an Authenticator in golden files.
type GoldenAuthenticator struct {
	EventID        string `json:"event_id"`
	TS             string `json:"ts"`
	Subject        string `json:"subject"`
	Email          string `json:"email"`
	Action         string `json:"action"`
	CredentialID   string `json:"credential_id"`
	AAGUID         string `json:"aaguid"`
	Model          string `json:"model"`
	Factor         string `json:"factor,omitempty"`
	Hardware       *bool  `json:"hardware"`
	BackupEligible *bool  `json:"backup_eligible"`
}

// GoldenResult is what one record of a fixture normalized to.
type GoldenResult struct {
	Offset         int64                 `json:"offset"`
	Error          string                `json:"error,omitempty"`
	EventID        string                `json:"event_id,omitempty"`
	Duplicate      bool                  `json:"duplicate,omitempty"`
	RawSHA256      string                `json:"raw_sha256,omitempty"`
	Auth           []GoldenAuth          `json:"auth,omitempty"`
	Authenticators []GoldenAuthenticator `json:"authenticators,omitempty"`
}

// TS formats t the way golden files and `keytrail events` print times.
func TS(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// CheckOutput asserts the Normalizer contract on one accepted record.
func CheckOutput(t testing.TB, raw []byte, o ingest.Output) {
	t.Helper()
	require.NotEmpty(t, o.Raw.EventID)
	require.False(t, o.Raw.TS.IsZero())
	require.Equal(t, time.UTC, o.Raw.TS.Location())
	require.Equal(t, o.Raw.TS, model.Millis(o.Raw.TS))
	require.Equal(t, raw, o.Raw.Raw)
	require.Equal(t, model.SHA256Hex(raw), o.Raw.SHA256)
	for _, a := range o.Auth {
		require.NotEmpty(t, a.EventID)
		require.False(t, a.TS.IsZero())
		require.Empty(t, a.Person, "identity resolution is not the normalizer's job")
		require.NotEmpty(t, a.Category)
		require.NotEmpty(t, a.Outcome)
		require.Contains(t, model.Factors, a.Factor)
		require.Contains(t, []model.Principal{"", model.PrincipalUser, model.PrincipalService, model.PrincipalSystem}, a.Principal)
		require.Equal(t, strings.ToLower(a.AAGUID), a.AAGUID)
		require.Equal(t, o.Raw.SHA256, a.RawSHA256)
		if a.Factor == model.FactorPasskeySynced {
			require.NotNil(t, a.Hardware)
			require.False(t, *a.Hardware, "a synced passkey is never hardware")
		}
		if a.Hardware != nil && *a.Hardware {
			require.Contains(t, []model.Factor{model.FactorWebAuthn, model.FactorPlatform}, a.Factor, "only a security key or a platform credential can be hardware")
		}
	}
	for _, a := range o.Authenticators {
		require.NotEmpty(t, a.EventID)
		require.False(t, a.TS.IsZero())
		require.Contains(t, []string{model.AuthenticatorRegister, model.AuthenticatorRemove}, a.Action)
		if a.Factor != "" {
			require.Contains(t, model.Factors, a.Factor)
		}
		require.Equal(t, strings.ToLower(a.AAGUID), a.AAGUID)
		require.Equal(t, o.Raw.SHA256, a.RawSHA256)
	}
}

// OneAuth normalizes one record that must be accepted with exactly one
// AuthEvent, checks the Normalizer contract, and returns the event and the
// whole output.
func OneAuth(t testing.TB, n ingest.Normalizer, raw []byte) (model.AuthEvent, ingest.Output) {
	t.Helper()
	o, err := n.Normalize(raw, "prod")
	require.NoError(t, err)
	CheckOutput(t, raw, o)
	require.Len(t, o.Auth, 1)
	return o.Auth[0], o
}

// NormalizeFile splits and normalizes a whole input the way `keytrail ingest`
// does, checking the contract on every accepted record.
func NormalizeFile(t testing.TB, n ingest.Normalizer, data []byte) []GoldenResult {
	t.Helper()
	var out []GoldenResult
	seen := map[string]bool{}
	for _, p := range ingest.Split(data, n.Envelopes()) {
		r := GoldenResult{Offset: p.Offset}
		if p.Err != nil {
			r.Error = "split: " + p.Err.Error()
			out = append(out, r)
			continue
		}
		o, err := n.Normalize(p.Raw, "prod")
		if err != nil {
			require.Empty(t, o.Auth)
			require.Empty(t, o.Authenticators)
			require.Nil(t, o.Raw.Raw)
			r.Error = err.Error()
			out = append(out, r)
			continue
		}
		CheckOutput(t, p.Raw, o)
		r.EventID, r.RawSHA256 = o.Raw.EventID, o.Raw.SHA256
		r.Duplicate = seen[o.Raw.EventID]
		seen[o.Raw.EventID] = true
		for _, a := range o.Auth {
			principal := ""
			if !a.Principal.Human() {
				principal = string(a.Principal)
			}
			r.Auth = append(r.Auth, GoldenAuth{
				Source: string(a.Source), Instance: a.Instance, EventID: a.EventID, TS: TS(a.TS), Person: a.Person,
				Subject: a.Subject, Email: a.Email, Principal: principal, EventType: a.EventType, Category: string(a.Category),
				Outcome: string(a.Outcome), Factor: string(a.Factor), Hardware: a.Hardware, AAGUID: a.AAGUID,
				CredentialID: a.CredentialID, App: a.App, SessionID: a.SessionID, IP: a.IP, Detail: a.Detail, Methods: a.Methods,
			})
		}
		for _, a := range o.Authenticators {
			r.Authenticators = append(r.Authenticators, GoldenAuthenticator{
				EventID: a.EventID, TS: TS(a.TS), Subject: a.Subject, Email: a.Email, Action: a.Action,
				CredentialID: a.CredentialID, AAGUID: a.AAGUID, Model: a.Model, Factor: string(a.Factor), Hardware: a.Hardware, BackupEligible: a.BackupEligible,
			})
		}
		out = append(out, r)
	}
	return out
}

// Fixtures lists the input files under testdata.
func Fixtures(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"testdata/*.json", "testdata/*.ndjson"} {
		m, err := filepath.Glob(pat)
		require.NoError(t, err)
		for _, f := range m {
			if !strings.HasSuffix(f, ".golden.json") {
				files = append(files, f)
			}
		}
	}
	require.NotEmpty(t, files)
	return files
}

// TestGolden normalizes every fixture and compares the result with its
// .golden.json file (rewritten when s.Update is set).
func (s Suite) TestGolden(t *testing.T) {
	n := s.New()
	for _, file := range Fixtures(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			got, err := json.MarshalIndent(NormalizeFile(t, n, data), "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden := strings.TrimSuffix(strings.TrimSuffix(file, ".json"), ".ndjson") + ".golden.json"
			if s.Update != nil && *s.Update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create %s", golden)
			RequireSameText(t, string(want), string(got))
		})
	}
}

// AcceptedRecords returns every fixture record the normalizer accepts.
func (s Suite) AcceptedRecords(t testing.TB) [][]byte {
	t.Helper()
	n := s.New()
	var out [][]byte
	for _, file := range Fixtures(t) {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, p := range ingest.Split(data, n.Envelopes()) {
			if p.Err != nil {
				continue
			}
			if _, err := n.Normalize(p.Raw, "x"); err == nil {
				out = append(out, p.Raw)
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// BigNDJSON builds at least size bytes of NDJSON from the accepted fixture
// records, each copy with a fresh event id.
func (s Suite) BigNDJSON(t testing.TB, size int) (data []byte, records int) {
	t.Helper()
	recs := s.AcceptedRecords(t)
	var buf bytes.Buffer
	compact := make([][]byte, len(recs))
	for i, r := range recs {
		var c bytes.Buffer
		require.NoError(t, json.Compact(&c, r))
		compact[i] = c.Bytes()
	}
	for i := 0; buf.Len() < size; i++ {
		buf.Write(s.ReID(t, compact[i%len(compact)], i))
		buf.WriteByte('\n')
		records++
	}
	return buf.Bytes(), records
}

// TestTenMegabytes splits and normalizes 10 MB of records as NDJSON and as
// one array, each copy with its own id.
func (s Suite) TestTenMegabytes(t *testing.T) {
	n := s.New()
	data, records := s.BigNDJSON(t, 10<<20)
	for name, input := range map[string][]byte{
		"ndjson": data,
		"array":  append(append([]byte("["), bytes.ReplaceAll(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"), []byte(",\n"))...), ']'),
	} {
		t.Run(name, func(t *testing.T) {
			pieces := ingest.Split(input, n.Envelopes())
			require.Equal(t, records, len(pieces))
			ids := make(map[string]bool, records)
			for _, p := range pieces {
				require.NoError(t, p.Err)
				o, err := n.Normalize(p.Raw, "big")
				require.NoError(t, err)
				ids[o.Raw.EventID] = true
			}
			require.Equal(t, records, len(ids), "every copy has its own id")
		})
	}
}

// Fuzz checks the Normalizer contract on arbitrary input, seeded with the
// fixtures' records.
func (s Suite) Fuzz(f *testing.F) {
	n := s.New()
	inventories, _ := filepath.Glob("testdata/inventory/*.ndjson")
	for _, file := range append(Fixtures(f), inventories...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range ingest.Split(data, n.Envelopes()) {
			f.Add(p.Raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := n.Normalize(raw, "fuzz")
		if err != nil {
			if len(o.Auth)+len(o.Authenticators) != 0 || o.Raw.Raw != nil || o.Raw.EventID != "" {
				t.Fatalf("error with output: %v", err)
			}
			return
		}
		if o.Raw.EventID == "" || o.Raw.TS.IsZero() {
			t.Fatalf("accepted without id or time: %+v", o.Raw)
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		if !bytes.Equal(o.Raw.Raw, raw) || o.Raw.SHA256 != model.SHA256Hex(raw) {
			t.Fatal("raw bytes or digest differ")
		}
		for _, a := range o.Auth {
			if a.EventID == "" || a.TS.IsZero() || a.Category == "" || a.Outcome == "" || a.Factor == "" {
				t.Fatalf("half-filled event accepted: %+v", a)
			}
			if a.AAGUID != strings.ToLower(a.AAGUID) {
				t.Fatalf("aaguid not lower-case: %q", a.AAGUID)
			}
		}
		for _, a := range o.Authenticators {
			if a.EventID == "" || a.TS.IsZero() || a.Action == "" {
				t.Fatalf("half-filled authenticator accepted: %+v", a)
			}
		}
	})
}

// Benchmark measures single-core normalization of the fixture
// records (reported as events/s and MB/s).
func (s Suite) Benchmark(b *testing.B) {
	data, _ := s.BigNDJSON(b, 4<<20)
	n := s.New()
	pieces := ingest.Split(data, n.Envelopes())
	var size int64
	for _, p := range pieces {
		size += int64(len(p.Raw))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range pieces {
			if _, err := n.Normalize(p.Raw, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(pieces))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	ReportJSONPeer(b, pieces)
	b.ReportMetric(float64(size)/float64(len(pieces)), "bytes/event")
}

// RequireSameText fails with the first differing lines of two texts.
func RequireSameText(t testing.TB, want, got string) {
	t.Helper()
	if want == got {
		return
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			t.Fatalf("golden mismatch at line %d (run go test -update to accept):\n-%s\n+%s", i+1, wl, gl)
		}
	}
}
