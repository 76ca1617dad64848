package alert_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/alert"
)

func TestLoadExample(t *testing.T) {
	c, err := alert.LoadFile("testdata/alerts.example.yaml")
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, c.DedupWindow)
	require.Equal(t, "critical", c.Severity)
	require.Len(t, c.Targets, 4)

	wh := c.Targets[0]
	require.Equal(t, "soc-webhook", wh.Name)
	require.Equal(t, "X-Keytrail-Token", wh.Webhook.SecretHeader)
	require.True(t, *wh.SendResolved)
	require.Equal(t, alert.RateLimit{Max: 30, Per: time.Minute, Burst: 5, MaxBatch: 20, MaxQueue: 10000}, *wh.RateLimit)

	sl := c.Targets[1]
	require.Equal(t, "KEYTRAIL_SLACK_WEBHOOK_URL", sl.Slack.URLEnv)
	require.Equal(t, alert.RateLimit{Max: 10, Per: time.Minute, Burst: 2, MaxBatch: 20, MaxQueue: 10000}, *sl.RateLimit, "override merges field by field")

	require.Equal(t, 24*time.Hour, c.Targets[2].Alertmanager.AlertTTL)

	k := c.Targets[3]
	require.Equal(t, "keytrail.alerts", k.Kafka.Topic)
	require.Equal(t, alert.KeyPerson, k.Kafka.Key)
	require.Equal(t, alert.Retry{Attempts: 10, InitialBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second, Timeout: 10 * time.Second}, *k.Retry)
}

func TestLoadDefaults(t *testing.T) {
	c, err := alert.Load(strings.NewReader("targets:\n  - name: a\n    webhook: {url: 'http://127.0.0.1:1/x'}\n"))
	require.NoError(t, err)
	require.Equal(t, alert.DefaultDedupWindow, c.DedupWindow)
	require.Equal(t, alert.DefaultSeverity, c.Severity)
	require.Equal(t, alert.DefaultAttempts, c.Targets[0].Retry.Attempts)
	require.Equal(t, alert.DefaultRateMax, c.Targets[0].RateLimit.Max)
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown top-level key", "dedup_windw: 1h\ntargets: []\n", []string{"line 1: field dedup_windw not found"}},
		{"unknown target key", "targets:\n  - name: a\n    webhook: {url: 'http://h/x', secret: abc}\n", []string{"line 3: field secret not found"}},
		{"empty", "", []string{"empty document"}},
		{"two documents", "targets: [{name: a, webhook: {url: 'http://h/x'}}]\n---\nseverity: x\n", []string{"more than one YAML document"}},
		{"no targets", "severity: warning\n", []string{"at least one target"}},
		{"bad duration", "dedup_window: soon\n", []string{"line 1", "time.Duration"}},
		{
			"every problem joined",
			`dedup_window: -1s
severity: "Very Bad"
link_url: "not a url"
rate_limit: {max: -1, burst: -2, max_batch: 5000}
retry: {attempts: 1000, initial_backoff: 1s, max_backoff: 10ms}
targets:
  - name: Bad Name
    webhook: {url: "ftp://h/x", url_env: X}
    slack: {url_env: "1BAD"}
  - name: dup
    alertmanager: {url: "http://am:9093", secret_header: X-Token, alert_ttl: -1s}
  - name: dup
    kafka: {brokers: ["nohost"], key: email}
  - name: none
  - name: hdr
    webhook: {url: "http://h/x", secret_env: TOKEN, headers: {authorization: plain, "bad header": x}}
`,
			[]string{
				"dedup_window must be positive",
				"severity \"Very Bad\"",
				"link_url \"not a url\"",
				"rate_limit.max must be at least 1",
				"rate_limit.burst must be at least 1",
				"rate_limit.max_batch must be in [1, 1000]",
				"retry.attempts must be in [1, 100]",
				"retry.max_backoff (10ms) must be at least initial_backoff (1s)",
				"targets[0] (Bad Name): name must match",
				"url and url_env are exclusive",
				"slack.url_env \"1BAD\" is not an environment variable name",
				"exactly one of webhook, slack, alertmanager, kafka is required, got 2",
				"secret_header needs secret_env",
				"alert_ttl must be positive",
				"targets[2] (dup): duplicate name",
				"\"nohost\" is not host:port",
				"key must be \"person\" or \"action_id\"",
				"targets[3] (none): exactly one of webhook, slack, alertmanager, kafka is required, got 0",
				"\"authorization\" is also secret_header",
				"\"bad header\" is not a valid header name",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alert.Load(strings.NewReader(tc.yaml))
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestNewNeedsEnv(t *testing.T) {
	cfg := quick(alert.Target{Name: "s", Slack: &alert.HTTPTarget{URLEnv: "SLACK_URL"}})
	_, err := alert.New(cfg, alert.Options{Getenv: func(string) string { return "" }})
	require.ErrorContains(t, err, "SLACK_URL (url_env) is empty")
	cfg = quick(alert.Target{Name: "w", Webhook: &alert.HTTPTarget{URL: "http://h/x", SecretEnv: "TOKEN"}})
	_, err = alert.New(cfg, alert.Options{Getenv: func(string) string { return "" }})
	require.ErrorContains(t, err, "TOKEN (secret_env) is empty")
}

func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("testdata/alerts.example.yaml")
	require.NoError(f, err)
	f.Add(string(example))
	f.Add("targets:\n  - name: a\n    kafka: {brokers: ['h:1']}\n")
	f.Add("rate_limit: {max: 1, per: 1ns}\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := alert.Load(strings.NewReader(s))
		if err != nil {
			return
		}
		require.NoError(t, c.Validate(), "Load returned an invalid config")
	})
}
