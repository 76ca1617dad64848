package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/internal/syncbuf"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/chdb"
	_ "github.com/keytrail/keytrail/store/clickhouse"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
	"github.com/keytrail/keytrail/warehouse/warehousetest"
)

func TestMain(m *testing.M) { os.Exit(warehousetest.Main(m)) }

// open opens and migrates a fresh database at url.
func open(t testing.TB, url string) *warehouse.Warehouse { return warehousetest.Open(t, url) }

// embedded is a fresh database on the embedded engine.
func embedded(t testing.TB) *warehouse.Warehouse { return warehousetest.Embedded(t) }

// engines are fresh databases on both engines.
func engines(t testing.TB) map[string]*warehouse.Warehouse { return warehousetest.Engines(t) }

// org is a small generated organisation written as provider files, and the
// records a collector would publish for it.
type org struct {
	dir      string
	manifest demo.Manifest
	org      *demo.Org
	// records per file (IdP files first): each line of a line-delimited
	// file (a record, an API page or a malformed line), or the whole of a
	// document.
	files [][]bus.Record
}

var (
	orgMu    sync.Mutex
	orgCache = map[string]*org{}
)

// smallOrg is 8 people over one day with few DAGs and tasks: about 500
// records of every kind and shape.
func smallOrg(t testing.TB) *org {
	return genOrg(t, "small", demo.Config{People: 8, Days: 1, Seed: 7, TasksPerDAG: 3, ViewsPerDay: 30, Instances: []demo.Instance{
		{Name: "af-prod", Version: demo.Airflow31, Shape: demo.ShapePages, DAGs: 4},
		{Name: "af-legacy", Version: demo.Airflow210, Shape: demo.ShapePages, DAGs: 4},
		{Name: "af-ml", Version: demo.Airflow31, Shape: demo.ShapeNDJSON, DAGs: 4},
	}})
}

// mediumOrg is 8 people over one day with the default Airflow instances and
// fewer tasks: a few thousand records, a stream long enough to fail under.
func mediumOrg(t testing.TB) *org {
	return genOrg(t, "medium", demo.Config{People: 8, Days: 1, Seed: 11, TasksPerDAG: 4})
}

// genOrg generates the organisation of cfg (once per test binary) and the
// records a collector would publish for it.
func genOrg(t testing.TB, name string, cfg demo.Config) *org {
	t.Helper()
	orgMu.Lock()
	defer orgMu.Unlock()
	if o, ok := orgCache[name]; ok {
		return o
	}
	dir, err := os.MkdirTemp(storetest.EmbeddedDir(t), "org-")
	require.NoError(t, err)
	o, err := demo.Generate(cfg)
	require.NoError(t, err)
	m, err := o.WriteFiles(dir, nil)
	require.NoError(t, err)
	out := &org{dir: dir, manifest: m, org: o}
	for phase := range 2 {
		for _, f := range m.Files {
			if (f.Source == model.SourceAirflow) != (phase == 1) {
				continue
			}
			recs, err := fileRecords(filepath.Join(dir, f.Path), f, receivedBase.Add(time.Duration(len(out.files))*time.Second))
			require.NoError(t, err)
			out.files = append(out.files, recs)
		}
	}
	orgCache[name] = out
	return out
}

// fileRecords turns a provider file into the records a collector would
// publish: one per line of a line-delimited file, else the whole file.
func fileRecords(path string, f demo.FileInfo, received time.Time) ([]bus.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rec := func(raw []byte, origin string) bus.Record {
		return bus.Record{Source: f.Source, Instance: f.Instance, Raw: raw, ReceivedAt: received, Origin: origin}
	}
	if !strings.HasSuffix(f.Path, ".ndjson") {
		return []bus.Record{rec(data, f.Path)}, nil
	}
	var out []bus.Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		out = append(out, rec(bytes.Clone(sc.Bytes()), fmt.Sprintf("%s:%d", f.Path, line)))
	}
	return out, sc.Err()
}

// all returns every record, IdP files first.
func (o *org) all() []bus.Record {
	var out []bus.Record
	for _, f := range o.files {
		out = append(out, f...)
	}
	return out
}

