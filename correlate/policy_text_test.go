package correlate

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// TestCanonicalYAMLRoundTrip: the canonical text of every kind of policy
// loads back to the same version, is stable under reordering and restated
// defaults, and differs whenever the version does.
func TestCanonicalYAMLRoundTrip(t *testing.T) {
	for name, mut := range map[string]func(*Policy){
		"default": func(*Policy) {},
		"privileged classes": func(p *Policy) {
			p.PrivilegedClasses = []model.ActionClass{model.ActionView, model.ActionTrigger, model.ActionTrigger}
		},
		"max ages": func(p *Policy) { p.MaxAge.Privileged, p.MaxAge.Other = 5*time.Minute, time.Hour },
		"class override": func(p *Policy) {
			p.MaxAge.Classes = map[model.ActionClass]time.Duration{model.ActionConn: 2 * time.Minute, model.ActionView: 12 * time.Hour}
		},
		"skew, grace, window": func(p *Policy) { p.ClockSkew, p.Grace, p.TriggerWindow = 2*time.Second, time.Minute, 90*time.Second },
		"lookback":            func(p *Policy) { p.Lookback = 24 * time.Hour },
		"hardware factors":    func(p *Policy) { p.HardwareFactors = []model.Factor{model.FactorPlatform, model.FactorWebAuthn} },
		"aaguid lists": func(p *Policy) {
			p.AAGUID.Allow, p.AAGUID.Deny = []string{strings2upper(aaguidAllowed)}, []string{"{" + aaguidDenied + "}"}
		},
		"identity mappings": func(p *Policy) { p.Identity.Mappings = "/etc/keytrail/mapping.csv" },
	} {
		t.Run(name, func(t *testing.T) {
			p := DefaultPolicy()
			mut(&p)
			require.NoError(t, p.Validate())
			text := p.CanonicalYAML()
			back := loadString(t, string(text))
			require.Equal(t, p.Version(), back.Version(), "the text loads back to the version:\n%s", text)
			require.Equal(t, string(text), string(back.CanonicalYAML()), "canonical text is a fixed point")
			if name != "default" && name != "class override" {
				require.NotEqual(t, string(DefaultPolicy().CanonicalYAML()), string(text))
			}
			for _, key := range []string{"privileged_classes:", "max_age:", "clock_skew:", "lookback:", "grace:", "trigger_window:", "hardware_factors:", "aaguid:", "identity:"} {
				require.Contains(t, string(text), key, "every key is written out")
			}
		})
	}
	// A restated default and list order change neither the version nor the text.
	a := DefaultPolicy()
	b := DefaultPolicy()
	b.PrivilegedClasses = append([]model.ActionClass{model.ActionBackfill}, b.PrivilegedClasses...)
	b.MaxAge.Classes = map[model.ActionClass]time.Duration{model.ActionView: b.MaxAge.Other, model.ActionTrigger: b.MaxAge.Privileged}
	require.Equal(t, a.Version(), b.Version())
	require.True(t, bytes.Equal(a.CanonicalYAML(), b.CanonicalYAML()))
	require.Contains(t, string(a.CanonicalYAML()), "privileged: 15m0s")
}
