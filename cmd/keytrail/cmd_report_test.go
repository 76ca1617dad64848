package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// seedReportStore writes a small correlated history into the store at url:
// correlations under the current policy, one key used, Airflow ids 1..10 and
// 15..20, and a collector cursor.
func seedReportStore(t *testing.T, url string, from time.Time) int {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, url)
	require.NoError(t, err)
	defer s.Close()
	_, err = schema.Migrate(ctx, s)
	require.NoError(t, err)
	names := []string{"Łukasz", "李雷", "Zoë", "مرحبا", "emoji 🔑", "=cmd|' /C calc'!A0", "ctl\x1b[2J"}
	verdicts := []model.Verdict{model.VerdictVerified, model.VerdictWeakFactor, model.VerdictVerified, model.VerdictNoAssertion, model.VerdictUnknownIdentity}
	var cs []model.Correlation
	for i := 0; i < 40; i++ {
		n := names[i%len(names)]
		cs = append(cs, model.Correlation{
			ActionID: fmt.Sprintf("prod/%d", i+1), ActionTS: from.Add(time.Duration(i) * 97 * time.Minute), Instance: "prod",
			Kind: model.KindAudit, Channel: model.ChannelUI, Action: model.ActionTrigger, Privileged: i%3 == 0,
			DagID: "dag_" + n, Actor: n, Person: n + "@example.com", Verdict: verdicts[i%len(verdicts)], PolicyVersion: "p1",
			Reason: "because " + n, ComputedAt: from,
		})
	}
	require.NoError(t, store.Correlations.Write(ctx, s, cs))
	w := warehouse.New(s)
	require.NoError(t, w.SetCurrentPolicy(ctx, "p1", from))
	hw := true
	require.NoError(t, store.AuthEvents.Write(ctx, s, []model.AuthEvent{{Source: model.SourceOkta, Instance: "acme", EventID: "e1", TS: from.Add(time.Hour),
		Person: "Zoë@example.com", Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, Hardware: &hw, CredentialID: "cred-1"}}))
	var af []model.AirflowEvent
	for id := int64(1); id <= 20; id++ {
		if id < 11 || id > 14 {
			af = append(af, model.AirflowEvent{Instance: "prod", EventLogID: id, TS: from.Add(time.Duration(id) * time.Hour), MapIndex: -1})
		}
	}
	require.NoError(t, store.AirflowEvents.Write(ctx, s, af))
	require.NoError(t, store.Cursors.Write(ctx, s, []model.Cursor{{Collector: "airflow/prod", Position: "event_log_id=20", UpdatedAt: from}}))
	return len(cs)
}

