package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name:    "report",
		summary: "write a signed SOC 2 / ISO 27001 evidence pack for a period",
		usage: "report --from T --to T [--instance NAME] --out DIR [--key FILE] [--init-key] [--sample-size 25|40|60] [--seed S]\n" +
			"                [--generated-at T] [--organisation NAME] [--policy-version V] [--policy-file FILE]",
		run: runReport,
	})
	register(&command{
		name:    "verify",
		summary: "check an evidence pack's hashes and signature, and re-run its queries against the store",
		usage:   "verify DIR [--pub FILE] [--offline]",
		run:     runVerify,
	})
}

// signingKeyEnv names the signing key file when --key is not given.
const signingKeyEnv = "KEYTRAIL_SIGNING_KEY"

// defaultKeyPath is where the signing key lives unless told otherwise.
func defaultKeyPath() string {
	return filepath.Join(store.DefaultDataDir(), "keys", "report-ed25519.pem")
}

// loadSigningKey reads the key at path, creating it first when create is set
// and it does not exist. It never prints key material.
func loadSigningKey(e *env, path string, create bool) (ed25519.PrivateKey, error) {
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
	return report.LoadPrivateKey(path)
}

func runReport(ctx context.Context, e *env, args []string) error {
	fs := flags("report", e)
	from := fs.String("from", "", "start of the period, inclusive (RFC 3339, YYYY-MM-DD, or an age such as 90d)")
	to := fs.String("to", "", "end of the period, exclusive (default now)")
	instance := fs.String("instance", "", "Airflow instance (default every instance)")
	out := fs.String("out", "", "directory for the pack (created; pack files in it are overwritten)")
	keyPath := fs.String("key", envOr(signingKeyEnv, defaultKeyPath()), "Ed25519 signing key, PEM PKCS#8 (env "+signingKeyEnv+")")
	initKey := fs.Bool("init-key", false, "create the signing key (mode 0600) if it does not exist")
	sampleSize := fs.Int("sample-size", report.DefaultSampleSize, "sample size: 25, 40 or 60")
	seed := fs.String("seed", "", "sampling seed (default the report id)")
	generatedAt := fs.String("generated-at", "", "generation time to record, for byte-identical packs (default now)")
	org := fs.String("organisation", "", "organisation printed on the cover")
	policy := fs.String("policy-version", "", "policy version whose verdicts to report (default the current one)")
	policyFile := fs.String("policy-file", "", "the policy file, printed under Methodology")
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
	opts := report.Options{Instance: *instance, SampleSize: *sampleSize, Seed: *seed, Organisation: *org, PolicyVersion: *policy, Version: version}
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
	if *policyFile != "" {
		b, err := os.ReadFile(*policyFile)
		if err != nil {
			return fmt.Errorf("read policy file: %w", err)
		}
		opts.PolicyText = string(b)
	}
	key, err := loadSigningKey(e, *keyPath, *initKey)
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
	fmt.Fprintf(e.stdout, "verify with: keytrail verify %s\n", *out)
	return nil
}

func nonEmptyStr(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

func runVerify(ctx context.Context, e *env, args []string) error {
	fs := flags("verify", e)
	pubPath := fs.String("pub", "", "the signer's public key (PEM or base64); default the public half of the local signing key, else the manifest's own key (integrity only)")
	keyPath := fs.String("key", envOr(signingKeyEnv, defaultKeyPath()), "local signing key whose public half is expected when --pub is not given")
	offline := fs.Bool("offline", false, "check files and signature only; do not re-run the queries against the store")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one pack directory")
	}
	dir := pos[0]
	var pub ed25519.PublicKey
	switch {
	case *pubPath != "":
		b, err := os.ReadFile(*pubPath)
		if err != nil {
			return fmt.Errorf("read public key: %w", err)
		}
		if pub, err = report.ParsePublicKey(b); err != nil {
			return fmt.Errorf("public key %s: %w", *pubPath, err)
		}
	default:
		if k, err := report.LoadPrivateKey(*keyPath); err == nil {
			pub = k.Public().(ed25519.PublicKey)
		}
	}

	var res report.Result
	var notes []string
	if *offline {
		res, err = report.Verify(dir, pub)
	} else {
		s, oerr := e.openStore(ctx)
		if oerr != nil {
			return oerr
		}
		defer s.Close()
		res, notes, err = warehouse.New(s).VerifyReport(ctx, dir, pub)
	}
	if err != nil {
		return err
	}
	m := res.Manifest
	fmt.Fprintf(e.stdout, "pack %s: report %s, period %s – %s (%s)\n", dir, nonEmptyStr(m.ReportID, "?"), report.FormatTime(m.PeriodFrom), report.FormatTime(m.PeriodTo), nonEmptyStr(m.Scope, "?"))
	fmt.Fprintf(e.stdout, "  files checked:   %d\n", res.FilesChecked)
	if !*offline {
		fmt.Fprintf(e.stdout, "  rows re-queried: %d\n", res.RowsChecked)
	}
	fmt.Fprintf(e.stdout, "  signing key:     %s\n", nonEmptyStr(res.KeyFingerprint, "(none)"))
	if res.KeyFromManifest {
		fmt.Fprintln(e.stdout, "  note: no --pub and no local signing key: the signature was checked with the manifest's own key, which proves integrity, not who signed")
	}
	for _, n := range notes {
		fmt.Fprintf(e.stdout, "  note: %s\n", n)
	}
	for _, u := range res.Unlisted {
		fmt.Fprintf(e.stdout, "  note: %s is in the directory but not in the manifest\n", u)
	}
	if res.OK {
		fmt.Fprintln(e.stdout, "OK: the pack verifies")
		return nil
	}
	for i, d := range res.Differences {
		if i == 20 {
			fmt.Fprintf(e.stdout, "  … and %s more\n", strconv.Itoa(len(res.Differences)-20))
			break
		}
		fmt.Fprintf(e.stdout, "  MISMATCH %s\n", d)
	}
	return res.Err()
}
