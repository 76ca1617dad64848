package keycloak

import (
	"strings"

	"github.com/keytrail/keytrail/model"
)

// eventCategories maps every user event type of Keycloak's EventType enum
// (org.keycloak.events.EventType, Keycloak 26, stable indexes 0–60; each
// also has an _ERROR twin, categorized alike and failed) to a category. The
// credential events depend on their credential type and required action,
// see categoryOf.
var eventCategories = map[string]model.Category{
	// The user authenticated.
	"LOGIN":                         model.CategoryLogin,
	"IDENTITY_PROVIDER_LOGIN":       model.CategoryLogin,
	"IDENTITY_PROVIDER_FIRST_LOGIN": model.CategoryLogin,
	"IDENTITY_PROVIDER_POST_LOGIN":  model.CategoryLogin,

	// Tokens issued, refreshed, exchanged or checked, sessions ended or
	// restarted, a client's own login (client credentials), an admin
	// impersonating a user: no one authenticated.
	"LOGOUT":                           model.CategorySession,
	"CODE_TO_TOKEN":                    model.CategorySession,
	"CLIENT_LOGIN":                     model.CategorySession,
	"REFRESH_TOKEN":                    model.CategorySession,
	"VALIDATE_ACCESS_TOKEN":            model.CategorySession,
	"INTROSPECT_TOKEN":                 model.CategorySession,
	"TOKEN_EXCHANGE":                   model.CategorySession,
	"USER_INFO_REQUEST":                model.CategorySession,
	"RESTART_AUTHENTICATION":           model.CategorySession,
	"IDENTITY_PROVIDER_RESPONSE":       model.CategorySession,
	"IDENTITY_PROVIDER_RETRIEVE_TOKEN": model.CategorySession,
	"IMPERSONATE":                      model.CategorySession,
	"OAUTH2_DEVICE_AUTH":               model.CategorySession,
	"OAUTH2_DEVICE_VERIFY_USER_CODE":   model.CategorySession,
	"OAUTH2_DEVICE_CODE_TO_TOKEN":      model.CategorySession,
	"AUTHREQID_TO_TOKEN":               model.CategorySession,
	"PERMISSION_TOKEN":                 model.CategorySession,
	"PUSHED_AUTHORIZATION_REQUEST":     model.CategorySession,
	"OAUTH2_EXTENSION_GRANT":           model.CategorySession,
	"JWT_BEARER":                       model.CategorySession,

	// Credentials registered and removed (see categoryOf).
	"UPDATE_TOTP":            model.CategoryRegistration,
	"UPDATE_CREDENTIAL":      model.CategoryRegistration,
	"CUSTOM_REQUIRED_ACTION": model.CategoryOther,
	"REMOVE_TOTP":            model.CategoryRemoval,
	"REMOVE_CREDENTIAL":      model.CategoryRemoval,

	// Accounts, profiles, passwords, consents, clients and links.
	"REGISTER":                           model.CategoryOther,
	"FEDERATED_IDENTITY_LINK":            model.CategoryOther,
	"REMOVE_FEDERATED_IDENTITY":          model.CategoryOther,
	"FEDERATED_IDENTITY_OVERRIDE_LINK":   model.CategoryOther,
	"UPDATE_EMAIL":                       model.CategoryOther,
	"UPDATE_PROFILE":                     model.CategoryOther,
	"UPDATE_PASSWORD":                    model.CategoryOther,
	"VERIFY_EMAIL":                       model.CategoryOther,
	"VERIFY_PROFILE":                     model.CategoryOther,
	"GRANT_CONSENT":                      model.CategoryOther,
	"UPDATE_CONSENT":                     model.CategoryOther,
	"REVOKE_GRANT":                       model.CategoryOther,
	"SEND_VERIFY_EMAIL":                  model.CategoryOther,
	"SEND_RESET_PASSWORD":                model.CategoryOther,
	"SEND_IDENTITY_PROVIDER_LINK":        model.CategoryOther,
	"RESET_PASSWORD":                     model.CategoryOther,
	"INVALID_SIGNATURE":                  model.CategoryOther,
	"REGISTER_NODE":                      model.CategoryOther,
	"UNREGISTER_NODE":                    model.CategoryOther,
	"IDENTITY_PROVIDER_LINK_ACCOUNT":     model.CategoryOther,
	"EXECUTE_ACTIONS":                    model.CategoryOther,
	"EXECUTE_ACTION_TOKEN":               model.CategoryOther,
	"CLIENT_INFO":                        model.CategoryOther,
	"CLIENT_REGISTER":                    model.CategoryOther,
	"CLIENT_UPDATE":                      model.CategoryOther,
	"CLIENT_DELETE":                      model.CategoryOther,
	"CLIENT_INITIATED_ACCOUNT_LINKING":   model.CategoryOther,
	"DELETE_ACCOUNT":                     model.CategoryOther,
	"USER_DISABLED_BY_PERMANENT_LOCKOUT": model.CategoryOther,
	"USER_DISABLED_BY_TEMPORARY_LOCKOUT": model.CategoryOther,
	"INVITE_ORG":                         model.CategoryOther,
}

