package storetest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// probe is the client of the harness's own checks (is a server up, which
// members does it see): a server that accepts a connection and never answers
// fails the check instead of holding the test binary until its timeout.
var probe = &http.Client{Timeout: 5 * time.Second}

// Required reports whether missing engines must fail tests rather than skip them.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("KEYTRAIL_REQUIRE_ENGINES") == "1"
}

// Missing fails tb when engines are required and skips it otherwise.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		tb.Fatalf("required test dependency missing: %s (run scripts/setup.sh test)", msg)
	}
	tb.Skipf("skipping: %s (set KEYTRAIL_REQUIRE_ENGINES=1 to make this a failure)", msg)
}

// Server is a private clickhouse-server process.
type Server struct {
	Dir      string
	TCPPort  int
	HTTPPort int
	// InterserverPort is where replicas fetch parts from this server (cluster
	// members only).
	InterserverPort int

	proc process
	// errLogFrom is the size server.err.log had when the process last
	// started: what it logs from there is this run's (see ddlWorkerDied).
	errLogFrom int64
}

// URL is the store URL for database db on this server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("clickhouse://default@127.0.0.1:%d/%s?dial_timeout=2s", s.TCPPort, db)
}

// Addr is the server's native-protocol address.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.TCPPort) }

const configXML = `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{{dir}}/server.log</log><errorlog>{{dir}}/server.err.log</errorlog><console>0</console></logger>
  <tcp_port>{{tcp}}</tcp_port>
  <http_port>{{http}}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{{dir}}/data/</path>
  <tmp_path>{{dir}}/tmp/</tmp_path>
  <user_files_path>{{dir}}/user_files/</user_files_path>
  <format_schema_path>{{dir}}/format_schemas/</format_schema_path>
  <mark_cache_size>53687091</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <users_config>{{dir}}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
{{extra}}</yandex>
`

const usersXML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`

// StartServer starts a private clickhouse-server in a new temporary directory
// and waits until it answers. Stop it with Stop.
func StartServer() (*Server, error) {
	s, err := newServer("keytrail-clickhouse-")
	if err != nil {
		return nil, err
	}
	if err := s.writeConfig(""); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// newServer prepares a server in a new temporary directory under prefix, on
// free ports; writeConfig completes it.
func newServer(prefix string) (*Server, error) {
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return nil, fmt.Errorf("clickhouse-server not installed: %w", err)
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, TCPPort: ports[0], HTTPPort: ports[1], InterserverPort: ports[2]}
	ping := fmt.Sprintf("http://127.0.0.1:%d/?query=SELECT%%201", s.HTTPPort)
	s.proc = process{
		name: "clickhouse-server " + s.Addr(), dir: dir,
		argv:   []string{bin, "--config-file=" + filepath.Join(dir, "config.xml")},
		errLog: filepath.Join(dir, "server.err.log"),
		ready: func() bool {
			resp, err := probe.Get(ping)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		},
	}
	return s, nil
}

// writeConfig writes the server's config with extra elements (in which
// {{interserver}} is the server's interserver port).
func (s *Server) writeConfig(extra string) error {
	r := strings.NewReplacer("{{dir}}", s.Dir, "{{tcp}}", fmt.Sprint(s.TCPPort), "{{http}}", fmt.Sprint(s.HTTPPort),
		"{{interserver}}", fmt.Sprint(s.InterserverPort))
	if err := os.WriteFile(filepath.Join(s.Dir, "config.xml"), []byte(r.Replace(strings.Replace(configXML, "{{extra}}", extra, 1))), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "users.xml"), []byte(r.Replace(usersXML)), 0o600)
}

// Start (re)starts the server process on the same directory and ports and
// waits until it answers.
func (s *Server) Start() error { return s.proc.start(30 * time.Second) }

// Kill stops the server with SIGKILL, as a crash would; it stays down
// until Start.
func (s *Server) Kill() { s.proc.kill() }

// Crash kills the server with SIGKILL behind the harness's back, as a
// segmentation fault would: it counts as exited on its own, which a
// cluster's healer restarts.
func (s *Server) Crash() { s.proc.crash() }

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	s.Kill()
	if s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// WaitDown waits until the server's TCP port refuses connections.
func (s *Server) WaitDown(ctx context.Context) { waitDown(ctx, s.TCPPort) }

// shared is an engine the test binary starts on first use and StopShared
// stops.
type shared[T any] struct {
	once sync.Once
	v    T
	err  error

	mu      sync.Mutex // guards started, for readers outside get (the watchdog)
	started bool
}

// get starts the engine on first use; a failed start is Missing.
func (s *shared[T]) get(tb testing.TB, what string, start func() (T, error)) T {
	tb.Helper()
	s.once.Do(func() {
		s.v, s.err = start()
		s.mu.Lock()
		s.started = s.err == nil
		s.mu.Unlock()
	})
	if s.err != nil {
		Missing(tb, "%s: %v", what, s.err)
	}
	return s.v
}

// current returns the engine if it was started.
func (s *shared[T]) current() (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v, s.started
}

var sharedServer shared[*Server]

// SharedServer returns the test binary's private server, starting it on first
// use. Call StopShared from TestMain after m.Run.
func SharedServer(tb testing.TB) *Server {
	tb.Helper()
	return sharedServer.get(tb, "ClickHouse server", StartServer)
}

// StopShared stops the shared server and cluster if they were started.
func StopShared() {
	if s, ok := sharedServer.current(); ok {
		s.Stop()
	}
	if c, ok := sharedCluster.current(); ok {
		c.Stop()
	}
}
