package demo

import (
	"sort"

	"github.com/keytrail/keytrail/model"
)

// Authentication factors of generated events.
const (
	fHW       uint8 = iota // hardware security key
	fSynced                // synced passkey
	fPlatform              // device-bound platform credential (Windows Hello, Touch ID): not a security key
	fOTP                   // TOTP / OTP
	fPush                  // push notification
	fPassword              // password only
)

// Authentication event kinds.
const (
	evLogin    uint8 = iota // interactive sign-in
	evStepUp                // re-authentication before a privileged action
	evSession               // token reuse, SSO, refresh, logout: not an authentication
	evFail                  // failed sign-in
	evRegister              // authenticator registration
	evRemove                // authenticator removal
)

// Point classes for the verdict evaluation.
const (
	ptHW   uint8 = iota // successful hardware-backed assertion
	ptWeak              // successful authentication without a hardware key
	ptAmb               // session or registration event: must not decide a verdict
	ptNone              // failure: never counts
)

// authEv is one authentication interaction; it renders to one or more records.
type authEv struct {
	ts     int64
	person int32
	cred   int32 // credential index, -1 when none
	kind   uint8
	factor uint8
}

// credential is a WebAuthn credential with its life in the period.
type credential struct {
	person   int32
	id       string
	key      keyModel
	synced   bool
	platform bool  // a platform authenticator (Windows Hello, Touch ID)
	regAt    int64 // registration time
	remAt    int64 // removal time, 0 when kept
	initial  bool  // registered before the period
}

// step is one record an authentication interaction renders to.
type step struct {
	dt  int64 // offset from the interaction time, ms
	cls uint8 // point class
	rec uint8 // record variant, per source
}

// Record variants.
const (
	recOktaPassword uint8 = iota // user.authentication.verify PASSWORD
	recOktaMFA                   // user.authentication.auth_via_mfa with the factor
	recOktaSessionStart
	recOktaSSO
	recOktaFail
	recOktaActivate
	recOktaDeactivate
	recSignIn       // Entra sign-in / Google login activity / Keycloak LOGIN
	recStepUp       // Entra step-up sign-in / Google login_verification / Keycloak LOGIN
	recSessionEvent // Entra Previously satisfied / Google logout / Keycloak REFRESH_TOKEN
	recFailEvent
	recRegisterEvent
	recRemoveEvent
)

func factorClass(f uint8) uint8 {
	if f == fHW {
		return ptHW
	}
	return ptWeak
}

// pattern returns the records an interaction renders to, with their point classes.
func pattern(src model.Source, kind, factor uint8) []step {
	fc := factorClass(factor)
	switch src {
	case model.SourceOkta:
		switch kind {
		case evLogin:
			switch factor {
			case fSynced:
				return []step{{0, fc, recOktaMFA}, {1000, ptWeak, recOktaSessionStart}, {2000, ptAmb, recOktaSSO}}
			case fPassword:
				return []step{{0, ptWeak, recOktaPassword}, {1000, ptWeak, recOktaSessionStart}, {2000, ptAmb, recOktaSSO}}
			}
			// fHW, fOTP, fPush and fPlatform: a password, then the factor.
			return []step{{-4000, ptWeak, recOktaPassword}, {0, fc, recOktaMFA}, {1000, ptWeak, recOktaSessionStart}, {2000, ptAmb, recOktaSSO}}
		case evStepUp:
			return []step{{0, fc, recOktaMFA}}
		case evSession:
			return []step{{0, ptAmb, recOktaSSO}}
		case evFail:
			return []step{{0, ptNone, recOktaFail}}
		case evRegister:
			return []step{{0, ptAmb, recOktaActivate}}
		case evRemove:
			return []step{{0, ptAmb, recOktaDeactivate}}
		}
	default:
		switch kind {
		case evLogin:
			return []step{{0, fc, recSignIn}}
		case evStepUp:
			return []step{{0, fc, recStepUp}}
		case evSession:
			return []step{{0, ptAmb, recSessionEvent}}
		case evFail:
			return []step{{0, ptNone, recFailEvent}}
		case evRegister:
			return []step{{0, ptAmb, recRegisterEvent}}
		case evRemove:
			return []step{{0, ptAmb, recRemoveEvent}}
		}
	}
	return nil
}

