package okta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// reID gives a LogEvent a fresh uuid.
func reID(t testing.TB, raw []byte, i int) []byte {
	t.Helper()
	var ev struct {
		UUID string `json:"uuid"`
	}
	require.NoError(t, json.Unmarshal(raw, &ev))
	return bytes.Replace(raw, []byte(`"`+ev.UUID+`"`), []byte(fmt.Sprintf(`"big-%08d-%s"`, i, ev.UUID)), 1)
}

func TestFactors(t *testing.T) {
	yes, no := model.Bool(true), model.Bool(false)
	tests := []struct {
		name     string
		record   string
		category model.Category
		outcome  model.Outcome
		factor   model.Factor
		hardware *bool
	}{
		{"webauthn hardware protected", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.verify","outcome":{"result":"SUCCESS"},"target":[{"id":"fwf1","type":"AuthenticatorEnrollment","detailEntry":{"methodTypeUsed":"Security Key or Biometric Authenticator (FIDO2)","methodUsedVerifiedProperties":"[USER_PRESENCE, HARDWARE_PROTECTED]"}}]}`,
			model.CategoryMFA, model.OutcomeSuccess, model.FactorWebAuthn, yes},
		{"webauthn undecided", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"FIDO_WEBAUTHN"}}}`,
			model.CategoryMFA, model.OutcomeSuccess, model.FactorWebAuthn, nil},
		{"backup eligible passkey", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"FIDO_WEBAUTHN","backupEligible":"true"}}}`,
			model.CategoryMFA, model.OutcomeSuccess, model.FactorPasskeySynced, no},
		{"push", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH"}}}`,
			model.CategoryMFA, model.OutcomeSuccess, model.FactorPush, no},
		{"totp", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"token:software:totp"}}}`,
			model.CategoryMFA, model.OutcomeSuccess, model.FactorTOTP, no},
		{"sms failure", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.auth_via_mfa","outcome":{"result":"FAILURE"},"debugContext":{"debugData":{"factor":"SMS"}}}`,
			model.CategoryMFA, model.OutcomeFailure, model.FactorSMS, no},
		{"email", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.verify","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"EMAIL"}}}`,
			model.CategoryMFA, model.OutcomeSuccess, model.FactorEmail, no},
		{"password session start", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.session.start","outcome":{"result":"SUCCESS"},"authenticationContext":{"credentialType":"PASSWORD"}}`,
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, no},
		{"fastpass is a platform credential, not a key", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.verify","outcome":{"result":"SUCCESS"},"target":[{"id":"pfd1","type":"AuthenticatorEnrollment","detailEntry":{"methodTypeUsed":"Use Okta FastPass","methodUsedVerifiedProperties":"[DEVICE_BOUND, PHISHING_RESISTANT, HARDWARE_PROTECTED]"}}]}`,
			model.CategoryMFA, model.OutcomeSuccess, model.FactorPlatform, yes},
		{"sso is token reuse", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"}}`,
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil},
		{"unknown type", `{"uuid":"1","published":"2024-01-01T00:00:00Z","eventType":"group.user_membership.add"}`,
			model.CategoryOther, model.OutcomeFailure, model.FactorNone, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := New().Normalize([]byte(tc.record), "prod")
			require.NoError(t, err)
			checkOutput(t, []byte(tc.record), o)
			require.Len(t, o.Auth, 1)
			a := o.Auth[0]
			require.Equal(t, tc.category, a.Category)
			require.Equal(t, tc.outcome, a.Outcome)
			require.Equal(t, tc.factor, a.Factor)
			require.Equal(t, tc.hardware, a.Hardware)
		})
	}
}

func TestRejects(t *testing.T) {
	for name, rec := range map[string]string{
		"no uuid":      `{"published":"2024-01-01T00:00:00Z"}`,
		"blank uuid":   `{"uuid":"  ","published":"2024-01-01T00:00:00Z"}`,
		"no published": `{"uuid":"x"}`,
		"bad time":     `{"uuid":"x","published":"2024-13-01T00:00:00Z"}`,
		"not object":   `[1,2]`,
		"not json":     `{`,
	} {
		t.Run(name, func(t *testing.T) {
			o, err := New().Normalize([]byte(rec), "prod")
			require.ErrorIs(t, err, ErrRecord)
			require.Empty(t, o.Auth)
			require.Nil(t, o.Raw.Raw)
		})
	}
}

func TestRegistration(t *testing.T) {
	rec := `{"uuid":"r1","published":"2024-05-14T10:00:00.000+02:00","eventType":"user.mfa.factor.activate","actor":{"id":"00uadmin","type":"User","alternateId":"admin@example.com"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"FIDO_WEBAUTHN","aaguid":"CB69481E-8FF7-4039-93EC-0A2729A154A8","passkey":"false","backupEligible":"false"}},"target":[{"id":"00u1","type":"User","alternateId":"alice@example.com"},{"id":"fwf1","type":"AuthenticatorEnrollment","displayName":"YubiKey 5"}]}`
	o, err := New().Normalize([]byte(rec), "prod")
	require.NoError(t, err)
	require.Len(t, o.Authenticators, 1)
	a := o.Authenticators[0]
	require.Equal(t, "cb69481e-8ff7-4039-93ec-0a2729a154a8", a.AAGUID)
	require.Equal(t, "00u1", a.Subject, "the target user, not the admin who acted")
	require.Equal(t, "fwf1", a.CredentialID)
	require.Equal(t, model.AuthenticatorRegister, a.Action)
	require.Equal(t, model.Bool(false), a.BackupEligible)
	require.Nil(t, a.Hardware, "left to the AAGUID table")
	require.Equal(t, "2024-05-14T08:00:00Z", a.TS.Format("2006-01-02T15:04:05Z07:00"))
}
