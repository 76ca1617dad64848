package okta

import (
	"strings"

	"github.com/keytrail/keytrail/model"
)

// Event categories of the System Log event types keytrail reads, from Okta's
// event type catalog (developer.okta.com/docs/reference/api/event-types,
// release 2026.08.1): every user.authentication.*, user.session.*,
// user.device_session.*, user.mfa.*, system.mfa.*, user.credential.* and
// security.authenticator.* type, the app.oauth2 token and authorize types,
// policy.evaluate_sign_on and the device authentications. Types not listed
// are category other.
var eventCategories = map[string]model.Category{
	// A user proved who they are (primary authentication).
	"user.session.start":                           model.CategoryLogin,
	"user.authentication.auth":                     model.CategoryLogin,
	"user.authentication.authenticate":             model.CategoryLogin, // device trust certificate
	"user.authentication.auth_via_AD_agent":        model.CategoryLogin,
	"user.authentication.auth_via_IDP":             model.CategoryLogin,
	"user.authentication.auth_via_LDAP_agent":      model.CategoryLogin,
	"user.authentication.auth_via_inbound_SAML":    model.CategoryLogin,
	"user.authentication.auth_via_inbound_delauth": model.CategoryLogin,
	"user.authentication.auth_via_iwa":             model.CategoryLogin,
	"user.authentication.auth_via_radius":          model.CategoryLogin,
	"user.authentication.auth_via_richclient":      model.CategoryLogin,
	"user.authentication.auth_via_social":          model.CategoryLogin,
	"device.platform_sso.authentication":           model.CategoryLogin, // macOS Platform SSO: Secure Enclave key or password

	// A factor was verified (in Identity Engine orgs auth_via_mfa also
	// records primary factors).
	"user.authentication.auth_via_mfa": model.CategoryMFA,
	"user.authentication.verify":       model.CategoryMFA,
	"user.mfa.okta_verify":             model.CategoryMFA,
	// The user rejected an Okta Verify push: a failed verification.
	"user.mfa.okta_verify.deny_push":                model.CategoryMFA,
	"user.mfa.okta_verify.deny_push_upgrade_needed": model.CategoryMFA,

	// Not authentications: a factor skipped, a session or token used,
	// ended, handed on or evaluated.
	"user.mfa.attempt_bypass":                        model.CategorySession,
	"user.authentication.sso":                        model.CategorySession,
	"user.authentication.slo":                        model.CategorySession,
	"user.authentication.universal_logout":           model.CategorySession,
	"user.authentication.universal_logout.scheduled": model.CategorySession,
	"user.session.access_admin_app":                  model.CategorySession,
	"user.session.clear":                             model.CategorySession,
	"user.session.context.change":                    model.CategorySession,
	"user.session.end":                               model.CategorySession,
	"user.session.expire":                            model.CategorySession,
	"user.session.impersonation.end":                 model.CategorySession,
	"user.session.impersonation.extend":              model.CategorySession,
	"user.session.impersonation.grant":               model.CategorySession,
	"user.session.impersonation.initiate":            model.CategorySession,
	"user.session.impersonation.revoke":              model.CategorySession,
	"user.device_session.start":                      model.CategorySession,
	"user.device_session.end":                        model.CategorySession,
	"app.oauth2.authorize":                           model.CategorySession,
	"app.oauth2.authorize.code":                      model.CategorySession,
	"app.oauth2.authorize.implicit.access_token":     model.CategorySession,
	"app.oauth2.authorize.implicit.id_token":         model.CategorySession,
	"app.oauth2.token.detect_reuse":                  model.CategorySession,
	"app.oauth2.token.grant":                         model.CategorySession,
	"app.oauth2.token.grant.access_token":            model.CategorySession,
	"app.oauth2.token.grant.id_jag":                  model.CategorySession,
	"app.oauth2.token.grant.id_token":                model.CategorySession,
	"app.oauth2.token.grant.interclient_token":       model.CategorySession,
	"app.oauth2.token.grant.oauth_sts":               model.CategorySession,
	"app.oauth2.token.grant.refresh_token":           model.CategorySession,
	"app.oauth2.token.grant.service_account":         model.CategorySession,
	"app.oauth2.token.grant.vaulted_secret":          model.CategorySession,
	"app.oauth2.token.oauth_sts.request_token":       model.CategorySession,
	"app.oauth2.token.revoke":                        model.CategorySession,
	"app.oauth2.token.revoke.implicit.as":            model.CategorySession,
	"app.oauth2.token.revoke.implicit.client":        model.CategorySession,
	"app.oauth2.token.revoke.implicit.user":          model.CategorySession,
	"app.oauth2.as.authorize":                        model.CategorySession,
	"app.oauth2.as.authorize.code":                   model.CategorySession,
	"app.oauth2.as.authorize.implicit.access_token":  model.CategorySession,
	"app.oauth2.as.authorize.implicit.id_token":      model.CategorySession,
	"app.oauth2.as.authorize.scope_denied":           model.CategorySession,
	"app.oauth2.as.token.detect_reuse":               model.CategorySession,
	"app.oauth2.as.token.grant":                      model.CategorySession,
	"app.oauth2.as.token.grant.access_token":         model.CategorySession,
	"app.oauth2.as.token.grant.device_secret":        model.CategorySession,
	"app.oauth2.as.token.grant.id_token":             model.CategorySession,
	"app.oauth2.as.token.grant.interclient_token":    model.CategorySession,
	"app.oauth2.as.token.grant.refresh_token":        model.CategorySession,
	"app.oauth2.as.token.revoke":                     model.CategorySession,

	// About an authentication another event records, or no authentication.
	"policy.evaluate_sign_on":                           model.CategoryOther,
	"user.authentication.auth_identifier_not_in_policy": model.CategoryOther,
	"user.authentication.auth_unconfigured_identifier":  model.CategoryOther,
	"user.authentication.dsso_via_non_priority_source":  model.CategoryOther,
	"user.mfa.promote_enrollment":                       model.CategoryOther,
	"user.mfa.factor.update":                            model.CategoryOther,
	"user.credential.enroll":                            model.CategoryOther, // a Device Trust certificate, not an authenticator
	"device.password_sync.authentication":               model.CategoryOther, // the OS syncing a password, not a sign-in

	// A user's factor enrolled or made usable again, and removed or
	// suspended (a suspension is undone by user.mfa.factor.unsuspend).
	"user.mfa.factor.activate":   model.CategoryRegistration,
	"user.mfa.factor.unsuspend":  model.CategoryRegistration,
	"user.mfa.factor.deactivate": model.CategoryRemoval,
	"user.mfa.factor.suspend":    model.CategoryRemoval,
	"user.mfa.factor.reset_all":  model.CategoryRemoval,

	// The org's authenticator settings: no user's enrollment.
	"system.mfa.factor.activate":                  model.CategoryOther,
	"system.mfa.factor.deactivate":                model.CategoryOther,
	"system.mfa.preregister.initiate":             model.CategoryOther,
	"security.authenticator.lifecycle.activate":   model.CategoryOther,
	"security.authenticator.lifecycle.create":     model.CategoryOther,
	"security.authenticator.lifecycle.deactivate": model.CategoryOther,
	"security.authenticator.lifecycle.update":     model.CategoryOther,
}

