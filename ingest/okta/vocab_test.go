package okta

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// catalog is every event type of Okta's System Log event type catalog
// (okta-developer-docs data/event-types.json, release 2026.08.1) in the
// families that concern sign-ins, sessions, tokens and factors, by the
// category keytrail gives it.
var catalog = map[model.Category][]string{
	model.CategoryLogin: {
		"user.session.start", "user.authentication.auth", "user.authentication.authenticate",
		"user.authentication.auth_via_AD_agent", "user.authentication.auth_via_IDP", "user.authentication.auth_via_LDAP_agent",
		"user.authentication.auth_via_inbound_SAML", "user.authentication.auth_via_inbound_delauth", "user.authentication.auth_via_iwa",
		"user.authentication.auth_via_radius", "user.authentication.auth_via_richclient", "user.authentication.auth_via_social",
		"device.platform_sso.authentication",
	},
	model.CategoryMFA: {
		"user.authentication.auth_via_mfa", "user.authentication.verify", "user.mfa.okta_verify",
		"user.mfa.okta_verify.deny_push", "user.mfa.okta_verify.deny_push_upgrade_needed",
	},
	model.CategorySession: {
		"user.mfa.attempt_bypass",
		"user.authentication.sso", "user.authentication.slo", "user.authentication.universal_logout", "user.authentication.universal_logout.scheduled",
		"user.session.access_admin_app", "user.session.clear", "user.session.context.change", "user.session.end", "user.session.expire",
		"user.session.impersonation.end", "user.session.impersonation.extend", "user.session.impersonation.grant",
		"user.session.impersonation.initiate", "user.session.impersonation.revoke",
		"user.device_session.start", "user.device_session.end",
		"app.oauth2.as.authorize", "app.oauth2.as.authorize.code", "app.oauth2.as.authorize.implicit.access_token",
		"app.oauth2.as.authorize.implicit.id_token", "app.oauth2.as.authorize.scope_denied", "app.oauth2.as.token.detect_reuse",
		"app.oauth2.as.token.grant", "app.oauth2.as.token.grant.access_token", "app.oauth2.as.token.grant.device_secret",
		"app.oauth2.as.token.grant.id_token", "app.oauth2.as.token.grant.interclient_token", "app.oauth2.as.token.grant.refresh_token",
		"app.oauth2.as.token.revoke", "app.oauth2.authorize", "app.oauth2.authorize.code", "app.oauth2.authorize.implicit.access_token",
		"app.oauth2.authorize.implicit.id_token", "app.oauth2.token.detect_reuse", "app.oauth2.token.grant",
		"app.oauth2.token.grant.access_token", "app.oauth2.token.grant.id_jag", "app.oauth2.token.grant.id_token",
		"app.oauth2.token.grant.interclient_token", "app.oauth2.token.grant.oauth_sts", "app.oauth2.token.grant.refresh_token",
		"app.oauth2.token.grant.service_account", "app.oauth2.token.grant.vaulted_secret", "app.oauth2.token.oauth_sts.request_token",
		"app.oauth2.token.revoke", "app.oauth2.token.revoke.implicit.as", "app.oauth2.token.revoke.implicit.client",
		"app.oauth2.token.revoke.implicit.user",
	},
	model.CategoryRegistration: {"user.mfa.factor.activate", "user.mfa.factor.unsuspend"},
	model.CategoryRemoval:      {"user.mfa.factor.deactivate", "user.mfa.factor.suspend", "user.mfa.factor.reset_all"},
	model.CategoryOther: {
		"policy.evaluate_sign_on", "user.authentication.auth_identifier_not_in_policy", "user.authentication.auth_unconfigured_identifier",
		"user.authentication.dsso_via_non_priority_source", "user.mfa.promote_enrollment", "user.mfa.factor.update",
		"user.credential.enroll", "device.password_sync.authentication",
		"system.mfa.factor.activate", "system.mfa.factor.deactivate", "system.mfa.preregister.initiate",
		"security.authenticator.lifecycle.activate", "security.authenticator.lifecycle.create",
		"security.authenticator.lifecycle.deactivate", "security.authenticator.lifecycle.update",
	},
}

