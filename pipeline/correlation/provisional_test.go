package correlation

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store/storetest"
)

// TestProvisionalPersonMoves: a provider subject is first seen without an
// email (its authenticator inventory, which `keytrail collect` snapshots at
// start), so it is named by the provisional person "<source>:<subject>";
// an Airflow action (and its manual run) by the subject's Flask-AppBuilder
// owner is stored then and takes that person; the subject's sign-in with
// its email comes last and moves it to the email person. For every owner
// form that names a provider subject, the streaming verdict (Live, polling
// after each step) and batch correlate's are verified, under the email
// person — the stored rows keep the provisional one. Before the fix both
// were no_assertion (issue 14: first-run verified → no_assertion).
func TestProvisionalPersonMoves(t *testing.T) {
	ctx := context.Background()
	const guid = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
	tests := []struct {
		source  model.Source
		subject string
		owner   string // the Airflow owner Flask-AppBuilder writes for the subject
	}{
		{model.SourceOkta, "00uTvPIan3VjSbozUwF8", "okta_00uTvPIan3VjSbozUwF8"},
		{model.SourceGoogle, "104857600123456789012", "google_104857600123456789012"},
		{model.SourceEntra, guid, guid},
		{model.SourceKeycloak, guid, strings.ToUpper(guid)},
	}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for name, w := range stores(t) {
		for _, tc := range tests {
			t.Run(name+"/"+string(tc.source), func(t *testing.T) {
				for _, tbl := range orderTables {
					require.NoError(t, w.S.Exec(ctx, "TRUNCATE TABLE "+tbl))
				}
				enr, err := enrich.New(ctx, w, nil)
				require.NoError(t, err)
				p := correlate.DefaultPolicy()
				live, err := NewLive(ctx, w, p, LiveOptions{})
				require.NoError(t, err)
				step := func(b *ingest.Batch) {
					require.NoError(t, enr.Enrich(ctx, b))
					_, err := w.Write(ctx, b)
					require.NoError(t, err)
					_, err = live.Poll(ctx)
					require.NoError(t, err)
				}
				const email = "nora.dubois@acme.example"
				hw := model.Bool(true)
				// 1. the inventory: the subject, no email.
				step(&ingest.Batch{Authenticators: []model.Authenticator{{Source: tc.source, Instance: "acme", EventID: "inv-1",
					TS: t0.Add(-60 * 24 * time.Hour), Subject: tc.subject, Action: model.AuthenticatorRegister,
					CredentialID: "cred-1", AAGUID: storetest.HandYubiKey, Hardware: hw, Factor: model.FactorWebAuthn}}})
				// 2. the Airflow trigger and its manual run: the provisional person.
				action := model.AirflowEvent{Instance: "prod", EventLogID: 7, TS: t0, Event: "trigger", Channel: model.ChannelUI,
					Action: model.ActionTrigger, Human: true, Privileged: true, Actor: tc.owner, DagID: "etl", RunID: "manual__1", MapIndex: -1}
				run := model.DagRun{Instance: "prod", DagID: "etl", RunID: "manual__1", RunType: model.RunManual, TriggeredBy: "ui",
					TriggeringUser: tc.owner, TS: t0.Add(time.Second), State: "queued"}
				b := &ingest.Batch{Airflow: []model.AirflowEvent{action}, Runs: []model.DagRun{run}}
				step(b)
				provisional := string(tc.source) + ":" + strings.ToLower(tc.subject)
				require.Equal(t, provisional, b.Airflow[0].Person, "stored with the provisional person")
				require.True(t, identity.Provisional(b.Airflow[0].Person))
				// 3. the sign-in with the email: the subject moves to the email person.
				step(&ingest.Batch{Auth: []model.AuthEvent{{Source: tc.source, Instance: "acme", EventID: "auth-1", TS: t0.Add(-time.Minute),
					Subject: tc.subject, Email: email, Principal: model.PrincipalUser, Category: model.CategoryMFA, Outcome: model.OutcomeSuccess,
					Factor: model.FactorWebAuthn, CredentialID: "cred-1", AAGUID: storetest.HandYubiKey, Hardware: hw}}})
				require.NoError(t, live.Close(ctx))

				streamed := stored(t, w, p.Version())
				bp := p
				bp.Grace++ // its own version
				_, err = Correlate(ctx, w, bp, CorrelateOptions{})
				require.NoError(t, err)
				batch := stored(t, w, bp.Version())
				require.Len(t, batch, 2)
				for id, c := range batch {
					require.Equal(t, email, c.Person, id)
					s := streamed[id]
					require.Equal(t, email, s.Person, "streaming %s", id)
					require.Equal(t, c.Verdict, s.Verdict, "streaming %s: %s", id, s.Reason)
					require.Equal(t, c.AssertionID, s.AssertionID, id)
				}
				require.Equal(t, model.VerdictVerified, batch["prod:7"].Verdict, batch["prod:7"].Reason)
			})
		}
	}
}

