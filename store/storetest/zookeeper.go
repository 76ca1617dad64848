package storetest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ZooKeeperJar is where Debian's zookeeper package puts the server; its
// manifest names the jars it needs.
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

// ZooKeeper is a private standalone ZooKeeper server (Debian's zookeeper
// package, run by java directly: no system service, no fixed port).
type ZooKeeper struct {
	Dir  string
	Port int

	proc process
}

// Addr is the client address.
func (z *ZooKeeper) Addr() string { return fmt.Sprintf("127.0.0.1:%d", z.Port) }

// zooCfg ticks fast so a killed ClickHouse replica's session (and its
// is_active node) expires within seconds.
const zooCfg = `tickTime=250
initLimit=10
syncLimit=5
dataDir={{dir}}/data
clientPort={{port}}
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=1000
maxSessionTimeout=30000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
`

// StartZooKeeper starts a private ZooKeeper in a new temporary directory on a
// free port and waits until it serves requests. Stop it with Stop.
func StartZooKeeper() (*ZooKeeper, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper needs java: %w", err)
	}
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		return nil, fmt.Errorf("ZooKeeper not installed (Debian package zookeeper): %w", err)
	}
	dir, err := os.MkdirTemp("", "keytrail-zookeeper-")
	if err != nil {
		return nil, err
	}
	z := &ZooKeeper{Dir: dir}
	if z.Port, err = FreePort(); err != nil {
		return nil, err
	}
	cfg := strings.NewReplacer("{{dir}}", dir, "{{port}}", fmt.Sprint(z.Port)).Replace(zooCfg)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cp := ZooKeeperJar
	// A logging binding, when one is installed, puts ZooKeeper's warnings in stdout.log.
	if _, err := os.Stat("/usr/share/java/slf4j-simple.jar"); err == nil {
		cp += ":/usr/share/java/slf4j-simple.jar"
	}
	z.proc = process{
		name: "zookeeper " + z.Addr(), dir: dir,
		argv: []string{java, "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Dzookeeper.admin.enableServer=false",
			"-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(dir, "zoo.cfg")},
		errLog: filepath.Join(dir, "stdout.log"),
		ready:  func() bool { return serving(z.Addr()) },
	}
	if err := z.proc.start(60 * time.Second); err != nil {
		z.Stop()
		return nil, err
	}
	return z, nil
}

// serving reports whether the ZooKeeper at addr serves client sessions.
// "ruok" answers "imok" as soon as the network layer is up, while sessions
// are still refused ("ZooKeeperServer not running"); a ClickHouse 18.16
// server whose DDL worker meets that refusal at start-up crashes (a null
// pointer in zkutil::ZooKeeper::createImpl). "srvr" names the server's mode
// only once it serves.
func serving(addr string) bool {
	return strings.Contains(fourLetter(addr, "srvr"), "Mode:")
}

// fourLetter sends a ZooKeeper four-letter command and returns the answer.
func fourLetter(addr, cmd string) string {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, cmd); err != nil {
		return ""
	}
	b, _ := io.ReadAll(c)
	return strings.TrimSpace(string(b))
}

// Kill stops ZooKeeper with SIGKILL.
func (z *ZooKeeper) Kill() { z.proc.kill() }

// Stop kills ZooKeeper and removes its directory.
func (z *ZooKeeper) Stop() {
	z.Kill()
	if z.Dir != "" {
		_ = os.RemoveAll(z.Dir)
	}
}