// TestEventTypeCatalog walks the catalog: every type has an explicit entry
// in the table and normalizes to its category; a successful one of the
// non-authentication categories never counts as an authentication.
func TestEventTypeCatalog(t *testing.T) {
	n := 0
	for want, types := range catalog {
		for _, et := range types {
			n++
			t.Run(et, func(t *testing.T) {
				got, ok := eventCategories[et]
				require.True(t, ok, "the table walks the catalog: %s has no entry", et)
				require.Equal(t, want, got)
				rec := fmt.Sprintf(`{"uuid":"u-%s","published":"2024-05-14T09:12:03.512Z","eventType":%q,"actor":{"id":"00u1","type":"User","alternateId":"alice@example.com"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"FIDO_WEBAUTHN"}},"target":[{"id":"00u1","type":"User","alternateId":"alice@example.com"},{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"Security Key or Biometric"}]}`, et, et)
				o, err := New().Normalize([]byte(rec), "prod")
				require.NoError(t, err)
				checkOutput(t, []byte(rec), o)
				a := o.Auth[0]
				require.Equal(t, want, a.Category)
				authn := want == model.CategoryLogin || want == model.CategoryMFA
				if strings.Contains(et, "deny_push") {
					require.Equal(t, model.OutcomeFailure, a.Outcome, "a refused push is no success")
					authn = false
				}
				if !authn && a.Outcome == model.OutcomeSuccess && a.Category != model.CategoryRegistration && a.Category != model.CategoryRemoval {
					require.NotContains(t, []model.Category{model.CategoryLogin, model.CategoryMFA}, a.Category)
				}
				require.Equal(t, want == model.CategoryRegistration || want == model.CategoryRemoval, len(o.Authenticators) == 1)
			})
		}
	}
	require.Equal(t, n, len(eventCategories), "every table entry is in the catalog")
	require.Equal(t, model.CategoryOther, categoryOf("user.account.update_password"))
}

