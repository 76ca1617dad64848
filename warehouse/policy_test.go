package warehouse

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	pcorrelation "github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

// TestPolicyTextInPack: correlate (batch and streaming) records the policy
// text beside its version; the pack prints it and carries it in the manifest;
// verify re-checks its hash, that it loads to the pack's version, and that it
// is the text the store records. Manual runs reach the population with their
// trigger's verdict and trigger_action_id.
func TestPolicyTextInPack(t *testing.T) {
	ctx := context.Background()
	pub := []ed25519.PublicKey{repKey.Public().(ed25519.PublicKey)}
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := storetest.NewHandHistory()
			h.Write(t, w.S)
			p := correlate.DefaultPolicy()
			p.MaxAge.Classes = map[model.ActionClass]time.Duration{model.ActionConn: 5 * time.Minute}
			now := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
			_, err := pcorrelation.Correlate(ctx, w, p, pcorrelation.CorrelateOptions{From: storetest.HandT0.Add(-time.Hour), To: storetest.HandT0.Add(24 * time.Hour), Now: func() time.Time { return now }})
			require.NoError(t, err)
			text, ok, err := w.PolicyText(ctx, p.Version())
			require.NoError(t, err)
			require.True(t, ok, "correlate records the policy text")
			require.Equal(t, string(p.CanonicalYAML()), text)
			back, err := correlate.LoadPolicy(strings.NewReader(text))
			require.NoError(t, err)
			require.Equal(t, p.Version(), back.Version())

			// The streaming correlator records its policy too.
			p2 := correlate.DefaultPolicy()
			p2.ClockSkew = 2 * time.Second
			l, err := pcorrelation.NewLive(ctx, w, p2, pcorrelation.LiveOptions{Now: func() time.Time { return now }})
			require.NoError(t, err)
			require.NoError(t, l.Close(ctx))
			text2, ok, err := w.PolicyText(ctx, p2.Version())
			require.NoError(t, err)
			require.True(t, ok)
			require.Contains(t, text2, "clock_skew: 2s")
			require.NoError(t, w.SetCurrentPolicy(ctx, p.Version(), now))

			dir := t.TempDir()
			opts := reportOptions(repKey)
			opts.From, opts.To = storetest.HandT0.Add(-time.Hour), storetest.HandT0.Add(24*time.Hour)
			m, err := w.Report(ctx, opts, dir, nil)
			require.NoError(t, err)
			require.Equal(t, p.Version(), m.PolicyVersion)
			require.Equal(t, text, m.PolicyText)
			require.Equal(t, model.SHA256Hex([]byte(text)), m.PolicySHA256)
			pdf := spaces.ReplaceAllString(pdfText(t, filepath.Join(dir, report.FilePDF)), " ")
			for _, line := range []string{"privileged_classes:", "connection: 5m0s", "trigger_window: 1m0s", m.PolicySHA256} {
				require.Contains(t, pdf, line)
			}
			require.NotContains(t, pdf, "no policy text")

			recs := readCSV(t, filepath.Join(dir, report.FilePopulationCSV))
			col := map[string]int{}
			for i, h := range recs[0] {
				col[h] = i
			}
			found := 0
			for _, r := range recs[1:] {
				if trig, ok := h.Triggers[r[0]]; ok {
					found++
					require.Equal(t, trig, r[col["trigger_action_id"]], r[0])
					require.Equal(t, string(h.Want[r[0]]), r[col["verdict"]], r[0])
					require.Empty(t, r[col["inherited_from"]])
				}
			}
			require.Equal(t, len(h.Triggers), found)

			res, notes, err := w.VerifyReport(ctx, dir, pub)
			require.NoError(t, err)
			require.NoError(t, res.Err())
			require.Empty(t, notes)

			// A manifest whose policy text is not the rule of its version
			// (re-signed, so the signature and the text's hash hold).
			forged := copyDir(t, dir)
			var mm model.Manifest
			body, err := os.ReadFile(filepath.Join(forged, report.FileManifest))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(body, &mm))
			mm.PolicyText = strings.Replace(mm.PolicyText, "privileged: 15m0s", "privileged: 24h0m0s", 1)
			mm.PolicySHA256 = model.SHA256Hex([]byte(mm.PolicyText))
			canon, err := report.CanonicalManifest(mm)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(forged, report.FileManifest), canon, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(forged, report.FileSignature), ed25519.Sign(repKey, canon), 0o644))
			res, _, err = w.VerifyReport(ctx, forged, pub)
			require.NoError(t, err)
			require.ErrorContains(t, res.Err(), "policy text loads to version")

			// A hash that does not match the text.
			mm.PolicySHA256 = strings.Repeat("0", 64)
			canon, err = report.CanonicalManifest(mm)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(forged, report.FileManifest), canon, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(forged, report.FileSignature), ed25519.Sign(repKey, canon), 0o644))
			r, err := report.Verify(forged, pub)
			require.NoError(t, err)
			require.ErrorContains(t, r.Err(), "policy_sha256")

			// The store records another text for the version.
			require.NoError(t, store.Policies.Write(ctx, w.S, []store.PolicyRecord{{PolicyVersion: p.Version(), PolicyText: text + "# edited\n", RecordedAt: now}}))
			res, _, err = w.VerifyReport(ctx, dir, pub)
			require.NoError(t, err)
			require.ErrorContains(t, res.Err(), "policy_text differs from the text this store records")
		})
	}
}

// TestReportWithoutPolicyText: a version correlated before policy texts were
// recorded gives a pack that says so, and verifies.
func TestReportWithoutPolicyText(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seedHistory(t, w)
			dir := t.TempDir()
			m, err := w.Report(ctx, reportOptions(repKey), dir, nil)
			require.NoError(t, err)
			require.Empty(t, m.PolicyText)
			require.Empty(t, m.PolicySHA256)
			pdf := spaces.ReplaceAllString(pdfText(t, filepath.Join(dir, report.FilePDF)), " ")
			require.Contains(t, pdf, "The store holds no text for this policy version")
			res, _, err := w.VerifyReport(ctx, dir, []ed25519.PublicKey{repKey.Public().(ed25519.PublicKey)})
			require.NoError(t, err)
			require.NoError(t, res.Err())
		})
	}
}
