package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name:    "report",
		summary: "write a signed SOC 2 / ISO 27001 evidence pack for a period",
		usage: "report --from T --to T [--instance NAME] --out DIR [--key FILE] [--init-key] [--sample-size 25|40|60] [--seed S]\n" +
			"                [--generated-at T] [--organisation NAME] [--policy-version V]\n" +
			"                (the pack prints the policy text correlate recorded for the version)",
		run: runReport,
	})
	register(&command{
		name:    "verify",
		summary: "check an evidence pack's hashes and signature, and re-run its queries against the store",
		usage:   "verify DIR [--pub FILE]... [--trust FILE]... [--key FILE] [--offline]",
		run:     runVerify,
	})
}

// signingKeyEnv names the signing key file when --key is not given.
const signingKeyEnv = "KEYTRAIL_SIGNING_KEY"

// defaultKeyPath is where the signing key lives unless told otherwise.
func defaultKeyPath() string {
	return filepath.Join(store.DefaultDataDir(), "keys", "report-ed25519.pem")
}

// defaultTrustDir holds the public keys verify trusts without being told
// (*.pub trust files).
func defaultTrustDir() string {
	return filepath.Join(store.DefaultDataDir(), "trusted")
}

// publicKeyPath is where the public half of the signing key at path is kept.
func publicKeyPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + report.TrustDirSuffix
}

// keyMaterial reports whether s, given where a file name belongs, is a key
// itself (a PEM block or the base64 of 32 bytes). Such a value is never
// printed.
func keyMaterial(s string) bool {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "-----BEGIN") || strings.ContainsAny(t, "\n\r") {
		return true
	}
	b, err := base64.StdEncoding.DecodeString(t)
	return err == nil && len(b) == ed25519.SeedSize
}

// keyFileArg checks a key file name given by what (a flag or variable).
func keyFileArg(what, path string) error {
	if keyMaterial(path) {
		return usagef("%s takes the name of a key file, and was given key material: put the key in a file (mode 0600 for a private key) and give its name", what)
	}
	return nil
}

// signingKeyPath is the signing key file named by --key, else
// KEYTRAIL_SIGNING_KEY, else the default; what says which.
func signingKeyPath(flagValue string) (path, what string) {
	switch {
	case flagValue != "":
		return flagValue, "--key"
	case os.Getenv(signingKeyEnv) != "":
		return os.Getenv(signingKeyEnv), signingKeyEnv
	}
	return defaultKeyPath(), "the default signing key"
}

// loadSigningKey reads the key at path, creating it first when create is set
// and it does not exist, and keeps its public half beside it (publicKeyPath).
// It warns when the key file is readable by others and never prints key
// material.
func loadSigningKey(e *env, path, what string, create bool) (ed25519.PrivateKey, error) {
	if err := keyFileArg(what, path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("no signing key at %s: create one with `keytrail report --init-key ...` (or `openssl genpkey -algorithm ed25519 -out %s`), or point --key / %s at an Ed25519 PEM key", path, path, signingKeyEnv)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key directory: %w", err)
		}
		pub, err := report.GenerateKey(path)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(e.stderr, "created signing key %s (mode 0600), public key fingerprint %s\n", path, report.Fingerprint(pub))
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(e.stderr, "warning: signing key %s is readable by others (mode %04o): run chmod 600 %s\n", path, st.Mode().Perm(), path)
	}
	k, err := report.LoadPrivateKey(path)
	if err != nil {
		return nil, err
	}
	if pp := publicKeyPath(path); pp != path {
		if _, err := os.Stat(pp); errors.Is(err, fs.ErrNotExist) {
			if err := report.WritePublicKey(pp, k.Public().(ed25519.PublicKey)); err != nil {
				e.log.Warn("could not keep the public key beside the signing key", "path", pp, "err", err)
			}
		}
	}
	return k, nil
}