// TestFactorVocabulary walks every factor label Okta documents (factorNames'
// doc lists the sources) through a successful verification.
func TestFactorVocabulary(t *testing.T) {
	const (
		webauthn = model.FactorWebAuthn
		platform = model.FactorPlatform
		push     = model.FactorPush
		otp      = model.FactorTOTP
		phone    = model.FactorSMS
		email    = model.FactorEmail
		password = model.FactorPassword
		other    = model.FactorOther
	)
	yes, no := model.Bool(true), model.Bool(false)
	tests := []struct {
		label    string
		factor   model.Factor
		hardware *bool
	}{
		// User Factors API factorType.
		{"call", phone, no}, {"email", email, no}, {"push", push, no}, {"question", other, no},
		{"signed_nonce", platform, nil}, {"sms", phone, no}, {"token", otp, no}, {"token:hardware", otp, no},
		{"token:hotp", otp, no}, {"token:software:totp", otp, no}, {"u2f", webauthn, yes}, {"web", other, no},
		{"webauthn", webauthn, nil},
		// Authenticators API keys.
		{"custom_app", push, no}, {"custom_otp", otp, no}, {"duo", other, no}, {"external_idp", other, no},
		{"google_otp", otp, no}, {"okta_email", email, no}, {"okta_password", password, no}, {"okta_verify", otp, no},
		{"okta_verify_fastpass", platform, nil}, {"okta_verify_push", push, no}, {"okta_verify_totp", otp, no},
		{"onprem_mfa", otp, no}, {"phone_number", phone, no}, {"rsa_token", otp, no}, {"security_question", other, no},
		{"smart_card_idp", other, no}, {"symantec_vip", otp, no}, {"tac", other, no}, {"yubikey_token", otp, no},
		// Authenticator method types.
		{"totp", otp, no}, {"otp", otp, no}, {"voice", phone, no}, {"password", password, no},
		{"idp", other, no}, {"cert", other, no},
		// Classic MFA policy factor keys.
		{"fido_u2f", webauthn, yes}, {"fido_webauthn", webauthn, nil}, {"okta_call", phone, no}, {"okta_otp", otp, no},
		{"okta_push", push, no}, {"okta_question", other, no}, {"okta_sms", phone, no}, {"hotp", otp, no},
		// Sign-in page factor names and debugData.factor.
		{"OKTA_VERIFY", otp, no}, {"OKTA_VERIFY_PUSH", push, no}, {"GOOGLE_AUTH", otp, no}, {"SYMANTEC_VIP", otp, no},
		{"RSA_SECURID", otp, no}, {"ON_PREM", otp, no}, {"DUO", other, no}, {"YUBIKEY", otp, no}, {"SMS", phone, no},
		{"SMS_FACTOR", phone, no}, {"CALL", phone, no}, {"EMAIL", email, no}, {"QUESTION", other, no},
		{"SECURITY_QUESTION", other, no}, {"PASSWORD", password, no}, {"PASSWORD_AS_FACTOR", password, no},
		{"WINDOWS_HELLO", platform, nil}, {"U2F", webauthn, yes}, {"WEBAUTHN", webauthn, nil}, {"FIDO_WEBAUTHN", webauthn, nil},
		{"SIGNED_NONCE", platform, nil}, {"SOFT_TOKEN", otp, no}, {"OKTA_SOFT_TOKEN", otp, no}, {"CUSTOM_HOTP", otp, no},
		{"CUSTOM_CLAIMS", other, no}, {"CUSTOM_APP", push, no}, {"GENERIC_SAML", other, no}, {"GENERIC_OIDC", other, no},
		// methodTypeUsed labels.
		{"Security Key or Biometric Authenticator (FIDO2)", webauthn, nil}, {"Use Okta FastPass", platform, nil},
		{"Get a push notification", push, no}, {"Enter a code", otp, no}, {"VOICE", phone, no}, {"Voice call", phone, no},
		// Enrollment display names and other spellings.
		{"FIDO2", webauthn, nil}, {"FIDO2 (WebAuthn)", webauthn, nil}, {"Security Key", webauthn, nil},
		{"Security Key or Biometric", webauthn, nil}, {"Security Key or Biometric Authenticator", webauthn, nil},
		{"Okta FastPass", platform, nil}, {"FastPass", platform, nil}, {"Google Authenticator", otp, no},
		{"Phone", phone, no}, {"Email Factor", email, no}, {"Claims Provider", other, no}, {"claims_provider", other, no},
		{"RSA Token", otp, no},
		// Labels the table does not know are read by their words.
		{"Okta Verify Push", push, no}, {"GOOGLE_AUTHENTICATOR_TOTP", otp, no}, {"Some Future Factor", other, no},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[factorKey(tc.label)] = true
		t.Run(tc.label, func(t *testing.T) {
			rec := fmt.Sprintf(`{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.authentication.auth_via_mfa","actor":{"id":"00u1","type":"User"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":%q}}}`, tc.label)
			o, err := New().Normalize([]byte(rec), "prod")
			require.NoError(t, err)
			checkOutput(t, []byte(rec), o)
			require.Equal(t, tc.factor, o.Auth[0].Factor)
			require.Equal(t, tc.hardware, o.Auth[0].Hardware)
			require.Equal(t, []string{tc.label}, o.Auth[0].Methods)
			// The same label as an enrollment's methodTypeUsed.
			rec = fmt.Sprintf(`{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.authentication.verify","outcome":{"result":"SUCCESS"},"target":[{"id":"e1","type":"AuthenticatorEnrollment","detailEntry":{"methodTypeUsed":%q}}]}`, tc.label)
			o, err = New().Normalize([]byte(rec), "prod")
			require.NoError(t, err)
			require.Equal(t, tc.factor, o.Auth[0].Factor)
		})
	}
	// credentialType of a primary sign-in (authenticationContext).
	for label, want := range map[string]model.Factor{"ASSERTION": other, "EMAIL": email, "IWA": other, "JWT": other, "OAuth 2.0": other, "OTP": otp, "PASSWORD": password, "SMS": phone} {
		seen[factorKey(label)] = true
		rec := fmt.Sprintf(`{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.session.start","outcome":{"result":"SUCCESS"},"authenticationContext":{"credentialType":%q}}`, label)
		o, err := New().Normalize([]byte(rec), "prod")
		require.NoError(t, err)
		require.Equal(t, want, o.Auth[0].Factor, label)
	}
	for k := range factorNames {
		require.True(t, seen[k], "factor label %s is in the table but not in the test", k)
	}
}