// point is one dated evidence item of a person.
type point struct {
	ts  int64
	cls uint8
}

// credentials gives every WebAuthn person a credential, with registrations
// and removals during the period for some.
func (g *gen) credentials() {
	g.pstate = make([]pstate, len(g.org.People))
	for i := range g.org.People {
		p := &g.org.People[i]
		ps := &g.pstate[i]
		ps.hwFrom = -1
		ps.gapFrom, ps.gapTo = -1, -1
		switch p.Posture {
		case PostureHardware:
			first := g.start - g.between(3*dayMS, 90*dayMS)
			switch {
			case i >= len(scripted) && g.cfg.Days >= 4 && g.chance(0.12):
				// a new hire: push until the key arrives
				first = g.start + int64(1+g.rng.IntN(g.cfg.Days-2))*dayMS
				ps.regDay = first
				ps.hwFrom = -2 // set when the registration is placed
			case (i == 3 || i >= len(scripted)) && g.cfg.Days >= 3 && (i == 3 || g.chance(0.06)):
				// loses the key: removed one morning, replaced a day later
				ps.lostDay = g.start + int64(1+g.rng.IntN(g.cfg.Days-2))*dayMS
				if i == 3 {
					ps.lostDay = g.start + dayMS
				}
			}
			if ps.hwFrom != -2 {
				ps.hwFrom = first
				ps.cred = g.addCred(int32(i), false, first, true)
				g.addAuth(i, first, evRegister, fHW, ps.cred)
			}
		case PostureSynced:
			at := g.start - g.between(3*dayMS, 60*dayMS)
			ps.cred = g.addCred(int32(i), true, at, true)
			if p.Source != model.SourceEntra { // Entra names synced passkeys in the sign-in itself
				g.addAuth(i, at, evRegister, fSynced, ps.cred)
			}
		case PosturePlatform:
			at := g.start - g.between(3*dayMS, 60*dayMS)
			ps.cred = g.addPlatformCred(int32(i), at)
			g.addAuth(i, at, evRegister, fPlatform, ps.cred)
		}
	}
}

// pstate is per-person generation state.
type pstate struct {
	hwFrom  int64 // first time a hardware key is usable; -1 never
	regDay  int64 // new hire: day the key is registered
	lostDay int64 // day the key is lost
	gapFrom int64 // key removed at
	gapTo   int64 // replacement registered at
	cred    int32
	cred2   int32
}

// addPlatformCred gives person a platform authenticator: Windows Hello on
// Okta, Touch ID (Chrome on Mac) on Keycloak.
func (g *gen) addPlatformCred(person int32, at int64) int32 {
	k := platformKeys[0]
	if g.org.People[person].Source == model.SourceKeycloak {
		k = platformKeys[1]
	}
	i := g.addCred(person, false, at, true)
	c := &g.org.creds[i]
	c.key, c.platform = k, true
	return i
}

func (g *gen) addCred(person int32, synced bool, at int64, initial bool) int32 {
	var k keyModel
	if synced {
		k = syncedPasskeys[g.rng.IntN(len(syncedPasskeys))]
	} else {
		k = hardwareKeys[g.rng.IntN(len(hardwareKeys))]
	}
	var id string
	switch g.org.People[person].Source {
	case model.SourceOkta:
		id = "fwf" + g.alnum(17)
	case model.SourceEntra:
		id = g.alnum(22) + "_" + g.alnum(20)
	default:
		id = g.alnum(22)
	}
	g.org.creds = append(g.org.creds, credential{person: person, id: id, key: k, synced: synced, regAt: at, initial: initial})
	return int32(len(g.org.creds) - 1)
}

// factorAt is the factor person p signs in with at ts, and the credential.
func (g *gen) factorAt(p int, ts int64, forgot bool) (uint8, int32) {
	ps := &g.pstate[p]
	switch g.org.People[p].Posture {
	case PostureHardware:
		switch {
		case ps.hwFrom < 0 || ts < ps.hwFrom:
			return fPush, -1
		case ps.gapFrom >= 0 && ts >= ps.gapFrom && (ps.gapTo < 0 || ts < ps.gapTo):
			return fOTP, -1
		case forgot:
			return fPush, -1
		}
		if ps.gapTo >= 0 && ts >= ps.gapTo {
			return fHW, ps.cred2
		}
		return fHW, ps.cred
	case PostureSynced:
		return fSynced, ps.cred
	case PosturePlatform:
		return fPlatform, ps.cred
	case PostureOTP:
		return fOTP, -1
	case PosturePush:
		return fPush, -1
	}
	return fPassword, -1
}

