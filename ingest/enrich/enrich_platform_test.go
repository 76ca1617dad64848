package enrich

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/keycloak"
	"github.com/keytrail/keytrail/ingest/okta"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
	"github.com/keytrail/keytrail/warehouse/warehousetest"
)

// TestEnricherCredentialKinds decides sign-ins and registrations from the
// AAGUID table and the credential's registration — whatever the provider's
// label, and whether the registration came in an earlier batch, the same
// batch, or none (the correlator applies a later one).
func TestEnricherCredentialKinds(t *testing.T) {
	ctx := context.Background()
	const (
		yubi      = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
		hello     = "08987058-cadc-4b81-b6e1-30de50dcbe96"
		msAuthIOS = "90a3ccdf-635c-4729-a248-9b709135078f"
		icloud    = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"
	)
	t0 := time.Date(2024, 5, 16, 9, 0, 0, 0, time.UTC)
	reg := func(cred, aaguid string, f model.Factor, hw *bool) model.Authenticator {
		return model.Authenticator{Source: model.SourceEntra, Instance: "corp", EventID: "reg-" + cred, TS: t0, Subject: "u1", Email: "ann@example.com",
			Action: model.AuthenticatorRegister, CredentialID: cred, AAGUID: aaguid, Model: "FIDO2 (WebAuthn)", Factor: f, Hardware: hw}
	}
	signIn := func(cred, aaguid string, f model.Factor, hw *bool) model.AuthEvent {
		return model.AuthEvent{Source: model.SourceEntra, Instance: "corp", EventID: "in-" + cred, TS: t0.Add(time.Hour), Subject: "u1", Email: "ann@example.com",
			Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: f, Hardware: hw, AAGUID: aaguid, CredentialID: cred}
	}
	yes := model.Bool(true)
	tests := []struct {
		name     string
		reg      *model.Authenticator
		in       model.AuthEvent
		regModel string
		regF     model.Factor
		regHW    *bool
		inF      model.Factor
		inHW     *bool
	}{
		{"security key without a factor on the registration", ptr(reg("c1", yubi, "", nil)), signIn("c1", "", model.FactorWebAuthn, nil),
			"YubiKey 5 Series", model.FactorWebAuthn, yes, model.FactorWebAuthn, yes},
		{"windows hello labelled a security key", ptr(reg("c2", hello, model.FactorWebAuthn, nil)), signIn("c2", "", model.FactorWebAuthn, yes),
			"Windows Hello Hardware Authenticator (TPM)", model.FactorPlatform, yes, model.FactorPlatform, yes},
		{"authenticator app passkey named by the sign-in's own AAGUID", nil, signIn("c3", msAuthIOS, model.FactorWebAuthn, nil),
			"", "", nil, model.FactorPlatform, model.Bool(false)},
		{"platform sign-in, no AAGUID anywhere", nil, signIn("c4", "", model.FactorPlatform, nil),
			"", "", nil, model.FactorPlatform, nil},
		{"synced passkey", ptr(reg("c5", icloud, model.FactorWebAuthn, yes)), signIn("c5", "", model.FactorWebAuthn, yes),
			"iCloud Keychain", model.FactorPasskeySynced, model.Bool(false), model.FactorPasskeySynced, model.Bool(false)},
		{"otp registration left alone", ptr(reg("c6", "", model.FactorTOTP, model.Bool(false))), signIn("c6", "", model.FactorTOTP, model.Bool(false)),
			"FIDO2 (WebAuthn)", model.FactorTOTP, model.Bool(false), model.FactorTOTP, model.Bool(false)},
	}
	for name, w := range warehousetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range tests {
				for _, order := range []string{"registration first", "same batch"} {
					t.Run(tc.name+"/"+order, func(t *testing.T) {
						e, err := New(ctx, w, nil)
						require.NoError(t, err)
						in := tc.in
						in.EventID += order
						b := &ingest.Batch{Auth: []model.AuthEvent{in}}
						var r model.Authenticator
						if tc.reg != nil {
							r = *tc.reg
							r.CredentialID += order
							b.Auth[0].CredentialID = r.CredentialID
							if order == "registration first" {
								require.NoError(t, e.Enrich(ctx, &ingest.Batch{Authenticators: []model.Authenticator{r}}))
								r = model.Authenticator{}
							} else {
								b.Authenticators = []model.Authenticator{r}
							}
						}
						require.NoError(t, e.Enrich(ctx, b))
						if tc.reg != nil && order == "same batch" {
							r = b.Authenticators[0]
							require.Equal(t, tc.regModel, r.Model, "the table's model name wins")
							require.Equal(t, tc.regF, r.Factor)
							require.Equal(t, tc.regHW, r.Hardware)
						}
						require.Equal(t, tc.inF, b.Auth[0].Factor)
						require.Equal(t, tc.inHW, b.Auth[0].Hardware)
						require.Equal(t, "ann@example.com", b.Auth[0].Person)
					})
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestEnricherNonHumanPrincipals: services and the provider itself get no
// person and teach no identity, in every source; a later mapping of the
// subject moves only the person's own events.
func TestEnricherNonHumanPrincipals(t *testing.T) {
	ctx := context.Background()
	for name, w := range warehousetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			e, err := New(ctx, w, nil)
			require.NoError(t, err)
			ingestFixture(t, w, e, okta.New(), "okta", "issue11_classes.json")
			ingestFixture(t, w, e, keycloak.New(), "kc", "issue11_classes.json")
			b := &ingest.Batch{Auth: []model.AuthEvent{
				{Source: model.SourceEntra, Instance: "corp", EventID: "sp1", TS: time.Date(2024, 5, 16, 9, 0, 0, 0, time.UTC), Subject: "3f2e-sp", Email: "reporting-app",
					Principal: model.PrincipalService, Category: model.CategoryLogin, Outcome: model.OutcomeSuccess, Factor: model.FactorOther},
			}}
			require.NoError(t, e.Enrich(ctx, b))
			require.Empty(t, b.Auth[0].Person)

			evs, err := store.AuthEvents.All(ctx, w.S, "WHERE principal IN (?, ?)", string(model.PrincipalService), string(model.PrincipalSystem))
			require.NoError(t, err)
			require.Len(t, evs, 2, "the Okta client app and the Keycloak client login")
			for _, ev := range evs {
				require.Empty(t, ev.Person, "%s %s names no person", ev.Source, ev.EventType)
				ids, err := store.Identities.All(ctx, w.S, "WHERE lower(subject) IN (?, ?)", ev.Subject, "service-account-airflow-sync")
				require.NoError(t, err)
				require.Empty(t, ids, "no identity learned from %s", ev.Subject)
			}
			// The Okta suspension by SystemPrincipal is about Alice.
			sus, err := store.AuthEvents.All(ctx, w.S, "WHERE event_type = ?", "user.mfa.factor.suspend")
			require.NoError(t, err)
			require.Len(t, sus, 1)
			require.Equal(t, "alice@example.com", sus[0].Person)

			// Mapping the Okta client's subject to a person moves nothing of it.
			require.NoError(t, w.ImportIdentities(ctx, []model.Identity{{Person: "p-x", Source: model.SourceOkta, Subject: "0oa1reportingsvc0001"}}, time.Now()))
			_, _, err = ResolveStored(ctx, w, []model.Identity{{Person: "p-x", Source: model.SourceOkta, Subject: "0oa1reportingsvc0001"}})
			require.NoError(t, err)
			evs, err = store.AuthEvents.All(ctx, w.S, "WHERE subject = ?", "0oa1reportingsvc0001")
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Empty(t, evs[0].Person)
		})
	}
}