// collectors returns what the organisation's collectors publish, identity
// providers first: one stream per IdP file, then one stream of every
// Airflow instance's audit log and DAG runs, one event per record, in time
// order — as pollers running in step in near real time would publish them
// (the streaming engine's watermark is global: a source running hours
// ahead of another makes the other's events late).
func (o *org) collectors(t testing.TB) (idps, airflow [][]bus.Record) {
	t.Helper()
	var af [][]bus.Record
	for _, recs := range o.files {
		switch {
		case len(recs) == 0:
		case recs[0].Source != model.SourceAirflow:
			idps = append(idps, recs)
		default:
			af = append(af, recs)
		}
	}
	return idps, [][]bus.Record{eventsInTimeOrder(t, af)}
}

// eventsInTimeOrder returns the records of files one event each (pages
// split into their records; a malformed line stays whole), ordered by event
// time, as a collector polling them together in near real time would
// publish them. A malformed record keeps its place after the one before it.
func eventsInTimeOrder(t testing.TB, files [][]bus.Record) []bus.Record {
	t.Helper()
	all := timedEvents(t, files)
	out := make([]bus.Record, len(all))
	for i, x := range all {
		out[i] = x.rec
	}
	return out
}

// timedRecord is one event's record and its event time.
type timedRecord struct {
	at  time.Time
	rec bus.Record
}

// timedEvents is eventsInTimeOrder with each record's event time.
func timedEvents(t testing.TB, files [][]bus.Record) []timedRecord {
	t.Helper()
	type timed = timedRecord
	var all []timed
	for _, recs := range files {
		var last time.Time
		for _, r := range recs {
			n, err := sources.Normalizer(r.Source)
			require.NoError(t, err)
			pieces := ingest.Split(r.Raw, n.Envelopes())
			whole := false
			for _, p := range pieces {
				whole = whole || p.Err != nil
			}
			if whole {
				all = append(all, timed{last, r})
				continue
			}
			for _, p := range pieces {
				one := r
				one.Raw = p.Raw
				one.Origin = fmt.Sprintf("%s#byte=%d", r.Origin, p.Offset)
				if out, err := n.Normalize(p.Raw, r.Instance); err == nil {
					last = out.Raw.TS
				}
				all = append(all, timed{last, one})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b timed) int { return a.at.Compare(b.at) })
	return all
}

// mapping imports the organisation's identity mapping into w.
func (o *org) mapping(t testing.TB, w *warehouse.Warehouse) {
	t.Helper()
	f, err := os.Open(filepath.Join(o.dir, o.manifest.Mapping))
	require.NoError(t, err)
	defer f.Close()
	rows, err := identity.ParseMapping(f)
	require.NoError(t, err)
	require.NoError(t, w.ImportIdentities(context.Background(), rows, time.Now()))
}

// newWriter returns a Writer into w with w's enricher.
func newWriter(t testing.TB, w *warehouse.Warehouse) *pipeline.Writer {
	t.Helper()
	enr, err := enrich.New(context.Background(), w, nil)
	require.NoError(t, err)
	return pipeline.NewWriter(w, enr, sources.Normalizer, nil)
}

// count returns a count query's result.
func count(t testing.TB, w *warehouse.Warehouse, q string, args ...any) int64 {
	t.Helper()
	n, err := store.CountRows(context.Background(), w.S, q, args...)
	require.NoError(t, err, q)
	return n
}

// requireStoredOnce checks w holds exactly the organisation's records, each
// once, and its dead letters.
func requireStoredOnce(t testing.TB, w *warehouse.Warehouse, o *org) {
	t.Helper()
	require.EqualValues(t, o.manifest.Expected.Stored, count(t, w, "SELECT count() FROM raw_records FINAL"), "every record stored once")
	require.EqualValues(t, o.manifest.Expected.Stored, count(t, w, "SELECT count() FROM (SELECT DISTINCT source, instance, event_id FROM raw_records)"))
	require.EqualValues(t, o.manifest.Expected.DeadLetters, count(t, w, "SELECT count() FROM dead_letters FINAL"), "every malformed record dead-lettered")
}

// logBuffer is a concurrency-safe log sink for checking what was logged.
type logBuffer struct{ syncbuf.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(l), &slog.HandlerOptions{Level: slog.LevelInfo}))
}