// TestProvisionalAssertionMoves: a person is known by email (another
// account); a sign-in whose record names its subject but no email (a
// Keycloak realm whose usernames are not emails, a provider record without
// the login) is stored under the provisional person "<source>:<subject>";
// an Airflow action by the email person comes next, and a later record of the subject with its email moves the subject
// to that person. The earlier hardware assertion is the action's, in the
// streaming verdict (Live, polling after each step) and in batch correlate's
// alike: verified, as if the records had come in the other order.
func TestProvisionalAssertionMoves(t *testing.T) {
	ctx := context.Background()
	const guid = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
	tests := []struct {
		name     string
		source   model.Source
		subject  string
		username string // what the sign-in carries where others carry the email
	}{
		{"okta", model.SourceOkta, "00uTvPIan3VjSbozUwF8", ""},
		{"google", model.SourceGoogle, "104857600123456789012", ""},
		{"entra", model.SourceEntra, guid, ""},
		{"keycloak", model.SourceKeycloak, guid, ""},
		{"keycloak-username", model.SourceKeycloak, guid, "ndubois"},
		{"keycloak-username-only", model.SourceKeycloak, "", "ndubois"},
	}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	const email = "nora.dubois@acme.example"
	for name, w := range stores(t) {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				for _, tbl := range orderTables {
					require.NoError(t, w.S.Exec(ctx, "TRUNCATE TABLE "+tbl))
				}
				enr, err := enrich.New(ctx, w, nil)
				require.NoError(t, err)
				p := correlate.DefaultPolicy()
				live, err := NewLive(ctx, w, p, LiveOptions{})
				require.NoError(t, err)
				ip := p
				ip.Grace += 2 // ingest --correlate's own version
				step := func(b *ingest.Batch) {
					require.NoError(t, enr.Enrich(ctx, b))
					_, err := w.Write(ctx, b)
					require.NoError(t, err)
					_, err = live.Poll(ctx)
					require.NoError(t, err)
					// ingest --correlate, as cmd/keytrail runs it: from the
					// batch's earliest event, or the earliest row whose
					// person the identities now name when that is earlier.
					since := slices.MinFunc(batchTimes(b), time.Time.Compare)
					_, first, err := enrich.ResolveOwners(ctx, w)
					require.NoError(t, err)
					if !first.IsZero() && first.Before(since) {
						since = first
					}
					il, err := NewLive(ctx, w, ip, LiveOptions{})
					require.NoError(t, err)
					require.NoError(t, il.Preload(ctx, since.Add(-ip.ClockSkew)))
					require.NoError(t, il.Close(ctx))
				}
				hw := model.Bool(true)
				// 0. the person is known by email already (another account,
				// long before): the Airflow action's person is settled.
				step(&ingest.Batch{Auth: []model.AuthEvent{{Source: model.SourceGoogle, Instance: "acme", EventID: "auth-0", TS: t0.Add(-10 * 24 * time.Hour),
					Subject: "g-1", Email: email, Principal: model.PrincipalUser, Category: model.CategoryLogin,
					Outcome: model.OutcomeSuccess, Factor: model.FactorPassword, Hardware: model.Bool(false)}}})
				// 1. the hardware sign-in, no email: a provisional person.
				b := &ingest.Batch{Auth: []model.AuthEvent{{Source: tc.source, Instance: "acme", EventID: "auth-1", TS: t0.Add(-time.Minute),
					Subject: tc.subject, Email: tc.username, Principal: model.PrincipalUser, Category: model.CategoryMFA,
					Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, CredentialID: "cred-1", AAGUID: storetest.HandYubiKey, Hardware: hw}}}
				step(b)
				require.True(t, identity.Provisional(b.Auth[0].Person), "stored under %q", b.Auth[0].Person)
				// 2. the Airflow trigger by the email person.
				step(&ingest.Batch{Airflow: []model.AirflowEvent{{Instance: "prod", EventLogID: 7, TS: t0, Event: "trigger", Channel: model.ChannelUI,
					Action: model.ActionTrigger, Human: true, Privileged: true, Actor: email, DagID: "etl", MapIndex: -1}}})
				if tc.subject == "" {
					// nothing ties a username alone to the email but the
					// operator's mapping, imported now
					require.NoError(t, w.WriteIdentities(ctx, []model.Identity{{Person: email, Source: tc.source, Subject: tc.username,
						Origin: model.OriginMapping, UpdatedAt: t0}}))
				}
				// 3. a later password sign-in of the subject with its email
				// (it verifies nothing: after the action, not a key).
				step(&ingest.Batch{Auth: []model.AuthEvent{{Source: tc.source, Instance: "acme", EventID: "auth-2", TS: t0.Add(2 * time.Hour),
					Subject: tc.subject, Email: email, Principal: model.PrincipalUser, Category: model.CategoryLogin,
					Outcome: model.OutcomeSuccess, Factor: model.FactorPassword, Hardware: model.Bool(false)}}})
				require.NoError(t, live.Close(ctx))

				streamed := stored(t, w, p.Version())
				bp := p
				bp.Grace++ // its own version
				_, err = Correlate(ctx, w, bp, CorrelateOptions{})
				require.NoError(t, err)
				batch := stored(t, w, bp.Version())
				require.Len(t, batch, 1)
				c, s := batch["prod:7"], streamed["prod:7"]
				require.Equal(t, email, c.Person)
				require.Equal(t, model.VerdictVerified, c.Verdict, "batch: %s", c.Reason)
				require.Equal(t, string(tc.source)+"/acme/auth-1", c.AssertionID)
				require.Equal(t, model.VerdictVerified, s.Verdict, "streaming: %s", s.Reason)
				require.Equal(t, c.AssertionID, s.AssertionID)
				ic := stored(t, w, ip.Version())["prod:7"]
				require.Equal(t, model.VerdictVerified, ic.Verdict, "ingest --correlate: %s", ic.Reason)
				require.Equal(t, c.AssertionID, ic.AssertionID)
			})
		}
	}
}