// TestEnricherOktaRegistrations: the Okta fixture's Windows Hello enrolment
// becomes a platform credential named by the table, the YubiKey enrolled with
// no factor in debugData a security key, and the unsuspension keeps what the
// enrolment said.
func TestEnricherOktaRegistrations(t *testing.T) {
	ctx := context.Background()
	for name, w := range warehousetest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			e, err := New(ctx, w, nil)
			require.NoError(t, err)
			ingestFixture(t, w, e, okta.New(), "okta", "issue11_classes.json")
			regs, err := store.Authenticators.All(ctx, w.S, "WHERE action = ? ORDER BY ts", model.AuthenticatorRegister)
			require.NoError(t, err)
			require.Len(t, regs, 3)
			hello, yubi, unsuspend := regs[0], regs[1], regs[2]
			require.Equal(t, model.FactorPlatform, hello.Factor)
			require.Equal(t, "Windows Hello Hardware Authenticator (TPM)", hello.Model)
			require.Equal(t, model.Bool(true), hello.Hardware)
			require.Equal(t, model.FactorWebAuthn, yubi.Factor)
			require.Equal(t, "YubiKey 5 Series", yubi.Model, "not the generic FIDO2 (WebAuthn)")
			require.Equal(t, model.Bool(true), yubi.Hardware)
			require.Equal(t, "fwfYubi5000000000002", unsuspend.CredentialID)
			hi := authByCred(t, w, "fwfWinHello00000001", "2024-05-16T09:02:00Z")
			require.Equal(t, model.FactorPlatform, hi.Factor)
			require.Equal(t, "08987058-cadc-4b81-b6e1-30de50dcbe96", hi.AAGUID)
			// A new enricher loads the stored registrations merged: the
			// unsuspension does not make the YubiKey unknown.
			e2, err := New(ctx, w, nil)
			require.NoError(t, err)
			b := &ingest.Batch{Auth: []model.AuthEvent{{Source: model.SourceOkta, Instance: "okta", EventID: "later", TS: time.Date(2024, 5, 16, 10, 0, 0, 0, time.UTC),
				Subject: "00u1a2b3c4D5e6F7g8h9", Email: "alice@example.com", Category: model.CategoryMFA, Outcome: model.OutcomeSuccess,
				Factor: model.FactorWebAuthn, CredentialID: "fwfYubi5000000000002"}}}
			require.NoError(t, e2.Enrich(ctx, b))
			require.Equal(t, yubi.AAGUID, b.Auth[0].AAGUID)
			require.Equal(t, model.Bool(true), b.Auth[0].Hardware)
		})
	}
}

