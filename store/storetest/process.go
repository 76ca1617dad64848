package storetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// process is one private engine process (a clickhouse-server or ZooKeeper)
// in its own process group, killed with the test binary (Pdeathsig).
type process struct {
	name string   // for messages
	dir  string   // working directory, holds stdout.log
	argv []string // program and arguments
	// ready reports whether the started process serves; errLog names the
	// file whose tail explains a failed start.
	ready  func() bool
	errLog string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
}

// start starts the process and waits up to timeout until ready reports true.
func (p *process) start(timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir = p.dir
	out, err := os.OpenFile(filepath.Join(p.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd = cmd
	exited := make(chan error, 1)
	done := make(chan struct{})
	p.done = done
	go func() {
		err := cmd.Wait()
		out.Close()
		close(done)
		exited <- err
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if p.ready() {
			return nil
		}
		select {
		case err := <-exited:
			p.cmd = nil
			log, _ := os.ReadFile(p.errLog)
			return fmt.Errorf("%s exited during start-up: %v\n%s", p.name, err, tail(string(log), 2000))
		case <-deadline.C:
			return fmt.Errorf("%s did not answer within %v (logs in %s)", p.name, timeout, p.dir)
		case <-tick.C:
		}
	}
}

// crashed reports whether the process was started and exited without
// being killed through kill (e.g. a segmentation fault).
func (p *process) crashed() bool {
	started, exited := p.status()
	return started && exited
}

// running reports whether the process was started, not killed, and has
// not exited.
func (p *process) running() bool {
	started, exited := p.status()
	return started && !exited
}

// status says whether the process was started (and not killed through
// kill) and whether it has exited since.
func (p *process) status() (started, exited bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false, false
	}
	select {
	case <-p.done:
		return true, true
	default:
		return true, false
	}
}

// state says whether the process runs, for the watchdog's report.
func (p *process) state() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return "not running (killed or never started)"
	}
	select {
	case <-p.done:
		return "exited on its own"
	default:
		return fmt.Sprintf("running (pid %d)", p.cmd.Process.Pid)
	}
}

// crash kills the process with SIGKILL without marking it stopped, so it
// counts as crashed: what a segmentation fault would do.
func (p *process) crash() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sigkill()
}

// kill stops the process with SIGKILL, as a crash would.
func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sigkill()
	p.cmd = nil
}

// sigkill sends SIGKILL to the process's group; p.mu is held.
func (p *process) sigkill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Process.Kill()
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment
// ago (all held open together, so they differ from each other).
func freePorts(n int) ([]int, error) {
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// waitDown waits until nothing accepts connections on port.
func waitDown(ctx context.Context, port int) {
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
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
