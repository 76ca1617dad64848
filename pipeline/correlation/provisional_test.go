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
	"github.com/keytrail/keytrail/warehouse"
)

// TestProvisionalPersonMoves: a provider subject is first seen without an
// email (its authenticator inventory, which `keytrail collect` snapshots at
// start), so it is named by the provisional person "<source>:<subject>";
// an Airflow action (and its manual run) by the subject's Flask-AppBuilder
// owner is stored then and takes that person; the subject's sign-in with
// its email comes last and moves it to the email person. For every owner
// form that names a provider subject, the verdicts of the three ways
// (threeWays: streaming, ingest --correlate, batch) are verified, under the
// email person. Before the fix streaming and batch were no_assertion
// (issue 14: first-run verified → no_assertion).
func TestProvisionalPersonMoves(t *testing.T) {
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
				x := newThreeWays(t, w)
				step := x.step
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
				streamed, ingested, batch := x.verdicts()
				require.Len(t, batch, 2)
				for id, c := range batch {
					require.Equal(t, email, c.Person, id)
					for way, got := range map[string]model.Correlation{"streaming": streamed[id], "ingest --correlate": ingested[id]} {
						require.Equal(t, email, got.Person, "%s %s", way, id)
						require.Equal(t, c.Verdict, got.Verdict, "%s %s: %s", way, id, got.Reason)
						require.Equal(t, c.AssertionID, got.AssertionID, "%s %s", way, id)
					}
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
				x := newThreeWays(t, w)
				step := x.step
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
				streamed, ingested, batch := x.verdicts()
				require.Len(t, batch, 1)
				c, s := batch["prod:7"], streamed["prod:7"]
				require.Equal(t, email, c.Person)
				require.Equal(t, model.VerdictVerified, c.Verdict, "batch: %s", c.Reason)
				require.Equal(t, string(tc.source)+"/acme/auth-1", c.AssertionID)
				require.Equal(t, model.VerdictVerified, s.Verdict, "streaming: %s", s.Reason)
				require.Equal(t, c.AssertionID, s.AssertionID)
				ic := ingested["prod:7"]
				require.Equal(t, model.VerdictVerified, ic.Verdict, "ingest --correlate: %s", ic.Reason)
				require.Equal(t, c.AssertionID, ic.AssertionID)
			})
		}
	}
}

// threeWays takes a test's records, step by step, through the three ways
// verdicts are made, on a store emptied first: each step stores a batch as
// a sink does (enrich, write); a streaming Live polls after it; and
// ingest --correlate runs as cmd/keytrail runs it (ResolveOwners, then a
// Live preloaded from the batch's earliest event, or from the earliest row
// whose person the identities now name when that is earlier). Each way
// writes under its own policy version.
type threeWays struct {
	t    *testing.T
	w    *warehouse.Warehouse
	enr  *enrich.Enricher
	live *Live
	p    correlate.Policy // streaming; ingest --correlate and batch vary its grace
}

func newThreeWays(t *testing.T, w *warehouse.Warehouse) *threeWays {
	ctx := context.Background()
	for _, tbl := range orderTables {
		require.NoError(t, w.S.Exec(ctx, "TRUNCATE TABLE "+tbl))
	}
	enr, err := enrich.New(ctx, w, nil)
	require.NoError(t, err)
	p := correlate.DefaultPolicy()
	live, err := NewLive(ctx, w, p, LiveOptions{})
	require.NoError(t, err)
	return &threeWays{t: t, w: w, enr: enr, live: live, p: p}
}

// policy returns the policy of a way: 0 streaming, 1 ingest --correlate, 2 batch.
func (x *threeWays) policy(way int) correlate.Policy {
	p := x.p
	p.Grace += time.Duration(way)
	return p
}

func (x *threeWays) step(b *ingest.Batch) {
	t, ctx := x.t, context.Background()
	require.NoError(t, x.enr.Enrich(ctx, b))
	_, err := x.w.Write(ctx, b)
	require.NoError(t, err)
	_, err = x.live.Poll(ctx)
	require.NoError(t, err)
	since := slices.MinFunc(batchTimes(b), time.Time.Compare)
	_, first, err := enrich.ResolveOwners(ctx, x.w)
	require.NoError(t, err)
	if !first.IsZero() && first.Before(since) {
		since = first
	}
	ip := x.policy(1)
	il, err := NewLive(ctx, x.w, ip, LiveOptions{})
	require.NoError(t, err)
	require.NoError(t, il.Preload(ctx, since.Add(-ip.ClockSkew)))
	require.NoError(t, il.Close(ctx))
}

// verdicts closes the streaming Live, correlates in batch, and returns each
// way's correlations by action id.
func (x *threeWays) verdicts() (streamed, ingested, batch map[string]model.Correlation) {
	t, ctx := x.t, context.Background()
	require.NoError(t, x.live.Close(ctx))
	_, err := Correlate(ctx, x.w, x.policy(2), CorrelateOptions{})
	require.NoError(t, err)
	return stored(t, x.w, x.policy(0).Version()), stored(t, x.w, x.policy(1).Version()), stored(t, x.w, x.policy(2).Version())
}
