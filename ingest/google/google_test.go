package google

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest/ingesttest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
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

// TestChallengeMethods walks every login_challenge_method value Google
// documents (and the ones seen in its logs; sources in testdata/README.md).
// Every value of the classifier's table must appear here.
func TestChallengeMethods(t *testing.T) {
	yes, no := model.Bool(true), model.Bool(false)
	tests := []struct {
		method   string
		factor   model.Factor
		hardware *bool
		ok       bool
	}{
		{"security_key", model.FactorWebAuthn, yes, true},
		{"passkey", model.FactorWebAuthn, nil, true},
		{"cross_device", model.FactorWebAuthn, nil, true},
		{"security_key_otp", model.FactorTOTP, no, true},
		{"google_authenticator", model.FactorTOTP, no, true},
		{"totp", model.FactorTOTP, no, true},
		{"offline_otp", model.FactorTOTP, no, true},
		{"backup_code", model.FactorTOTP, no, true},
		{"rescue_code", model.FactorTOTP, no, true},
		{"google_prompt", model.FactorPush, no, true},
		{"internal_two_factor", model.FactorPush, no, true},
		{"authzen", model.FactorPush, no, true},
		{"device_prompt", model.FactorPush, no, true},
		{"idv_preregistered_phone", model.FactorSMS, no, true},
		{"idv_any_phone", model.FactorSMS, no, true},
		{"idv_preregistered_email", model.FactorEmail, no, true},
		{"idv_any_email", model.FactorEmail, no, true},
		{"password", model.FactorPassword, no, true},
		// knowledge challenges send nothing: knowledge factors, not phone or email
		{"knowledge_employee_id", model.FactorPassword, no, true},
		{"knowledge_preregistered_email", model.FactorPassword, no, true},
		{"knowledge_preregistered_phone", model.FactorPassword, no, true},
		{"knowledge_name", model.FactorPassword, no, true},
		{"knowledge_secret_question", model.FactorPassword, no, true},
		{"knowledge_user_account", model.FactorPassword, no, true},
		{"login_location", model.FactorPassword, no, true},
		{"saml", model.FactorOther, no, true},
		{"oidc", model.FactorOther, no, true},
		{"other", model.FactorOther, no, true},
		{"none", model.FactorNone, nil, false},
		{"captcha", model.FactorNone, nil, false},
		{"recaptcha", model.FactorNone, nil, false},
		// values outside the table, by their shape
		{"SECURITY_KEY", model.FactorWebAuthn, yes, true},
		{"security_key_ble", model.FactorWebAuthn, yes, true},
		{"knowledge_something_new", model.FactorPassword, no, true},
		{"passkey_hybrid", model.FactorWebAuthn, nil, true},
		{"idv_new_email", model.FactorEmail, no, true},
		{"sms_code", model.FactorSMS, no, true},
		{"some_otp", model.FactorTOTP, no, true},
		{"phone_prompt_v2", model.FactorSMS, no, true},
		{"brand_new", model.FactorOther, no, true},
		{"", model.FactorNone, nil, false},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		f, h, ok := methodFactor(tc.method)
		require.Equal(t, tc.factor, f, tc.method)
		require.Equal(t, tc.hardware, h, tc.method)
		require.Equal(t, tc.ok, ok, tc.method)
		covered[tc.method] = true
	}
	for m := range challengeMethods {
		require.True(t, covered[m], "method %q of the classifier is not in the vocabulary test", m)
	}
}

func TestStrongest(t *testing.T) {
	yes, no := model.Bool(true), model.Bool(false)
	tests := []struct {
		methods  []string
		factor   model.Factor
		hardware *bool
		ok       bool
	}{
		{[]string{"password", "password", "password", "security_key"}, model.FactorWebAuthn, yes, true},
		{[]string{"passkey", "security_key"}, model.FactorWebAuthn, yes, true},
		{[]string{"security_key", "passkey"}, model.FactorWebAuthn, yes, true},
		{[]string{"password", "knowledge_preregistered_phone"}, model.FactorPassword, no, true},
		{[]string{"captcha", "password"}, model.FactorPassword, no, true},
		{[]string{"none"}, model.FactorNone, nil, false},
		{[]string{"none", "captcha"}, model.FactorNone, nil, false},
	}
	for _, tc := range tests {
		f, h, ok := strongest(tc.methods)
		require.Equal(t, tc.factor, f, "%v", tc.methods)
		require.Equal(t, tc.hardware, h, "%v", tc.methods)
		require.Equal(t, tc.ok, ok, "%v", tc.methods)
	}
}