func runReport(ctx context.Context, e *env, args []string) error {
	fs := flags("report", e)
	from := fs.String("from", "", "start of the period, inclusive (RFC 3339, YYYY-MM-DD, or an age such as 90d)")
	to := fs.String("to", "", "end of the period, exclusive (default now)")
	instance := fs.String("instance", "", "Airflow instance (default every instance)")
	out := fs.String("out", "", "directory for the pack (created; pack files in it are overwritten)")
	keyFlag := fs.String("key", "", "Ed25519 signing key, PEM PKCS#8 (env "+signingKeyEnv+"; default <data dir>/keys/report-ed25519.pem)")
	initKey := fs.Bool("init-key", false, "create the signing key (mode 0600) if it does not exist")
	sampleSize := fs.Int("sample-size", report.DefaultSampleSize, "sample size: 25, 40 or 60")
	seed := fs.String("seed", "", "sampling seed (default the report id)")
	generatedAt := fs.String("generated-at", "", "generation time to record, for byte-identical packs (default now)")
	org := fs.String("organisation", "", "organisation printed on the cover")
	policy := fs.String("policy-version", "", "policy version whose verdicts to report (default the current one)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if *from == "" {
		return usagef("--from is required")
	}
	now := time.Now()
	opts := report.Options{Instance: *instance, SampleSize: *sampleSize, Seed: *seed, Organisation: *org, PolicyVersion: *policy, Version: buildVersion()}
	if opts.From, err = parseTime(*from, now); err != nil {
		return usagef("--from: %v", err)
	}
	opts.To = now.UTC()
	if *to != "" {
		if opts.To, err = parseTime(*to, now); err != nil {
			return usagef("--to: %v", err)
		}
	}
	if *generatedAt != "" {
		if opts.GeneratedAt, err = parseTime(*generatedAt, now); err != nil {
			return usagef("--generated-at: %v", err)
		}
	}
	keyPath, keyWhat := signingKeyPath(*keyFlag)
	key, err := loadSigningKey(e, keyPath, keyWhat, *initKey)
	if err != nil {
		return err
	}
	opts.SigningKey = key
	if err := opts.Validate(); err != nil {
		return usagef("%v", err)
	}

	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	w := warehouse.New(s)
	if opts.PolicyVersion == "" {
		cur, err := w.CurrentPolicy(ctx)
		if err != nil {
			return err
		}
		if cur == "" {
			fmt.Fprintln(e.stderr, "warning: nothing has been correlated in this store yet (run `keytrail correlate`); the population will be empty")
		}
	}
	start := time.Now()
	bar := newStage(e.stderr, "report")
	m, err := w.Report(ctx, opts, *out, bar.update)
	bar.finish("")
	if err != nil {
		return err
	}
	if m.PolicyVersion != "" && m.PolicyText == "" {
		fmt.Fprintf(e.stderr, "warning: the store records no text for policy %s (correlated by an older keytrail); run `keytrail correlate` with the same policy to record it, so the pack can print the rule\n", m.PolicyVersion)
	}
	rows := map[string]int64{}
	for _, q := range m.Queries {
		rows[q.Name] = q.Rows
	}
	var gaps int
	for _, c := range m.Coverage {
		gaps += len(c.IDGaps)
	}
	pub := key.Public().(ed25519.PublicKey)
	fmt.Fprintf(e.stdout, "evidence pack %s written to %s in %s\n", m.ReportID, *out, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "  period:          %s – %s (%s)\n", report.FormatTime(m.PeriodFrom), report.FormatTime(m.PeriodTo), m.Scope)
	fmt.Fprintf(e.stdout, "  policy version:  %s\n", nonEmptyStr(m.PolicyVersion, "(none)"))
	fmt.Fprintf(e.stdout, "  actions:         %d (population.csv)\n", rows[report.QueryCorrelations])
	fmt.Fprintf(e.stdout, "  authenticators:  %d (authenticators.csv)\n", rows[report.QueryAuthenticators])
	fmt.Fprintf(e.stdout, "  sources:         %d, %d event_log_id gaps\n", len(m.Coverage), gaps)
	if m.Sample != nil {
		fmt.Fprintf(e.stdout, "  sample:          %d rows, seed %q\n", m.Sample.Rows, m.Sample.Seed)
	}
	fmt.Fprintf(e.stdout, "  data digest:     %s\n", m.DataDigest)
	fmt.Fprintf(e.stdout, "  signing key:     %s\n", report.Fingerprint(pub))
	fmt.Fprintf(e.stdout, "  public key:      %s (give it to whoever verifies the pack)\n", publicKeyPath(keyPath))
	fmt.Fprintf(e.stdout, "verify with: keytrail verify %s --pub %s\n", *out, publicKeyPath(keyPath))
	return nil
}

