package alert_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
)

const secret = "Zq7Secr3t"

// TestConfigErrorsNeverPrintSecrets: a secret in any field of a malformed
// alert config (a webhook URL with a token, a header value, credentials in
// an Alertmanager URL) never appears in the error.
func TestConfigErrorsNeverPrintSecrets(t *testing.T) {
	for name, doc := range map[string]string{
		"webhook given as a string":        "targets:\n  - name: a\n    webhook: https://hooks.example.com/T0/" + secret + "\n",
		"short secret as a mapping value":  "targets:\n  - name: a\n    webhook: " + secret + "\n",
		"url as a list":                    "targets:\n  - name: a\n    webhook:\n      url: [" + secret + "]\n",
		"header value as a list":           "targets:\n  - name: a\n    webhook:\n      url: https://h/x\n      headers: {X-Token: [" + secret + "]}\n",
		"header value as a mapping":        "targets:\n  - name: a\n    webhook:\n      url: https://h/x\n      headers: {X-Token: {v: " + secret + "}}\n",
		"unknown key":                      "targets:\n  - name: a\n    webhook:\n      url: https://h/x\n      token: " + secret + "\n",
		"secret as a duration":             "dedup_window: " + secret + "\ntargets: []\n",
		"secret as a number":               "retry: {attempts: " + secret + "}\ntargets: []\n",
		"bad escape in url":                "targets:\n  - name: a\n    webhook:\n      url: https://h/%zz" + secret + "\n",
		"url with credentials, bad scheme": "targets:\n  - name: a\n    alertmanager:\n      url: ftp://u:" + secret + "@h:9093\n",
		"url without host":                 "targets:\n  - name: a\n    webhook:\n      url: https:///" + secret + "\n",
		"bad header name and secret value": "targets:\n  - name: a\n    webhook:\n      url: https://h/x\n      headers: {\"Bad Header\": " + secret + "}\n",
		"two documents":                    "targets: []\n---\ntoken: " + secret + "\n",
		"tab in the document":              "targets:\n\t- " + secret + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := alert.Load(strings.NewReader(doc))
			require.Error(t, err)
			require.NotContains(t, err.Error(), secret)
		})
	}
}

// TestDeliveryErrorsNeverPrintSecrets: delivery failures to URLs that carry
// secrets (a token in the path or query, credentials in the user info, a
// secret header, values from the environment that are not valid) leave the
// secret out of errors, logs and the alerts table.
func TestDeliveryErrorsNeverPrintSecrets(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // connection refused
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadGateway)
	}))
	defer failing.Close()
	env := map[string]string{
		"URL_TOKEN":   down.URL + "/services/T0/" + secret,
		"URL_BAD":     "https://h/%zz" + secret,
		"URL_NOHTTP":  "hooks.example.com/" + secret,
		"SECRET":      secret,
		"SECRET_CTRL": secret + "\n",
	}
	for name, c := range map[string]struct {
		target alert.Target
		newErr bool // alert.New refuses it
	}{
		"token in path":          {target: alert.Target{Name: "a", Webhook: &alert.HTTPTarget{URL: down.URL + "/hook/" + secret}}},
		"token in query":         {target: alert.Target{Name: "a", Webhook: &alert.HTTPTarget{URL: failing.URL + "/hook?token=" + secret}}},
		"credentials in url":     {target: alert.Target{Name: "a", Alertmanager: &alert.AlertmanagerTarget{HTTPTarget: alert.HTTPTarget{URL: "http://am:" + secret + "@" + strings.TrimPrefix(down.URL, "http://")}}}},
		"url from env":           {target: alert.Target{Name: "a", Slack: &alert.HTTPTarget{URLEnv: "URL_TOKEN"}}},
		"bad url from env":       {target: alert.Target{Name: "a", Slack: &alert.HTTPTarget{URLEnv: "URL_BAD"}}, newErr: true},
		"url from env, no http":  {target: alert.Target{Name: "a", Slack: &alert.HTTPTarget{URLEnv: "URL_NOHTTP"}}, newErr: true},
		"secret header":          {target: alert.Target{Name: "a", Webhook: &alert.HTTPTarget{URL: failing.URL, SecretEnv: "SECRET"}}},
		"secret header, invalid": {target: alert.Target{Name: "a", Webhook: &alert.HTTPTarget{URL: failing.URL, SecretEnv: "SECRET_CTRL"}}},
		"static header":          {target: alert.Target{Name: "a", Webhook: &alert.HTTPTarget{URL: down.URL, Headers: map[string]string{"X-Token": secret + "\r\n"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			rec := &memRecorder{}
			cfg := quick(c.target)
			cfg.Retry.Attempts = 2
			n, err := alert.New(cfg, alert.Options{Recorder: rec, Getenv: func(k string) string { return env[k] },
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if c.newErr {
				require.Error(t, err)
				require.NotContains(t, err.Error(), secret)
				return
			}
			require.NoError(t, err)
			require.NoError(t, n.Handle(context.Background(), corr("a", model.VerdictNoAssertion)))
			err = n.Close(context.Background())
			require.ErrorIs(t, err, alert.ErrUndelivered)
			require.NotContains(t, err.Error(), secret)
			require.NotContains(t, logs.String(), secret)
			require.NotEmpty(t, rec.records())
			for _, r := range rec.records() {
				require.NotContains(t, r.LastError, secret)
			}
		})
	}
}
