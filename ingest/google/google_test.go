package google

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// reID gives an activity a fresh uniqueQualifier.
func reID(t testing.TB, raw []byte, i int) []byte {
	t.Helper()
	var act struct {
		ID struct {
			UQ json.RawMessage `json:"uniqueQualifier"`
		} `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &act))
	return bytes.Replace(raw, []byte(`"uniqueQualifier":`+string(act.ID.UQ)), []byte(fmt.Sprintf(`"uniqueQualifier":"big-%08d"`, i)), 1)
}

func TestMethods(t *testing.T) {
	yes, no := model.Bool(true), model.Bool(false)
	tests := []struct {
		methods  []string
		factor   model.Factor
		hardware *bool
	}{
		{[]string{"password", "security_key"}, model.FactorWebAuthn, yes},
		{[]string{"passkey"}, model.FactorWebAuthn, nil},
		{[]string{"passkey", "security_key"}, model.FactorWebAuthn, yes},
		{[]string{"password", "google_authenticator"}, model.FactorTOTP, no},
		{[]string{"password", "backup_code"}, model.FactorTOTP, no},
		{[]string{"password", "internal_two_factor"}, model.FactorPush, no},
		{[]string{"password", "idv_preregistered_phone"}, model.FactorSMS, no},
		{[]string{"password"}, model.FactorPassword, no},
		{[]string{"saml"}, model.FactorOther, no},
		{[]string{"none"}, model.FactorNone, nil},
	}
	for _, tc := range tests {
		f, h := strongest(tc.methods)
		require.Equal(t, tc.factor, f, "%v", tc.methods)
		require.Equal(t, tc.hardware, h, "%v", tc.methods)
	}
}

func TestSeveralEvents(t *testing.T) {
	raw := []byte(`{"id":{"time":"2024-05-14T09:12:03.000Z","uniqueQualifier":"-42"},"actor":{"email":"c@example.com","profileId":"1048"},"events":[
	 {"name":"login_verification","parameters":[{"name":"login_challenge_method","multiValue":["security_key"]},{"name":"is_second_factor","boolValue":true}]},
	 {"name":"login_success","parameters":[{"name":"login_challenge_method","multiValue":["password"]}]}]}`)
	o, err := New().Normalize(raw, "prod")
	require.NoError(t, err)
	checkOutput(t, raw, o)
	require.Equal(t, "-42", o.Raw.EventID)
	require.Len(t, o.Auth, 2)
	require.Equal(t, "-42/0/login_verification", o.Auth[0].EventID)
	require.Equal(t, model.CategoryMFA, o.Auth[0].Category)
	require.Equal(t, model.FactorWebAuthn, o.Auth[0].Factor)
	require.Equal(t, model.Bool(true), o.Auth[0].Hardware)
	require.Equal(t, "-42/1/login_success", o.Auth[1].EventID)
	require.Equal(t, model.FactorPassword, o.Auth[1].Factor)
	require.Equal(t, "1048", o.Auth[1].Subject)
	require.Equal(t, "c@example.com", o.Auth[1].Email)
}

func TestRejects(t *testing.T) {
	for name, rec := range map[string]string{
		"no id":     `{"events":[]}`,
		"no uq":     `{"id":{"time":"2024-01-01T00:00:00Z"}}`,
		"no time":   `{"id":{"uniqueQualifier":"1"}}`,
		"bad time":  `{"id":{"uniqueQualifier":"1","time":"2024-01-01T25:00:00Z"}}`,
		"bad shape": `{"id":{"uniqueQualifier":"1","time":"2024-01-01T00:00:00Z"},"events":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			o, err := New().Normalize([]byte(rec), "prod")
			require.ErrorIs(t, err, ErrRecord)
			require.Empty(t, o.Auth)
		})
	}
}
