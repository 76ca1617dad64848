package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/collect/airflow"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/config"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/store/storetest"
)

// TestCollectFaults runs `keytrail collect` against the provider emulators
// serving the fault tests' organisation (collecttest.FaultOrg:
// KEYTRAIL_FAULT_EVENTS, default 200,000 events) and interrupts it once a
// third of the Airflow audit log is served, while every Airflow poller is
// inside its multi-page listing:
//   - collector restarted mid-pagination: collect (in this process, Kafka
//     on kfake into the ClickHouse server) is stopped as SIGTERM stops it,
//     and started again: each poller resumes from its stored cursor,
//     reading again at most a few pages;
//   - process killed: collect in its own process on the embedded default
//     (in-process bus, chDB) is killed with SIGKILL, and started again.
//
// Afterwards every record the emulators served is stored exactly once and
// nothing else is (inventory snapshots apart), and after a catch-up run the
// streaming verdicts equal a batch correlate over the same rows
// (checkCollected), and they are the generator's intent. (Collection starts
// at the organisation's start, so a credential registered before it is
// known only from its inventory snapshot: an Okta Windows Hello factor is
// named there, without an AAGUID, and the AAGUID table's model names make
// it a platform credential — not the security key its HARDWARE_PROTECTED
// sign-ins would otherwise pass for.)
func TestCollectFaults(t *testing.T) {
	org := collecttest.FaultOrg(t)
	intent := map[string]demo.Intent{}
	for _, it := range org.Intents() {
		intent[it.ActionID] = it
	}
	mapping := filepath.Join(t.TempDir(), demo.MappingFile)
	require.NoError(t, os.WriteFile(mapping, org.Mapping(), 0o600))
	t.Logf("%d events, %d actions", collecttest.Events(org), len(intent))

	t.Run("collector restarted mid-pagination", func(t *testing.T) {
		began := time.Now()
		url := storetest.SharedServer(t).URL(storetest.FreshDB(t))
		srv, err := emulator.Start(org, emulator.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, srv.Close()) })
		_, conn := kafkatest.Start(t)
		cfg := emulatorConfig(t, srv, org, fmt.Sprintf("bus: kafka\nkafka: {brokers: [%s], partitions: %d}", strings.Join(conn.Brokers, ", "), kafkatest.Partitions))
		code, _, errs := cli(t, "", "--store", url, "identities", "import", mapping)
		require.Equal(t, 0, code, errs)

		collect := func() (stop func() (int, string)) {
			ctx, cancel := context.WithCancel(context.Background())
			type result struct {
				code int
				errs string
			}
			done := make(chan result, 1)
			go func() {
				code, _, errs := inProcess(ctx, "--store", url, "collect", "--config", cfg)
				done <- result{code, errs}
			}()
			return func() (int, string) {
				cancel()
				r := <-done
				return r.code, r.errs
			}
		}
		stop := collect()
		at := waitMidPagination(t, srv, org)
		code, errs = stop()
		require.Equal(t, 0, code, errs)
		t.Logf("stopped mid-pagination (audit log rows served per instance: %v) after %s", counts(at), time.Since(began).Round(time.Second))

		stop = collect()
		waitCollected(t, url, srv, org, faultDeadline(org), func() string { return "" }, func() { stop() })
		code, errs = stop()
		require.Equal(t, 0, code, errs)
		t.Logf("every record stored after %s", time.Since(began).Round(time.Second))
		requireResumed(t, srv, org, at, cfg)
		served, off, offIntent := checkCollected(t, inProcess, url, cfg, srv, intent, true)
		t.Logf("%d records served; %d first-run streaming verdicts off the intent; %s", served, off, time.Since(began).Round(time.Second))
		require.Empty(t, offIntent, "verdicts after the catch-up off the generator's intent (intended → got)")
	})

	t.Run("process killed", func(t *testing.T) {
		began := time.Now()
		url := "chdb://" + t.TempDir()
		srv, err := emulator.Start(org, emulator.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, srv.Close()) })
		cfg := emulatorConfig(t, srv, org, "bus: memory")
		kt := asProcess(t)
		code, _, errs := kt(context.Background(), "--store", url, "identities", "import", mapping)
		require.Equal(t, 0, code, errs)

		cmd := keytrailProcess(t, "--store", url, "collect", "--config", cfg)
		var out, errb syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		require.NoError(t, cmd.Start())
		at := waitMidPagination(t, srv, org)
		require.NoError(t, cmd.Process.Kill())
		err = cmd.Wait()
		require.Error(t, err)
		require.Equal(t, syscall.SIGKILL, cmd.ProcessState.Sys().(syscall.WaitStatus).Signal(), "killed: %s", errb.String())
		t.Logf("killed mid-run (audit log rows served per instance: %v) after %s", counts(at), time.Since(began).Round(time.Second))

		// Started again, it runs until the emulators have served every
		// record they list, and a little longer for the last pages to be
		// stored (the store is the process's own: it cannot be asked
		// meanwhile); then SIGTERM.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			defer cancel()
			for deadline := time.Now().Add(faultDeadline(org)); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
				if unserved(srv, org, time.Now()) == 0 {
					time.Sleep(5 * time.Second)
					return
				}
			}
		}()
		code, stdout, errs := kt(ctx, "--store", url, "collect", "--config", cfg)
		require.Equal(t, 0, code, errs)
		require.Zero(t, unserved(srv, org, time.Now()), "every listed record served after the restart; output:\n%s\nlog:\n%s", stdout, errs)
		requireResumed(t, srv, org, at, cfg)
		t.Logf("restarted run done after %s", time.Since(began).Round(time.Second))
		served, off, offIntent := checkCollected(t, kt, url, cfg, srv, intent, true)
		t.Logf("%d records served; %d first-run streaming verdicts off the intent; %s", served, off, time.Since(began).Round(time.Second))
		require.Empty(t, offIntent, "verdicts after the catch-up off the generator's intent (intended → got)")
	})
}

