package entra

import (
	"strings"

	"github.com/keytrail/keytrail/model"
)

// methodKind is what one Entra authentication method label proves.
type methodKind uint8

// Method kinds.
const (
	kindUnknown     methodKind = iota // a label keytrail does not know: an authentication of unknown strength
	kindReuse                         // a claim in a token was reused: no authentication happened
	kindSecurityKey                   // "FIDO2 security key": a WebAuthn key, hardware by Entra's word when no AAGUID is known
	kindPasskey                       // a device-bound passkey of unknown kind: WebAuthn, the AAGUID decides
	kindPlatform                      // Windows Hello for Business, platform credential, an authenticator app's passkey
	kindSynced                        // a synced passkey
	kindTOTP                          // OATH codes from an app or a hardware token
	kindPush                          // an authenticator-app approval, passwordless phone sign-in
	kindPhone                         // a code or call to a phone (SMS, voice)
	kindEmail                         // an email one-time code
	kindPassword                      // a password (cloud, PTA, PHS) or another knowledge factor
	kindOther                         // certificate, Temporary Access Pass, QR code, federated: not a key tap
)

// methodClass is what keytrail makes of one Entra authentication method.
type methodClass struct {
	kind     methodKind
	factor   model.Factor
	hardware *bool // the provider's explicit signal, before any AAGUID
}

var (
	hwTrue  = model.Bool(true)
	hwFalse = model.Bool(false)
)

// classes maps a method kind to its factor and explicit hardware signal.
var classes = map[methodKind]methodClass{
	kindUnknown:     {kindUnknown, model.FactorOther, hwFalse},
	kindReuse:       {kindReuse, model.FactorNone, nil},
	kindSecurityKey: {kindSecurityKey, model.FactorWebAuthn, hwTrue},
	kindPasskey:     {kindPasskey, model.FactorWebAuthn, nil},
	kindPlatform:    {kindPlatform, model.FactorPlatform, hwTrue},
	kindSynced:      {kindSynced, model.FactorPasskeySynced, hwFalse},
	kindTOTP:        {kindTOTP, model.FactorTOTP, hwFalse},
	kindPush:        {kindPush, model.FactorPush, hwFalse},
	kindPhone:       {kindPhone, model.FactorSMS, hwFalse},
	kindEmail:       {kindEmail, model.FactorEmail, hwFalse},
	kindPassword:    {kindPassword, model.FactorPassword, hwFalse},
	kindOther:       {kindOther, model.FactorOther, hwFalse},
}

// methodLabels is Entra's authentication-method vocabulary, lower-cased:
// the authenticationMethod values of a signIn's authenticationDetails, the
// values of authenticationMethodsUsed, and the method names the
// authentication-methods audits write (additionalDetails AuthenticationMethod
// and resultReason). Sources are listed in testdata/README.md.
var methodLabels = map[string]methodKind{
	// Token reuse (Graph authenticationDetail: "Satisfied by token",
	// "Previously satisfied"; the beta signIn example: "Claim in access token").
	"previously satisfied":  kindReuse,
	"satisfied by token":    kindReuse,
	"claim in access token": kindReuse,
	"claim in token":        kindReuse,

	// WebAuthn.
	"fido2 security key":                    kindSecurityKey,
	"fido2":                                 kindSecurityKey, // the label before passkeys existed (beta signIn example)
	"fido2 security keys":                   kindSecurityKey,
	"passkey (device-bound)":                kindPasskey, // security keys and authenticator-app passkeys alike: the AAGUID decides
	"passkey (other device-bound)":          kindPasskey,
	"passkey":                               kindPasskey,
	"fido":                                  kindPasskey, // authenticationMethodsUsed
	"fido2 authentication method":           kindPasskey, // audit resultReason "User registered Fido2 Authentication Method"
	"passkey (synced)":                      kindSynced,
	"passkey (microsoft authenticator)":     kindPlatform,
	"passkey (authenticator)":               kindPlatform,
	"passkey in microsoft authenticator":    kindPlatform,
	"passkey (windows hello)":               kindPlatform,
	"windows hello for business":            kindPlatform,
	"windows hello for business credential": kindPlatform,
	"platform credential":                   kindPlatform,
	"macos platform credential":             kindPlatform,
	"macos platform credentials":            kindPlatform,
	"platform credential for macos":         kindPlatform,
	"macos secure enclave key":              kindPlatform,

	// Authenticator app approvals and passwordless phone sign-in.
	"mobile app notification":                       kindPush,
	"authenticator app":                             kindPush, // Graph's list; "App Verification code" is the code variant
	"microsoft authenticator":                       kindPush,
	"microsoft authenticator (push notification)":   kindPush,
	"microsoft authenticator app":                   kindPush,
	"microsoft authenticator authentication method": kindPush,
	"authenticator app with notification and code":  kindPush,
	"phone app notification":                        kindPush,
	"passwordless phone sign-in":                    kindPush,
	"passwordless phone sign-in credential":         kindPush,
	"microsoft passwordless phone sign-in":          kindPush,
	"passwordless microsoft authenticator":          kindPush,
	"microsoft authenticator (passwordless)":        kindPush,

	// One-time codes from apps and hardware tokens.
	"oath verification code":       kindTOTP, // logged for hardware and software OATH tokens alike
	"mobile app verification code": kindTOTP,
	"app verification code":        kindTOTP,
	"software oath token":          kindTOTP,
	"hardware oath token":          kindTOTP,
	"oath hardware token":          kindTOTP,
	"authenticator app (oath)":     kindTOTP,
	"rsa securid":                  kindTOTP,
	"symantec vip":                 kindTOTP,

	// Phone.
	"text message": kindPhone,
	"sms":          kindPhone,
	"sms sign-in":  kindPhone,
	"voice":        kindPhone,
	"phone call":   kindPhone,
	"phone call approval (authentication phone)": kindPhone,
	"phone call approval (alternate phone)":      kindPhone,
	"phone call approval (office phone)":         kindPhone,
	"mobile phone sms":                           kindPhone,
	"mobile phone call and sms":                  kindPhone,
	"phone":                                      kindPhone,
	"phone method":                               kindPhone,

	// Email.
	"email":                   kindEmail,
	"email otp":               kindEmail,
	"email verification code": kindEmail,
	"email one-time passcode": kindEmail,

	// Passwords and other knowledge factors (authenticationMethodsUsed PTA, PHS).
	"password":                    kindPassword,
	"password in the cloud":       kindPassword,
	"pta":                         kindPassword,
	"phs":                         kindPassword,
	"pass-through authentication": kindPassword,
	"password hash sync":          kindPassword,
	"security questions":          kindPassword,
	"security question":           kindPassword,

	// Not a key tap and none of the above.
	"x.509 certificate":                kindOther,
	"certificate":                      kindOther,
	"certificate-based authentication": kindOther,
	"temporary access pass":            kindOther,
	"temporary access pass method":     kindOther,
	"qr code":                          kindOther,
	"qr code pin":                      kindOther,
	"seamless sso":                     kindOther,
	"federated":                        kindOther,
	"other":                            kindOther,
}

