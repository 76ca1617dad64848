package google

import (
	"strings"

	"github.com/keytrail/keytrail/model"
)

// reading is what keytrail makes of one login-application event.
type reading struct {
	category      model.Category
	outcome       model.Outcome
	factor        model.Factor
	hardware      *bool
	authenticator string // the model of the Authenticator row a registration or removal adds; "" for none
	note          string // why the event is not an authentication, for Detail
}

// eventCategories maps the login application's event names (Login Audit
// Activity Events; testdata/README.md) to categories. Events not listed —
// account warnings, password and recovery-info changes, Advanced Protection
// (titanium_*) enrollment, risky sensitive actions — are category other.
var eventCategories = map[string]model.Category{
	"login_success":      model.CategoryLogin,
	"login_failure":      model.CategoryLogin,
	"login_verification": model.CategoryMFA,
	"login_challenge":    model.CategoryMFA,
	"logout":             model.CategorySession,
	"2sv_enroll":         model.CategoryRegistration,
	"passkey_enrolled":   model.CategoryRegistration,
	"2sv_disable":        model.CategoryRemoval,
	"passkey_removed":    model.CategoryRemoval,
}

// readEvent reads one event from its name and login parameters.
func readEvent(name string, methods []string, loginType, status string, secondFactor bool) reading {
	r := reading{category: eventCategories[name], outcome: model.OutcomeSuccess, factor: model.FactorNone}
	if r.category == "" {
		r.category = model.CategoryOther
	}
	st := strings.ToLower(status)
	if name == "login_failure" || strings.HasSuffix(name, "_blocked") || strings.Contains(st, "fail") {
		r.outcome = model.OutcomeFailure
	}
	if secondFactor && r.category == model.CategoryLogin {
		r.category = model.CategoryMFA
	}
	switch name {
	case "2sv_enroll", "2sv_disable":
		// 2-step verification as a whole: which method is not said.
		r.factor, r.authenticator = model.FactorOther, "2-step verification"
		return r
	case "passkey_enrolled", "passkey_removed":
		// Google exposes no AAGUID and no credential id: a passkey of
		// unknown kind (a security key, a platform or a synced passkey).
		r.factor, r.authenticator = model.FactorWebAuthn, "passkey"
		return r
	}
	if r.category != model.CategoryLogin && r.category != model.CategoryMFA {
		return r
	}
	if len(methods) > 0 {
		f, hw, ok := strongest(methods)
		if ok {
			r.factor, r.hardware = f, hw
			return r
		}
		// Only "none", captchas and the like: no credential was presented.
		r.category, r.note = model.CategorySession, "no challenge was presented"
		return r
	}
	switch strings.ToLower(loginType) {
	case "google_password":
		r.factor, r.hardware = model.FactorPassword, hwFalse
	case "exchange":
		// An existing credential exchanged for a session (e.g. an OAuth token
		// for a cookie): nothing was presented.
		r.category, r.note = model.CategorySession, "credential exchange"
	default:
		// saml, oidc, reauth, unknown: authenticated somewhere keytrail cannot see.
		r.factor, r.hardware = model.FactorOther, hwFalse
	}
	return r
}

var (
	hwTrue  = model.Bool(true)
	hwFalse = model.Bool(false)
)

// challenge is what one login_challenge_method value proves.
type challenge struct {
	factor   model.Factor
	hardware *bool
}

// notAFactor marks challenge values that present no credential.
var notAFactor = challenge{factor: model.FactorNone}

