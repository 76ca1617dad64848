package storetest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ClusterName is the name the harness's cluster has in remote_servers.
const ClusterName = "keytrail"

// Cluster is a private ClickHouse cluster on loopback: one ZooKeeper and
// shards × replicas clickhouse-server processes, each on free ports in its
// own temporary directory, with the cluster in remote_servers
// (internal_replication), {shard} and {replica} macros and the distributed
// DDL queue in ZooKeeper.
type Cluster struct {
	Name      string
	ZooKeeper *ZooKeeper
	// Shards holds the servers, Shards[shard][replica].
	Shards [][]*Server

	// starting serializes starting members: the healer's and Restart's.
	starting sync.Mutex
	// stopHeal ends the healer; healDone is closed when it has ended.
	stopHeal, healDone chan struct{}
}

// clusterXML is what a cluster member adds to the single-server config.
const clusterXML = `  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>{{interserver}}</interserver_http_port>
  <zookeeper>
    <node index="1"><host>127.0.0.1</host><port>{{zk}}</port></node>
    <session_timeout_ms>{{zksession}}</session_timeout_ms>
    <operation_timeout_ms>3000</operation_timeout_ms>
  </zookeeper>
  <macros><shard>{{shard}}</shard><replica>{{replica}}</replica></macros>
  <remote_servers><{{cluster}}>
{{shards}}  </{{cluster}}></remote_servers>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
`

// zkSessionMillis is the members' ZooKeeper session timeout. A member whose
// session expires drops its is_active node and fails the inserts it is
// replicating ("No node …/is_active"); on a machine loaded by parallel test
// suites a 4 s session expired mid-test, so sessions last 10 s. A killed
// member that restarts waits out its old session, so this is also about how
// long its shard's quorum writes wait after a restart.
const zkSessionMillis = 10000

// StartCluster starts ZooKeeper and shards × replicas servers and waits until
// every server answers, sees ZooKeeper and knows the whole cluster. On error
// everything started is stopped.
func StartCluster(shards, replicas int) (c *Cluster, err error) {
	c = &Cluster{Name: ClusterName}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	if c.ZooKeeper, err = StartZooKeeper(); err != nil {
		return nil, err
	}
	var topo strings.Builder
	for sh := range shards {
		var row []*Server
		topo.WriteString("    <shard><internal_replication>true</internal_replication>\n")
		for r := range replicas {
			s, err := newServer(fmt.Sprintf("keytrail-cluster-s%dr%d-", sh+1, r+1))
			if err != nil {
				return nil, err
			}
			row = append(row, s)
			fmt.Fprintf(&topo, "      <replica><host>127.0.0.1</host><port>%d</port></replica>\n", s.TCPPort)
		}
		topo.WriteString("    </shard>\n")
		c.Shards = append(c.Shards, row)
	}
	for sh, row := range c.Shards {
		for r, s := range row {
			extra := strings.NewReplacer("{{zk}}", fmt.Sprint(c.ZooKeeper.Port), "{{zksession}}", fmt.Sprint(zkSessionMillis), "{{shard}}", fmt.Sprintf("%02d", sh+1),
				"{{replica}}", fmt.Sprintf("s%dr%d", sh+1, r+1), "{{cluster}}", c.Name, "{{shards}}", topo.String()).Replace(clusterXML)
			if err := s.writeConfig(extra); err != nil {
				return nil, err
			}
		}
	}
	// Start the servers together: each takes about a second alone.
	all := c.Servers()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.startMember(s)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	// A member can pass its check and crash a moment later, when its DDL
	// worker first meets ZooKeeper: give it that moment.
	time.Sleep(time.Second)
	if _, err := c.heal(); err != nil {
		return nil, err
	}
	c.stopHeal, c.healDone = make(chan struct{}), make(chan struct{})
	go c.healer(c.stopHeal, c.healDone)
	return c, nil
}

// healInterval is how often the healer looks for members that exited on
// their own.
const healInterval = 250 * time.Millisecond

// healer restarts, until stop is closed, every member that exits on its own
// (18.16 crashes when its ZooKeeper session is refused, which a machine loaded
// by parallel test suites provokes). A dead member holds every ON CLUSTER
// statement for distributed_ddl_task_timeout (180 s on 18.16), so a crash in
// the middle of a test would otherwise stall every test after it; the healer
// reports each restart on stderr with the end of the member's error log.
func (c *Cluster) healer(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(healInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		restarted, err := c.heal()
		for _, s := range restarted {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "server.err.log"))
			fmt.Fprintf(os.Stderr, "storetest: cluster member %s exited on its own and was restarted; the end of its error log:\n%s\n", s.Addr(), tail(string(log), 1500))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		}
	}
}

