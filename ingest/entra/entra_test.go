package entra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest/ingesttest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// reID gives a sign-in, audit or Azure Monitor record a fresh id.
func reID(t testing.TB, raw []byte, i int) []byte {
	t.Helper()
	var rec struct {
		ID         string `json:"id"`
		Properties *struct {
			ID string `json:"id"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(raw, &rec))
	id := rec.ID
	if rec.Properties != nil {
		id = rec.Properties.ID
	}
	return bytes.Replace(raw, []byte(`"id":"`+id+`"`), []byte(fmt.Sprintf(`"id":"big-%08d-%s"`, i, id)), 1)
}

// TestMethodVocabulary walks every authentication method label Entra writes
// (signIn authenticationDetails, authenticationMethodsUsed, security-info
// audits; sources in testdata/README.md) and checks what each proves. Every
// label of the classifier's table must appear here.
func TestMethodVocabulary(t *testing.T) {
	yes, no := model.Bool(true), model.Bool(false)
	webauthn, platform := model.FactorWebAuthn, model.FactorPlatform
	tests := []struct {
		label    string
		factor   model.Factor
		hardware *bool
	}{
		// token reuse: no authentication
		{"Previously satisfied", model.FactorNone, nil},
		{"Satisfied by token", model.FactorNone, nil},
		{"Claim in access token", model.FactorNone, nil},
		{"Claim in token", model.FactorNone, nil},
		// security keys: Entra's own word when no AAGUID is known
		{"FIDO2 security key", webauthn, yes},
		{"FIDO2 security keys", webauthn, yes},
		{"FIDO2", webauthn, yes},
		// device-bound passkeys of unknown kind: the AAGUID decides
		{"Passkey (device-bound)", webauthn, nil},
		{"Passkey (other device-bound)", webauthn, nil},
		{"Passkey", webauthn, nil},
		{"FIDO", webauthn, nil},
		{"Fido2 Authentication Method", webauthn, nil},
		{"Passkey (synced)", model.FactorPasskeySynced, no},
		// device-bound platform credentials
		{"Passkey (Microsoft Authenticator)", platform, yes},
		{"Passkey (Authenticator)", platform, yes},
		{"Passkey in Microsoft Authenticator", platform, yes},
		{"Passkey (Windows Hello)", platform, yes},
		{"Windows Hello for Business", platform, yes},
		{"Windows Hello for Business credential", platform, yes},
		{"Platform credential", platform, yes},
		{"macOS Platform Credential", platform, yes},
		{"macOS Platform Credentials", platform, yes},
		{"Platform credential for macOS", platform, yes},
		{"macOS Secure Enclave Key", platform, yes},
		// app approvals and passwordless phone sign-in are push, not passwords
		{"Mobile app notification", model.FactorPush, no},
		{"Authenticator App", model.FactorPush, no},
		{"Microsoft Authenticator", model.FactorPush, no},
		{"Microsoft Authenticator (push notification)", model.FactorPush, no},
		{"Microsoft Authenticator app", model.FactorPush, no},
		{"Microsoft Authenticator Authentication Method", model.FactorPush, no},
		{"Authenticator App with Notification and Code", model.FactorPush, no},
		{"Phone app notification", model.FactorPush, no},
		{"Passwordless phone sign-in", model.FactorPush, no},
		{"Passwordless phone sign-in credential", model.FactorPush, no},
		{"Microsoft Passwordless phone sign-in", model.FactorPush, no},
		{"Passwordless Microsoft Authenticator", model.FactorPush, no},
		{"Microsoft Authenticator (passwordless)", model.FactorPush, no},
		// OTP from apps and hardware tokens
		{"OATH verification code", model.FactorTOTP, no},
		{"Mobile app verification code", model.FactorTOTP, no},
		{"App Verification code", model.FactorTOTP, no},
		{"Software OATH token", model.FactorTOTP, no},
		{"Hardware OATH token", model.FactorTOTP, no},
		{"OATH hardware token", model.FactorTOTP, no},
		{"Authenticator app (OATH)", model.FactorTOTP, no},
		{"RSA SecurID", model.FactorTOTP, no},
		{"Symantec VIP", model.FactorTOTP, no},
		// phone: voice and calls are phone factors like SMS
		{"Text message", model.FactorSMS, no},
		{"SMS", model.FactorSMS, no},
		{"SMS Sign-in", model.FactorSMS, no},
		{"Voice", model.FactorSMS, no},
		{"Phone call", model.FactorSMS, no},
		{"Phone call approval (Authentication phone)", model.FactorSMS, no},
		{"Phone call approval (Alternate phone)", model.FactorSMS, no},
		{"Phone call approval (Office phone)", model.FactorSMS, no},
		{"Mobile Phone SMS", model.FactorSMS, no},
		{"Mobile Phone Call and SMS", model.FactorSMS, no},
		{"Phone", model.FactorSMS, no},
		{"phone method", model.FactorSMS, no},
		// email
		{"Email", model.FactorEmail, no},
		{"Email OTP", model.FactorEmail, no},
		{"Email verification code", model.FactorEmail, no},
		{"Email one-time passcode", model.FactorEmail, no},
		// passwords: cloud, pass-through authentication, password hash sync
		{"Password", model.FactorPassword, no},
		{"Password in the cloud", model.FactorPassword, no},
		{"PTA", model.FactorPassword, no},
		{"PHS", model.FactorPassword, no},
		{"Pass-through Authentication", model.FactorPassword, no},
		{"Password Hash Sync", model.FactorPassword, no},
		{"Security questions", model.FactorPassword, no},
		{"Security question", model.FactorPassword, no},
		// other: not a key tap
		{"X.509 Certificate", model.FactorOther, no},
		{"Certificate", model.FactorOther, no},
		{"Certificate-based authentication", model.FactorOther, no},
		{"Temporary Access Pass", model.FactorOther, no},
		{"temporary access pass method", model.FactorOther, no},
		{"QR code", model.FactorOther, no},
		{"QR Code PIN", model.FactorOther, no},
		{"Seamless SSO", model.FactorOther, no},
		{"Federated", model.FactorOther, no},
		{"Other", model.FactorOther, no},
		// labels outside the table, by their words
		{"Passkey (Something new, synced)", model.FactorPasskeySynced, no},
		{"Windows Hello passkey", platform, yes},
		{"Some future passwordless method", model.FactorPush, no},
		{"Hardware OTP token (vendor)", model.FactorTOTP, no},
		{"Voice call to alternate phone", model.FactorSMS, no},
		{"Something else entirely", model.FactorOther, no},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.label, func(t *testing.T) {
			c, ok := classify(tc.label)
			require.True(t, ok)
			require.Equal(t, tc.factor, c.factor)
			require.Equal(t, tc.hardware, c.hardware)
			covered[strings.ToLower(tc.label)] = true
		})
	}
	for label := range methodLabels {
		require.True(t, covered[label], "label %q of the classifier is not in the vocabulary test", label)
	}
	_, ok := classify("  ")
	require.False(t, ok)
}

// TestStepResultDetails walks Microsoft's MFA result details of the
// sign-in logs: only the claim and skip results say the step's method was
// not used now.
func TestStepResultDetails(t *testing.T) {
	tests := []struct {
		detail         string
		skipped, reuse bool
	}{
		{"MFA requirement satisfied by claim in the token", true, true},
		{"First factor requirement satisfied by claim in the token", true, true},
		{"MFA requirement satisfied by multi-factor device", true, true},
		{"Previously satisfied", true, true},
		{"Satisfied by token", true, true},
		{"MFA requirement skipped as flow exercised was Windows broker logon flow", true, false},
		{"MFA requirement skipped due to app password", true, false},
		{"MFA requirement skipped due to location", true, false},
		{"MFA requirement skipped due to IP address", true, false},
		{"MFA requirement skipped due to registered device", true, false},
		{"MFA requirement skipped due to remembered device", true, false},
		{"MFA successfully completed", false, false},
		{"MFA completed in Azure AD", false, false},
		{"MFA requirement satisfied by claim provided by external provider", false, false},
		{"MFA requirement satisfied by strong authentication", false, false},
		{"Correct password", false, false},
		{"methodSucceeded", false, false},
		{"Authentication in progress", false, false},
		{"MFA denied; user did not select the correct number", false, false},
		{"MFA denied; user declined the authentication", false, false},
		{"Invalid username or password or Invalid on-premise username or password.", false, false},
		{"", false, false},
	}
	for _, tc := range tests {
		skipped, reuse := notPerformed(tc.detail)
		require.Equal(t, tc.skipped, skipped, tc.detail)
		require.Equal(t, tc.reuse, reuse, tc.detail)
	}
}

const yubiAAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"

func TestSignIns(t *testing.T) {
	n := New()
	type fields map[string]any
	rec := func(details string, code int, extra fields) []byte {
		m := fields{"id": "s1", "createdDateTime": "2024-05-14T09:12:03Z", "userId": "u1", "userPrincipalName": "a@b.c",
			"status": fields{"errorCode": code}, "authenticationDetails": json.RawMessage(details)}
		for k, v := range extra {
			m[k] = v
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	step := func(method, detail, result string, ok bool) string {
		b, _ := json.Marshal(fields{"authenticationMethod": method, "authenticationMethodDetail": detail, "authenticationStepResultDetail": result, "succeeded": ok})
		return string(b)
	}
	list := func(steps ...string) string { return "[" + strings.Join(steps, ",") + "]" }
	done := "MFA successfully completed"
	claim := "MFA requirement satisfied by claim in the token"
	yes, no := model.Bool(true), model.Bool(false)
	tests := []struct {
		name      string
		raw       []byte
		category  model.Category
		outcome   model.Outcome
		factor    model.Factor
		hardware  *bool
		aaguid    string
		principal model.Principal
	}{
		{"security key with AAGUID: the AAGUID decides", rec(list(step("Password", "Password in the cloud", "Correct password", true), step("FIDO2 security key", "Key - CB69481E-8FF7-4039-93EC-0A2729A154A8", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, nil, yubiAAGUID, model.PrincipalUser},
		{"security key without AAGUID: Entra's word", rec(list(step("FIDO2 security key", "YubiKey", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, yes, "", model.PrincipalUser},
		{"device-bound passkey with AAGUID", rec(list(step("Passkey (device-bound)", "Phone - 90A3CCDF-635C-4729-A248-9B709135078F", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, nil, "90a3ccdf-635c-4729-a248-9b709135078f", model.PrincipalUser},
		{"device-bound passkey without AAGUID is undecided", rec(list(step("Passkey (device-bound)", "", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, nil, "", model.PrincipalUser},
		{"Authenticator passkey is platform", rec(list(step("Passkey (Microsoft Authenticator)", "iPhone - 90a3ccdf-635c-4729-a248-9b709135078f", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPlatform, yes, "90a3ccdf-635c-4729-a248-9b709135078f", model.PrincipalUser},
		{"Windows Hello for Business is platform", rec(list(step("Windows Hello for Business", "", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPlatform, yes, "", model.PrincipalUser},
		{"synced passkey", rec(list(step("Passkey (synced)", "iCloud - fbfc3007-154e-4ecc-8c0b-6e020557d7bd", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPasskeySynced, no, "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", model.PrincipalUser},
		// A1: token reuse is not an authentication.
		{"previously satisfied only", rec(list(step("Previously satisfied", "", "First factor requirement satisfied by claim in the token", true)), 0, nil),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"key step satisfied by claim in the token is not a tap", rec(list(step("FIDO2 security key", "Key - "+yubiAAGUID, claim, true)), 0, nil),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"null method with claim in the token", rec(`[{"authenticationMethod":null,"authenticationStepResultDetail":"MFA requirement satisfied by claim in the token","succeeded":true}]`, 0, nil),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"multi-factor device claim", rec(list(step("Other", "", "MFA requirement satisfied by multi-factor device", true)), 0, nil),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"password plus MFA by claim is a password sign-in", rec(list(step("Password", "", "Correct password", true), step("Mobile app notification", "", claim, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, no, "", model.PrincipalUser},
		{"step-up after reused first factor is a tap", rec(list(step("Previously satisfied", "", "First factor requirement satisfied by claim in the token", true), step("FIDO2 security key", "Key", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, yes, "", model.PrincipalUser},
		{"non-interactive category", rec(list(step("FIDO2 security key", "Key - "+yubiAAGUID, done, true)), 0, fields{"category": "NonInteractiveUserSignInLogs"}),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"isInteractive false", rec(list(step("FIDO2 security key", "Key", done, true)), 0, fields{"isInteractive": false}),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"isInteractive as a string", rec(list(step("Password", "", "Correct password", true)), 0, fields{"isInteractive": "False"}),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"signInEventTypes nonInteractiveUser", rec(list(step("Password", "", "Correct password", true)), 0, fields{"signInEventTypes": []string{"nonInteractiveUser"}}),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"interactive with a refresh token and no step", rec(`[]`, 0, fields{"incomingTokenType": "primaryRefreshToken"}),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"status says claim in the token", rec(`[]`, 0, fields{"status": fields{"errorCode": 0, "additionalDetails": "MFA requirement satisfied by claim in the token"}}),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		// A3: non-human principals.
		{"service principal category", rec(`[]`, 0, fields{"category": "ServicePrincipalSignInLogs", "userId": "", "userPrincipalName": "", "servicePrincipalId": "sp1", "servicePrincipalName": "airflow-sync"}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no, "", model.PrincipalService},
		{"managed identity category", rec(`[]`, 0, fields{"category": "ManagedIdentitySignInLogs", "servicePrincipalId": "mi1"}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no, "", model.PrincipalService},
		{"Microsoft service principal category", rec(`[]`, 0, fields{"category": "MicrosoftServicePrincipalSignInLogs", "servicePrincipalId": "ms1"}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no, "", model.PrincipalService},
		{"signInEventTypes servicePrincipal", rec(`[]`, 0, fields{"signInEventTypes": []string{"servicePrincipal"}, "servicePrincipalId": "sp1"}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no, "", model.PrincipalService},
		{"signInEventTypes managedIdentity", rec(`[]`, 0, fields{"signInEventTypes": []string{"managedIdentity"}}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no, "", model.PrincipalService},
		{"managedServiceIdentity systemAssigned", rec(`[]`, 0, fields{"managedServiceIdentity": fields{"msiType": "systemAssigned"}}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no, "", model.PrincipalService},
		{"service principal id without a user", rec(`[]`, 0, fields{"userId": "", "userPrincipalName": "", "servicePrincipalId": "sp1"}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no, "", model.PrincipalService},
		{"a user with msiType none and empty servicePrincipalId", rec(list(step("Password", "", "Correct password", true)), 0, fields{"servicePrincipalId": "", "managedServiceIdentity": fields{"msiType": "none"}, "signInEventTypes": []string{"interactiveUser"}, "userType": "guest"}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, no, "", model.PrincipalUser},
		// A5: methods keytrail did not credit.
		{"authenticationMethodsUsed FIDO", rec(`[]`, 0, fields{"authenticationMethodsUsed": []string{"Password", "FIDO"}}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, nil, "", model.PrincipalUser},
		{"authenticationMethodsUsed PTA", rec(`[]`, 0, fields{"authenticationMethodsUsed": []string{"PTA"}}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, no, "", model.PrincipalUser},
		{"passwordless phone sign-in is push", rec(list(step("Passwordless phone sign-in", "iPhone", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPush, no, "", model.PrincipalUser},
		{"phone call is a phone factor", rec(list(step("Password", "", "Correct password", true), step("Phone call approval (Authentication phone)", "+X XXXXXXXX12", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorSMS, no, "", model.PrincipalUser},
		// Failures.
		{"failed key step ignored on success", rec(list(step("FIDO2 security key", "", "Authentication failed", false), step("Mobile app notification", "", done, true)), 0, nil),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPush, no, "", model.PrincipalUser},
		{"failed key step is never a success's factor", rec(list(step("FIDO2 security key", "", "Authentication failed", false), step("Previously satisfied", "", claim, true)), 0, nil),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, "", model.PrincipalUser},
		{"failure keeps attempted method", rec(list(step("FIDO2 security key", "", "Authentication failed", false)), 500121, nil),
			model.CategoryLogin, model.OutcomeFailure, model.FactorWebAuthn, yes, "", model.PrincipalUser},
		{"errorCode as a string", rec(list(step("Password", "", "Correct password", true)), 0, fields{"status": fields{"errorCode": "0"}}),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, no, "", model.PrincipalUser},
		{"no details", []byte(`{"id":"s1","createdDateTime":"2024-05-14T09:12:03Z","status":{"errorCode":0}}`),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, nil, "", model.PrincipalUser},
		{"no status", []byte(`{"id":"s1","createdDateTime":"2024-05-14T09:12:03Z"}`),
			model.CategoryLogin, model.OutcomeFailure, model.FactorOther, nil, "", model.PrincipalUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := ingesttest.OneAuth(t, n, tc.raw)
			require.Equal(t, tc.category, a.Category)
			require.Equal(t, tc.outcome, a.Outcome)
			require.Equal(t, tc.factor, a.Factor)
			require.Equal(t, tc.hardware, a.Hardware)
			require.Equal(t, tc.aaguid, a.AAGUID)
			require.Equal(t, tc.principal, a.Principal)
			if tc.principal == model.PrincipalService {
				require.Empty(t, a.Email, "a service principal's name is not a login name")
			}
		})
	}
}

// TestAuditActivities walks the directory-audit activities that add or
// delete a user's authentication method (Device Registration Service, Core
// Directory, Authentication Methods) and the security-info activities that
// change nothing.
func TestAuditActivities(t *testing.T) {
	n := New()
	type kv = map[string]string
	audit := func(activity, reason string, details []kv, targetID string, props string) []byte {
		m := map[string]any{"id": "Directory_1", "activityDateTime": "2024-05-14T08:00:00Z", "activityDisplayName": activity,
			"result": "success", "resultReason": reason,
			"initiatedBy":       map[string]any{"user": map[string]any{"id": "admin-1", "userPrincipalName": "admin@contoso.com"}},
			"targetResources":   []any{map[string]any{"id": targetID, "type": "User", "userPrincipalName": "alice@contoso.com", "modifiedProperties": json.RawMessage(props)}},
			"additionalDetails": details}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	aag := []kv{{"key": "AAGuid", "value": strings.ToUpper(yubiAAGUID)}, {"key": "CredentialId", "value": "cred-1"}}
	yes, no := model.Bool(true), model.Bool(false)
	type auditCase struct {
		name     string
		raw      []byte
		category model.Category
		factor   model.Factor
		hardware *bool // of both the AuthEvent and the Authenticator
		aaguid   string
		cred     string
		model    string
		authn    string // authenticator action; "" when none
	}
	tests := []auditCase{
		{"Add Passkey (device-bound) with AAGUID", audit("Add Passkey (device-bound)", "", aag, "u1", `[]`),
			model.CategoryRegistration, model.FactorWebAuthn, nil, yubiAAGUID, "cred-1", "", model.AuthenticatorRegister},
		{"older passkey activity name", audit("Add Passkey (device-bound) security key", "", aag, "u1", `[]`),
			model.CategoryRegistration, model.FactorWebAuthn, nil, yubiAAGUID, "cred-1", "", model.AuthenticatorRegister},
		{"Add FIDO2 security key with AAGUID", audit("Add FIDO2 security key", "", aag, "u1", `[]`),
			model.CategoryRegistration, model.FactorWebAuthn, nil, yubiAAGUID, "cred-1", "", model.AuthenticatorRegister},
		{"Add FIDO2 security key without AAGUID: Entra's word", audit("Add FIDO2 security key", "", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorWebAuthn, yes, "", "", "FIDO2 security key", model.AuthenticatorRegister},
		{"Add Passkey (device-bound) without AAGUID is undecided", audit("Add Passkey (device-bound)", "", nil, "", `[]`),
			model.CategoryRegistration, model.FactorWebAuthn, nil, "", "", "Passkey (device-bound)", model.AuthenticatorRegister},
		{"AAGUID in modifiedProperties", audit("Add Passkey (device-bound)", "", nil, "u1", `[{"displayName":"SearchableDeviceKey","oldValue":"[]","newValue":"[{\"usage\":\"FIDO\",\"keyIdentifier\":\"abc\",\"fidoAaGuid\":\"CB69481E-8FF7-4039-93EC-0A2729A154A8\"}]"}]`),
			model.CategoryRegistration, model.FactorWebAuthn, nil, yubiAAGUID, "", "", model.AuthenticatorRegister},
		{"Delete Passkey (device-bound)", audit("Delete Passkey (device-bound)", "", aag, "u1", `[]`),
			model.CategoryRemoval, model.FactorWebAuthn, nil, yubiAAGUID, "cred-1", "", model.AuthenticatorRemove},
		{"Delete FIDO2 security key", audit("Delete FIDO2 security key", "", nil, "u1", `[]`),
			model.CategoryRemoval, model.FactorWebAuthn, yes, "", "", "FIDO2 security key", model.AuthenticatorRemove},
		{"Remove FIDO2 security key", audit("Remove FIDO2 security key", "", nil, "u1", `[]`),
			model.CategoryRemoval, model.FactorWebAuthn, yes, "", "", "FIDO2 security key", model.AuthenticatorRemove},
		{"Add Windows Hello for Business credential", audit("Add Windows Hello for Business credential", "", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorPlatform, yes, "", "", "Windows Hello for Business", model.AuthenticatorRegister},
		{"Delete Windows Hello for Business credential", audit("Delete Windows Hello for Business credential", "", nil, "u1", `[]`),
			model.CategoryRemoval, model.FactorPlatform, yes, "", "", "Windows Hello for Business", model.AuthenticatorRemove},
		{"Add passwordless phone sign-in credential", audit("Add passwordless phone sign-in credential", "", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorPush, no, "", "", "Passwordless phone sign-in", model.AuthenticatorRegister},
		{"Delete passwordless phone sign-in credential", audit("Delete passwordless phone sign-in credential", "", nil, "u1", `[]`),
			model.CategoryRemoval, model.FactorPush, no, "", "", "Passwordless phone sign-in", model.AuthenticatorRemove},
		{"Add platform credential", audit("Add platform credential", "", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorPlatform, yes, "", "", "Platform credential", model.AuthenticatorRegister},
		{"Delete platform credential", audit("Delete platform credential", "", nil, "u1", `[]`),
			model.CategoryRemoval, model.FactorPlatform, yes, "", "", "Platform credential", model.AuthenticatorRemove},
		{"Assign Hardware Oath Token", audit("Assign Hardware Oath Token", "", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorTOTP, no, "", "", "Hardware OATH token", model.AuthenticatorRegister},
		{"User registered security info: Fido2 (resultReason)", audit("User registered security info", "User registered Fido2 Authentication Method", []kv{{"key": "InitiatedFrom", "value": "MySignIns"}}, "u1", `[]`),
			model.CategoryRegistration, model.FactorWebAuthn, nil, "", "", "Fido2 Authentication Method", model.AuthenticatorRegister},
		{"User registered security info: Passkey (additionalDetails)", audit("User registered security info", "User registered Passkey", []kv{{"key": "AuthenticationMethod", "value": "Passkey"}}, "u1", `[]`),
			model.CategoryRegistration, model.FactorWebAuthn, nil, "", "", "Passkey", model.AuthenticatorRegister},
		{"User registered security info: Windows Hello", audit("User registered security info", "", []kv{{"key": "AuthenticationMethod", "value": "Windows Hello for Business"}}, "u1", `[]`),
			model.CategoryRegistration, model.FactorPlatform, yes, "", "", "Windows Hello for Business", model.AuthenticatorRegister},
		{"User registered security info: app", audit("User registered security info", "User registered Authenticator App with Notification and Code", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorPush, no, "", "", "Authenticator App with Notification and Code", model.AuthenticatorRegister},
		{"User registered security info: SMS", audit("User registered security info", "User registered Mobile Phone SMS", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorSMS, no, "", "", "Mobile Phone SMS", model.AuthenticatorRegister},
		{"Admin registered security info: TAP", audit("Admin registered security info", "Admin registered temporary access pass method for user", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorOther, no, "", "", "temporary access pass method", model.AuthenticatorRegister},
		{"Admin registered security info: phone", audit("Admin registered security info", "Admin registered phone method for user", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorSMS, no, "", "", "phone method", model.AuthenticatorRegister},
		{"User deleted security info: Fido", audit("User deleted security info", "User deleted Fido", nil, "u1", `[]`),
			model.CategoryRemoval, model.FactorWebAuthn, nil, "", "", "Fido", model.AuthenticatorRemove},
		{"Admin deleted security info: Authenticator", audit("Admin deleted security info", "Admin deleted Microsoft Authenticator Authentication Method for user", nil, "u1", `[]`),
			model.CategoryRemoval, model.FactorPush, no, "", "", "Microsoft Authenticator Authentication Method", model.AuthenticatorRemove},
		{"security info with an unknown method", audit("User registered security info", "", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorOther, nil, "", "", "", model.AuthenticatorRegister},
		{"User registered all required security info is a summary", audit("User registered all required security info", "User registered all required security info", nil, "u1", `[]`),
			model.CategoryRegistration, model.FactorOther, nil, "", "", "", ""},
	}
	for _, other := range []string{"User updated security info", "Admin updated security info", "User changed default security info",
		"User started security info registration", "User canceled security info registration", "User reviewed security info",
		"Get passkey creation options", "Admin started password reset", "User started password change", "Update user",
		"Authentication Methods Policy Update", "Create Hardware Oath Token", "Delete Hardware Oath Token"} {
		tests = append(tests, auditCase{other, audit(other, "", nil, "u1", `[]`), model.CategoryOther, model.FactorNone, nil, "", "", "", ""})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, o := ingesttest.OneAuth(t, n, tc.raw)
			require.Equal(t, tc.category, a.Category)
			require.Equal(t, tc.factor, a.Factor)
			require.Equal(t, tc.hardware, a.Hardware)
			require.Equal(t, tc.aaguid, a.AAGUID)
			require.Equal(t, "alice@contoso.com", a.Email, "the target user, never the admin who acted")
			if tc.authn == "" {
				require.Empty(t, o.Authenticators)
				return
			}
			require.Len(t, o.Authenticators, 1)
			r := o.Authenticators[0]
			require.Equal(t, tc.authn, r.Action)
			require.Equal(t, tc.hardware, r.Hardware)
			require.Equal(t, tc.aaguid, r.AAGUID)
			require.Equal(t, tc.cred, r.CredentialID)
			require.Equal(t, tc.model, r.Model)
			require.Equal(t, "alice@contoso.com", r.Email)
		})
	}

	// A failed change registers nothing.
	raw := bytes.Replace(audit("Add Passkey (device-bound)", "", aag, "u1", `[]`), []byte(`"result":"success"`), []byte(`"result":"failure"`), 1)
	o, err := n.Normalize(raw, "prod")
	require.NoError(t, err)
	require.Equal(t, model.OutcomeFailure, o.Auth[0].Outcome)
	require.Empty(t, o.Authenticators)
}

func TestAAGUIDFromDetail(t *testing.T) {
	for in, want := range map[string]string{
		"YubiKey 5 NFC - FA2B99DC-9E39-4257-8F92-4A30D23C4118": "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
		"fa2b99dc-9e39-4257-8f92-4a30d23c4118":                 "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
		"YubiKey":                                              "",
		"x0fa2b99dc-9e39-4257-8f92-4a30d23c4118":               "",
		"Key - fa2b99dc-9e39-4257-8f92-4a30d23c411g":           "",
	} {
		require.Equal(t, want, aaguidFromDetail(in), in)
	}
	for in, want := range map[string]string{
		"FA2B99DC-9E39-4257-8F92-4A30D23C4118":                            "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
		`[{"fidoAaGuid":"FA2B99DC-9E39-4257-8F92-4A30D23C4118"}]`:         "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
		`[{\"aaGuid\":\"fa2b99dc-9e39-4257-8f92-4a30d23c4118\"}]`:         "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
		`aaguid none, later AAGuid: fa2b99dc-9e39-4257-8f92-4a30d23c4118`: "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
		`{"keyIdentifier":"fa2b99dc-9e39-4257-8f92-4a30d23c4118"}`:        "",
		"": "",
	} {
		require.Equal(t, want, findAAGUID(in), in)
	}
}

func TestRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		rec    string
		target error
		says   []string
	}{
		"no id":                           {`{"createdDateTime":"2024-01-01T00:00:00Z"}`, ErrRecord, []string{"missing id"}},
		"no time":                         {`{"id":"x"}`, ErrRecord, []string{"record x", "missing time"}},
		"bad time":                        {`{"id":"x","createdDateTime":"2024-02-30T00:00:00Z"}`, decode.ErrTime, []string{"record x"}},
		"monitor no id":                   {`{"time":"2024-01-01T00:00:00Z","category":"SignInLogs","properties":{}}`, ErrRecord, []string{"missing id"}},
		"properties scalar":               {`{"id":"x","time":"2024-01-01T00:00:00Z","properties":5}`, decode.ErrType, []string{"record x", "field properties", "a JSON number"}},
		"not json":                        {`{`, decode.ErrSyntax, nil},
		"audit without time":              {`{"id":"x","activityDisplayName":"Add FIDO2 security key"}`, ErrRecord, []string{"record x", "missing time"}},
		"details not a list":              {`{"id":"s9","createdDateTime":"2024-01-01T00:00:00Z","authenticationDetails":"FIDO2"}`, decode.ErrType, []string{"record s9", "field authenticationDetails", "got a JSON string"}},
		"status not an object":            {`{"id":"s9","createdDateTime":"2024-01-01T00:00:00Z","status":[0]}`, decode.ErrType, []string{"record s9", "field status", "got a JSON array, want an object"}},
		"nested type error in properties": {`{"time":"2024-01-01T00:00:00Z","category":"SignInLogs","properties":{"id":"p7","status":"0"}}`, decode.ErrType, []string{"record p7", "field status"}},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := New().Normalize([]byte(tc.rec), "prod")
			require.ErrorIs(t, err, ErrRecord)
			require.ErrorIs(t, err, tc.target)
			for _, s := range tc.says {
				require.Contains(t, err.Error(), s)
			}
			require.NotContains(t, err.Error(), "Go value")
			require.NotContains(t, err.Error(), "entra.")
			require.Empty(t, o.Auth)
		})
	}
}