func nonEmptyStr(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// fileList is a repeatable flag of file names.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

// verifyHint says what to do when the store cannot answer for a pack.
const verifyHint = "verify re-runs the pack's queries against the store the pack was made from: point --store (or KEYTRAIL_STORE) at it, or use --offline to check the files and the signature only"

func runVerify(ctx context.Context, e *env, args []string) error {
	fs := flags("verify", e)
	var pubs, trusts fileList
	fs.Var(&pubs, "pub", "a trusted public key of the signer, PEM or base64 (repeatable)")
	fs.Var(&trusts, "trust", "a trust file: public keys, PEM blocks or base64 lines, # comments (repeatable)")
	keyFlag := fs.String("key", "", "a local signing key whose public half is trusted (env "+signingKeyEnv+")")
	offline := fs.Bool("offline", false, "check files and signature only; do not re-run the queries against the store")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one pack directory")
	}
	dir := pos[0]
	files := append(append([]string{}, pubs...), trusts...)
	for _, f := range files {
		if err := keyFileArg("--pub/--trust", f); err != nil {
			return err
		}
	}
	trusted, err := report.LoadTrust(files, defaultTrustDir())
	if err != nil {
		return err
	}
	if *keyFlag != "" || os.Getenv(signingKeyEnv) != "" {
		path, what := signingKeyPath(*keyFlag)
		k, err := loadSigningKey(e, path, what, false)
		if err != nil {
			return err
		}
		trusted = append(trusted, report.TrustedKey{Key: k.Public().(ed25519.PublicKey), Source: path})
	}

	var res report.Result
	var notes []string
	shown := store.Redact(e.storeURL)
	if *offline {
		res, err = report.Verify(dir, report.Keys(trusted))
		if err != nil {
			return err
		}
	} else {
		s, oerr := e.openStore(ctx)
		if oerr != nil {
			return fmt.Errorf("%w\n%s", oerr, verifyHint)
		}
		defer s.Close()
		res, notes, err = warehouse.New(s).VerifyReport(ctx, dir, report.Keys(trusted))
		if err != nil {
			if code, ok := store.Code(err); ok && code == store.CodeUnknownTable {
				return fmt.Errorf("store %s has no keytrail tables, so it is not the store this pack was made from\n%s", shown, verifyHint)
			}
			return fmt.Errorf("re-run the pack's queries against store %s: %w\n%s", shown, err, verifyHint)
		}
	}
	m := res.Manifest
	fmt.Fprintf(e.stdout, "pack %s: report %s, period %s – %s (%s)\n", dir, nonEmptyStr(m.ReportID, "?"), report.FormatTime(m.PeriodFrom), report.FormatTime(m.PeriodTo), nonEmptyStr(m.Scope, "?"))
	fmt.Fprintf(e.stdout, "  files checked:   %d\n", res.FilesChecked)
	if !*offline {
		fmt.Fprintf(e.stdout, "  store:           %s\n", shown)
		fmt.Fprintf(e.stdout, "  rows re-queried: %d\n", res.RowsChecked)
	}
	signer := nonEmptyStr(res.KeyFingerprint, "(none)")
	switch {
	case res.Authenticated:
		for _, t := range trusted {
			if report.Fingerprint(t.Key) == res.KeyFingerprint {
				signer += " (trusted: " + t.Source + ")"
				break
			}
		}
	case len(trusted) == 0:
		signer += " (NOT AUTHENTICATED: no trusted key)"
	default:
		signer += " (NOT AUTHENTICATED)"
	}
	fmt.Fprintf(e.stdout, "  signed by:       %s\n", signer)
	for _, n := range notes {
		fmt.Fprintf(e.stdout, "  note: %s\n", n)
	}
	if !*offline && res.RowsChecked == 0 && populationRows(m) > 0 {
		fmt.Fprintf(e.stdout, "  note: store %s holds none of the pack's %d population rows (policy %s); %s\n", shown, populationRows(m), nonEmptyStr(m.PolicyVersion, "(none)"), verifyHint)
	}
	if res.OK {
		fmt.Fprintln(e.stdout, "OK: the pack verifies and its signer is trusted")
		return nil
	}
	for i, d := range res.Differences {
		if i == 20 {
			fmt.Fprintf(e.stdout, "  … and %s more\n", strconv.Itoa(len(res.Differences)-20))
			break
		}
		fmt.Fprintf(e.stdout, "  MISMATCH %s\n", d)
	}
	if len(res.Differences) == 0 && !res.Authenticated {
		fmt.Fprintf(e.stdout, "NOT AUTHENTICATED: the files match the signature, but no trusted key vouches for the signer; give the signer's public key with --pub FILE or --trust FILE, or put it in %s/*%s\n", defaultTrustDir(), report.TrustDirSuffix)
	}
	return res.Err()
}

// populationRows is the number of population rows a manifest records.
func populationRows(m model.Manifest) int64 {
	for _, q := range m.Queries {
		if q.Name == report.QueryCorrelations {
			return q.Rows
		}
	}
	return 0
}
