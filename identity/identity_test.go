package identity

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

var fixedNow = func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }

const (
	entraOID   = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
	keycloakID = "0b7e4d2a-1c3f-4e5a-9b8c-7d6e5f4a3b2c"
)

// seeded returns a Resolver that has observed one identity per IdP.
func seeded(t testing.TB, mapping []model.Identity) *Resolver {
	t.Helper()
	r, err := NewResolver(mapping, fixedNow)
	require.NoError(t, err)
	got := []string{
		r.Observe(model.SourceOkta, "00u1a2b3c4D5e6F7g8h9", "Alice@Example.com", ""),
		r.Observe(model.SourceEntra, entraOID, "bob@example.com", ""),
		r.Observe(model.SourceGoogle, "104857600123456789012", "carol@example.com", ""),
		r.Observe(model.SourceKeycloak, keycloakID, "dave@example.com", "dave"),
	}
	if mapping == nil {
		require.Equal(t, []string{"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"}, got)
	}
	return r
}

func TestResolveAirflowOwnerForms(t *testing.T) {
	r := seeded(t, nil)
	tests := []struct {
		name   string
		owner  string
		ch     model.Channel
		person string
		ok     bool
	}{
		{"okta FAB username", "okta_00u1a2b3c4D5e6F7g8h9", model.ChannelUI, "alice@example.com", true},
		{"okta sub is case-insensitive", "OKTA_00u1a2b3c4d5e6f7g8h9", model.ChannelAPI, "alice@example.com", true},
		{"unseen okta sub", "okta_00uNOTSEEN", model.ChannelUI, "", false},
		{"entra object id", entraOID, model.ChannelUI, "bob@example.com", true},
		{"entra object id upper-case", strings.ToUpper(entraOID), model.ChannelAPI, "bob@example.com", true},
		{"google FAB username", "google_104857600123456789012", model.ChannelUI, "carol@example.com", true},
		{"keycloak preferred_username", "dave", model.ChannelUI, "dave@example.com", true},
		{"keycloak user id", keycloakID, model.ChannelAPI, "dave@example.com", true},
		{"email owner", "Carol@Example.com", model.ChannelAPI, "carol@example.com", true},
		{"okta login as email", "alice@example.com", model.ChannelUI, "alice@example.com", true},
		{"unknown email", "mallory@example.com", model.ChannelUI, "", false},
		{"unknown username", "mallory", model.ChannelUI, "", false},
		{"anonymous", "anonymous", model.ChannelUI, "", false},
		{"empty", "  ", model.ChannelUI, "", false},
		{"cli owner is an OS user: no inference", "dave", model.ChannelCLI, "", false},
		{"cli email-looking owner: no inference", "alice@example.com", model.ChannelCLI, "", false},
		{"system row owner", "airflow", model.ChannelSystem, "", false},
		{"system row owner that looks like a user", "dave", model.ChannelSystem, "", false},
		{"unknown channel infers like the web", "dave", "", "dave@example.com", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := r.ResolveAirflow(tc.owner, tc.ch)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.person, p)
		})
	}
}

func TestMappingWins(t *testing.T) {
	mapping := []model.Identity{
		{Person: "Alice Liddell", Source: model.SourceOkta, Subject: "00u1a2b3c4D5e6F7g8h9"},
		{Person: "ops-dave", Source: model.SourceAirflow, Subject: "dave"},
		{Person: "erin", Source: model.SourceAirflow, Subject: "cli:erin"},
		{Person: "frank", Source: model.SourceAirflow, Subject: "root"},
		{Person: "grace", Source: model.SourceGoogle, Subject: "grace@example.com"},
	}
	r := seeded(t, mapping)
	tests := []struct {
		name   string
		owner  string
		ch     model.Channel
		person string
		ok     bool
	}{
		{"mapped okta subject wins over email inference", "okta_00u1a2b3c4D5e6F7g8h9", model.ChannelUI, "Alice Liddell", true},
		{"airflow mapping wins over keycloak username", "dave", model.ChannelUI, "ops-dave", true},
		{"airflow mapping applies to CLI", "dave", model.ChannelCLI, "ops-dave", true},
		{"cli: mapping applies to CLI", "erin", model.ChannelCLI, "erin", true},
		{"cli: mapping does not apply to the web", "erin", model.ChannelUI, "", false},
		{"cli OS user root mapped", "root", model.ChannelCLI, "frank", true},
		{"mapped email of any source", "grace@example.com", model.ChannelAPI, "grace", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := r.ResolveAirflow(tc.owner, tc.ch)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.person, p)
		})
	}
	// Observe and ResolveIdP honour the mapping too.
	require.Equal(t, "Alice Liddell", r.ResolveIdP(model.SourceOkta, "00u1a2b3c4D5e6F7g8h9", ""))
	require.Equal(t, "Alice Liddell", r.ResolveIdP(model.SourceOkta, "", "alice@example.com"))
	require.Equal(t, "grace", r.Observe(model.SourceGoogle, "999", "Grace@example.com", ""))
	require.Equal(t, "grace", r.ResolveIdP(model.SourceGoogle, "999", ""))
}

