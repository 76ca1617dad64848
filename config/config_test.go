package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func load(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	return Load(strings.NewReader(yaml))
}

func TestExample(t *testing.T) {
	c, err := LoadFile(filepath.Join("testdata", "collect.example.yaml"))
	require.NoError(t, err)
	require.Equal(t, BusKafka, c.Bus)
	require.Equal(t, time.Second, c.Sink.MaxWait)
	require.Equal(t, 100*time.Millisecond, c.Sink.Idle)
	require.Len(t, c.Sources, 7)
	require.Equal(t, []string{"airflow-prod", "entra-corp", "entra-eventhubs", "google-acme", "keycloak-corp", "okta-acme", "okta-hook"}, c.SourceNames())

	okta := c.Sources["okta-acme"]
	require.Equal(t, "okta-acme", okta.Name)
	require.Equal(t, "acme", okta.Instance)
	require.Equal(t, "keytrail.raw.okta", okta.Topic)
	require.Equal(t, Secret{Env: "OKTA_TOKEN"}, okta.Okta.Token)
	require.True(t, okta.Polled())
	require.Nil(t, okta.Entra)

	entra := c.Sources["entra-corp"]
	require.Equal(t, "corp", entra.Entra.Instance, "the collector names rows by the source's instance")
	require.Equal(t, []string{"interactiveUser", "nonInteractiveUser"}, entra.Entra.SignInEventTypes)

	eh := c.Sources["entra-eventhubs"]
	require.False(t, eh.Polled())
	require.Equal(t, "entra", eh.Format())
	require.Equal(t, "insights-logs-signinlogs", eh.Topic)
	require.Equal(t, "PLAIN", eh.KafkaTopic.SASL.Mechanism)
	require.Equal(t, "$ConnectionString", eh.KafkaTopic.SASL.Username)
	require.True(t, eh.KafkaTopic.TLS.Enabled)
	tc, err := eh.KafkaTopic.TLS.Config()
	require.NoError(t, err)
	require.NotNil(t, tc)

	require.Equal(t, "soc", c.Alerts.Targets[0].Name)
	require.Equal(t, 5*time.Second, c.Policy.ClockSkew)
	require.Positive(t, c.Policy.MaxAge.Privileged, "omitted policy keys keep their defaults")
}

func TestMinimal(t *testing.T) {
	c, err := load(t, `
sources:
  okta:
    type: okta
    base_url: https://acme.okta.com
    token: {env: OKTA_TOKEN}
`)
	require.NoError(t, err)
	require.Equal(t, BusMemory, c.Bus)
	require.Equal(t, DefaultMaxWaitMemory, c.Sink.MaxWait)
	require.Zero(t, c.Sink.Idle, "the in-process bus waits max_wait")
	require.True(t, c.Correlator.On())
	s := c.Sources["okta"]
	require.Equal(t, "okta", s.Instance, "the instance defaults to the source's name")
	require.Equal(t, "keytrail.raw.okta", s.Topic)
	require.Equal(t, "okta", s.Okta.Instance)
	require.Equal(t, "https://acme.okta.com", s.Okta.BaseURL)
	u, err := c.StoreURL("chdb:///data")
	require.NoError(t, err)
	require.Equal(t, "chdb:///data", u)
}

// TestUnknownKeys: every place a key can be misspelt is an error with the
// key's line.
func TestUnknownKeys(t *testing.T) {
	src := func(extra string) string {
		return "sources:\n  o:\n    type: okta\n    base_url: https://a.okta.com\n    token: {env: T}\n" + extra
	}
	for _, tc := range []struct {
		name, yaml string
		line       int
		key, hint  string
	}{
		{"top level", "sourcez: {}\n" + src(""), 1, "sourcez", "at the top level"},
		{"kafka", "bus: kafka\nkafka:\n  brokers: [k:9092]\n  partition: 3\n" + src(""), 4, "partition", "in Kafka"},
		{"sink", "sink:\n  batchsize: 10\n" + src(""), 2, "batchsize", "in Sink"},
		{"source key of another type", src("    realm: corp\n"), 6, "realm", "for a source of type okta"},
		{"kafka-topic source", "sources:\n  eh:\n    type: kafka-topic\n    format: entra\n    topic: t\n    brokers: [k:9093]\n    groupid: x\n", 7, "groupid", "for a source of type kafka-topic"},
		{"sasl", "kafka:\n  brokers: [k:9092]\n  sasl:\n    mechanism: PLAIN\n    user: u\n" + src(""), 5, "user", "in SASL"},
		{"secret", src("") + "store:\n  url: clickhouse://u@h:9000/db\n  password: {envv: X}\n", 8, "envv", "in plain"},
		{"policy", "policy:\n  clockskew: 5s\n" + src(""), 2, "clockskew", "in Policy"},
		{"alerts", "alerts:\n  targets:\n    - name: a\n      webhok: {url: https://x.example}\n" + src(""), 4, "webhok", "in Target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.yaml)
			require.Error(t, err)
			require.Contains(t, err.Error(), fmt.Sprintf("line %d: unknown key %q%s", tc.line, tc.key, " "+tc.hint), err.Error())
		})
	}
}