// TestEvents walks the login application's events.
func TestEvents(t *testing.T) {
	type param = map[string]any
	act := func(events string) []byte {
		return []byte(`{"kind":"admin#reports#activity","id":{"time":"2024-05-14T09:12:03.000Z","uniqueQualifier":"-42","applicationName":"login","customerId":"C03az79cb"},` +
			`"actor":{"callerType":"USER","email":"c@example.com","profileId":"1048"},"ipAddress":"192.0.2.44","events":` + events + `}`)
	}
	ev := func(name string, params ...param) string {
		b, _ := json.Marshal(map[string]any{"type": "login", "name": name, "parameters": params})
		return "[" + string(b) + "]"
	}
	methods := func(m ...string) param { return param{"name": "login_challenge_method", "multiValue": m} }
	lt := func(v string) param { return param{"name": "login_type", "value": v} }
	st := func(v string) param { return param{"name": "login_challenge_status", "value": v} }
	second := func(v bool) param { return param{"name": "is_second_factor", "boolValue": v} }
	yes, no := model.Bool(true), model.Bool(false)
	type eventCase struct {
		name     string
		raw      []byte
		category model.Category
		outcome  model.Outcome
		factor   model.Factor
		hardware *bool
		authn    string
	}
	tests := []eventCase{
		{"login_success with a key", act(ev("login_success", lt("google_password"), methods("password", "security_key"))), model.CategoryLogin, model.OutcomeSuccess, model.FactorWebAuthn, yes, ""},
		{"login_success password", act(ev("login_success", lt("google_password"), methods("password"))), model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, no, ""},
		{"login_success without methods", act(ev("login_success", lt("google_password"))), model.CategoryLogin, model.OutcomeSuccess, model.FactorPassword, no, ""},
		{"login_success saml", act(ev("login_success", lt("saml"), methods("saml"))), model.CategoryLogin, model.OutcomeSuccess, model.FactorOther, no, ""},
		{"login_success none", act(ev("login_success", lt("exchange"), methods("none"))), model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, ""},
		{"login_success exchange without methods", act(ev("login_success", lt("exchange"))), model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, ""},
		{"login_failure", act(ev("login_failure", lt("google_password"), methods("password"))), model.CategoryLogin, model.OutcomeFailure, model.FactorPassword, no, ""},
		{"login_verification key", act(ev("login_verification", lt("google_password"), methods("security_key"), st("passed"), second(true))), model.CategoryMFA, model.OutcomeSuccess, model.FactorWebAuthn, yes, ""},
		{"login_verification not second factor", act(ev("login_verification", methods("idv_preregistered_phone"), st("Challenge Passed."), second(false))), model.CategoryMFA, model.OutcomeSuccess, model.FactorSMS, no, ""},
		{"login_challenge failed", act(ev("login_challenge", methods("security_key"), st("Challenge Failed."))), model.CategoryMFA, model.OutcomeFailure, model.FactorWebAuthn, yes, ""},
		{"login_challenge knowledge", act(ev("login_challenge", methods("knowledge_employee_id"), st("Challenge Passed."))), model.CategoryMFA, model.OutcomeSuccess, model.FactorPassword, no, ""},
		{"logout", act(ev("logout", lt("google_password"))), model.CategorySession, model.OutcomeSuccess, model.FactorNone, nil, ""},
		{"2sv_enroll", act(ev("2sv_enroll")), model.CategoryRegistration, model.OutcomeSuccess, model.FactorOther, nil, model.AuthenticatorRegister},
		{"2sv_disable", act(ev("2sv_disable")), model.CategoryRemoval, model.OutcomeSuccess, model.FactorOther, nil, model.AuthenticatorRemove},
		{"passkey_enrolled", act(`[{"type":"account_warning","name":"passkey_enrolled"}]`), model.CategoryRegistration, model.OutcomeSuccess, model.FactorWebAuthn, nil, model.AuthenticatorRegister},
		{"passkey_removed", act(`[{"type":"account_warning","name":"passkey_removed"}]`), model.CategoryRemoval, model.OutcomeSuccess, model.FactorWebAuthn, nil, model.AuthenticatorRemove},
		{"risky_sensitive_action_allowed", act(ev("risky_sensitive_action_allowed", methods("security_key"), st("Challenge Passed."))), model.CategoryOther, model.OutcomeSuccess, model.FactorNone, nil, ""},
		{"risky_sensitive_action_blocked", act(ev("risky_sensitive_action_blocked", methods("password"))), model.CategoryOther, model.OutcomeFailure, model.FactorNone, nil, ""},
	}
	for _, other := range []string{"titanium_enroll", "titanium_unenroll", "password_edit", "recovery_email_edit", "recovery_phone_edit",
		"recovery_secret_qa_edit", "suspicious_login", "suspicious_login_less_secure_app", "suspicious_programmatic_login",
		"account_disabled_hijacked", "account_disabled_password_leak", "account_disabled_generic", "account_disabled_spamming",
		"account_disabled_spamming_through_relay", "user_signed_out_due_to_suspicious_session_cookie", "gov_attack_warning",
		"blocked_sender", "email_forwarding_out_of_domain"} {
		tests = append(tests, eventCase{other, act(ev(other)), model.CategoryOther, model.OutcomeSuccess, model.FactorNone, nil, ""})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, o := ingesttest.OneAuth(t, New(), tc.raw)
			require.Equal(t, tc.category, a.Category)
			require.Equal(t, tc.outcome, a.Outcome)
			require.Equal(t, tc.factor, a.Factor)
			require.Equal(t, tc.hardware, a.Hardware)
			require.Equal(t, model.PrincipalUser, a.Principal)
			if tc.authn == "" {
				require.Empty(t, o.Authenticators)
				return
			}
			require.Len(t, o.Authenticators, 1)
			require.Equal(t, tc.authn, o.Authenticators[0].Action)
			require.Equal(t, "1048", o.Authenticators[0].Subject)
		})
	}
}