// inventoryName is a case of TestEnricherOktaInventoryNames: the
// authenticatorName of a WebAuthn factor and what its sign-ins come out as.
type inventoryName struct {
	name     string
	factor   model.Factor
	hardware *bool
}

// TestEnricherOktaInventoryNames: a credential registered before collection
// began is known only from Okta's factor inventory, which names the
// authenticator (profile.authenticatorName) and gives no AAGUID. A name the
// AAGUID table knows only as a platform authenticator or a synced passkey
// makes the credential that, so its sign-ins — HARDWARE_PROTECTED for a
// Windows Hello TPM key — are not taken for a security-key tap; any other
// name leaves the sign-in's own signal to decide.
func TestEnricherOktaInventoryNames(t *testing.T) {
	tests := []inventoryName{
		{"Windows Hello", model.FactorPlatform, model.Bool(true)},
		{"Chrome on Mac", model.FactorPlatform, model.Bool(true)},
		{"iCloud Keychain", model.FactorPasskeySynced, model.Bool(false)},
		{"1Password", model.FactorPasskeySynced, model.Bool(false)},
		{"YubiKey 5 Series", model.FactorWebAuthn, model.Bool(true)},
		{"Security Key or Biometric", model.FactorWebAuthn, model.Bool(true)},
	}
	for engine, w := range warehousetest.Engines(t) {
		t.Run(engine, func(t *testing.T) { oktaInventoryNames(t, w, tests) })
	}
}

func oktaInventoryNames(t *testing.T, w *warehouse.Warehouse, tests []inventoryName) {
	ctx := context.Background()
	e, err := New(ctx, w, nil)
	require.NoError(t, err)
	const subject = "00u1a2b3c4D5e6F7g8h9"
	fetched := time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)
	factors := []byte(`[{"id": "opf1push", "factorType": "push", "provider": "OKTA", "status": "ACTIVE", "created": "2024-01-02T00:00:00.000Z", "profile": {"credentialId": "alice@example.com"}}`)
	for i, tc := range tests {
		factors = append(factors, fmt.Sprintf(`, {"id": "fwfInv%014d", "factorType": "webauthn", "provider": "FIDO", "vendorName": "FIDO", "status": "ACTIVE", "created": "2024-01-0%dT00:00:00.000Z", "profile": {"credentialId": "cred%d", "authenticatorName": %q}}`, i, i+1, i, tc.name)...)
	}
	factors = append(factors, ']')
	doc, err := ingest.AppendSnapshot(nil, ingest.Snapshot{Source: model.SourceOkta, Kind: okta.InventoryKind, Subject: subject,
		URL: "https://acme.okta.com/api/v1/users/" + subject + "/factors", FetchedAt: fetched, Response: factors})
	require.NoError(t, err)
	in := &ingest.Ingester{Normalizer: okta.New(), Instance: "okta", Sink: w, Enricher: e}
	_, err = in.Ingest(ctx, "factors.json", doc)
	require.NoError(t, err)

	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &ingest.Batch{Auth: []model.AuthEvent{{Source: model.SourceOkta, Instance: "okta", EventID: fmt.Sprintf("signin%d", i),
				TS: fetched.Add(time.Hour), Subject: subject, Email: "alice@example.com", Category: model.CategoryMFA,
				Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, Hardware: model.Bool(true), // HARDWARE_PROTECTED
				CredentialID: fmt.Sprintf("fwfInv%014d", i)}}}
			require.NoError(t, e.Enrich(ctx, b))
			require.Equal(t, tc.factor, b.Auth[0].Factor)
			require.Equal(t, tc.hardware, b.Auth[0].Hardware)
			regs, err := store.Authenticators.All(ctx, w.S, "WHERE credential_id = ?", fmt.Sprintf("fwfInv%014d", i))
			require.NoError(t, err)
			require.Len(t, regs, 1)
			want := tc.factor
			if want == model.FactorWebAuthn {
				want = "" // a name never makes a security key: the stored registration leaves it open
			}
			require.Equal(t, want, regs[0].Factor)
		})
	}
}
