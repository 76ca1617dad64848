package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keytrail/keytrail/model"
)

// ErrMismatch is returned by Result.Err when a pack does not verify.
var ErrMismatch = errors.New("evidence pack does not verify")

// ErrUnauthenticated is returned by Result.Err when a pack is intact but no
// trusted public key vouches for its signer: the signature then proves only
// that nothing changed since someone signed it, not who.
var ErrUnauthenticated = errors.New("evidence pack signer is not authenticated")

// maxDifferences bounds the differences a Result lists.
const maxDifferences = 100

// Difference is one way a pack differs from its manifest, its signature or the store.
type Difference struct {
	File   string `json:"file"`
	Detail string `json:"detail"`
}

func (d Difference) String() string { return d.File + ": " + d.Detail }

// Result is the outcome of verifying a pack. OK means every check passed and
// the signer is authenticated.
type Result struct {
	OK             bool           `json:"ok"`
	Manifest       model.Manifest `json:"-"`
	KeyFingerprint string         `json:"key_fingerprint"` // the key the manifest names as its signer
	Authenticated  bool           `json:"authenticated"`   // signed by one of the trusted keys
	TrustedKeys    int            `json:"trusted_keys"`    // how many keys were trusted
	FilesChecked   int            `json:"files_checked"`
	RowsChecked    int64          `json:"rows_checked"` // population rows recomputed through a Source
	Differences    []Difference   `json:"differences"`  // in the order found, at most 100
}

func (r *Result) add(file, format string, args ...any) {
	r.OK = false
	if len(r.Differences) < maxDifferences {
		r.Differences = append(r.Differences, Difference{File: file, Detail: fmt.Sprintf(format, args...)})
	}
}

// Err returns nil when the pack verified; ErrMismatch naming the first
// differences; or, for an intact pack whose signer no trusted key vouches for,
// ErrUnauthenticated.
func (r Result) Err() error {
	if r.OK {
		return nil
	}
	if len(r.Differences) == 0 {
		return fmt.Errorf("%w: no trusted public key was given; the signature (key %s) proves the files are as signed, not who signed them", ErrUnauthenticated, r.KeyFingerprint)
	}
	var parts []string
	for i, d := range r.Differences {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.Differences)-3))
			break
		}
		parts = append(parts, d.String())
	}
	return fmt.Errorf("%w: %s", ErrMismatch, strings.Join(parts, "; "))
}

// Verify checks the pack in dir: the Ed25519 signature in manifest.sig over the
// exact bytes of manifest.json, that manifest.json is canonical, the size and
// SHA-256 of every file it lists, the data digest, and that the directory holds
// nothing the manifest does not list. The signer is authenticated when the
// signature verifies under one of the trusted keys and the manifest names that
// key; with no trusted key the signature is checked under the manifest's own
// key (integrity only) and the Result is not OK (ErrUnauthenticated). The
// error is non-nil only when verification could not be carried out;
// mismatches are in the Result (see Result.Err).
func Verify(dir string, trusted []ed25519.PublicKey) (Result, error) {
	r := Result{OK: true, TrustedKeys: len(trusted)}
	if st, err := os.Stat(dir); err != nil {
		return r, fmt.Errorf("open pack: %w", err)
	} else if !st.IsDir() {
		return r, fmt.Errorf("open pack: %s is not a directory", dir)
	}
	body, err := os.ReadFile(filepath.Join(dir, FileManifest))
	if err != nil {
		r.add(FileManifest, "cannot read: %v", err)
		return r, nil
	}
	var m model.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		r.add(FileManifest, "not valid JSON: %v", err)
	}
	r.Manifest = m
	checkSignature(&r, dir, body, trusted)
	if r.OK {
		if canon, err := CanonicalManifest(m); err != nil || !bytes.Equal(canon, body) {
			r.add(FileManifest, "not in canonical form")
		}
	}

	listed := map[string]bool{FileManifest: true, FileSignature: true}
	for _, f := range m.Files {
		listed[f.Name] = true
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			r.add(FileManifest, "lists an unsafe file name %q", f.Name)
			continue
		}
		r.FilesChecked++
		sum, n, err := hashFile(filepath.Join(dir, f.Name))
		switch {
		case err != nil:
			r.add(f.Name, "cannot read: %v", err)
		case n != f.Bytes:
			r.add(f.Name, "size %d bytes, manifest says %d", n, f.Bytes)
		case sum != f.SHA256:
			r.add(f.Name, "SHA-256 %s, manifest says %s", sum, f.SHA256)
		}
	}
	checkPolicy(&r, m)
	if m.DataDigest != "" && DataDigest(m.Files) != m.DataDigest {
		r.add(FileManifest, "data_digest %s does not match the listed data files (%s)", m.DataDigest, DataDigest(m.Files))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return r, fmt.Errorf("list pack: %w", err)
	}
	for _, e := range entries {
		switch {
		case listed[e.Name()] && !e.IsDir():
		case e.IsDir():
			r.add(e.Name(), "is a folder in the pack; a pack holds only the files its manifest lists")
		default:
			r.add(e.Name(), "is in the pack but not in the manifest")
		}
	}
	if !r.Authenticated {
		r.OK = false
	}
	return r, nil
}

