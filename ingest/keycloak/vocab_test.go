package keycloak

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// eventTypes is Keycloak's EventType enum (server-spi-private
// org/keycloak/events/EventType.java, Keycloak 26: stable indexes 0–60) by
// the category keytrail gives a successful event of the type, with no
// details. Every type also has an _ERROR twin.
var eventTypes = map[model.Category][]string{
	model.CategoryLogin: {"LOGIN", "IDENTITY_PROVIDER_LOGIN", "IDENTITY_PROVIDER_FIRST_LOGIN", "IDENTITY_PROVIDER_POST_LOGIN"},
	model.CategorySession: {
		"LOGOUT", "CODE_TO_TOKEN", "CLIENT_LOGIN", "REFRESH_TOKEN", "VALIDATE_ACCESS_TOKEN", "INTROSPECT_TOKEN",
		"TOKEN_EXCHANGE", "USER_INFO_REQUEST", "RESTART_AUTHENTICATION", "IDENTITY_PROVIDER_RESPONSE",
		"IDENTITY_PROVIDER_RETRIEVE_TOKEN", "IMPERSONATE", "OAUTH2_DEVICE_AUTH", "OAUTH2_DEVICE_VERIFY_USER_CODE",
		"OAUTH2_DEVICE_CODE_TO_TOKEN", "AUTHREQID_TO_TOKEN", "PERMISSION_TOKEN", "PUSHED_AUTHORIZATION_REQUEST",
		"OAUTH2_EXTENSION_GRANT", "JWT_BEARER",
	},
	model.CategoryRegistration: {"UPDATE_TOTP", "UPDATE_CREDENTIAL"},
	model.CategoryRemoval:      {"REMOVE_TOTP", "REMOVE_CREDENTIAL"},
	model.CategoryOther: {
		"REGISTER", "FEDERATED_IDENTITY_LINK", "REMOVE_FEDERATED_IDENTITY", "FEDERATED_IDENTITY_OVERRIDE_LINK",
		"UPDATE_EMAIL", "UPDATE_PROFILE", "UPDATE_PASSWORD", "VERIFY_EMAIL", "VERIFY_PROFILE", "GRANT_CONSENT",
		"UPDATE_CONSENT", "REVOKE_GRANT", "SEND_VERIFY_EMAIL", "SEND_RESET_PASSWORD", "SEND_IDENTITY_PROVIDER_LINK",
		"RESET_PASSWORD", "INVALID_SIGNATURE", "REGISTER_NODE", "UNREGISTER_NODE", "IDENTITY_PROVIDER_LINK_ACCOUNT",
		"CUSTOM_REQUIRED_ACTION", "EXECUTE_ACTIONS", "EXECUTE_ACTION_TOKEN", "CLIENT_INFO", "CLIENT_REGISTER",
		"CLIENT_UPDATE", "CLIENT_DELETE", "CLIENT_INITIATED_ACCOUNT_LINKING", "DELETE_ACCOUNT",
		"USER_DISABLED_BY_PERMANENT_LOCKOUT", "USER_DISABLED_BY_TEMPORARY_LOCKOUT", "INVITE_ORG",
	},
}

// TestEventTypeEnum walks the whole enum and its _ERROR twins.
func TestEventTypeEnum(t *testing.T) {
	n := 0
	for want, types := range eventTypes {
		for _, typ := range types {
			n++
			got, ok := eventCategories[typ]
			require.True(t, ok, "%s has no entry", typ)
			if typ != "CUSTOM_REQUIRED_ACTION" {
				require.Equal(t, want, got, typ)
			}
			for _, suffix := range []string{"", "_ERROR"} {
				t.Run(typ+suffix, func(t *testing.T) {
					raw := fmt.Sprintf(`{"id":"e1","time":1715677923512,"type":%q,"userId":"u1","details":{"username":"dave"}}`, typ+suffix)
					o, err := New().Normalize([]byte(raw), "prod")
					require.NoError(t, err)
					checkOutput(t, []byte(raw), o)
					a := o.Auth[0]
					require.Equal(t, want, a.Category)
					if suffix == "" {
						require.Equal(t, model.OutcomeSuccess, a.Outcome)
					} else {
						require.Equal(t, model.OutcomeFailure, a.Outcome)
						require.Empty(t, o.Authenticators, "a failed registration or removal changes no authenticator")
					}
					if typ == "CLIENT_LOGIN" {
						require.Equal(t, model.PrincipalService, a.Principal)
					} else {
						require.Equal(t, model.PrincipalUser, a.Principal)
					}
				})
			}
		}
	}
	require.Equal(t, n, len(eventCategories), "every table entry is in the enum")
}

