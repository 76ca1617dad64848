package storetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

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
	bin      string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// URL is the store URL for database db on this server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("clickhouse://default@127.0.0.1:%d/%s?dial_timeout=2s", s.TCPPort, db)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

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
</yandex>
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
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return nil, fmt.Errorf("clickhouse-server not installed: %w", err)
	}
	dir, err := os.MkdirTemp("", "keytrail-clickhouse-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin}
	if s.TCPPort, err = FreePort(); err != nil {
		return nil, err
	}
	if s.HTTPPort, err = FreePort(); err != nil {
		return nil, err
	}
	r := strings.NewReplacer("{{dir}}", dir, "{{tcp}}", fmt.Sprint(s.TCPPort), "{{http}}", fmt.Sprint(s.HTTPPort))
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(r.Replace(configXML)), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(r.Replace(usersXML)), 0o600); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Start (re)starts the server process on the same directory and ports.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, "--config-file="+filepath.Join(s.Dir, "config.xml"))
	out, err := os.OpenFile(filepath.Join(s.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start clickhouse-server: %w", err)
	}
	s.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	url := fmt.Sprintf("http://127.0.0.1:%d/?query=SELECT%%201", s.HTTPPort)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "server.err.log"))
			return fmt.Errorf("clickhouse-server exited during start-up: %v\n%s", err, tail(string(log), 2000))
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("clickhouse-server did not answer within 30s (logs in %s)", s.Dir)
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Process.Kill()
		s.cmd = nil
	}
}

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	s.Kill()
	if s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// WaitDown waits until the server's TCP port refuses connections.
func (s *Server) WaitDown(ctx context.Context) {
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.TCPPort), 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// SharedServer returns the test binary's private server, starting it on first
// use. Call StopShared from TestMain after m.Run.
func SharedServer(tb testing.TB) *Server {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = StartServer() })
	if sharedErr != nil {
		Missing(tb, "ClickHouse server: %v", sharedErr)
	}
	return shared
}

// StopShared stops the shared server if one was started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}