// deniedVerifications are verifications the user refused: never a success,
// whatever the outcome says.
var deniedVerifications = map[string]bool{
	"user.mfa.okta_verify.deny_push":                true,
	"user.mfa.okta_verify.deny_push_upgrade_needed": true,
}

// categoryOf maps an Okta eventType to a category.
func categoryOf(t string) model.Category {
	if c, ok := eventCategories[t]; ok {
		return c
	}
	return model.CategoryOther
}

// factorName is what one Okta factor label means.
type factorName struct {
	factor model.Factor
	// securityKey marks FIDO U2F: only roaming security keys speak it.
	securityKey bool
}

// factorNames maps Okta's factor labels, keyed by factorKey, to factors. The
// vocabulary is every value Okta documents in the places a LogEvent names a
// factor: the User Factors API factorType (call, email, push, question,
// signed_nonce, sms, token, token:hardware, token:hotp, token:software:totp,
// u2f, web, webauthn); the Authenticators API keys (custom_app, custom_otp,
// duo, external_idp, google_otp, okta_email, okta_password, okta_verify,
// okta_verify_fastpass, okta_verify_push, okta_verify_totp, onprem_mfa,
// phone_number, rsa_token, security_question, smart_card_idp, symantec_vip,
// tac, webauthn, yubikey_token) and method types (push, totp, otp,
// signed_nonce, sms, voice, email, password, security_question, webauthn,
// idp, cert, duo, tac); the classic MFA policy factor keys (fido_u2f,
// fido_webauthn, okta_call, okta_otp, okta_push, okta_question, okta_sms,
// hotp…); the factor names of Okta's sign-in pages and debugData.factor
// (OKTA_VERIFY, OKTA_VERIFY_PUSH, GOOGLE_AUTH, SYMANTEC_VIP, RSA_SECURID,
// ON_PREM, DUO, YUBIKEY, SMS, CALL, EMAIL, QUESTION, PASSWORD,
// PASSWORD_AS_FACTOR, WINDOWS_HELLO, U2F, WEBAUTHN, FIDO_WEBAUTHN,
// SIGNED_NONCE, SOFT_TOKEN, OKTA_SOFT_TOKEN, CUSTOM_HOTP, CUSTOM_CLAIMS,
// CUSTOM_APP, GENERIC_SAML, GENERIC_OIDC); the methodTypeUsed labels of
// AuthenticatorEnrollment targets; and authenticationContext.credentialType
// (ASSERTION, EMAIL, IWA, JWT, OAuth 2.0, OTP, PASSWORD, SMS).
//
// Voice calls are phone factors like SMS; hardware and software OTP tokens
// (RSA SecurID, Symantec VIP, YubiKey OTP, token:hardware, on-prem MFA) are
// OTP; a custom app (custom_app, CUSTOM_APP) is a push; FastPass
// (signed_nonce) and the classic Windows Hello factor are device-bound
// platform credentials; FIDO U2F is a security key.
var factorNames = map[string]factorName{
	// WebAuthn: a security key, a platform authenticator or a passkey —
	// the AAGUID, the transports and the registration tell them apart.
	"WEBAUTHN":                  {factor: model.FactorWebAuthn},
	"FIDO_WEBAUTHN":             {factor: model.FactorWebAuthn},
	"FIDO2":                     {factor: model.FactorWebAuthn},
	"FIDO2_WEBAUTHN":            {factor: model.FactorWebAuthn},
	"SECURITY_KEY":              {factor: model.FactorWebAuthn},
	"SECURITY_KEY_OR_BIOMETRIC": {factor: model.FactorWebAuthn},
	"SECURITY_KEY_OR_BIOMETRIC_AUTHENTICATOR":       {factor: model.FactorWebAuthn},
	"SECURITY_KEY_OR_BIOMETRIC_AUTHENTICATOR_FIDO2": {factor: model.FactorWebAuthn},
	"U2F":      {factor: model.FactorWebAuthn, securityKey: true},
	"FIDO_U2F": {factor: model.FactorWebAuthn, securityKey: true},

	// Device-bound platform credentials.
	"SIGNED_NONCE":         {factor: model.FactorPlatform},
	"OKTA_VERIFY_FASTPASS": {factor: model.FactorPlatform},
	"OKTA_FASTPASS":        {factor: model.FactorPlatform},
	"FASTPASS":             {factor: model.FactorPlatform},
	"USE_OKTA_FASTPASS":    {factor: model.FactorPlatform},
	"WINDOWS_HELLO":        {factor: model.FactorPlatform},

	// Push.
	"PUSH":                    {factor: model.FactorPush},
	"OKTA_PUSH":               {factor: model.FactorPush},
	"OKTA_VERIFY_PUSH":        {factor: model.FactorPush},
	"CUSTOM_APP":              {factor: model.FactorPush},
	"GET_A_PUSH_NOTIFICATION": {factor: model.FactorPush},

	// One-time codes, from an app or a hardware or software token.
	"TOTP":                 {factor: model.FactorTOTP},
	"OTP":                  {factor: model.FactorTOTP},
	"HOTP":                 {factor: model.FactorTOTP},
	"TOKEN":                {factor: model.FactorTOTP},
	"TOKEN_HARDWARE":       {factor: model.FactorTOTP},
	"TOKEN_HOTP":           {factor: model.FactorTOTP},
	"TOKEN_SOFTWARE_TOTP":  {factor: model.FactorTOTP},
	"OKTA_VERIFY":          {factor: model.FactorTOTP}, // the classic Okta Verify code factor
	"OKTA_VERIFY_TOTP":     {factor: model.FactorTOTP},
	"OKTA_OTP":             {factor: model.FactorTOTP},
	"SOFT_TOKEN":           {factor: model.FactorTOTP},
	"OKTA_SOFT_TOKEN":      {factor: model.FactorTOTP},
	"GOOGLE_AUTH":          {factor: model.FactorTOTP},
	"GOOGLE_OTP":           {factor: model.FactorTOTP},
	"GOOGLE_AUTHENTICATOR": {factor: model.FactorTOTP},
	"SYMANTEC_VIP":         {factor: model.FactorTOTP},
	"RSA_SECURID":          {factor: model.FactorTOTP},
	"RSA_TOKEN":            {factor: model.FactorTOTP},
	"ON_PREM":              {factor: model.FactorTOTP},
	"ONPREM_MFA":           {factor: model.FactorTOTP},
	"YUBIKEY":              {factor: model.FactorTOTP}, // YubiKey OTP, not FIDO
	"YUBIKEY_TOKEN":        {factor: model.FactorTOTP},
	"CUSTOM_OTP":           {factor: model.FactorTOTP},
	"CUSTOM_HOTP":          {factor: model.FactorTOTP},
	"ENTER_A_CODE":         {factor: model.FactorTOTP},

	// Phone: SMS and voice calls.
	"SMS":          {factor: model.FactorSMS},
	"SMS_FACTOR":   {factor: model.FactorSMS},
	"OKTA_SMS":     {factor: model.FactorSMS},
	"CALL":         {factor: model.FactorSMS},
	"OKTA_CALL":    {factor: model.FactorSMS},
	"VOICE":        {factor: model.FactorSMS},
	"VOICE_CALL":   {factor: model.FactorSMS},
	"PHONE":        {factor: model.FactorSMS},
	"PHONE_NUMBER": {factor: model.FactorSMS},

	// Email.
	"EMAIL":        {factor: model.FactorEmail},
	"EMAIL_FACTOR": {factor: model.FactorEmail},
	"OKTA_EMAIL":   {factor: model.FactorEmail},

	// Password.
	"PASSWORD":           {factor: model.FactorPassword},
	"PASSWORD_AS_FACTOR": {factor: model.FactorPassword},
	"OKTA_PASSWORD":      {factor: model.FactorPassword},

	// Security questions, federation, smart cards, Duo (whose method the log
	// does not name), temporary access codes and token credentials.
	"QUESTION":          {factor: model.FactorOther},
	"SECURITY_QUESTION": {factor: model.FactorOther},
	"OKTA_QUESTION":     {factor: model.FactorOther},
	"DUO":               {factor: model.FactorOther},
	"WEB":               {factor: model.FactorOther},
	"EXTERNAL_IDP":      {factor: model.FactorOther},
	"IDP":               {factor: model.FactorOther},
	"SMART_CARD_IDP":    {factor: model.FactorOther},
	"CERT":              {factor: model.FactorOther},
	"TAC":               {factor: model.FactorOther},
	"CUSTOM_CLAIMS":     {factor: model.FactorOther},
	"CLAIMS_PROVIDER":   {factor: model.FactorOther},
	"GENERIC_SAML":      {factor: model.FactorOther},
	"GENERIC_OIDC":      {factor: model.FactorOther},
	"ASSERTION":         {factor: model.FactorOther},
	"IWA":               {factor: model.FactorOther},
	"JWT":               {factor: model.FactorOther},
	"OAUTH_2_0":         {factor: model.FactorOther},
}

