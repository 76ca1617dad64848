package correlate

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/stretchr/testify/require"
)

func loadString(tb testing.TB, s string) Policy {
	tb.Helper()
	p, err := LoadPolicy(strings.NewReader(s))
	require.NoError(tb, err)
	return p
}

func TestDefaultPolicyFile(t *testing.T) {
	f, err := os.Open("testdata/policy.default.yaml")
	require.NoError(t, err)
	defer f.Close()
	p, err := LoadPolicy(f)
	require.NoError(t, err)
	require.Equal(t, DefaultPolicy(), p)
	require.Equal(t, DefaultPolicy().Version(), p.Version())
	require.NoError(t, DefaultPolicy().Validate())

	d := DefaultPolicy()
	require.Equal(t, 15*time.Minute, d.MaxAge.Privileged)
	require.Equal(t, 12*time.Hour, d.MaxAge.Other)
	require.Equal(t, 5*time.Second, d.ClockSkew)
	require.Len(t, d.PrivilegedClasses, 11)
	require.Equal(t, []model.Factor{model.FactorWebAuthn}, d.HardwareFactors)
}

func TestLoadPolicyEmptyIsDefault(t *testing.T) {
	for _, s := range []string{"", "# only a comment\n"} {
		require.Equal(t, DefaultPolicy(), loadString(t, s))
	}
}

func TestLoadPolicyPartialKeepsDefaults(t *testing.T) {
	p := loadString(t, "max_age:\n  privileged: 10m\n  classes:\n    connection: 2m\n")
	require.Equal(t, 10*time.Minute, p.MaxAge.Privileged)
	require.Equal(t, 12*time.Hour, p.MaxAge.Other)
	require.Equal(t, 5*time.Second, p.ClockSkew)
	r, err := compile(p)
	require.NoError(t, err)
	require.Equal(t, int64(2*time.Minute), r.maxAgeOf(model.ActionConn))
	require.Equal(t, int64(10*time.Minute), r.maxAgeOf(model.ActionTrigger))
	require.Equal(t, int64(12*time.Hour), r.maxAgeOf(model.ActionView))
	require.Equal(t, int64(12*time.Hour), r.maxAgeOf("no_such_class"))
}

func TestLoadPolicyStrict(t *testing.T) {
	for name, s := range map[string]string{
		"unknown top key":    "clock_skew: 5s\nclockskew: 5s\n",
		"unknown nested key": "max_age:\n  privilegd: 10m\n",
		"unknown aaguid key": "aaguid:\n  allowed: []\n",
		"integer duration":   "clock_skew: 5\n",
		"bad duration":       "grace: ten minutes\n",
		"two documents":      "grace: 1m\n---\ngrace: 2m\n",
		"not a mapping":      "- a\n- b\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadPolicy(strings.NewReader(s))
			require.Error(t, err)
		})
	}
	// Unknown keys name their line.
	_, err := LoadPolicy(strings.NewReader("clock_skew: 5s\nmax_age:\n  privilegd: 10m\n"))
	require.ErrorContains(t, err, "line 3: field privilegd not found")
}

func TestValidateJoinsAllProblems(t *testing.T) {
	p := DefaultPolicy()
	p.PrivilegedClasses = append(p.PrivilegedClasses, "launch_missiles")
	p.MaxAge.Other = 0
	p.MaxAge.Classes = map[model.ActionClass]time.Duration{"view": -time.Second, "bogus": time.Minute}
	p.ClockSkew = -time.Second
	p.Grace = -time.Second
	p.TriggerWindow = 0
	p.HardwareFactors = []model.Factor{model.FactorNone, "laser"}
	p.AAGUID.Allow = []string{"not-an-aaguid", "CB69481E-8FF7-4039-93EC-0A2729A154A8"}
	p.AAGUID.Deny = []string{"{cb69481e8ff7403993ec0a2729a154a8}"}
	err := p.Validate()
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrPolicy))
	msg := err.Error()
	for _, want := range []string{
		`privileged_classes: unknown action class "launch_missiles"`,
		"max_age.other must be positive",
		"max_age.classes.view must be positive",
		`max_age.classes: unknown action class "bogus"`,
		"clock_skew must not be negative",
		"grace must not be negative",
		"trigger_window must be positive",
		`hardware_factors: "none" is not an authentication factor`,
		`hardware_factors: "laser" is not an authentication factor`,
		`aaguid.allow: malformed AAGUID "not-an-aaguid"`,
		"aaguid cb69481e-8ff7-4039-93ec-0a2729a154a8 is on both the allow and the deny list",
	} {
		require.Contains(t, msg, want)
	}

	p = DefaultPolicy()
	p.Lookback = time.Hour
	require.ErrorContains(t, p.Validate(), "lookback 1h0m0s is shorter than max_age 12h0m0s")
	p.HardwareFactors = nil
	require.ErrorContains(t, p.Validate(), "hardware_factors must name at least one factor")

	_, err = LoadPolicy(strings.NewReader("lookback: 1h\n"))
	require.ErrorIs(t, err, ErrPolicy)
}