// startMember starts s and waits until it sees ZooKeeper and every member of
// the cluster in system.clusters.
func (c *Cluster) startMember(s *Server) error {
	s.errLogFrom = 0
	if fi, err := os.Stat(s.proc.errLog); err == nil {
		s.errLogFrom = fi.Size()
	}
	if err := s.Start(); err != nil {
		return err
	}
	want := fmt.Sprint(len(c.Servers()))
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err1 := s.httpQuery("SELECT count() FROM system.clusters WHERE cluster = '" + c.Name + "'")
		_, err2 := s.httpQuery("SELECT count() FROM system.zookeeper WHERE path = '/'")
		if err1 == nil && err2 == nil && n == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster member %s not ready within 30s (members %q, %v, zookeeper: %v; logs in %s)", s.Addr(), n, err1, err2, s.Dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart starts a killed member again and waits until it is a working
// member of the cluster.
func (c *Cluster) Restart(s *Server) error {
	c.starting.Lock()
	defer c.starting.Unlock()
	return c.startMember(s)
}

// httpQuery runs q over the HTTP interface and returns the trimmed answer.
func (s *Server) httpQuery(q string) (string, error) {
	resp, err := probe.Get(fmt.Sprintf("http://127.0.0.1:%d/?query=%s", s.HTTPPort, url.QueryEscape(q)))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

// Servers lists every member, shard by shard.
func (c *Cluster) Servers() []*Server {
	var out []*Server
	for _, row := range c.Shards {
		out = append(out, row...)
	}
	return out
}

// URL is the store URL for database db on the cluster: every member as a
// host (the client fails over between them) and the cluster's name.
func (c *Cluster) URL(db string) string {
	var hosts []string
	for _, s := range c.Servers() {
		hosts = append(hosts, s.Addr())
	}
	return fmt.Sprintf("clickhouse://default@%s/%s?dial_timeout=2s&cluster=%s", strings.Join(hosts, ","), db, c.Name)
}

// Stop kills every process and removes their directories.
func (c *Cluster) Stop() {
	if c.stopHeal != nil {
		close(c.stopHeal)
		<-c.healDone
		c.stopHeal = nil
	}
	for _, s := range c.Servers() {
		s.Stop()
	}
	if c.ZooKeeper != nil {
		c.ZooKeeper.Stop()
	}
}

var sharedCluster shared[*Cluster]

// SharedCluster returns the test binary's private cluster of 2 shards × 2
// replicas, starting it on first use; StopShared stops it.
func SharedCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c := sharedCluster.get(tb, "ClickHouse cluster", func() (*Cluster, error) { return StartCluster(2, 2) })
	// The healer restarts a crashed member within healInterval; healing
	// here too makes a test start on a whole cluster, not one a crash of
	// the last quarter second left a member short (a no-op otherwise).
	restarted, err := c.heal()
	for _, s := range restarted {
		tb.Logf("cluster member %s had crashed (logs in %s); restarted", s.Addr(), s.Dir)
	}
	if err != nil {
		tb.Fatalf("cluster: %v", err)
	}
	return c
}

// heal starts again ZooKeeper and every member that exited on its own (not
// through Kill) or whose DDL worker stopped: such a member would hold every ON
// CLUSTER statement of the tests that follow for its whole timeout. It returns
// the members it restarted.
func (c *Cluster) heal() ([]*Server, error) {
	c.starting.Lock()
	defer c.starting.Unlock()
	var restarted []*Server
	if z := c.ZooKeeper; z != nil && z.proc.crashed() {
		if err := z.proc.start(60 * time.Second); err != nil {
			return nil, fmt.Errorf("restart crashed ZooKeeper: %w", err)
		}
		fmt.Fprintf(os.Stderr, "storetest: ZooKeeper %s exited on its own and was restarted (logs in %s)\n", z.Addr(), z.Dir)
	}
	for _, s := range c.Servers() {
		if s.proc.running() && s.ddlWorkerDied() {
			// Alive but deaf to the DDL queue: as bad as dead. Crash it
			// and restart it below; it executes what queued meanwhile.
			fmt.Fprintf(os.Stderr, "storetest: cluster member %s: its DDL worker stopped (logs in %s); restarting it\n", s.Addr(), s.Dir)
			s.proc.crash()
			for deadline := time.Now().Add(10 * time.Second); !s.proc.crashed() && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if !s.proc.crashed() {
			continue
		}
		if err := c.startMember(s); err != nil {
			return restarted, fmt.Errorf("restart crashed member %s: %w", s.Addr(), err)
		}
		restarted = append(restarted, s)
	}
	return restarted, nil
}

// ddlWorkerDied reports whether the member's DDL worker thread ended since
// the process started, the process still running: 18.16's worker returns on
// a ZooKeeper error it does not expect ("Unexpected ZooKeeper error: …
// Node exists … Terminating.", when two replicas of a shard both ran an
// ALTER of a replicated table and both marked it executed), and from then
// on the member executes no ON CLUSTER statement; each one waits out
// distributed_ddl_task_timeout (180 s), and CI once spent 24 minutes so.
func (s *Server) ddlWorkerDied() bool {
	f, err := os.Open(s.proc.errLog)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.Seek(s.errLogFrom, io.SeekStart); err != nil {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return false
	}
	log := string(b)
	i := strings.Index(log, "DDLWorker: Unexpected")
	return i >= 0 && strings.Contains(log[i:], "Terminating.")
}