// classify maps an Entra authentication method label to what it proves.
// Labels outside the vocabulary are matched by the words they contain;
// anything still unknown is an authentication of unknown strength.
func classify(method string) (methodClass, bool) {
	m := strings.ToLower(strings.TrimSpace(method))
	if k, ok := methodLabels[m]; ok {
		return classes[k], true
	}
	m = strings.Join(strings.Fields(m), " ")
	if m == "" {
		return methodClass{}, false
	}
	if k, ok := methodLabels[m]; ok {
		return classes[k], true
	}
	return classes[guess(m)], true
}

// guess classifies a label outside the vocabulary by its words, most
// specific first ("passwordless" before "password", "email" before "code").
func guess(m string) methodKind {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("previously satisfied", "claim in", "satisfied by token"):
		return kindReuse
	case has("synced"):
		return kindSynced
	case has("windows hello", "platform credential", "authenticator") && has("passkey"), has("windows hello", "platform credential", "secure enclave"):
		return kindPlatform
	case has("fido2 security key"):
		return kindSecurityKey
	case has("passkey", "fido"):
		return kindPasskey
	case has("passwordless", "notification", "push"):
		return kindPush
	case has("email"):
		return kindEmail
	case has("oath", "otp", "verification code", "totp", "securid", "token code"):
		return kindTOTP
	case has("text message", "sms", "voice", "phone call", "phone"):
		return kindPhone
	case has("password", "pass-through", "hash sync", "security question"):
		return kindPassword
	case has("certificate", "x.509", "x509", "temporary access pass", "qr code", "federat", "sso"):
		return kindOther
	}
	return kindUnknown
}

// notPerformed reports whether an authenticationStepResultDetail says the
// step's requirement was met without the user authenticating with its
// method now: a claim in the token ("MFA requirement satisfied by claim in
// the token", "First factor requirement satisfied by claim in the token"),
// the device's multi-factor claim, or a skipped requirement ("MFA requirement
// skipped due to location", "… remembered device"…). reuse is set for the
// token and device claims. Values follow Microsoft's list of MFA result
// details in the sign-in logs (testdata/README.md).
func notPerformed(detail string) (skipped, reuse bool) {
	d := strings.ToLower(detail)
	switch {
	case strings.Contains(d, "claim in the token"), strings.Contains(d, "claim in token"),
		strings.Contains(d, "satisfied by token"), strings.Contains(d, "previously satisfied"),
		strings.Contains(d, "multi-factor device"), strings.Contains(d, "multifactor device"):
		return true, true
	case strings.Contains(d, "skipped"), strings.Contains(d, "remembered device"):
		return true, false
	}
	return false, false
}