// checkSignature verifies manifest.sig over body and decides who signed it.
func checkSignature(r *Result, dir string, body []byte, trusted []ed25519.PublicKey) {
	named, err := base64.StdEncoding.DecodeString(r.Manifest.PublicKey)
	if err != nil || len(named) != ed25519.PublicKeySize {
		named = nil
		r.add(FileManifest, "public_key is not an Ed25519 public key")
	} else {
		r.KeyFingerprint = Fingerprint(named)
	}
	sig, err := os.ReadFile(filepath.Join(dir, FileSignature))
	switch {
	case err != nil:
		r.add(FileSignature, "cannot read: %v", err)
		return
	case len(sig) != ed25519.SignatureSize:
		r.add(FileSignature, "is %d bytes, want a %d-byte Ed25519 signature", len(sig), ed25519.SignatureSize)
		return
	}
	for _, k := range trusted {
		if !ed25519.Verify(k, body, sig) {
			continue
		}
		if named != nil && !bytes.Equal(named, k) {
			r.add(FileManifest, "signed by trusted key %s, but public_key names %s", Fingerprint(k), r.KeyFingerprint)
			return
		}
		r.Authenticated = true
		return
	}
	switch {
	case named == nil:
		r.add(FileSignature, "does not match manifest.json under any of the %d trusted keys", len(trusted))
	case !ed25519.Verify(named, body, sig):
		r.add(FileSignature, "signature does not match manifest.json under key %s", r.KeyFingerprint)
	case len(trusted) > 0:
		r.add(FileSignature, "signed by key %s, which is not among the %d trusted keys", r.KeyFingerprint, len(trusted))
	}
	// No trusted key: intact under the manifest's own key, not authenticated.
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// countingHash is a SHA-256 writer that counts bytes.
type countingHash struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func newCountingHash() *countingHash { return &countingHash{h: sha256.New()} }

func (c *countingHash) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return c.h.Write(b)
}

func (c *countingHash) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// QueryOf returns the Query a manifest was built for.
func QueryOf(m model.Manifest) Query {
	q := Query{From: m.PeriodFrom, To: m.PeriodTo, Instance: m.Scope}
	if m.Scope == (Query{}).Scope() {
		q.Instance = ""
	}
	return q
}