func TestResolveIdP(t *testing.T) {
	r := seeded(t, nil)
	require.Equal(t, "alice@example.com", r.ResolveIdP(model.SourceOkta, "00U1A2B3C4D5E6F7G8H9", ""))
	require.Equal(t, "bob@example.com", r.ResolveIdP(model.SourceEntra, "", "BOB@example.com"))
	require.Equal(t, "new@example.com", r.ResolveIdP(model.SourceOkta, "00unew", "New@Example.com"))
	require.Equal(t, "keycloak:abc", r.ResolveIdP(model.SourceKeycloak, "ABC", ""))
	require.Equal(t, "", r.ResolveIdP(model.SourceKeycloak, "", ""))
}

func TestObserveUpgradesToEmail(t *testing.T) {
	r, err := NewResolver(nil, fixedNow)
	require.NoError(t, err)
	require.Equal(t, "okta:00ux", r.Observe(model.SourceOkta, "00ux", "", ""))
	require.Equal(t, "x@example.com", r.Observe(model.SourceOkta, "00ux", "x@example.com", ""))
	require.Equal(t, "x@example.com", r.Observe(model.SourceOkta, "00ux", "", ""), "a later event without email keeps the email person")
	require.Equal(t, "keycloak:solo", r.Observe(model.SourceKeycloak, "", "", "solo"))
	require.Equal(t, "", r.Observe(model.SourceKeycloak, "", "", ""))
}

func TestAmbiguousUsername(t *testing.T) {
	r, err := NewResolver(nil, fixedNow)
	require.NoError(t, err)
	r.Observe(model.SourceKeycloak, "k1", "sam1@example.com", "sam")
	r.Observe(model.SourceKeycloak, "k2", "sam2@example.com", "sam")
	_, ok := r.ResolveAirflow("sam", model.ChannelUI)
	require.False(t, ok, "a username two persons share must not resolve")
}

func TestIdentitiesAndLoad(t *testing.T) {
	mapping := []model.Identity{{Person: "ops-dave", Source: model.SourceAirflow, Subject: "dave"}}
	r := seeded(t, mapping)
	_, ok := r.ResolveAirflow("okta_00u1a2b3c4D5e6F7g8h9", model.ChannelUI)
	require.True(t, ok)
	rows := r.Identities()
	var origins = map[string]int{}
	for _, row := range rows {
		origins[row.Origin]++
		require.NotEmpty(t, row.Person)
		require.True(t, row.Source.Valid())
		if row.Origin == model.OriginInferred {
			require.Equal(t, fixedNow(), row.UpdatedAt)
		}
	}
	require.Equal(t, 1, origins[model.OriginMapping])
	require.Contains(t, rows, model.Identity{Person: "alice@example.com", Source: model.SourceAirflow, Subject: "okta_00u1a2b3c4d5e6f7g8h9", Origin: model.OriginInferred, UpdatedAt: fixedNow()})

	// A fresh resolver loaded from storage resolves the same way.
	r2, err := NewResolver(nil, fixedNow)
	require.NoError(t, err)
	require.NoError(t, r2.Load(rows))
	for _, owner := range []string{"okta_00u1a2b3c4D5e6F7g8h9", entraOID, "dave", "carol@example.com"} {
		p1, ok1 := r.ResolveAirflow(owner, model.ChannelUI)
		p2, ok2 := r2.ResolveAirflow(owner, model.ChannelUI)
		require.Equal(t, ok1, ok2, owner)
		require.Equal(t, p1, p2, owner)
	}
	require.Error(t, r2.Load([]model.Identity{{Person: "x", Source: "nope", Subject: "y", Origin: model.OriginInferred}}))
}