// TestCredentialEvents walks the credential types through the credential
// events and the registering required actions.
func TestCredentialEvents(t *testing.T) {
	tests := []struct {
		typ     string
		details string
		cat     model.Category
		factor  model.Factor
		credID  string
	}{
		{"LOGIN", `"credential_type":"webauthn","public_key_credential_id":"AQID"`, model.CategoryLogin, model.FactorWebAuthn, "AQID"},
		{"LOGIN", `"credential_type":"webauthn-passwordless","public_key_credential_id":"AQID"`, model.CategoryLogin, model.FactorWebAuthn, "AQID"},
		{"LOGIN", `"public_key_credential_id":"AQID","web_authn_authenticator_user_verification_checked":"false"`, model.CategoryLogin, model.FactorWebAuthn, "AQID"},
		{"LOGIN", `"credential_type":"otp"`, model.CategoryLogin, model.FactorTOTP, ""},
		{"LOGIN", `"credential_type":"password"`, model.CategoryLogin, model.FactorPassword, ""},
		{"LOGIN", `"credential_type":"recovery-authn-codes"`, model.CategoryLogin, model.FactorOther, ""},
		{"LOGIN", `"credential_type":"kerberos"`, model.CategoryLogin, model.FactorOther, ""},
		{"LOGIN", ``, model.CategoryLogin, model.FactorOther, ""},
		{"UPDATE_CREDENTIAL", `"credential_type":"webauthn","public_key_credential_id":"AQID","public_key_credential_aaguid":"CB69481E-8FF7-4039-93EC-0A2729A154A8"`, model.CategoryRegistration, model.FactorWebAuthn, "AQID"},
		{"UPDATE_CREDENTIAL", `"credential_type":"webauthn-passwordless","public_key_credential_id":"AQID"`, model.CategoryRegistration, model.FactorWebAuthn, "AQID"},
		{"UPDATE_CREDENTIAL", `"credential_type":"otp"`, model.CategoryRegistration, model.FactorTOTP, ""},
		{"UPDATE_CREDENTIAL", `"credential_type":"recovery-authn-codes"`, model.CategoryRegistration, model.FactorOther, ""},
		{"UPDATE_CREDENTIAL", `"credential_type":"password"`, model.CategoryOther, model.FactorPassword, ""},
		{"REMOVE_CREDENTIAL", `"credential_type":"webauthn","credential_id":"7c1e"`, model.CategoryRemoval, model.FactorWebAuthn, "7c1e"},
		{"REMOVE_CREDENTIAL", `"credential_type":"otp","credential_id":"8d9e"`, model.CategoryRemoval, model.FactorTOTP, "8d9e"},
		{"REMOVE_CREDENTIAL", `"credential_type":"password"`, model.CategoryOther, model.FactorPassword, ""},
		{"UPDATE_TOTP", ``, model.CategoryRegistration, model.FactorTOTP, ""},
		{"REMOVE_TOTP", `"credential_id":"8d9e"`, model.CategoryRemoval, model.FactorTOTP, "8d9e"},
		{"CUSTOM_REQUIRED_ACTION", `"custom_required_action":"webauthn-register","public_key_credential_id":"AQID"`, model.CategoryRegistration, model.FactorWebAuthn, "AQID"},
		{"CUSTOM_REQUIRED_ACTION", `"custom_required_action":"webauthn-register-passwordless"`, model.CategoryRegistration, model.FactorWebAuthn, ""},
		{"CUSTOM_REQUIRED_ACTION", `"custom_required_action":"CONFIGURE_TOTP"`, model.CategoryRegistration, model.FactorTOTP, ""},
		{"CUSTOM_REQUIRED_ACTION", `"custom_required_action":"CONFIGURE_RECOVERY_AUTHN_CODES"`, model.CategoryRegistration, model.FactorOther, ""},
		{"CUSTOM_REQUIRED_ACTION", `"custom_required_action":"TERMS_AND_CONDITIONS"`, model.CategoryOther, model.FactorNone, ""},
		{"CUSTOM_REQUIRED_ACTION", `"custom_required_action":"delete_credential"`, model.CategoryOther, model.FactorNone, ""},
	}
	for _, tc := range tests {
		t.Run(tc.typ+" "+tc.details, func(t *testing.T) {
			raw := fmt.Sprintf(`{"id":"e1","time":1715677923512,"type":%q,"userId":"u1","details":{%s}}`, tc.typ, tc.details)
			o, err := New().Normalize([]byte(raw), "prod")
			require.NoError(t, err)
			checkOutput(t, []byte(raw), o)
			a := o.Auth[0]
			require.Equal(t, tc.cat, a.Category)
			require.Equal(t, tc.factor, a.Factor)
			require.Equal(t, tc.credID, a.CredentialID)
			if tc.factor == model.FactorWebAuthn {
				require.Nil(t, a.Hardware, "the AAGUID of the credential's registration decides")
			}
			switch tc.cat {
			case model.CategoryRegistration, model.CategoryRemoval:
				require.Len(t, o.Authenticators, 1)
				require.Equal(t, tc.factor, o.Authenticators[0].Factor)
			default:
				require.Empty(t, o.Authenticators)
			}
		})
	}
}

