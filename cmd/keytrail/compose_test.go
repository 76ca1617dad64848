package main

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/config"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store/storetest"
)

type composeFile struct {
	Services map[string]struct {
		Image       string                                `yaml:"image"`
		Build       *struct{ Context, Dockerfile string } `yaml:"build"`
		Command     []string                              `yaml:"command"`
		Environment map[string]string                     `yaml:"environment"`
		Ports       []string                              `yaml:"ports"`
		Volumes     []string                              `yaml:"volumes"`
		DependsOn   map[string]any                        `yaml:"depends_on"`
		StopGrace   string                                `yaml:"stop_grace_period"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestComposeFile checks docker-compose.yml without a Docker engine: every
// file it mounts or builds exists, ports parse, named volumes are declared,
// dependencies exist, and keytrail's environment is what keytrail reads.
func TestComposeFile(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(b, &c))
	for _, want := range []string{"clickhouse", "kafka", "grafana", "keytrail"} {
		require.Contains(t, c.Services, want)
	}
	for name, svc := range c.Services {
		require.True(t, svc.Image != "" || svc.Build != nil, "service %s has an image or a build", name)
		if svc.Build != nil {
			_, err := os.Stat(filepath.Join(root, svc.Build.Context, svc.Build.Dockerfile))
			require.NoError(t, err, "service %s Dockerfile", name)
		}
		for _, p := range svc.Ports {
			parts := strings.Split(p, ":")
			require.GreaterOrEqual(t, len(parts), 2, "port %s", p)
			for _, n := range parts[len(parts)-2:] {
				v, err := strconv.Atoi(n)
				require.NoError(t, err, "port %s", p)
				require.True(t, v > 0 && v < 65536, "port %s", p)
			}
		}
		for _, v := range svc.Volumes {
			src := strings.SplitN(v, ":", 2)[0]
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				_, err := os.Stat(filepath.Join(root, src))
				require.NoError(t, err, "service %s mounts %s", name, src)
			} else {
				require.Contains(t, c.Volumes, src, "service %s uses undeclared volume %s", name, src)
			}
		}
		for dep := range svc.DependsOn {
			require.Contains(t, c.Services, dep, "service %s depends on %s", name, dep)
		}
	}

	// Grafana provisions its data sources, keytrail's dashboards and the
	// alert rule from the directory mounted at /etc/grafana/provisioning.
	var provisioning string
	for _, v := range c.Services["grafana"].Volumes {
		if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == "/etc/grafana/provisioning" {
			provisioning = parts[0]
		}
	}
	require.NotEmpty(t, provisioning, "grafana mounts a provisioning directory")
	for _, f := range []string{"datasources/clickhouse.yaml", "datasources/prometheus.yaml", "dashboards/keytrail.yaml", "alerting/keytrail.yaml"} {
		_, err := os.Stat(filepath.Join(root, provisioning, f))
		require.NoError(t, err, "grafana provisioning %s", f)
	}
	require.Contains(t, c.Services, "prometheus", "the Prometheus data source's server")

	require.Contains(t, c.Services, "correlator")
	require.Contains(t, c.Services, "serve")
	// serve's config file is the one it mounts, and it loads.
	sv := c.Services["serve"]
	require.Equal(t, []string{"serve", "--config", "/etc/keytrail/serve.yaml"}, sv.Command)
	require.Contains(t, sv.Volumes, "./docs/serve.example.yaml:/etc/keytrail/serve.yaml:ro")
	_, err = loadServeFile(filepath.Join(root, "docs", "serve.example.yaml"))
	require.NoError(t, err)
	require.Contains(t, c.Services, "collector")
	for _, name := range []string{"keytrail", "correlator", "serve", "collector"} {
		kt := c.Services[name]
		for k := range kt.Environment {
			require.True(t, slices.Contains(EnvVars, k), "%s's compose env sets %s, which keytrail does not read", name, k)
		}
		require.Contains(t, commands, kt.Command[0], "compose runs a real keytrail command")
		require.Equal(t, "keytrail:local", kt.Image)
		require.Equal(t, c.Services["keytrail"].Environment["KEYTRAIL_STORE"], kt.Environment["KEYTRAIL_STORE"])
	}
	// The correlator's command runs (here on the embedded store, until it
	// follows, then interrupted).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	errb := &cancelOn{marker: "following newly stored events", cancel: cancel}
	args := append([]string{"--store", storetest.EmbeddedURL(t)}, c.Services["correlator"].Command...)
	require.Equal(t, 0, run(ctx, args, strings.NewReader(""), &out, errb), errb.String())
	require.Contains(t, out.String(), "followed: ")
	kt := c.Services["keytrail"]
	// The store URL names the compose ClickHouse service on its native port.
	raw := os.Expand(kt.Environment["KEYTRAIL_STORE"], func(v string) string {
		if i := strings.Index(v, ":-"); i >= 0 {
			return v[i+2:]
		}
		return ""
	})
	raw = strings.ReplaceAll(raw, "{", "")
	raw = strings.ReplaceAll(raw, "}", "")
	u, err := url.Parse(raw)
	require.NoError(t, err)
	require.Equal(t, "clickhouse", u.Scheme)
	require.Contains(t, c.Services, u.Hostname())
	require.Equal(t, "9000", u.Port())
	require.Equal(t, c.Services["clickhouse"].Environment["CLICKHOUSE_DB"], strings.Trim(u.Path, "/"))
	require.Equal(t, c.Services["clickhouse"].Environment["CLICKHOUSE_USER"], u.User.Username())

	testComposeCollector(t, root, c)
}

// testComposeCollector checks the collector service: its config file is
// mounted from the repository, valid, points its Kafka bus at the compose
// broker's internal listener and stores through KEYTRAIL_STORE; compose
// waits longer than its shutdown bound before killing it; and the command
// runs — against an in-process Kafka standing in for the broker — storing a
// record published to a source topic, then stops cleanly.
func testComposeCollector(t *testing.T, root string, c composeFile) {
	svc := c.Services["collector"]
	require.Equal(t, []string{"collect", "--config"}, svc.Command[:2])
	target := svc.Command[2]
	var src string
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			src = filepath.Join(root, parts[0])
		}
	}
	require.NotEmpty(t, src, "the collector's config %s is mounted from the repository", target)
	cfg, err := config.LoadFile(src)
	require.NoError(t, err)
	require.Empty(t, cfg.Store.URL, "the store comes from KEYTRAIL_STORE, like the other services")
	require.Equal(t, config.BusKafka, cfg.Bus)
	listeners := c.Services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"]
	for _, b := range cfg.Kafka.Brokers {
		require.Contains(t, listeners, "PLAINTEXT://"+b, "broker %s is the compose broker's internal listener", b)
	}
	require.Contains(t, svc.DependsOn, "kafka")
	grace, err := time.ParseDuration(svc.StopGrace)
	require.NoError(t, err, "stop_grace_period")
	require.Greater(t, grace, cfg.ShutdownTimeout, "compose waits for the graceful stop before SIGKILL")
	code, out, errs := cli(t, "", "config", "check", "--skip-secrets", src)
	require.Equal(t, 0, code, out+errs)

	// Run it: the brokers replaced by kfake's, the store embedded.
	_, conn := kafkatest.Start(t)
	body, err := os.ReadFile(src)
	require.NoError(t, err)
	local := filepath.Join(t.TempDir(), "collect.yaml")
	require.NoError(t, os.WriteFile(local, []byte(strings.ReplaceAll(string(body), cfg.Kafka.Brokers[0], conn.Brokers[0])), 0o600))
	url := storetest.EmbeddedURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Conn: conn})
	require.NoError(t, err)
	defer p.Close()
	raw, err := os.ReadFile(fixture("okta", "logs_page.json"))
	require.NoError(t, err)
	var once sync.Once
	published := make(chan error, 1)
	// Publish once collect runs; stop it once the sink stored a batch.
	errb := &cancelOn{marker: "batch stored", cancel: cancel}
	started := &cancelOn{marker: "collecting", cancel: func() {
		once.Do(func() {
			go func() {
				published <- p.Publish(ctx, bus.Record{Source: model.SourceOkta, Instance: "okta", Raw: raw, Origin: "compose test"})
			}()
		})
	}}
	var sout bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"--store", url, "--log-level", "debug", "collect", "--config", local}, strings.NewReader(""), &sout,
		io.MultiWriter(errb, started)), errb.String())
	require.NoError(t, <-published)
	require.Contains(t, sout.String(), "sink bus: 1 records, 14 stored", errb.String())
	require.Contains(t, errb.String(), "pipeline stopped")
}