func TestSeveralEvents(t *testing.T) {
	raw := []byte(`{"id":{"time":"2024-05-14T09:12:03.000Z","uniqueQualifier":"-42","applicationName":"login","customerId":"C03az79cb"},"actor":{"email":"c@example.com","profileId":"1048"},"events":[
	 {"name":"login_verification","parameters":[{"name":"login_challenge_method","multiValue":["security_key"]},{"name":"is_second_factor","boolValue":true}]},
	 {"name":"login_success","parameters":[{"name":"login_challenge_method","multiValue":["password"]}]}]}`)
	o, err := New().Normalize(raw, "prod")
	require.NoError(t, err)
	checkOutput(t, raw, o)
	const id = "login/C03az79cb/2024-05-14T09:12:03.000Z/-42"
	require.Equal(t, id, o.Raw.EventID)
	require.Len(t, o.Auth, 2)
	require.Equal(t, id+"/0/login_verification", o.Auth[0].EventID)
	require.Equal(t, model.CategoryMFA, o.Auth[0].Category)
	require.Equal(t, model.FactorWebAuthn, o.Auth[0].Factor)
	require.Equal(t, model.Bool(true), o.Auth[0].Hardware)
	require.Equal(t, id+"/1/login_success", o.Auth[1].EventID)
	require.Equal(t, model.FactorPassword, o.Auth[1].Factor)
	require.Equal(t, "1048", o.Auth[1].Subject)
	require.Equal(t, "c@example.com", o.Auth[1].Email)
}

// TestIdentity checks that an activity is identified as Google defines
// uniqueness: uniqueQualifier together with time, application and customer.
func TestIdentity(t *testing.T) {
	act := func(t, uq, app, customer string) []byte {
		return []byte(fmt.Sprintf(`{"id":{"time":%q,"uniqueQualifier":%s,"applicationName":%q,"customerId":%q},"actor":{"profileId":"1"},"events":[{"name":"logout"}]}`, t, uq, app, customer))
	}
	id := func(raw []byte) string {
		o, err := New().Normalize(raw, "prod")
		require.NoError(t, err)
		return o.Raw.EventID
	}
	base := id(act("2024-05-14T09:12:03.000Z", `"-42"`, "login", "C1"))
	require.NotEqual(t, base, id(act("2024-05-14T09:12:04.000Z", `"-42"`, "login", "C1")), "same uniqueQualifier at another time is another activity")
	require.NotEqual(t, base, id(act("2024-05-14T09:12:03.000Z", `"-42"`, "saml", "C1")), "another application")
	require.NotEqual(t, base, id(act("2024-05-14T09:12:03.000Z", `"-42"`, "login", "C2")), "another customer")
	require.NotEqual(t, base, id(act("2024-05-14T09:12:03.000Z", `"-43"`, "login", "C1")))
	require.Equal(t, base, id(act("2024-05-14T11:12:03+02:00", `"-42"`, "login", "C1")), "one instant written two ways is one activity")
	require.Equal(t, id(act("2024-05-14T09:12:03Z", `42`, "login", "C1")), id(act("2024-05-14T09:12:03Z", `"42"`, "login", "C1")), "a numeric uniqueQualifier is its digits")
}

