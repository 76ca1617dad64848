package correlate

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/stretchr/testify/require"
)

const (
	aaguidWindowsHello = "08987058-cadc-4b81-b6e1-30de50dcbe96"
	aaguidHelloSoft    = "6028b017-b1d4-4c02-b4b3-afcdafc96bb2"
	aaguidICloud       = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"
)

func platformPolicy() Policy {
	p := DefaultPolicy()
	p.HardwareFactors = []model.Factor{model.FactorWebAuthn, model.FactorPlatform}
	return p
}

// regOpt changes a registration the platform cases build.
type regOpt func(*model.Authenticator)

func regFactor(f model.Factor) regOpt { return func(a *model.Authenticator) { a.Factor = f } }

// TestHardwareFactorsAndRegistrations walks what a sign-in's credential can be
// — security key, platform credential (hardware or software), synced passkey,
// a credential suspended and unsuspended — and who signed in (a person, a
// service, the provider), under the default policy and one whose
// hardware_factors name platform. Every case is judged by Batch and by the
// engine with the registration arriving before and after the sign-in: the
// verdict comes from the registration the correlator sees, in any order.
func TestHardwareFactorsAndRegistrations(t *testing.T) {
	type reg struct {
		aaguid, model string
		hw            *bool
		opts          []regOpt
	}
	yes, no := model.Bool(true), model.Bool(false)
	windowsHello := reg{aaguidWindowsHello, "Windows Hello Hardware Authenticator (TPM)", yes, []regOpt{regFactor(model.FactorPlatform)}}
	tests := []struct {
		name    string
		policy  Policy
		regs    []reg // registrations of c1, in order before the sign-in
		suspend bool  // a removal between the first and second registration
		auth    []authOpt
		verdict model.Verdict
		factor  model.Factor
		reason  string
	}{
		{"security key", DefaultPolicy(), []reg{{aaguidYubiKey, "YubiKey 5", yes, []regOpt{regFactor(model.FactorWebAuthn)}}}, false,
			[]authOpt{hwUnset()}, model.VerdictVerified, model.FactorWebAuthn, "hardware-backed webauthn assertion"},
		{"windows hello labelled webauthn with HARDWARE_PROTECTED", DefaultPolicy(), []reg{windowsHello}, false,
			nil, model.VerdictWeakFactor, model.FactorPlatform,
			"device-bound platform credential (Windows Hello Hardware Authenticator (TPM)), not a security key; policy hardware_factors does not name platform"},
		{"windows hello counted when the policy names platform", platformPolicy(), []reg{windowsHello}, false,
			nil, model.VerdictVerified, model.FactorPlatform, "hardware-backed platform assertion"},
		{"software windows hello is not hardware even when platform counts", platformPolicy(),
			[]reg{{aaguidHelloSoft, "Windows Hello Software Authenticator", no, []regOpt{regFactor(model.FactorPlatform)}}}, false,
			[]authOpt{hwUnset()}, model.VerdictWeakFactor, model.FactorPlatform, "its registration is not hardware-backed"},
		{"platform sign-in without a registration", DefaultPolicy(), nil, false,
			[]authOpt{factor(model.FactorPlatform)}, model.VerdictWeakFactor, model.FactorPlatform,
			"device-bound platform credential, not a security key; policy hardware_factors does not name platform"},
		{"platform sign-in without a registration, platform counts", platformPolicy(), nil, false,
			[]authOpt{factor(model.FactorPlatform)}, model.VerdictVerified, model.FactorPlatform, "hardware-backed platform assertion"},
		{"synced registration beats a hardware label", platformPolicy(),
			[]reg{{aaguidICloud, "iCloud Keychain", no, []regOpt{regFactor(model.FactorPasskeySynced)}}}, false,
			nil, model.VerdictWeakFactor, model.FactorPasskeySynced, "synced passkey (iCloud Keychain), not bound to one device"},
		{"unsuspended key keeps its registration", DefaultPolicy(),
			[]reg{{aaguidYubiKey, "YubiKey 5", yes, []regOpt{regFactor(model.FactorWebAuthn)}}, {}}, true,
			[]authOpt{hwUnset()}, model.VerdictVerified, model.FactorWebAuthn, "hardware-backed webauthn assertion"},
		{"unsuspended windows hello stays platform", DefaultPolicy(), []reg{windowsHello, {}}, true,
			[]authOpt{hwUnset()}, model.VerdictWeakFactor, model.FactorPlatform, "not a security key"},
		{"suspended key", DefaultPolicy(), []reg{{aaguidYubiKey, "YubiKey 5", yes, nil}}, true,
			nil, model.VerdictWeakFactor, model.FactorWebAuthn, "its credential was removed"},
		{"service principal", DefaultPolicy(), nil, false,
			[]authOpt{func(e *model.AuthEvent) { e.Principal = model.PrincipalService }}, model.VerdictNoAssertion, "", "no authentication by alice"},
		{"provider acting on its own", DefaultPolicy(), nil, false,
			[]authOpt{func(e *model.AuthEvent) { e.Principal = model.PrincipalSystem }}, model.VerdictNoAssertion, "", "no authentication by alice"},
		{"explicit user", DefaultPolicy(), nil, false,
			[]authOpt{func(e *model.AuthEvent) { e.Principal = model.PrincipalUser }}, model.VerdictVerified, model.FactorWebAuthn, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &builder{}
			for i, r := range tc.regs {
				at := t0.Add(time.Duration(-60+10*i) * time.Minute)
				if tc.suspend && i > 0 && i == len(tc.regs)-1 {
					b.remove("sus", "", "c1", at.Add(-5*time.Minute))
				}
				b.register("reg"+string(rune('a'+i)), "", "c1", at, r.aaguid, r.model, r.hw)
				for _, o := range r.opts {
					o(&b.h.authn[len(b.h.authn)-1])
				}
			}
			if tc.suspend && len(tc.regs) == 1 {
				b.remove("sus", "", "c1", t0.Add(-5*time.Minute))
			}
			b.auth("a1", "alice", t0, append([]authOpt{cred("c1")}, tc.auth...)...)
			id := b.act("alice", t0.Add(time.Minute), model.ActionTrigger)

			check := func(c model.Correlation, how string) {
				require.Equal(t, tc.verdict, c.Verdict, "%s: %s", how, c.Reason)
				require.Equal(t, tc.factor, c.Factor, how)
				require.Contains(t, c.Reason, tc.reason, how)
			}
			check(byID(batch(t, tc.policy, &b.h))[id], "batch")

			// The engine, with the authenticator events first, last, and shuffled.
			evs := b.h.all()
			authn := func(e timed) bool { _, ok := e.ev.(*model.Authenticator); return ok }
			first := slices.Clone(evs)
			slices.SortStableFunc(first, func(x, y timed) int { return boolCmp(!authn(x), !authn(y)) })
			last := slices.Clone(evs)
			slices.SortStableFunc(last, func(x, y timed) int { return boolCmp(authn(x), authn(y)) })
			for name, order := range map[string][]timed{"registrations first": first, "registrations last": last} {
				got, _, _ := stream(t, tc.policy, events(order))
				check(byID(got)[id], name)
			}
			rng := rand.New(rand.NewPCG(7, 7))
			for range 4 {
				got, _, _ := stream(t, tc.policy, arrival(evs, rng, tc.policy.Grace, 1))
				check(byID(got)[id], "shuffled")
			}
		})
	}
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func events(ts []timed) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t.ev
	}
	return out
}