// faultDeadline bounds how long a fault test waits for collect to store
// org: collectDeadline per 20,000 events (a loaded machine is many times
// slower than a quiet one; the bound only ends a test that hangs).
func faultDeadline(org *demo.Org) time.Duration {
	return collectDeadline * time.Duration(max(1, collecttest.Events(org)/20_000))
}

// auditLogs returns the Airflow audit log feed of every instance of org.
func auditLogs(srv *emulator.Server, org *demo.Org) map[string]*demo.Feed {
	out := map[string]*demo.Feed{}
	for _, in := range org.Config().Instances {
		out[in.Name] = srv.Data.Feed(demo.StreamAirflowEventLogs, in.Name)
	}
	return out
}

// auditServed returns, per instance, how many times its emulator served
// each row of its audit log.
func auditServed(srv *emulator.Server, org *demo.Org) map[string]map[int]int {
	out := map[string]map[int]int{}
	for name, f := range auditLogs(srv, org) {
		out[name] = map[int]int{}
		for _, s := range srv.Airflow[name].Ledger().Served() {
			if s.Feed == f {
				out[name][s.Item] = s.Times
			}
		}
	}
	return out
}

// auditRereads counts, per instance, the audit log rows served by before
// that were served again since: what a restarted poller read twice.
func auditRereads(srv *emulator.Server, org *demo.Org, before map[string]map[int]int) map[string]int {
	out := map[string]int{}
	for name, rows := range auditServed(srv, org) {
		for i, n := range rows {
			if m := before[name][i]; m > 0 && n > m {
				out[name]++
			}
		}
	}
	return out
}

// maxRereads bounds, per Airflow instance, the audit log rows a restarted
// poller reads again, from its settings in the collect config at path: the
// pages a crash reads again at most (poll.in_flight — its default for the
// source's pages, airflow.Config.PollConfig — ahead of the store, the
// one being read and poll.in_flight taken past the saved cursor:
// collect.PollConfig.CrashRereadPages), each bringing page_size − reread
// rows not read before, and the reread rows its first page starts early —
// not the listing from its start.
func maxRereads(t *testing.T, path string) map[string]int {
	t.Helper()
	cfg, err := config.LoadFile(path)
	require.NoError(t, err)
	out := map[string]int{}
	for _, s := range cfg.Sources {
		if a := s.Airflow; a != nil {
			size, reread := cmp.Or(a.PageSize, airflow.DefaultPageSize), cmp.Or(a.Reread, airflow.DefaultReread)
			out[a.Instance] = a.PollConfig().CrashRereadPages()*(size-reread) + reread
		}
	}
	require.NotEmpty(t, out, "Airflow sources in %s", path)
	return out
}

// waitMidPagination waits until a third of the Airflow audit log rows are
// served, and checks every instance is then inside its listing: some of
// its rows served, not all. It returns the rows served per instance.
func waitMidPagination(t *testing.T, srv *emulator.Server, org *demo.Org) map[string]map[int]int {
	t.Helper()
	total := 0
	feeds := auditLogs(srv, org)
	for _, f := range feeds {
		total += len(f.Items)
	}
	var rows map[string]map[int]int
	require.Eventually(t, func() bool {
		rows = auditServed(srv, org)
		n := 0
		for _, v := range rows {
			n += len(v)
		}
		return n >= total/3
	}, faultDeadline(org), 200*time.Millisecond, "a third of the audit log served")
	for _, name := range slices.Sorted(maps.Keys(feeds)) {
		require.Positive(t, len(rows[name]), name)
		require.Less(t, len(rows[name]), len(feeds[name].Items), "%s: inside its listing", name)
	}
	return rows
}

// counts is how many rows of each instance's audit log were served.
func counts(rows map[string]map[int]int) map[string]int {
	out := map[string]int{}
	for name, r := range rows {
		out[name] = len(r)
	}
	return out
}

// unserved counts the records the emulators list by at (from the org's
// start; DAG runs apart: a run that changed state before it was polled is
// listed in its latest state only) that they have not served.
func unserved(srv *emulator.Server, org *demo.Org, at time.Time) int {
	served := map[*demo.Feed]map[int]bool{}
	for _, l := range srv.Ledgers() {
		for _, s := range l.Served() {
			if served[s.Feed] == nil {
				served[s.Feed] = map[int]bool{}
			}
			served[s.Feed][s.Item] = true
		}
	}
	from := org.Config().Start.UnixMilli()
	n := 0
	for _, f := range srv.Data.Feeds() {
		if f.Stream == demo.StreamAirflowDagRuns {
			continue
		}
		for i := range f.Items {
			if f.Items[i].TS >= from && srv.Data.Listed(f, i, at) && !served[f][i] {
				n++
			}
		}
	}
	return n
}

// requireResumed checks that every Airflow poller, restarted, resumed from
// its stored cursor: of the audit log rows served before (at), at most
// maxRereads of the collect config at path were served again.
func requireResumed(t *testing.T, srv *emulator.Server, org *demo.Org, at map[string]map[int]int, path string) {
	t.Helper()
	again := auditRereads(srv, org, at)
	most := maxRereads(t, path)
	t.Logf("audit log rows read again after the restart, per instance: %v (at most %v)", again, most)
	for name, n := range again {
		require.Contains(t, most, name)
		require.LessOrEqual(t, n, most[name], "%s: the restarted poller resumes from its cursor", name)
	}
}