// TestSecretsNeverInline: a secret written in the file is refused without
// repeating it, wherever it is.
func TestSecretsNeverInline(t *testing.T) {
	for _, y := range []string{
		"sources:\n  o:\n    type: okta\n    base_url: https://a.okta.com\n    token: hunter2-secret\n",
		"store:\n  url: clickhouse://u@h:9000/db\n  password: hunter2-secret\nsources:\n  o:\n    type: okta\n    base_url: https://a.okta.com\n    token: {env: T}\n",
		"kafka:\n  brokers: [k:9092]\n  sasl: {mechanism: PLAIN, username: u, password: hunter2-secret}\nsources:\n  o:\n    type: okta\n    base_url: https://a.okta.com\n    token: {env: T}\n",
		"sources:\n  o:\n    type: okta\n    base_url: https://a.okta.com\n    token: [hunter2-secret]\n",
		"sources:\n  o:\n    type: okta\n    base_url: https://u:hunter2-secret@a.okta.com\n    token: {env: T}\n",
		"store:\n  url: clickhouse://u:hunter2-secret@h:9000/db\nsources:\n  o:\n    type: okta\n    base_url: https://a.okta.com\n    token: {env: T}\n",
		// The server section's secrets are the same kind (internal/secret).
		"server:\n  intake:\n    shippers:\n      - {source: okta, instance: a, secret: hunter2-secret}\n",
		"server:\n  console:\n    cookie_key: hunter2-secret\n",
	} {
		_, err := load(t, y)
		require.Error(t, err, y)
		require.NotContains(t, err.Error(), "hunter2", y)
	}
}

// TestValidateJoins: every problem is reported at once, in line order,
// each with its line.
func TestValidateJoins(t *testing.T) {
	_, err := load(t, `bus: kafka
sink:
  batch_size: -1
sources:
  a:
    type: okta
    base_url: ftp://a.okta.com
  b:
    type: salesforce
  c:
    type: airflow
    base_url: https://af.example
    api: v9
    username: u
    password: {env: AF, file: /run/af}
  d:
    type: kafka-topic
    format: entra
`)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	msg := err.Error()
	for _, want := range []string{
		"line 1: bus: kafka needs the kafka section",
		"line 3: sink.batch_size: must be at least 1, got -1",
		`line 5: sources.a: base_url "ftp://a.okta.com": want an http or https URL`,
		"line 5: sources.a: set token (an API token) or oauth (a service app)",
		`line 8: sources.b: type "salesforce" is not one of okta, entra, google, keycloak, airflow, kafka-topic, webhook`,
		`line 10: sources.c: api "v9": want v1 (Airflow 2.x) or v2 (3.x)`,
		`line 10: sources.c: password: secret: set env or file, not both`,
		"line 16: sources.d: topic is required",
		"line 16: sources.d: brokers are required",
	} {
		require.Contains(t, msg, want)
	}
	require.Len(t, ce.Problems, 9, msg)
	for i := 1; i < len(ce.Problems); i++ {
		require.LessOrEqual(t, lineOf(ce.Problems[i-1]), lineOf(ce.Problems[i]))
	}
}

func TestSameInstanceTwice(t *testing.T) {
	_, err := load(t, `
sources:
  a: {type: okta, instance: acme, base_url: "https://a.okta.com", token: {env: T}}
  b: {type: okta, instance: acme, base_url: "https://b.okta.com", token: {env: T}}
  hook: {type: webhook, format: okta, instance: acme, path: /hooks/okta}
`)
	require.ErrorContains(t, err, `sources.b: instance "acme" of okta is also source a`)
	require.NotContains(t, err.Error(), "hook")
}