func TestPolicyVersionStable(t *testing.T) {
	base := loadString(t, `
privileged_classes: [trigger, clear, mark_state, delete, pause, unpause, connection, variable, pool, user_admin, backfill]
max_age: {privileged: 15m, other: 12h}
clock_skew: 5s
lookback: 720h
grace: 10m
trigger_window: 1m
hardware_factors: [webauthn]
aaguid:
  allow: [cb69481e-8ff7-4039-93ec-0a2729a154a8]
  deny: []
`)
	same := loadString(t, `
# reordered keys, block style, other spellings of the same values
aaguid:
  deny: []
  allow:
    - "{CB69481E8FF7403993EC0A2729A154A8}"
    - cb69481e-8ff7-4039-93ec-0a2729a154a8
trigger_window: 60s
hardware_factors:
  - webauthn
  - webauthn
grace: 600s
lookback: 43200m
clock_skew: 5000ms
max_age:
  other: 720m
  privileged: 0.25h
  classes:
    trigger: 15m   # restates the default
    view: 12h
privileged_classes: [backfill, user_admin, pool, variable, connection, unpause, pause, delete, mark_state, clear, trigger, trigger]
`)
	require.Equal(t, base.Version(), same.Version())
	require.Len(t, base.Version(), 64)

	for name, mutate := range map[string]func(*Policy){
		"privileged":       func(p *Policy) { p.PrivilegedClasses = p.PrivilegedClasses[1:] },
		"max_age":          func(p *Policy) { p.MaxAge.Privileged = 10 * time.Minute },
		"other":            func(p *Policy) { p.MaxAge.Other = 8 * time.Hour },
		"class override":   func(p *Policy) { p.MaxAge.Classes = map[model.ActionClass]time.Duration{"pool": time.Minute} },
		"clock_skew":       func(p *Policy) { p.ClockSkew = 6 * time.Second },
		"lookback":         func(p *Policy) { p.Lookback = 721 * time.Hour },
		"grace":            func(p *Policy) { p.Grace = time.Minute },
		"trigger_window":   func(p *Policy) { p.TriggerWindow = time.Minute + time.Second },
		"hardware_factors": func(p *Policy) { p.HardwareFactors = append(p.HardwareFactors, model.FactorPlatform) },
		"allow":            func(p *Policy) { p.AAGUID.Allow = nil },
		"deny":             func(p *Policy) { p.AAGUID.Deny = []string{"ee882879-721c-4913-9775-3dfcce97072a"} },
		"identity":         func(p *Policy) { p.Identity.Mappings = "/etc/keytrail/people.csv" },
	} {
		p := base
		p.PrivilegedClasses = append([]model.ActionClass(nil), base.PrivilegedClasses...)
		mutate(&p)
		require.NotEqual(t, base.Version(), p.Version(), name)
	}
}

// TestHardwareFactorsVocabulary walks every factor: only webauthn and platform
// may be named in hardware_factors; the others can never be hardware-backed.
func TestHardwareFactorsVocabulary(t *testing.T) {
	for _, f := range append(slices.Clone(model.Factors), "laser") {
		t.Run(string(f), func(t *testing.T) {
			p := DefaultPolicy()
			p.HardwareFactors = []model.Factor{f}
			err := p.Validate()
			switch f {
			case model.FactorWebAuthn, model.FactorPlatform:
				require.NoError(t, err)
			case model.FactorNone, "laser":
				require.ErrorContains(t, err, "is not an authentication factor")
			default:
				require.ErrorContains(t, err, "is never hardware-backed (only webauthn and platform can be)")
			}
		})
	}
	p, err := LoadPolicy(strings.NewReader("hardware_factors: [webauthn, platform]\n"))
	require.NoError(t, err)
	require.Equal(t, []model.Factor{model.FactorWebAuthn, model.FactorPlatform}, p.HardwareFactors)
}