// TestWebAuthnCredentials decides what a WebAuthn credential is from what the
// record says: HARDWARE_PROTECTED, the transports (usb/nfc/ble a roaming key,
// internal/hybrid a platform credential), backup eligibility, FastPass.
func TestWebAuthnCredentials(t *testing.T) {
	yes, no := model.Bool(true), model.Bool(false)
	enr := func(props, transports string) string {
		return fmt.Sprintf(`{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"FIDO_WEBAUTHN"}},"target":[{"id":"fwf1","type":"AuthenticatorEnrollment","detailEntry":{"methodTypeUsed":"Security Key or Biometric Authenticator (FIDO2)","methodUsedVerifiedProperties":%q,"authenticatorTransports":%s}}]}`, props, transports)
	}
	tests := []struct {
		name     string
		rec      string
		factor   model.Factor
		hardware *bool
	}{
		{"usb key hardware protected", enr("[USER_PRESENCE, HARDWARE_PROTECTED]", `"[usb, nfc]"`), model.FactorWebAuthn, yes},
		{"windows hello hardware protected", enr("[USER_VERIFYING, USER_PRESENCE, HARDWARE_PROTECTED]", `"[\"internal\", \"hybrid\"]"`), model.FactorPlatform, yes},
		{"transports as a JSON array", enr("[USER_VERIFYING, HARDWARE_PROTECTED]", `["internal"]`), model.FactorPlatform, yes},
		{"phone over hybrid", enr("[USER_VERIFYING]", `["hybrid"]`), model.FactorPlatform, nil},
		{"ble key, no hardware signal", enr("[USER_PRESENCE]", `"[ble]"`), model.FactorWebAuthn, nil},
		{"no transports", enr("[USER_PRESENCE, HARDWARE_PROTECTED]", `null`), model.FactorWebAuthn, yes},
		{"backup eligible on the enrollment", `{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"FIDO_WEBAUTHN"}},"target":[{"id":"fwf1","type":"AuthenticatorEnrollment","detailEntry":{"backupEligible":true,"methodUsedVerifiedProperties":"[HARDWARE_PROTECTED]"}}]}`, model.FactorPasskeySynced, no},
		{"fastpass on a TPM", `{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.authentication.verify","outcome":{"result":"SUCCESS"},"target":[{"id":"pfd1","type":"AuthenticatorEnrollment","detailEntry":{"methodTypeUsed":"Use Okta FastPass","methodUsedVerifiedProperties":"[DEVICE_BOUND, PHISHING_RESISTANT, HARDWARE_PROTECTED]"}}]}`, model.FactorPlatform, yes},
		{"fastpass signed nonce, software", `{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"SIGNED_NONCE"}}}`, model.FactorPlatform, nil},
		{"u2f is a security key", `{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"FIDO_U2F"}}}`, model.FactorWebAuthn, yes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := New().Normalize([]byte(tc.rec), "prod")
			require.NoError(t, err)
			checkOutput(t, []byte(tc.rec), o)
			require.Equal(t, tc.factor, o.Auth[0].Factor)
			require.Equal(t, tc.hardware, o.Auth[0].Hardware)
		})
	}
}

// TestPrincipals walks the actor types: only a User is a person.
func TestPrincipals(t *testing.T) {
	for typ, want := range map[string]model.Principal{
		"User": model.PrincipalUser, "": model.PrincipalUser, "SystemPrincipal": model.PrincipalSystem,
		"PublicClientApp": model.PrincipalService, "AppInstance": model.PrincipalService, "Client": model.PrincipalService,
	} {
		t.Run(cmpName(typ), func(t *testing.T) {
			rec := fmt.Sprintf(`{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.authentication.auth_via_mfa","actor":{"id":"0oa1","type":%q,"alternateId":"system@okta.com"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH"}}}`, typ)
			o, err := New().Normalize([]byte(rec), "prod")
			require.NoError(t, err)
			require.Equal(t, want, o.Auth[0].Principal)
			if want != model.PrincipalUser {
				require.Contains(t, o.Auth[0].Detail, "actorType="+typ)
			}
		})
	}
	// A system suspension of a user's factor is about the user.
	rec := `{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"user.mfa.factor.suspend","actor":{"id":"0oa1","type":"SystemPrincipal","alternateId":"system@okta.com"},"outcome":{"result":"SUCCESS"},"target":[{"id":"00u1","type":"User","alternateId":"alice@example.com"},{"id":"fwf1","type":"AuthenticatorEnrollment"}]}`
	o, err := New().Normalize([]byte(rec), "prod")
	require.NoError(t, err)
	require.Equal(t, model.PrincipalUser, o.Auth[0].Principal)
	require.Equal(t, "00u1", o.Auth[0].Subject)
}

