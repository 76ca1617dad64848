package ingesttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// TestInventory normalizes every authenticator inventory fixture
// (testdata/inventory/*.ndjson: one snapshot document per line, as
// collectors publish them) and compares the result with its .golden.json
// file. Every accepted snapshot must be its own raw record
// (inventory/<kind>/<subject>@<fetched_at>, timed at fetched_at) and yield
// only registrations of the snapshot's subject, with ids that do not depend
// on when the snapshot was taken.
func (s Suite) TestInventory(t *testing.T) {
	files, err := filepath.Glob("testdata/inventory/*.ndjson")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no inventory fixtures")
	n := s.New()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			for _, p := range ingest.Split(data, n.Envelopes()) {
				require.NoError(t, p.Err)
				require.True(t, ingest.IsSnapshot(p.Raw))
				o, err := n.Normalize(p.Raw, "prod")
				if err != nil {
					continue
				}
				snap, err := ingest.ParseSnapshot(p.Raw)
				require.NoError(t, err)
				require.Equal(t, snap.EventID(), o.Raw.EventID)
				require.Equal(t, model.Millis(snap.FetchedAt), o.Raw.TS)
				require.Empty(t, o.Auth)
				for _, a := range o.Authenticators {
					require.Equal(t, snap.Subject, a.Subject)
					require.Equal(t, model.AuthenticatorRegister, a.Action)
					require.True(t, strings.HasPrefix(a.EventID, "inventory/"), a.EventID)
					require.NotContains(t, a.EventID, "@", "a registration's id must not depend on the snapshot time")
					require.NotEmpty(t, a.CredentialID)
				}
			}
			got, err := json.MarshalIndent(NormalizeFile(t, n, data), "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden := strings.TrimSuffix(file, ".ndjson") + ".golden.json"
			if s.Update != nil && *s.Update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create %s", golden)
			RequireSameText(t, string(want), string(got))
		})
	}
}