// TestPrincipals: client-credentials logins and service-account users are
// services, not people.
func TestPrincipals(t *testing.T) {
	for raw, want := range map[string]model.Principal{
		`{"id":"e1","time":1715677923512,"type":"CLIENT_LOGIN","userId":"s1","details":{"grant_type":"client_credentials","username":"service-account-sync"}}`: model.PrincipalService,
		`{"id":"e1","time":1715677923512,"type":"CODE_TO_TOKEN","userId":"s1","details":{"grant_type":"client_credentials"}}`:                                  model.PrincipalService,
		`{"id":"e1","time":1715677923512,"type":"LOGIN","userId":"s1","details":{"username":"service-account-airflow"}}`:                                       model.PrincipalService,
		`{"id":"e1","time":1715677923512,"type":"LOGIN","userId":"u1","details":{"username":"dave","credential_type":"password"}}`:                             model.PrincipalUser,
		`{"id":"e1","time":1715677923512,"type":"REFRESH_TOKEN","userId":"u1","details":{"grant_type":"refresh_token"}}`:                                       model.PrincipalUser,
	} {
		o, err := New().Normalize([]byte(raw), "prod")
		require.NoError(t, err)
		require.Equal(t, want, o.Auth[0].Principal, raw)
	}
}

// TestAdminCredentialRemovals: Keycloak records an admin's credential removal
// as operation ACTION (older servers DELETE) on users/{id}/credentials/{id},
// and disable-credential-types on its own path.
func TestAdminCredentialRemovals(t *testing.T) {
	tests := []struct {
		op, path string
		cat      model.Category
		cred     string
	}{
		{"ACTION", "users/u1/credentials/c1", model.CategoryRemoval, "c1"},
		{"DELETE", "users/u1/credentials/c1", model.CategoryRemoval, "c1"},
		{"ACTION", "users/u1/disable-credential-types", model.CategoryRemoval, ""},
		{"UPDATE", "users/u1/disable-credential-types", model.CategoryRemoval, ""},
		{"UPDATE", "users/u1", model.CategoryOther, ""},
		{"ACTION", "users/u1/reset-password", model.CategoryOther, ""},
		{"CREATE", "users/u1/credentials/c1", model.CategoryOther, ""},
	}
	for _, tc := range tests {
		t.Run(tc.op+" "+tc.path, func(t *testing.T) {
			raw := fmt.Sprintf(`{"time":1715760300000,"realmId":"corp","authDetails":{"userId":"admin1"},"operationType":%q,"resourceType":"USER","resourcePath":%q,"representation":"[\"otp\"]"}`, tc.op, tc.path)
			o, err := New().Normalize([]byte(raw), "prod")
			require.NoError(t, err)
			checkOutput(t, []byte(raw), o)
			a := o.Auth[0]
			require.Equal(t, tc.cat, a.Category)
			if tc.cat == model.CategoryRemoval {
				require.Equal(t, "u1", a.Subject, "the user whose credential it was, not the admin")
			}
			require.Equal(t, tc.cred != "", len(o.Authenticators) == 1)
		})
	}
}

// TestNotKeycloakEvents: lines a shipper mixes in that are not Keycloak
// events say so; type errors name the field and the record.
func TestNotKeycloakEvents(t *testing.T) {
	for raw, want := range map[string]string{
		`{"@timestamp":"2024-05-14T09:12:03.512Z","message":"started"}`: "not a Keycloak event",
		`{"time":1715677923512}`: "not a Keycloak event",
		`{}`:                     "not a Keycloak event",
	} {
		_, err := New().Normalize([]byte(raw), "prod")
		require.ErrorIs(t, err, ErrRecord)
		require.ErrorContains(t, err, want, raw)
		require.NotContains(t, err.Error(), "missing time")
	}
	for raw, want := range map[string]string{
		`{"id":"e9","time":1715677923512,"type":"LOGIN","userId":{"id":"x"}}`: "decode event e9: wrong JSON type: field userId: got a JSON object, want a string",
		`{"id":"e9","time":1715677923512,"type":7}`:                           "decode event e9: wrong JSON type: field type: got a JSON number, want a string",
		`{"id":"e9","time":1715677923512,"type":"LOGIN","details":[1]}`:       "decode event e9: wrong JSON type: field details: got a JSON array, want an object",
		`{"id":"e9","time":true,"type":"LOGIN"}`:                              "event e9: wrong JSON type: field time: got a JSON boolean",
		`{"id":"e9","time":{"ms":1},"type":"LOGIN"}`:                          "event e9: wrong JSON type: field time: got a JSON object",
		`[{"id":"e9"}]`: "wrong JSON type: field the record: got a JSON array, want an object",
	} {
		_, err := New().Normalize([]byte(raw), "prod")
		require.ErrorIs(t, err, ErrRecord, raw)
		require.ErrorIs(t, err, decode.ErrType, raw)
		require.ErrorContains(t, err, want, raw)
	}
}
