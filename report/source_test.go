package report

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
)

// memSource is an in-memory Source: a slice of rows, or a generator of n rows.
type memSource struct {
	rows  []model.Correlation
	gen   func(i int) model.Correlation
	n     int
	auths []AuthenticatorRow
	cov   []model.SourceCoverage
}

func (m *memSource) Correlations(ctx context.Context, q Query, fn func(model.Correlation) error) error {
	emit := func(c model.Correlation) error {
		if c.ActionTS.Before(q.From) || !c.ActionTS.Before(q.To) || (q.Instance != "" && c.Instance != q.Instance) {
			return nil
		}
		return fn(c)
	}
	if m.gen != nil {
		for i := 0; i < m.n; i++ {
			if i%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if err := emit(m.gen(i)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range m.rows {
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) Authenticators(_ context.Context, _ Query, fn func(AuthenticatorRow) error) error {
	for _, a := range m.auths {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) Coverage(context.Context, Query) ([]model.SourceCoverage, error) {
	return append([]model.SourceCoverage(nil), m.cov...), nil
}

func (m *memSource) Queries(q Query) []model.ManifestQuery {
	p := map[string]string{"from": FormatTime(q.From), "to": FormatTime(q.To), "instance": q.Instance}
	return []model.ManifestQuery{
		{Name: QueryCorrelations, SQL: "SELECT * FROM correlations FINAL\nWHERE action_ts >= {from:DateTime64(3)} AND action_ts < {to:DateTime64(3)}\nORDER BY action_ts, action_id", Params: p},
		{Name: QueryAuthenticators, SQL: "SELECT * FROM authenticators WHERE ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)}", Params: p},
		{Name: QueryCoverage, SQL: "SELECT source, instance, min(ts), max(ts), count() FROM events GROUP BY source, instance", Params: p},
	}
}

var (
	t0       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fixedGen = time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC)
	testSeed = []byte("0123456789abcdef0123456789abcdef")
	testKey  = ed25519.NewKeyFromSeed(testSeed)
)

func testOptions() Options {
	return Options{
		From:          t0,
		To:            t0.AddDate(0, 0, 14),
		Organisation:  "Acme Data GmbH — Zoë's team",
		Version:       "v0.1.0-test",
		PolicyVersion: "policy-2026-01",
		PolicyText:    "privileged actions: max_age 15m\nother human actions: max_age 12h\nclock_skew: 5s\nhardware: provider flag, else AAGUID on the bundled MDS3 list",
		GeneratedAt:   fixedGen,
		SampleSize:    25,
		Seed:          "audit-2026-q1",
		SigningKey:    testKey,
	}
}

var people = []struct{ actor, person string }{
	{"Łukasz", "łukasz@acme.example"},
	{"李雷", "li.lei@acme.example"},
	{"zoe", "zoë@acme.example"},
	{"svc-deploy", ""},
	{"admin", "admin@acme.example"},
}

// fixtureRows builds n rows spread over the period, in (action_ts, action_id) order.
func fixtureRows(n int, from time.Time, days int) []model.Correlation {
	rows := make([]model.Correlation, 0, n)
	step := time.Duration(int64(days) * int64(24*time.Hour) / int64(max(n, 1)))
	for i := 0; i < n; i++ {
		rows = append(rows, fixtureRow(i, from.Add(time.Duration(i)*step+time.Duration(i%7)*time.Millisecond)))
	}
	return rows
}

func fixtureRow(i int, ts time.Time) model.Correlation {
	p := people[i%len(people)]
	c := model.Correlation{
		ActionID:      fmt.Sprintf("prod/%08d", i),
		ActionTS:      ts,
		Instance:      []string{"prod", "staging"}[i%2],
		Kind:          model.KindAudit,
		Channel:       []model.Channel{model.ChannelUI, model.ChannelAPI, model.ChannelCLI}[i%3],
		Action:        []model.ActionClass{model.ActionTrigger, model.ActionView, model.ActionClear, model.ActionVariable}[i%4],
		DagID:         fmt.Sprintf("etl_%d", i%5),
		Actor:         p.actor,
		Person:        p.person,
		PolicyVersion: "policy-2026-01",
	}
	c.Privileged = c.Action != model.ActionView
	switch {
	case i%11 == 5:
		c.Kind, c.Channel, c.Action, c.Privileged = model.KindRun, model.ChannelSystem, model.ActionRun, false
		c.RunID = fmt.Sprintf("scheduled__%d", i)
		c.Actor = ""
		if i%3 == 0 {
			c.Verdict = model.VerdictUnattributed
			c.Reason = "no enabling action found"
			c.Person = ""
		} else {
			c.Verdict, c.InheritedFrom = model.VerdictInherited, fmt.Sprintf("prod/%08d", i-1)
			c.InheritedVerdict = []model.Verdict{model.VerdictVerified, model.VerdictStale}[i%2]
		}
	case i%23 == 10: // a manual run: its trigger's verdict, the trigger linked
		c.Kind, c.Action, c.Privileged = model.KindRun, model.ActionRun, true
		c.RunID, c.TriggerActionID = fmt.Sprintf("manual__%d", i), fmt.Sprintf("prod/%08d", i-1)
		switch {
		case p.person == "":
			c.Verdict = model.VerdictUnknownIdentity
		case (i/23)%2 == 0:
			c.Verdict, c.Factor = model.VerdictWeakFactor, model.FactorPush
			c.AssertionID, c.AssertionTS, c.AssertionAgeMS = fmt.Sprintf("okta-%d", i), ts.Add(-time.Minute), 60000
		default:
			c.Verdict, c.Factor = model.VerdictVerified, model.FactorWebAuthn
			c.AssertionID, c.AssertionTS, c.AssertionAgeMS = fmt.Sprintf("okta-%d", i), ts.Add(-time.Minute), 60000
		}
		c.Reason = "manual run triggered by " + c.TriggerActionID + " (" + string(c.Verdict) + ")"
	case p.person == "":
		c.Verdict, c.Reason = model.VerdictUnknownIdentity, "actor maps to no IdP identity"
	case i%13 == 3:
		c.Verdict, c.Reason = model.VerdictWeakFactor, "authenticated with okta push"
		c.Factor = model.FactorPush
		c.AssertionID, c.AssertionTS = fmt.Sprintf("okta-%d", i), ts.Add(-3*time.Minute)
		c.AssertionAgeMS = 180000
	case i%17 == 4:
		c.Verdict, c.Reason = model.VerdictStale, "latest hardware assertion 2h before"
		c.AssertionID, c.AssertionTS = fmt.Sprintf("okta-%d", i), ts.Add(-2*time.Hour)
		c.AssertionAgeMS, c.Factor = 7200000, model.FactorWebAuthn
	case i%19 == 6:
		c.Verdict, c.Reason = model.VerdictNoAssertion, "no authentication within 24h"
	default:
		c.Verdict, c.Factor = model.VerdictVerified, model.FactorWebAuthn
		c.AssertionID = fmt.Sprintf("okta-%d", i)
		age := int64((i*37)%900000) - 500
		c.AssertionTS, c.AssertionAgeMS = ts.Add(-time.Duration(age)*time.Millisecond), age
		c.AuthenticatorAAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
		c.AuthenticatorModel = "YubiKey 5 Series"
	}
	return c
}

func fixtureSource() *memSource {
	from := t0
	hw, no := true, false
	return &memSource{
		rows: fixtureRows(240, from, 14),
		auths: []AuthenticatorRow{
			{Person: "admin@acme.example", Source: model.SourceOkta, Instance: "acme.okta.com", CredentialID: "cred-1", AAGUID: "cb69481e-8ff7-4039-93ec-0a2729a154a8", Model: "YubiKey 5 Series", Hardware: &hw, RegisteredAt: from.Add(26 * time.Hour), FirstUsedAt: from.Add(27 * time.Hour), LastUsedAt: from.Add(300 * time.Hour), Uses: 40},
			{Person: "li.lei@acme.example", Source: model.SourceEntra, Instance: "tenant-1", CredentialID: "cred-2", AAGUID: "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", Model: "iCloud Keychain", Hardware: &no, BackupEligible: &hw, RegisteredAt: from.Add(50 * time.Hour), LastUsedAt: from.Add(60 * time.Hour), Uses: 2},
			{Person: "łukasz@acme.example", Source: model.SourceOkta, Instance: "acme.okta.com", CredentialID: "cred-3", AAGUID: "ee882879-721c-4913-9775-3dfcce97072a", Model: "YubiKey 5 NFC", Hardware: &hw, RemovedAt: from.Add(100 * time.Hour), LastUsedAt: from.Add(90 * time.Hour), Uses: 7},
			{Person: "zoë@acme.example", Source: model.SourceGoogle, Instance: "acme.example", CredentialID: "cred-4", FirstUsedAt: from.Add(5 * time.Hour), LastUsedAt: from.Add(200 * time.Hour), Uses: 12},
		},
		cov: []model.SourceCoverage{
			{Source: model.SourceAirflow, Instance: "prod", First: from.Add(time.Minute), Last: from.Add(335 * time.Hour), Events: 9000, Cursor: "event_log_id=9104",
				IDRanges: []model.IDRange{{From: 100, To: 4000}, {From: 4003, To: 9104}}, IDGaps: []model.IDRange{{From: 4001, To: 4002}}},
			{Source: model.SourceAirflow, Instance: "staging", First: from.Add(time.Hour), Last: from.Add(330 * time.Hour), Events: 1200, Cursor: "event_log_id=1200",
				IDRanges: []model.IDRange{{From: 1, To: 1200}}},
			{Source: model.SourceOkta, Instance: "acme.okta.com", First: from.Add(2 * time.Minute), Last: from.Add(334 * time.Hour), Events: 25000, Cursor: "https://acme.okta.com/api/v1/logs?after=abc"},
		},
	}
}

// hostileStrings are names a PDF must survive.
var hostileStrings = []string{
	"مرحبا بالعالم שלום",                      // RTL
	"\u202Eevil\u202C override",               // bidi override
	"emoji 😀🔑👩‍💻 and flags 🇵🇱",                // astral plane, ZWJ
	strings.Repeat("Ł", 10000),                // 10 000-character name
	"ctl\x00\x01\x07\x1b[31mred\x7f\u0085end", // control characters, ANSI escape
	"bad utf8 \xff\xfe\xc3",                   // invalid UTF-8
	"=HYPERLINK(\"http://x\")",                // formula
	"tab\tnew\nline\r\n",                      // whitespace
	"李雷 Łukasz Zoë Ærøskøbing ÆØÅ 한국어 日本語",    // mixed scripts
	"\u200b\ufeffzero\u2060width",             // zero-width
}