func (g *gen) addAuth(p int, ts int64, kind, factor uint8, cred int32) {
	g.org.auth = append(g.org.auth, authEv{ts: ts, person: int32(p), cred: cred, kind: kind, factor: factor})
}

// buildPoints collects every person's evidence points, sorted by time.
func (g *gen) buildPoints() {
	o := g.org
	sort.SliceStable(o.auth, func(i, j int) bool { return o.auth[i].ts < o.auth[j].ts })
	o.points = make([][]point, len(o.People))
	for _, a := range o.auth {
		src := o.People[a.person].Source
		for _, s := range pattern(src, a.kind, a.factor) {
			if s.cls == ptNone {
				continue
			}
			o.points[a.person] = append(o.points[a.person], point{a.ts + s.dt, s.cls})
		}
	}
	for _, pts := range o.points {
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].ts < pts[j].ts })
	}
}

// verdictAmbiguous marks an evaluation the generator must not rely on.
const verdictAmbiguous model.Verdict = "ambiguous"

// evaluate applies DESIGN.md's verdict rules to person p's points for an
// action at t with the given max_age; amb says how session-like points are
// read (ptAmb ignores them, ptWeak or ptHW counts them as such). It returns
// the verdict and the time of the deciding point (0 when none).
func evaluate(pts []point, t, maxAge int64, amb uint8) (model.Verdict, int64) {
	lo, hi := t-maxAge, t+int64(ClockSkew/1e6)
	cls := func(c uint8) uint8 {
		if c == ptAmb {
			return amb
		}
		return c
	}
	i := sort.Search(len(pts), func(i int) bool { return pts[i].ts >= lo })
	var hw, weak int64
	for j := i; j < len(pts) && pts[j].ts <= hi; j++ {
		switch cls(pts[j].cls) {
		case ptHW:
			if hw == 0 || pts[j].ts <= t {
				hw = pts[j].ts // the latest tap at or before t, else the first after it
			}
		case ptWeak:
			if weak == 0 {
				weak = pts[j].ts
			}
		}
	}
	if hw != 0 {
		return model.VerdictVerified, hw
	}
	if weak != 0 {
		return model.VerdictWeakFactor, weak
	}
	any := false
	for _, pt := range pts {
		if cls(pt.cls) != ptAmb {
			any = true
			break
		}
	}
	if !any {
		return model.VerdictNoAssertion, 0
	}
	// Stale needs a hardware assertion before the window that any lookback
	// of 12 h or more sees; without one, stale vs no_assertion depends on
	// correlator details the policy does not fix.
	for j := i - 1; j >= 0; j-- {
		if cls(pts[j].cls) != ptHW {
			continue
		}
		if t-pts[j].ts <= int64(HumanMaxAge/1e6) {
			return model.VerdictStale, pts[j].ts
		}
		break
	}
	return verdictAmbiguous, 0
}

// Margins kept around the window edges.
const (
	edgeMargin = 90 * secMS // around t − max_age
	skewMargin = 1 * secMS  // around t + clock_skew
)

// robust returns the verdict for an action at t when it is unambiguous:
// the same under every reading of session-like events and with no
// evidence near the window edges.
func robust(pts []point, t, maxAge int64) (model.Verdict, int64, bool) {
	v, at := evaluate(pts, t, maxAge, ptAmb)
	if v == verdictAmbiguous {
		return v, 0, false
	}
	if v2, _ := evaluate(pts, t, maxAge, ptWeak); v2 != v {
		return v, 0, false
	}
	if v3, _ := evaluate(pts, t, maxAge, ptHW); v3 != v {
		return v, 0, false
	}
	lo, hi := t-maxAge, t+int64(ClockSkew/1e6)
	if near(pts, lo-edgeMargin, lo+edgeMargin) || near(pts, hi-skewMargin, hi+skewMargin) {
		return v, 0, false
	}
	return v, at, true
}

func near(pts []point, lo, hi int64) bool {
	i := sort.Search(len(pts), func(i int) bool { return pts[i].ts >= lo })
	return i < len(pts) && pts[i].ts <= hi
}