// factorKey normalizes a factor label: upper case, every run of other
// characters than letters and digits one underscore ("token:software:totp"
// → TOKEN_SOFTWARE_TOTP, "Use Okta FastPass" → USE_OKTA_FASTPASS).
func factorKey(s string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToUpper(s) {
		if ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			gap = false
			b.WriteRune(r)
			continue
		}
		gap = true
	}
	return b.String()
}

// lookupFactor reads one label through the table.
func lookupFactor(s string) (factorName, bool) {
	f, ok := factorNames[factorKey(s)]
	return f, ok
}

// guessFactor reads a label the table does not know by its words (a label
// Okta words differently, such as "Okta Verify Push").
func guessFactor(s string) (factorName, bool) {
	k := "_" + factorKey(s) + "_"
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(k, "_"+w+"_") || strings.Contains(k, w) && len(w) > 4 {
				return true
			}
		}
		return false
	}
	switch {
	case k == "__":
		return factorName{}, false
	case has("U2F"):
		return factorName{factor: model.FactorWebAuthn, securityKey: true}, true
	case has("FASTPASS", "SIGNED_NONCE", "WINDOWS_HELLO"):
		return factorName{factor: model.FactorPlatform}, true
	case has("WEBAUTHN", "FIDO", "FIDO2", "PASSKEY", "SECURITY_KEY"):
		return factorName{factor: model.FactorWebAuthn}, true
	case has("PUSH"):
		return factorName{factor: model.FactorPush}, true
	case has("TOTP", "OTP", "HOTP", "TOKEN", "AUTHENTICATOR", "SECURID", "YUBIKEY", "CODE"):
		return factorName{factor: model.FactorTOTP}, true
	case has("SMS", "VOICE", "CALL", "PHONE"):
		return factorName{factor: model.FactorSMS}, true
	case has("EMAIL"):
		return factorName{factor: model.FactorEmail}, true
	case has("PASSWORD"):
		return factorName{factor: model.FactorPassword}, true
	}
	return factorName{factor: model.FactorOther}, true
}