// TestShipperShapes reads the shapes log shippers produce: one event object
// instead of an array (Elastic's google_workspace integration), numeric
// ids, multiStrValue (Cloud Logging), a non-user caller.
func TestShipperShapes(t *testing.T) {
	raw := []byte(`{"kind":"admin#reports#activity","id":{"time":"2020-10-02T15:00:00Z","uniqueQualifier":1,"applicationName":"login","customerId":"1"},"actor":{"callerType":"USER","email":"foo@bar.com","profileId":1},"ipAddress":"67.43.156.13","events":{"type":"login","name":"login_verification","parameters":[{"name":"login_type","value":"google_password"},{"multiValue":["security_key"],"name":"login_challenge_method"},{"name":"login_challenge_status","value":"passed"},{"boolValue":true,"name":"is_second_factor"}]}}`)
	o, err := New().Normalize(raw, "prod")
	require.NoError(t, err)
	checkOutput(t, raw, o)
	require.Len(t, o.Auth, 1)
	require.Equal(t, "login/1/2020-10-02T15:00:00.000Z/1", o.Raw.EventID)
	require.Equal(t, model.FactorWebAuthn, o.Auth[0].Factor)
	require.Equal(t, model.CategoryMFA, o.Auth[0].Category)
	require.Equal(t, "1", o.Auth[0].Subject)

	raw = []byte(`{"id":{"time":"2024-05-14T09:12:03Z","uniqueQualifier":"7"},"events":[{"name":"login_success","parameters":[{"name":"login_challenge_method","multiStrValue":["password","google_prompt"]}]}]}`)
	o, err = New().Normalize(raw, "prod")
	require.NoError(t, err)
	require.Equal(t, model.FactorPush, o.Auth[0].Factor)
	require.Equal(t, []string{"password", "google_prompt"}, o.Auth[0].Methods)

	raw = []byte(`{"id":{"time":"2024-05-14T09:12:03Z","uniqueQualifier":"8"},"actor":{"callerType":"KEY","key":"SYSTEM"},"events":[{"name":"login_success"}]}`)
	o, err = New().Normalize(raw, "prod")
	require.NoError(t, err)
	require.Equal(t, model.PrincipalService, o.Auth[0].Principal)
}

func TestRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		rec    string
		target error
		says   []string
	}{
		"no id":       {`{"events":[]}`, ErrRecord, []string{"missing id.uniqueQualifier"}},
		"no uq":       {`{"id":{"time":"2024-01-01T00:00:00Z"}}`, ErrRecord, []string{"missing id.uniqueQualifier"}},
		"no time":     {`{"id":{"uniqueQualifier":"1"}}`, ErrRecord, []string{"activity 1", "missing id.time"}},
		"bad time":    {`{"id":{"uniqueQualifier":"1","time":"2024-01-01T25:00:00Z"}}`, decode.ErrTime, []string{"activity 1"}},
		"events text": {`{"id":{"uniqueQualifier":"1","time":"2024-01-01T00:00:00Z"},"events":"login"}`, decode.ErrType, []string{"activity 1 at 2024-01-01T00:00:00Z", "field events", "got a JSON string"}},
		"parameters not objects": {`{"id":{"uniqueQualifier":"1","time":"2024-01-01T00:00:00Z"},"events":[{"name":"login_success","parameters":[1]}]}`, decode.ErrType,
			[]string{"activity 1", "field events.parameters", "got a JSON number, want an object"}},
		"actor not an object": {`{"id":{"uniqueQualifier":"1","time":"2024-01-01T00:00:00Z"},"actor":"me"}`, decode.ErrType, []string{"activity 1", "field actor"}},
		"not json":            {`{"id":`, decode.ErrSyntax, nil},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := New().Normalize([]byte(tc.rec), "prod")
			require.ErrorIs(t, err, ErrRecord)
			require.ErrorIs(t, err, tc.target)
			for _, s := range tc.says {
				require.Contains(t, err.Error(), s)
			}
			require.NotContains(t, err.Error(), "Go value")
			require.NotContains(t, err.Error(), "google.")
			require.Empty(t, o.Auth)
		})
	}
}