func TestReportVerifyCLI(t *testing.T) {
	from := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			n := seedReportStore(t, url, from)
			keyDir := t.TempDir()
			key := filepath.Join(keyDir, "keys", "report.pem")
			out := filepath.Join(t.TempDir(), "pack")
			args := []string{"--store", url, "report", "--from", "2026-04-01", "--to", "2026-04-08", "--out", out, "--key", key,
				"--generated-at", "2026-04-08T09:00:00Z", "--organisation", "Acme", "--seed", "s", "--sample-size", "40"}

			// No key: a clear error that says how to make one.
			code, _, errs := cli(t, "", args...)
			require.Equal(t, 1, code)
			require.Contains(t, errs, "no signing key at "+key)
			require.Contains(t, errs, "--init-key")

			code, stdout, errs := cli(t, "", append(args, "--init-key")...)
			require.Equal(t, 0, code, errs)
			st, err := os.Stat(key)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			keyPEM, err := os.ReadFile(key)
			require.NoError(t, err)
			priv, err := report.LoadPrivateKey(key)
			require.NoError(t, err)
			fp := report.Fingerprint(priv.Public().(ed25519.PublicKey))
			require.Contains(t, stdout, fmt.Sprintf("actions:         %d", n))
			require.Contains(t, stdout, "1 event_log_id gaps")
			require.Contains(t, stdout, fp)
			require.Contains(t, errs, fp)
			require.NotContains(t, stdout+errs, strings.TrimSpace(string(keyPEM))[30:60], "private key material printed")

			// The PDF carries every section and the gap.
			text := pdfTextCLI(t, filepath.Join(out, report.FilePDF))
			for _, s := range []string{"Executive summary", "Control mapping", "Daily verification", "Exceptions", "Authenticator inventory", "Completeness", "Sampling", "Methodology", "Signing key"} {
				require.Contains(t, text, s)
			}
			require.Contains(t, text, "11–14")
			require.Contains(t, text, "李雷")

			code, stdout, errs = cli(t, "", "--store", url, "verify", out, "--key", key)
			require.Equal(t, 0, code, stdout+errs)
			require.Contains(t, stdout, "OK: the pack verifies")
			require.Contains(t, stdout, fmt.Sprintf("rows re-queried: %d", n))
			require.Contains(t, stdout, "store:           "+store.Redact(url))
			// The public key kept beside the signing key is what an auditor is given.
			pubFile := filepath.Join(keyDir, "keys", "report.pub")
			code, stdout, errs = cli(t, "", "--store", url, "verify", out, "--pub", pubFile)
			require.Equal(t, 0, code, stdout+errs)
			require.Contains(t, stdout, "(trusted: "+pubFile+")")
			// No trusted key, a missing one, a corrupt one: never OK.
			code, stdout, errs = cli(t, "", "--store", url, "verify", out, "--offline")
			require.Equal(t, 1, code)
			require.Contains(t, stdout, "NOT AUTHENTICATED")
			require.Contains(t, errs, "not authenticated")
			code, _, errs = cli(t, "", "--store", url, "verify", out, "--offline", "--key", filepath.Join(keyDir, "absent.pem"))
			require.Equal(t, 1, code)
			require.Contains(t, errs, "no signing key at")

			// Same store and flags: identical files.
			out2 := filepath.Join(t.TempDir(), "pack")
			require.Equal(t, "--out", args[7])
			args[8] = out2
			code, _, errs = cli(t, "", args...)
			require.Equal(t, 0, code, errs)
			for _, f := range []string{report.FilePDF, report.FileManifest, report.FileSignature, report.FilePopulationCSV, report.FileSample} {
				a, _ := os.ReadFile(filepath.Join(out, f))
				b, _ := os.ReadFile(filepath.Join(out2, f))
				require.True(t, bytes.Equal(a, b), "%s differs between runs", f)
			}

			// Tampering with a file fails verify, naming it.
			p := filepath.Join(out2, report.FileExceptions)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[len(b)-3] ^= 1
			require.NoError(t, os.WriteFile(p, b, 0o644))
			code, stdout, errs = cli(t, "", "--store", url, "verify", out2, "--key", key)
			require.Equal(t, 1, code)
			require.Contains(t, stdout, "MISMATCH "+report.FileExceptions)
			require.Contains(t, errs, "does not verify")

			// A row changed in the store fails verify of the untouched pack.
			ctx := context.Background()
			s, err := store.Open(ctx, url)
			require.NoError(t, err)
			require.NoError(t, store.Correlations.Write(ctx, s, []model.Correlation{{ActionID: "prod/2", ActionTS: from.Add(97 * time.Minute), Instance: "prod",
				Kind: model.KindAudit, Verdict: model.VerdictVerified, PolicyVersion: "p1"}}))
			s.Close()
			code, stdout, _ = cli(t, "", "--store", url, "verify", out, "--key", key)
			require.Equal(t, 1, code)
			require.Contains(t, stdout, `action_id "prod/2"`)
		})
	}
}

func pdfTextCLI(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("KEYTRAIL_REQUIRE_ENGINES") == "1" {
			t.Fatalf("pdftotext (Debian poppler-utils) is required: %v", err)
		}
		t.Skipf("pdftotext not installed: %v", err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", path, "-").CombinedOutput()
	require.NoError(t, err, "pdftotext: %s", out)
	return string(out)
}