// VerifyWithSource runs Verify and then recomputes the pack's data through src
// for the manifest's period and scope: population.csv and population.jsonl row
// by row (naming the first differing row and field), authenticators.csv, the
// coverage, and the row count of every query the manifest records.
func VerifyWithSource(ctx context.Context, dir string, trusted []ed25519.PublicKey, src Source) (Result, error) {
	r, err := Verify(dir, trusted)
	if err != nil {
		return r, err
	}
	m := r.Manifest
	q := QueryOf(m)
	want := map[string]model.ManifestFile{}
	for _, f := range m.Files {
		want[f.Name] = f
	}

	// Population, compared against the file on disk record by record.
	disk, derr := os.Open(filepath.Join(dir, FilePopulationCSV))
	var cr *csv.Reader
	if derr == nil {
		defer disk.Close()
		cr = csv.NewReader(disk)
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		if _, err := cr.Read(); err != nil { // header
			cr = nil
		}
	}
	csvHash, jsonHash := newCountingHash(), newCountingHash()
	cw := csv.NewWriter(csvHash)
	if err := cw.Write(PopulationHeader); err != nil {
		return r, fmt.Errorf("recompute population: %w", err)
	}
	var rows int64
	rowDiffs := 0
	rec := make([]string, 0, len(PopulationHeader))
	jbuf := make([]byte, 0, 1024)
	err = src.Correlations(ctx, q, func(c model.Correlation) error {
		rows++
		rec = AppendCSVRecord(rec[:0], c)
		if err := cw.Write(rec); err != nil {
			return err
		}
		jbuf = AppendJSONRow(jbuf[:0], c)
		jsonHash.Write(jbuf)
		if cr == nil || rowDiffs >= 5 {
			return nil
		}
		got, err := cr.Read()
		if err != nil {
			rowDiffs++
			r.add(FilePopulationCSV, "row %d (action_id %s) is in the store but not in the pack", rows, short(c.ActionID))
			cr = nil
			return nil
		}
		if i := firstDiff(got, rec); i >= 0 {
			rowDiffs++
			name := "extra field"
			if i < len(PopulationHeader) {
				name = PopulationHeader[i]
			}
			r.add(FilePopulationCSV, "row %d (action_id %s): field %s is %s in the pack, %s in the store", rows, short(c.ActionID), name, short(field(got, i)), short(field(rec, i)))
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("recompute population: %w", err)
	}
	if cr != nil && rowDiffs < 5 {
		if got, err := cr.Read(); err == nil {
			r.add(FilePopulationCSV, "row %d (action_id %s) is in the pack but not in the store", rows+1, short(field(got, 0)))
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return r, fmt.Errorf("recompute population: %w", err)
	}
	r.RowsChecked = rows
	checkRecomputed(&r, want[FilePopulationCSV], FilePopulationCSV, csvHash)
	checkRecomputed(&r, want[FilePopulationJSONL], FilePopulationJSONL, jsonHash)

	// Authenticators.
	authHash := newCountingHash()
	aw := csv.NewWriter(authHash)
	if err := aw.Write(authenticatorHeader); err != nil {
		return r, fmt.Errorf("recompute authenticators: %w", err)
	}
	var authRows int64
	err = src.Authenticators(ctx, q, func(a AuthenticatorRow) error {
		authRows++
		return aw.Write(authenticatorRecord(a, q.From, q.To))
	})
	if err != nil {
		return r, fmt.Errorf("recompute authenticators: %w", err)
	}
	aw.Flush()
	if err := aw.Error(); err != nil {
		return r, fmt.Errorf("recompute authenticators: %w", err)
	}
	checkRecomputed(&r, want[FileAuthenticators], FileAuthenticators, authHash)

	// Coverage and query row counts.
	cov, err := src.Coverage(ctx, q)
	if err != nil {
		return r, fmt.Errorf("recompute coverage: %w", err)
	}
	if a, b := coverageJSON(cov), coverageJSON(m.Coverage); a != b {
		r.add(FileManifest, "coverage differs from the store (%d sources in the store, %d in the manifest)", len(cov), len(m.Coverage))
	}
	counts := map[string]int64{QueryCorrelations: rows, QueryAuthenticators: authRows, QueryCoverage: int64(len(cov))}
	for _, mq := range m.Queries {
		if n, ok := counts[mq.Name]; ok && n != mq.Rows {
			r.add(FileManifest, "query %s returned %d rows, manifest says %d", mq.Name, n, mq.Rows)
		}
	}
	cur := map[string]string{}
	for _, sq := range src.Queries(q) {
		cur[sq.Name] = model.SHA256Hex([]byte(sq.SQL))
	}
	for _, mq := range m.Queries {
		if h, ok := cur[mq.Name]; ok && h != mq.SHA256 {
			r.add(FileManifest, "query %s text changed since the pack was made (SHA-256 %s, manifest %s)", mq.Name, h, mq.SHA256)
		}
	}
	return r, nil
}

func checkRecomputed(r *Result, want model.ManifestFile, name string, got *countingHash) {
	if want.Name == "" {
		r.add(FileManifest, "does not list %s", name)
		return
	}
	if s := got.sum(); s != want.SHA256 || got.n != want.Bytes {
		r.add(name, "recomputed from the store: SHA-256 %s (%d bytes), manifest says %s (%d bytes)", s, got.n, want.SHA256, want.Bytes)
	}
}

// coverageJSON renders coverage for comparison: entries as JSON (so invalid
// UTF-8 compares as the manifest stores it), sorted.
func coverageJSON(cov []model.SourceCoverage) string {
	parts := make([]string, 0, len(cov))
	for _, c := range cov {
		c.First, c.Last = model.Millis(c.First), model.Millis(c.Last)
		b, err := json.Marshal(c)
		if err != nil {
			b = []byte(err.Error())
		}
		// Invalid UTF-8 marshals as an escaped U+FFFD, a decoded one raw.
		parts = append(parts, strings.ReplaceAll(string(b), `\ufffd`, "\uFFFD"))
	}
	sort.Strings(parts)
	return "[" + strings.Join(parts, ",") + "]"
}

// short quotes s, cut to 60 bytes, for a difference's detail.
func short(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// firstDiff returns the index of the first differing field, or -1. encoding/csv
// reads a quoted CRLF back as LF, so CRLF compares equal to LF.
func firstDiff(a, b []string) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		if i >= len(a) || i >= len(b) || strings.ReplaceAll(a[i], "\r\n", "\n") != strings.ReplaceAll(b[i], "\r\n", "\n") {
			return i
		}
	}
	return -1
}

func field(rec []string, i int) string {
	if i < len(rec) {
		return rec[i]
	}
	return ""
}