// challengeMethods is the login_challenge_method vocabulary (testdata/README.md
// lists the sources). security_key is Google's only hardware signal; passkey
// is WebAuthn of unknown kind; knowledge_* challenges ask the user something
// they know and send nothing, so they are knowledge factors like a password,
// not OTP, SMS or email.
var challengeMethods = map[string]challenge{
	"security_key":                  {model.FactorWebAuthn, hwTrue},
	"passkey":                       {model.FactorWebAuthn, nil},
	"cross_device":                  {model.FactorWebAuthn, nil}, // a phone's passkey over hybrid transport
	"security_key_otp":              {model.FactorTOTP, hwFalse}, // a key typing an OTP, not a WebAuthn assertion
	"google_authenticator":          {model.FactorTOTP, hwFalse},
	"totp":                          {model.FactorTOTP, hwFalse},
	"offline_otp":                   {model.FactorTOTP, hwFalse},
	"backup_code":                   {model.FactorTOTP, hwFalse},
	"rescue_code":                   {model.FactorTOTP, hwFalse},
	"google_prompt":                 {model.FactorPush, hwFalse},
	"internal_two_factor":           {model.FactorPush, hwFalse},
	"authzen":                       {model.FactorPush, hwFalse},
	"device_prompt":                 {model.FactorPush, hwFalse},
	"idv_preregistered_phone":       {model.FactorSMS, hwFalse},
	"idv_any_phone":                 {model.FactorSMS, hwFalse},
	"idv_preregistered_email":       {model.FactorEmail, hwFalse},
	"idv_any_email":                 {model.FactorEmail, hwFalse},
	"password":                      {model.FactorPassword, hwFalse},
	"knowledge_employee_id":         {model.FactorPassword, hwFalse},
	"knowledge_preregistered_email": {model.FactorPassword, hwFalse},
	"knowledge_preregistered_phone": {model.FactorPassword, hwFalse},
	"knowledge_name":                {model.FactorPassword, hwFalse},
	"knowledge_secret_question":     {model.FactorPassword, hwFalse},
	"knowledge_user_account":        {model.FactorPassword, hwFalse},
	"login_location":                {model.FactorPassword, hwFalse}, // the user confirms where they usually sign in
	"saml":                          {model.FactorOther, hwFalse},
	"oidc":                          {model.FactorOther, hwFalse},
	"other":                         {model.FactorOther, hwFalse},
	"none":                          notAFactor,
	"captcha":                       notAFactor,
	"recaptcha":                     notAFactor,
}

// methodFactor maps one login_challenge_method value to a factor and the
// explicit hardware signal it carries; ok is false for values that present
// no credential.
func methodFactor(m string) (f model.Factor, hardware *bool, ok bool) {
	m = strings.ToLower(strings.TrimSpace(m))
	c, known := challengeMethods[m]
	if !known {
		switch {
		case m == "":
			c = notAFactor
		case strings.HasPrefix(m, "knowledge_"):
			c = challenge{model.FactorPassword, hwFalse}
		case strings.HasPrefix(m, "security_key"):
			// BLE, NFC and other transports of a security key challenge
			c = challenge{model.FactorWebAuthn, hwTrue}
		case strings.Contains(m, "passkey"):
			c = challenge{model.FactorWebAuthn, nil}
		case strings.Contains(m, "email"):
			c = challenge{model.FactorEmail, hwFalse}
		case strings.Contains(m, "phone"), strings.Contains(m, "sms"):
			c = challenge{model.FactorSMS, hwFalse}
		case strings.Contains(m, "otp"), strings.Contains(m, "code"), strings.Contains(m, "authenticator"):
			c = challenge{model.FactorTOTP, hwFalse}
		case strings.Contains(m, "prompt"):
			c = challenge{model.FactorPush, hwFalse}
		default:
			c = challenge{model.FactorOther, hwFalse}
		}
	}
	return c.factor, c.hardware, c.factor != model.FactorNone
}

// strength orders factors, strongest first.
func strength(f model.Factor) int {
	for i, g := range model.Factors {
		if g == f {
			return i
		}
	}
	return len(model.Factors)
}

// strongest returns the strongest factor among login_challenge_method
// values; ok is false when none presents a credential.
func strongest(methods []string) (model.Factor, *bool, bool) {
	best, hw, any := model.FactorNone, (*bool)(nil), false
	for _, m := range methods {
		f, h, ok := methodFactor(m)
		if !ok {
			continue
		}
		if !any || strength(f) < strength(best) || (f == best && f == model.FactorWebAuthn && h != nil && *h) {
			best, hw, any = f, h, true
		}
	}
	return best, hw, any
}
