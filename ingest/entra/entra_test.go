package entra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

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

func TestClassify(t *testing.T) {
	yes, no := model.Bool(true), model.Bool(false)
	tests := []struct {
		method   string
		factor   model.Factor
		hardware *bool
		reuse    bool
	}{
		{"FIDO2 security key", model.FactorWebAuthn, yes, false},
		{"Passkey (device-bound)", model.FactorWebAuthn, yes, false},
		{"Passkey (Microsoft Authenticator)", model.FactorWebAuthn, nil, false},
		{"Passkey (synced)", model.FactorPasskeySynced, no, false},
		{"Password", model.FactorPassword, no, false},
		{"Text message", model.FactorSMS, no, false},
		{"Mobile app notification", model.FactorPush, no, false},
		{"OATH verification code", model.FactorTOTP, no, false},
		{"Mobile app verification code", model.FactorTOTP, no, false},
		{"Email OTP", model.FactorEmail, no, false},
		{"Previously satisfied", model.FactorNone, nil, true},
		{"Windows Hello for Business", model.FactorOther, no, false},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			c := classify(tc.method)
			require.Equal(t, tc.factor, c.factor)
			require.Equal(t, tc.hardware, c.hardware)
			require.Equal(t, tc.reuse, c.reuse)
		})
	}
}

func TestSignIns(t *testing.T) {
	n := New()
	rec := func(details string, code int) []byte {
		return []byte(fmt.Sprintf(`{"id":"s1","createdDateTime":"2024-05-14T09:12:03Z","userId":"u1","userPrincipalName":"a@b.c","status":{"errorCode":%d},"authenticationDetails":%s}`, code, details))
	}
	tests := []struct {
		name     string
		raw      []byte
		category model.Category
		outcome  model.Outcome
		factor   model.Factor
		hardware *bool
		aaguid   string
	}{
		{"key tap", rec(`[{"authenticationMethod":"Password","succeeded":true},{"authenticationMethod":"FIDO2 security key","authenticationMethodDetail":"Key - FA2B99DC-9E39-4257-8F92-4A30D23C4118","succeeded":true}]`, 0),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, model.Bool(true), "fa2b99dc-9e39-4257-8f92-4a30d23c4118"},
		{"token reuse is not a key tap", rec(`[{"authenticationMethod":"Previously satisfied","succeeded":true}]`, 0),
			model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, ""},
		{"password plus reuse", rec(`[{"authenticationMethod":"Password","succeeded":true},{"authenticationMethod":"Previously satisfied","succeeded":true}]`, 0),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, model.Bool(false), ""},
		{"failed key step ignored on success", rec(`[{"authenticationMethod":"FIDO2 security key","succeeded":false},{"authenticationMethod":"Mobile app notification","succeeded":true}]`, 0),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPush, model.Bool(false), ""},
		{"failure keeps attempted method", rec(`[{"authenticationMethod":"FIDO2 security key","succeeded":false}]`, 500121),
			model.CategoryLogin, model.OutcomeFailure, model.FactorWebAuthn, model.Bool(true), ""},
		{"synced passkey", rec(`[{"authenticationMethod":"Passkey (synced)","authenticationMethodDetail":"iCloud - fbfc3007-154e-4ecc-8c0b-6e020557d7bd","succeeded":true}]`, 0),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorPasskeySynced, model.Bool(false), "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"},
		{"no details", []byte(`{"id":"s1","createdDateTime":"2024-05-14T09:12:03Z","status":{"errorCode":0}}`),
			model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, nil, ""},
		{"no status", []byte(`{"id":"s1","createdDateTime":"2024-05-14T09:12:03Z"}`),
			model.CategoryLogin, model.OutcomeFailure, model.FactorOther, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := n.Normalize(tc.raw, "prod")
			require.NoError(t, err)
			checkOutput(t, tc.raw, o)
			require.Len(t, o.Auth, 1)
			a := o.Auth[0]
			require.Equal(t, tc.category, a.Category)
			require.Equal(t, tc.outcome, a.Outcome)
			require.Equal(t, tc.factor, a.Factor)
			require.Equal(t, tc.hardware, a.Hardware)
			require.Equal(t, tc.aaguid, a.AAGUID)
		})
	}
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
}

func TestRejects(t *testing.T) {
	for name, rec := range map[string]string{
		"no id":              `{"createdDateTime":"2024-01-01T00:00:00Z"}`,
		"no time":            `{"id":"x"}`,
		"bad time":           `{"id":"x","createdDateTime":"2024-02-30T00:00:00Z"}`,
		"monitor no id":      `{"time":"2024-01-01T00:00:00Z","category":"SignInLogs","properties":{}}`,
		"properties scalar":  `{"id":"x","time":"2024-01-01T00:00:00Z","properties":5}`,
		"not json":           `{`,
		"audit without time": `{"id":"x","activityDisplayName":"Add FIDO2 security key"}`,
	} {
		t.Run(name, func(t *testing.T) {
			o, err := New().Normalize([]byte(rec), "prod")
			require.ErrorIs(t, err, ErrRecord)
			require.Empty(t, o.Auth)
		})
	}
}
