package enrich

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/ingest/google"
	"github.com/keytrail/keytrail/ingest/keycloak"
	"github.com/keytrail/keytrail/ingest/okta"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
	"github.com/keytrail/keytrail/warehouse/warehousetest"
)

// ingestFixture pushes a normalizer's testdata file through the real
// pipeline into w, enriched by e.
func ingestFixture(t *testing.T, w *warehouse.Warehouse, e *Enricher, n ingest.Normalizer, instance, file string) ingest.Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", string(n.Source()), "testdata", file))
	require.NoError(t, err)
	in := &ingest.Ingester{Normalizer: n, Instance: instance, Sink: w, Enricher: e}
	res, err := in.Ingest(context.Background(), file, data)
	require.NoError(t, err)
	return res
}

func authByCred(t *testing.T, w *warehouse.Warehouse, cred string, ts string) model.AuthEvent {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, ts)
	require.NoError(t, err)
	evs, err := store.AuthEvents.All(context.Background(), w.S, "WHERE credential_id = ? ORDER BY ts", cred)
	require.NoError(t, err)
	for _, ev := range evs {
		if ev.TS.Equal(tm) {
			return ev
		}
	}
	t.Fatalf("no auth event for credential %s at %s in %d rows", cred, ts, len(evs))
	return model.AuthEvent{}
}

func TestEnricherHardwareAndPeople(t *testing.T) {
	ctx := context.Background()
	for name, w := range warehousetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			e, err := New(ctx, w, nil)
			require.NoError(t, err)

			// Keycloak sign-ins carry no AAGUID: the registration's decides.
			res := ingestFixture(t, w, e, keycloak.New(), "kc", "user_events.json")
			require.Positive(t, res.Accepted)
			yubi := authByCred(t, w, "AQIDBAUGBwgJCgsMDQ4PEA", "2024-05-14T09:12:03.512Z")
			require.NotNil(t, yubi.Hardware, "YubiKey 5 sign-in decided from its registration's AAGUID")
			require.True(t, *yubi.Hardware)
			require.Equal(t, "cb69481e-8ff7-4039-93ec-0a2729a154a8", yubi.AAGUID)
			require.Equal(t, model.FactorWebAuthn, yubi.Factor)
			require.Equal(t, "keycloak:0b7e4d2a-1c3f-4e5a-9b8c-7d6e5f4a3b2c", yubi.Person, "a Keycloak user without email is its own person")
			synced := authByCred(t, w, "EBESExQVFhcYGRobHB0eHw", "2024-05-14T09:13:00Z")
			require.NotNil(t, synced.Hardware)
			require.False(t, *synced.Hardware, "an iCloud Keychain passkey is never hardware")
			require.Equal(t, model.FactorPasskeySynced, synced.Factor)

			// Okta: the explicit HARDWARE_PROTECTED signal stays; a synced
			// passkey registration makes a later WebAuthn MFA synced.
			ingestFixture(t, w, e, okta.New(), "okta", "logs_page.json")
			alice := authByCred(t, w, "fwf1a2b3c4YubiKey001", "2024-05-14T09:12:03.512Z")
			require.True(t, *alice.Hardware)
			require.Equal(t, "alice@example.com", alice.Person)
			require.Equal(t, "fa2b99dc-9e39-4257-8f92-4a30d23c4118", alice.AAGUID)
			bob := authByCred(t, w, "fwf9bobIcloudPasskey", "2024-05-14T11:00:00Z")
			require.False(t, *bob.Hardware)
			require.Equal(t, model.FactorPasskeySynced, bob.Factor)

			ingestFixture(t, w, e, google.New(), "gws", "activities_page.json")

			// Airflow owners in FAB OAuth forms resolve to the people the IdPs
			// reported; CLI owners (OS users) do not without a mapping.
			ingestFixture(t, w, e, airflow.New(), "af", "v1_2.7_event_logs.json")
			evs, err := store.AirflowEvents.All(ctx, w.S, "WHERE human = 1 ORDER BY event_log_id")
			require.NoError(t, err)
			people := map[string]string{}
			for _, ev := range evs {
				people[ev.Actor] = ev.Person
			}
			require.Equal(t, "alice@example.com", people["okta_00u1a2b3c4D5e6F7g8h9"])
			require.Equal(t, "carol@example.com", people["google_104857600123456789012"])

			// Identities learned are stored, and a new Enricher starts from them.
			ids, err := store.Identities.All(ctx, w.S, "WHERE source = ? AND subject = ?", "airflow", "okta_00u1a2b3c4d5e6f7g8h9")
			require.NoError(t, err)
			require.Len(t, ids, 1)
			require.Equal(t, "alice@example.com", ids[0].Person)
			e2, err := New(ctx, w, nil)
			require.NoError(t, err)
			p, ok := e2.Resolver().ResolveAirflow("okta_00u1a2b3c4D5e6F7g8h9", model.ChannelUI)
			require.True(t, ok)
			require.Equal(t, "alice@example.com", p)
		})
	}
}

func TestMappingWinsAndAAGUIDLists(t *testing.T) {
	ctx := context.Background()
	for name, w := range warehousetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			require.NoError(t, w.ImportIdentities(ctx, []model.Identity{
				{Person: "p-dave", Source: model.SourceKeycloak, Subject: "dave"},
				{Person: "p-root", Source: model.SourceAirflow, Subject: "cli:root"},
			}, now))
			// A file conflicting with the stored mapping (same subject, other
			// person) is rejected as a whole: nothing of it is written.
			err := w.ImportIdentities(ctx, []model.Identity{
				{Person: "p-new", Source: model.SourceOkta, Subject: "x"},
				{Person: "someone-else", Source: model.SourceKeycloak, Subject: "dave"},
			}, now)
			require.Error(t, err)
			n, err := store.CountRows(ctx, w.S, "SELECT count() FROM identities FINAL")
			require.NoError(t, err)
			require.EqualValues(t, 2, n)
			// Deny the YubiKey 5 AAGUID: its sign-ins are no longer hardware.
			require.NoError(t, w.AddAAGUIDs(ctx, []model.AuthenticatorModel{{AAGUID: "CB69481E-8FF7-4039-93EC-0A2729A154A8", Source: "deny", UpdatedAt: now}}))
			require.Error(t, w.AddAAGUIDs(ctx, []model.AuthenticatorModel{{AAGUID: "not-an-aaguid", Source: "allow"}}))

			e, err := New(ctx, w, nil)
			require.NoError(t, err)
			ingestFixture(t, w, e, keycloak.New(), "kc", "user_events.json")
			yubi := authByCred(t, w, "AQIDBAUGBwgJCgsMDQ4PEA", "2024-05-14T09:12:03.512Z")
			require.False(t, *yubi.Hardware, "denied AAGUID")
			require.Equal(t, "p-dave", yubi.Person, "the mapping (Keycloak username dave) wins over inference")
			p, ok := e.Resolver().ResolveAirflow("root", model.ChannelCLI)
			require.True(t, ok)
			require.Equal(t, "p-root", p)
			_, ok = e.Resolver().ResolveAirflow("alice", model.ChannelCLI)
			require.False(t, ok, "CLI owners resolve only through the mapping")
		})
	}
}