// registeringActions are the required actions (details.custom_required_action
// of a CUSTOM_REQUIRED_ACTION event) that register a credential, with the
// credential type they register.
var registeringActions = map[string]string{
	"webauthn-register":              credWebAuthn,
	"webauthn-register-passwordless": credWebAuthnPasswordless,
	"CONFIGURE_TOTP":                 credOTP,
	"CONFIGURE_RECOVERY_AUTHN_CODES": credRecoveryCodes,
}

// Keycloak credential types (CredentialModel types; details.credential_type).
const (
	credPassword             = "password"
	credWebAuthn             = "webauthn"              // WebAuthnCredentialModel.TYPE_TWOFACTOR
	credWebAuthnPasswordless = "webauthn-passwordless" // WebAuthnCredentialModel.TYPE_PASSWORDLESS
	credOTP                  = "otp"
	credRecoveryCodes        = "recovery-authn-codes"
)

// credentialFactors maps Keycloak's credential types to factors.
var credentialFactors = map[string]model.Factor{
	credWebAuthn:             model.FactorWebAuthn,
	credWebAuthnPasswordless: model.FactorWebAuthn, // a passkey: the AAGUID tells key, platform and synced apart
	credOTP:                  model.FactorTOTP,
	"totp":                   model.FactorTOTP,
	"hotp":                   model.FactorTOTP,
	credPassword:             model.FactorPassword,
	"password-history":       model.FactorPassword,
	"password-token":         model.FactorPassword,
	credRecoveryCodes:        model.FactorOther,
	"kerberos":               model.FactorOther,
	"cert":                   model.FactorOther,
	"secret":                 model.FactorOther,
}

// factorOf maps a credential type to a factor: none when empty, other when
// unknown.
func factorOf(credType string) model.Factor {
	t := strings.ToLower(strings.TrimSpace(credType))
	if t == "" {
		return model.FactorNone
	}
	if f, ok := credentialFactors[t]; ok {
		return f
	}
	return model.FactorOther
}

// isPassword reports whether a credential type is a password: its updates
// and removals are no authenticator's.
func isPassword(credType string) bool {
	return factorOf(credType) == model.FactorPassword
}

// serviceAccountPrefix starts the username Keycloak gives a client's service
// account user.
const serviceAccountPrefix = "service-account-"

// principalOf says who a user event is about: a client-credentials login
// (CLIENT_LOGIN, grant_type client_credentials) or a client's service
// account user is a service, anyone else a user.
func principalOf(base string, d map[string]string) model.Principal {
	if base == "CLIENT_LOGIN" || d["grant_type"] == "client_credentials" ||
		strings.HasPrefix(strings.ToLower(d["username"]), serviceAccountPrefix) {
		return model.PrincipalService
	}
	return model.PrincipalUser
}