func TestNewResolverRejectsBadMapping(t *testing.T) {
	_, err := NewResolver([]model.Identity{
		{Person: "", Source: model.SourceOkta, Subject: "a"},
		{Person: "p", Source: "ldap", Subject: "a"},
		{Person: "p", Source: model.SourceOkta, Subject: "b"},
		{Person: "q", Source: model.SourceOkta, Subject: "B"},
	}, nil)
	require.ErrorIs(t, err, ErrMapping)
	require.ErrorContains(t, err, "row 1: empty person")
	require.ErrorContains(t, err, `row 2: unknown source "ldap"`)
	require.ErrorContains(t, err, "row 4:")
}

func TestParseMapping(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []model.Identity
		errs []string
	}{
		{
			name: "header, comment, BOM, spaces",
			in:   "\xef\xbb\xbfperson,source,subject\n# who is who\nalice, okta, 00u1\nalice,Airflow,cli:alice\n\n",
			want: []model.Identity{
				{Person: "alice", Source: model.SourceOkta, Subject: "00u1", Origin: model.OriginMapping},
				{Person: "alice", Source: model.SourceAirflow, Subject: "cli:alice", Origin: model.OriginMapping},
			},
		},
		{
			name: "no header",
			in:   "bob,entra," + entraOID + "\n",
			want: []model.Identity{{Person: "bob", Source: model.SourceEntra, Subject: entraOID, Origin: model.OriginMapping}},
		},
		{name: "empty file", in: ""},
		{name: "identical duplicate is fine", in: "a,okta,x\na,okta,X\n", want: []model.Identity{{Person: "a", Source: model.SourceOkta, Subject: "x", Origin: model.OriginMapping}}},
		{name: "wrong field count", in: "person,source,subject\na,okta\n", errs: []string{"line 2: want 3 fields"}},
		{name: "unknown source and empty person", in: "a,ldap,x\n,okta,y\n", errs: []string{`line 1: unknown source "ldap"`, "line 2: empty person"}},
		{name: "empty subject", in: "a,okta,\na,airflow,cli:\n", errs: []string{"line 1: empty subject", "line 2: empty subject"}},
		{name: "conflict", in: "a,okta,x\n\nb,okta,x\n", errs: []string{`line 3: okta subject "x" mapped to "b", but line 1 maps it to "a"`}},
		{name: "bad quoting", in: "a,okta,x\n\"b,okta,y\n", errs: []string{"line 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseMapping(strings.NewReader(tc.in))
			if len(tc.errs) > 0 {
				require.ErrorIs(t, err, ErrMapping)
				for _, e := range tc.errs {
					require.ErrorContains(t, err, e)
				}
				require.Nil(t, rows)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, rows)
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	r := seeded(t, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 500; j++ {
				r.Observe(model.SourceKeycloak, "k", "k@example.com", "k")
				_, _ = r.ResolveAirflow("dave", model.ChannelUI)
				_ = r.ResolveIdP(model.SourceOkta, "00u1a2b3c4D5e6F7g8h9", "")
				_ = r.Identities()
			}
		}(i)
	}
	wg.Wait()
	p, ok := r.ResolveAirflow("k", model.ChannelAPI)
	require.True(t, ok)
	require.Equal(t, "k@example.com", p)
}

// TestExplainAirflow names the rule behind every owner form ResolveAirflow
// understands, and agrees with it on the person.
func TestExplainAirflow(t *testing.T) {
	r := seeded(t, []model.Identity{{Person: "erin@example.com", Source: model.SourceAirflow, Subject: "cli:erin"},
		{Person: "frank@example.com", Source: model.SourceAirflow, Subject: "frank"}})
	for _, tc := range []struct {
		owner string
		ch    model.Channel
		rule  string
	}{
		{"okta_00u1a2b3c4D5e6F7g8h9", model.ChannelUI, RuleOktaSub},
		{"google_104857600123456789012", model.ChannelUI, RuleGoogleID},
		{entraOID, model.ChannelAPI, RuleEntraOID},
		{keycloakID, model.ChannelAPI, RuleKeycloakID},
		{"carol@example.com", model.ChannelUI, RuleEmail},
		{"dave", model.ChannelUI, RuleUsername},
		{"erin", model.ChannelCLI, RuleMappingCLI},
		{"frank", model.ChannelUI, RuleMapping},
		{"mallory", model.ChannelUI, ""},
		{"dave", model.ChannelCLI, ""},
	} {
		person, rule := r.ExplainAirflow(tc.owner, tc.ch)
		require.Equal(t, tc.rule, rule, tc.owner)
		want, _ := r.ResolveAirflow(tc.owner, tc.ch)
		require.Equal(t, want, person, tc.owner)
	}
}

// TestReadMappingFile: the file's rows as ParseMapping reads them; an error
// names the file (and the line), a missing file is the open error.
func TestReadMappingFile(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.csv"), filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(good, []byte("person,source,subject\na,okta,x\n"), 0o600))
	require.NoError(t, os.WriteFile(bad, []byte("a,ldap,x\n"), 0o600))
	rows, err := ReadMappingFile(good)
	require.NoError(t, err)
	require.Equal(t, []model.Identity{{Person: "a", Source: model.SourceOkta, Subject: "x", Origin: model.OriginMapping}}, rows)
	_, err = ReadMappingFile(bad)
	require.ErrorContains(t, err, bad+": identity mapping: line 1")
	_, err = ReadMappingFile(filepath.Join(dir, "missing.csv"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestProvisional: the persons Observe names a subject by before its email
// is known are provisional, for every identity provider; an email person, a
// mapped person and an Airflow subject are not.
func TestProvisional(t *testing.T) {
	for _, src := range model.IdPSources {
		t.Run(string(src), func(t *testing.T) {
			r, err := NewResolver(nil, fixedNow)
			require.NoError(t, err)
			p := r.Observe(src, "Sub-1", "", "")
			require.Equal(t, string(src)+":sub-1", p)
			require.True(t, Provisional(p), "subject without an email")
			require.True(t, Provisional(r.Observe(src, "", "", "nora")), "username only")
			moved := r.Observe(src, "Sub-1", "Nora@Example.com", "")
			require.Equal(t, "nora@example.com", moved)
			require.False(t, Provisional(moved), "the email person")
		})
	}
	for _, p := range []string{"", "nora@example.com", "airflow:okta_1", "okta:", "emp:42", "nora"} {
		require.False(t, Provisional(p), p)
	}
}

// TestProvisionalNames: the provisional names of a person's subjects, per
// source, also of a subject first seen with its email; they survive a
// reload of the stored identities; a person still named provisionally has
// none.
func TestProvisionalNames(t *testing.T) {
	r, err := NewResolver(nil, fixedNow)
	require.NoError(t, err)
	for _, src := range model.IdPSources {
		r.Observe(src, "Sub-1", "", "")
		r.Observe(src, "Sub-1", "nora@example.com", "")
	}
	r.Observe(model.SourceKeycloak, "", "", "ndubois")
	r.Observe(model.SourceKeycloak, "", "", "ndubois") // still only a username
	r.Observe(model.SourceOkta, "00u2", "max@example.com", "")
	want := []string{}
	for _, src := range model.IdPSources {
		want = append(want, string(src)+":sub-1")
	}
	slices.Sort(want)
	require.Equal(t, map[string][]string{"nora@example.com": want, "max@example.com": {"okta:00u2"}}, r.ProvisionalNames())

	again, err := NewResolver(nil, fixedNow)
	require.NoError(t, err)
	require.NoError(t, again.Load(r.Identities()))
	require.Equal(t, r.ProvisionalNames(), again.ProvisionalNames(), "from the stored identities")
}
