package keycloak

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest/ingesttest"
	"github.com/keytrail/keytrail/model"
)

// reID gives an event a fresh id (or, without one, a fresh time so its
// derived id changes).
func reID(t testing.TB, raw []byte, i int) []byte {
	t.Helper()
	var ev struct {
		ID   string          `json:"id"`
		Time json.RawMessage `json:"time"`
	}
	require.NoError(t, json.Unmarshal(raw, &ev))
	if ev.ID != "" {
		return bytes.Replace(raw, []byte(`"id":"`+ev.ID+`"`), []byte(fmt.Sprintf(`"id":"big-%08d-%s"`, i, ev.ID)), 1)
	}
	return bytes.Replace(raw, []byte(`"time":`+string(ev.Time)), []byte(fmt.Sprintf(`"time":%d`, 1715677923512+int64(i))), 1)
}

func TestUserEvents(t *testing.T) {
	no := model.Bool(false)
	tests := []struct {
		name     string
		raw      string
		category model.Category
		outcome  model.Outcome
		factor   model.Factor
		hardware *bool
	}{
		{"webauthn login", `{"id":"1","time":1715677923512,"type":"LOGIN","userId":"u","details":{"credential_type":"webauthn","public_key_credential_id":"AQID"}}`, model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, nil},
		{"passwordless", `{"id":"1","time":1715677923512,"type":"LOGIN","details":{"credential_type":"webauthn-passwordless"}}`, model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, nil},
		{"otp", `{"id":"1","time":1715677923512,"type":"LOGIN","details":{"credential_type":"otp"}}`, model.CategoryLogin, model.OutcomeSuccess, model.FactorTOTP, no},
		{"password error", `{"id":"1","time":1715677923512,"type":"LOGIN_ERROR","error":"invalid_user_credentials","details":{"credential_type":"password"}}`, model.CategoryLogin, model.OutcomeFailure, model.FactorPassword, no},
		{"login without credential type", `{"id":"1","time":1715677923512,"type":"LOGIN"}`, model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no},
		{"token refresh", `{"id":"1","time":1715677923512,"type":"REFRESH_TOKEN"}`, model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil},
		{"webauthn register", `{"id":"1","time":1715677923512,"type":"CUSTOM_REQUIRED_ACTION","details":{"custom_required_action":"webauthn-register","public_key_credential_aaguid":"CB69481E-8FF7-4039-93EC-0A2729A154A8"}}`, model.CategoryRegistration, model.OutcomeSuccess, model.FactorWebAuthn, nil},
		{"unknown", `{"id":"1","time":1715677923512,"type":"VERIFY_EMAIL"}`, model.CategoryOther, model.OutcomeSuccess, model.FactorNone, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := New().Normalize([]byte(tc.raw), "prod")
			require.NoError(t, err)
			checkOutput(t, []byte(tc.raw), o)
			a := o.Auth[0]
			require.Equal(t, tc.category, a.Category)
			require.Equal(t, tc.outcome, a.Outcome)
			require.Equal(t, tc.factor, a.Factor)
			require.Equal(t, tc.hardware, a.Hardware)
			require.Equal(t, "2024-05-14T09:12:03.512Z", ingesttest.TS(a.TS))
		})
	}
}

func TestDerivedIDStable(t *testing.T) {
	a := `{"time":1715677923512,"type":"LOGIN","realmId":"corp","userId":"u","details":{"username":"dave","credential_type":"webauthn"}}`
	b := `{"details":{"credential_type":"webauthn","username":"dave"},"userId":"u","realmId":"corp","type":"LOGIN","time":1715677923512}`
	c := `{"time":1715677923513,"type":"LOGIN","realmId":"corp","userId":"u","details":{"username":"dave","credential_type":"webauthn"}}`
	oa, err := New().Normalize([]byte(a), "prod")
	require.NoError(t, err)
	ob, err := New().Normalize([]byte(b), "prod")
	require.NoError(t, err)
	oc, err := New().Normalize([]byte(c), "prod")
	require.NoError(t, err)
	require.Equal(t, oa.Raw.EventID, ob.Raw.EventID)
	require.NotEqual(t, oa.Raw.EventID, oc.Raw.EventID)
	require.Regexp(t, `^kc-[0-9a-f]{32}$`, oa.Raw.EventID)
}

func TestAdminCredentialDelete(t *testing.T) {
	raw := `{"time":1715760300000,"realmId":"corp","authDetails":{"userId":"admin1","ipAddress":"198.51.100.5"},"operationType":"DELETE","resourceType":"USER","resourcePath":"users/u1/credentials/c1"}`
	o, err := New().Normalize([]byte(raw), "prod")
	require.NoError(t, err)
	require.Equal(t, model.CategoryRemoval, o.Auth[0].Category)
	require.Equal(t, "u1", o.Auth[0].Subject)
	require.Len(t, o.Authenticators, 1)
	require.Equal(t, "c1", o.Authenticators[0].CredentialID)
	require.Equal(t, model.AuthenticatorRemove, o.Authenticators[0].Action)
}

func TestRejects(t *testing.T) {
	for name, rec := range map[string]string{
		"no time":     `{"id":"x","type":"LOGIN"}`,
		"null time":   `{"id":"x","type":"LOGIN","time":null}`,
		"zero time":   `{"id":"x","type":"LOGIN","time":0}`,
		"bad time":    `{"id":"x","type":"LOGIN","time":"soon"}`,
		"no type":     `{"id":"x","time":1715677923512}`,
		"bad details": `{"id":"x","type":"LOGIN","time":1715677923512,"details":[1]}`,
		"not json":    `{`,
	} {
		t.Run(name, func(t *testing.T) {
			o, err := New().Normalize([]byte(rec), "prod")
			require.ErrorIs(t, err, ErrRecord)
			require.Empty(t, o.Auth)
		})
	}
}