// placeholder reports whether s is one of the strings Okta writes where a
// value is missing: "null" (client.ipAddress, client.zone) and "unknown"
// (the alternateId of enrollments and apps, externalSessionId of API calls).
func placeholder(s string) bool {
	return strings.EqualFold(s, "null") || strings.EqualFold(s, "unknown")
}

// value is s, or "" when s is a placeholder.
func value(s string) string {
	s = strings.TrimSpace(s)
	if placeholder(s) {
		return ""
	}
	return s
}

// Actor and target types (LogActor.type) keytrail tells apart.
const (
	typeUser            = "User"
	typeSystemPrincipal = "SystemPrincipal"
)

// principalOf says who an actor or target of type t is: a User is a person,
// Okta's SystemPrincipal the provider itself, any other type (PublicClientApp,
// AppInstance, Client…) a service. An actor without a type is taken as a user.
func principalOf(t string) model.Principal {
	switch {
	case t == "" || strings.EqualFold(t, typeUser):
		return model.PrincipalUser
	case strings.EqualFold(t, typeSystemPrincipal):
		return model.PrincipalSystem
	}
	return model.PrincipalService
}

// transportClass reads a WebAuthn credential's authenticatorTransports
// (written "[usb, nfc]", `["internal", "hybrid"]` or as a JSON array): a
// credential reached over internal or hybrid is a platform credential, one
// reached only over usb, nfc or ble a roaming security key. ok is false when
// the transports say neither.
func transportClass(list string) (f model.Factor, ok bool) {
	var platform, roaming bool
	for _, t := range strings.FieldsFunc(strings.ToLower(list), func(r rune) bool {
		return r == '[' || r == ']' || r == ',' || r == ' ' || r == '"'
	}) {
		switch t {
		case "internal", "hybrid":
			platform = true
		case "usb", "nfc", "ble":
			roaming = true
		}
	}
	switch {
	case platform:
		return model.FactorPlatform, true
	case roaming:
		return model.FactorWebAuthn, true
	}
	return "", false
}