func cmpName(s string) string {
	if s == "" {
		return "untyped"
	}
	return s
}

// TestPlaceholders: Okta's "null" and "unknown" strings are not values.
func TestPlaceholders(t *testing.T) {
	tests := []struct {
		name, client, chain, wantIP string
	}{
		{"client ip", `"198.51.100.7"`, `[{"ip":"203.0.113.9"}]`, "198.51.100.7"},
		{"null string falls back to the ip chain", `"null"`, `[{"ip":"203.0.113.9"},{"ip":"10.0.0.1"}]`, "203.0.113.9"},
		{"JSON null falls back to the ip chain", `null`, `[{"ip":"203.0.113.9"}]`, "203.0.113.9"},
		{"no chain", `"null"`, `[]`, ""},
		{"chain placeholder", `"null"`, `[{"ip":"null"}]`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := fmt.Sprintf(`{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","eventType":"app.oauth2.token.grant","actor":{"id":"0oa1","type":"PublicClientApp","alternateId":"unknown","displayName":"unknown"},"client":{"ipAddress":%s,"zone":"null"},"authenticationContext":{"externalSessionId":"unknown"},"request":{"ipChain":%s},"outcome":{"result":"SUCCESS","reason":"null"}}`, tc.client, tc.chain)
			o, err := New().Normalize([]byte(rec), "prod")
			require.NoError(t, err)
			a := o.Auth[0]
			require.Equal(t, tc.wantIP, a.IP)
			require.Empty(t, a.Email, "alternateId unknown is no email")
			require.Empty(t, a.SessionID, "externalSessionId unknown is no session")
			require.NotContains(t, a.Detail, "null")
		})
	}
}

// TestRegistrations covers the life of a factor: enrolment (the AAGUID and
// backupEligible read from debugData or the enrollment target, the factor
// from the AAGUID when debugData names none), suspension and unsuspension,
// removal, and org-level factor settings that are no one's enrollment.
func TestRegistrations(t *testing.T) {
	const user = `{"id":"00u1","type":"User","alternateId":"alice@example.com"}`
	rec := func(et, debug, enrollment string) string {
		return fmt.Sprintf(`{"uuid":"r1","published":"2024-05-14T10:00:00Z","eventType":%q,"actor":{"id":"00uadmin","type":"User","alternateId":"admin@example.com"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{%s}},"target":[%s,%s]}`, et, debug, user, enrollment)
	}
	tests := []struct {
		name     string
		rec      string
		action   string // "" = no authenticator
		factor   model.Factor
		aaguid   string
		hardware *bool
		backup   *bool
	}{
		{"webauthn with factor", rec("user.mfa.factor.activate", `"factor":"FIDO_WEBAUTHN","aaguid":"CB69481E-8FF7-4039-93EC-0A2729A154A8","backupEligible":"false"`, `{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"FIDO2 (WebAuthn)"}`),
			model.AuthenticatorRegister, model.FactorWebAuthn, "cb69481e-8ff7-4039-93ec-0a2729a154a8", nil, model.Bool(false)},
		{"webauthn without factor: the AAGUID names it", rec("user.mfa.factor.activate", `"aaguid":"CB69481E-8FF7-4039-93EC-0A2729A154A8"`, `{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"FIDO2 (WebAuthn)"}`),
			model.AuthenticatorRegister, model.FactorWebAuthn, "cb69481e-8ff7-4039-93ec-0a2729a154a8", nil, nil},
		{"aaguid and backupEligible on the target", rec("user.mfa.factor.activate", ``, `{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"Security Key or Biometric","detailEntry":{"aaguid":"FBFC3007-154E-4ECC-8C0B-6E020557D7BD","backupEligible":"true"}}`),
			model.AuthenticatorRegister, model.FactorPasskeySynced, "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", model.Bool(false), model.Bool(true)},
		{"platform transports on the target", rec("user.mfa.factor.activate", `"aaguid":"08987058-CADC-4B81-B6E1-30DE50DCBE96"`, `{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"Security Key or Biometric","detailEntry":{"authenticatorTransports":"[internal]"}}`),
			model.AuthenticatorRegister, model.FactorPlatform, "08987058-cadc-4b81-b6e1-30de50dcbe96", nil, nil},
		{"okta verify", rec("user.mfa.factor.activate", `"factor":"OKTA_VERIFY_PUSH"`, `{"id":"opf1","type":"AuthenticatorEnrollment","displayName":"Okta Verify"}`),
			model.AuthenticatorRegister, model.FactorPush, "", model.Bool(false), nil},
		{"display name only", rec("user.mfa.factor.activate", ``, `{"id":"sms1","type":"AuthenticatorEnrollment","displayName":"SMS"}`),
			model.AuthenticatorRegister, model.FactorSMS, "", model.Bool(false), nil},
		{"suspend", rec("user.mfa.factor.suspend", ``, `{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"FIDO2 (WebAuthn)"}`),
			model.AuthenticatorRemove, model.FactorWebAuthn, "", nil, nil},
		{"unsuspend", rec("user.mfa.factor.unsuspend", ``, `{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"FIDO2 (WebAuthn)"}`),
			model.AuthenticatorRegister, model.FactorWebAuthn, "", nil, nil},
		{"deactivate", rec("user.mfa.factor.deactivate", `"factor":"FIDO_WEBAUTHN"`, `{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"YubiKey"}`),
			model.AuthenticatorRemove, model.FactorWebAuthn, "", nil, nil},
		{"org factor activated", rec("system.mfa.factor.activate", `"factor":"FIDO_WEBAUTHN"`, `{"id":"fido_webauthn","type":"Factor"}`), "", "", "", nil, nil},
		{"org factor deactivated", rec("system.mfa.factor.deactivate", `"factor":"FIDO_WEBAUTHN"`, `{"id":"fido_webauthn","type":"Factor"}`), "", "", "", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := New().Normalize([]byte(tc.rec), "prod")
			require.NoError(t, err)
			checkOutput(t, []byte(tc.rec), o)
			if tc.action == "" {
				require.Empty(t, o.Authenticators)
				require.Equal(t, model.CategoryOther, o.Auth[0].Category)
				return
			}
			require.Len(t, o.Authenticators, 1)
			a := o.Authenticators[0]
			require.Equal(t, tc.action, a.Action)
			require.Equal(t, tc.factor, a.Factor)
			require.Equal(t, tc.aaguid, a.AAGUID)
			require.Equal(t, tc.hardware, a.Hardware)
			require.Equal(t, tc.backup, a.BackupEligible)
			require.Equal(t, "00u1", a.Subject, "the target user, not the admin who acted")
		})
	}
}