func TestCheckSecretsAndStoreURL(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("p@ss/word\n"), 0o600))
	c, err := load(t, `
store:
  url: clickhouse://keytrail@clickhouse:9000/keytrail
  password: {file: `+pw+`}
sources:
  o:
    type: okta
    base_url: https://a.okta.com
    token: {env: KT_TEST_OKTA_TOKEN}
  af:
    type: airflow
    base_url: https://af.example
    username: u
    password: {file: `+filepath.Join(dir, "missing")+`}
`)
	require.NoError(t, err)
	t.Setenv("KT_TEST_OKTA_TOKEN", "")
	err = c.CheckSecrets()
	var ce *Error
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Problems, 2)
	require.Contains(t, err.Error(), "sources.af.password: secret: read "+filepath.Join(dir, "missing")+": no such file or directory")
	require.Contains(t, err.Error(), "sources.o.token: secret: environment variable KT_TEST_OKTA_TOKEN is not set")
	t.Setenv("KT_TEST_OKTA_TOKEN", "00abc-secret")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "missing"), []byte("af-secret"), 0o600))
	require.NoError(t, c.CheckSecrets())
	v, err := c.Sources["o"].Okta.Token.Value()
	require.NoError(t, err)
	require.Equal(t, "00abc-secret", v)
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", c.Sources["o"].Okta, *c.Sources["o"].Okta, c.Sources["o"].Okta.Token), "00abc")

	u, err := c.StoreURL("chdb:///ignored")
	require.NoError(t, err)
	require.Equal(t, "clickhouse://keytrail:p%40ss%2Fword@clickhouse:9000/keytrail", u, "the password from its file, escaped")
}

func TestEmptyAndMultiDocument(t *testing.T) {
	_, err := load(t, "")
	require.EqualError(t, err, "config: empty document")
	_, err = load(t, "sources: {}\n---\nbus: kafka\n")
	require.EqualError(t, err, "config: more than one YAML document")
	_, err = load(t, "sources: {}\n")
	require.ErrorContains(t, err, "sources: at least one source is required (or a server section)")
	_, err = load(t, "sources:\n  a: {type: okta\n")
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrSecretInline))
}

// FuzzLoad: no input makes Load panic, and no error repeats a secret value.
func FuzzLoad(f *testing.F) {
	ex, err := os.ReadFile(filepath.Join("testdata", "collect.example.yaml"))
	require.NoError(f, err)
	f.Add(string(ex))
	f.Add("sources:\n  o:\n    type: okta\n    base_url: https://a.okta.com\n    token: hunter2\n")
	f.Add("bus: kafka\nkafka: {brokers: [a]}\nsources: {x: {type: kafka-topic}}\n")
	f.Fuzz(func(t *testing.T, y string) {
		_, err := Load(strings.NewReader(y))
		if err != nil && strings.Contains(y, "hunter2") && !strings.Contains(strings.ReplaceAll(y, "hunter2", ""), "hunter") {
			// A key named hunter2 may be echoed as an unknown key; a value is not.
			if strings.Contains(err.Error(), "hunter2") && !strings.Contains(err.Error(), `key "hunter2`) {
				t.Fatalf("error repeats a value: %v", err)
			}
		}
	})
}

// TestServerSection: one file holds keytrail serve's server section beside
// collect's keys; the store may be given as just its URL; a file with a
// server section needs no sources; server problems carry their line.
func TestServerSection(t *testing.T) {
	c, err := load(t, "store: clickhouse://keytrail@ch:9000/keytrail\nserver:\n  listen: \":9090\"\n")
	require.NoError(t, err)
	require.Equal(t, "clickhouse://keytrail@ch:9000/keytrail", c.Store.URL)
	require.Equal(t, ":9090", c.Server.Listen)
	require.Positive(t, c.Server.Timeouts.Shutdown, "server defaults applied")

	c, err = load(t, "server: {}\nsources:\n  o:\n    type: okta\n    base_url: https://a.okta.com\n    token: {env: T}\n")
	require.NoError(t, err)
	require.Len(t, c.Sources, 1)

	_, err = load(t, "server:\n  listen: \":9090\"\n  listn: x\n")
	require.ErrorContains(t, err, `line 3: unknown key "listn"`)
	_, err = load(t, "server:\n  timeouts: {read: -1s}\n")
	require.ErrorContains(t, err, "line 1: server: ")
}