// TestTypeErrors: a field of the wrong JSON type is reported as a type error
// naming the field (and the record, when its uuid was read).
func TestTypeErrors(t *testing.T) {
	for rec, want := range map[string]string{
		`[1,2]`: "field the record: got a JSON array, want an object",
		`"x"`:   "field the record: got a JSON string, want an object",
		`{"uuid":42,"published":"2024-05-14T09:12:03.512Z"}`:               "field uuid: got a JSON number, want a string",
		`{"uuid":"u1","actor":"alice"}`:                                    "LogEvent u1: wrong JSON type: field actor: got a JSON string, want an object",
		`{"uuid":"u1","target":{"id":"x"}}`:                                "field target: got a JSON object, want an array",
		`{"uuid":"u1","target":[{"detailEntry":[1]}]}`:                     "field target[0].detailEntry: got a JSON array, want an object",
		`{"uuid":"u1","client":{"ipAddress":{"v4":"1.2.3.4"}}}`:            "field client.ipAddress: got a JSON object, want a string",
		`{"uuid":"u1","debugContext":{"debugData":{"factor":{"a":1}}}}`:    "field debugData.factor: got a JSON object, want a string",
		`{"uuid":"u1","request":{"ipChain":[{"ip":{}}]}}`:                  "field request.ipChain[0].ip: got a JSON object, want a string",
		`{"uuid":"u1","published":"2024-05-14T09:12:03.512Z","outcome":7}`: "field outcome: got a JSON number, want an object",
	} {
		_, err := New().Normalize([]byte(rec), "prod")
		require.ErrorIs(t, err, ErrRecord, rec)
		require.ErrorIs(t, err, decode.ErrType, rec)
		require.ErrorContains(t, err, want, rec)
	}
	_, err := New().Normalize([]byte(`{"uuid":"u1",`), "prod")
	require.ErrorIs(t, err, decode.ErrSyntax)
}
