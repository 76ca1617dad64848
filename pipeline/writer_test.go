package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// receivedBase is the received time of the test organisation's first file
// (each next file one second later): far from now, so a row stamped with
// the write time instead would show.
var receivedBase = time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)

// TestWriter: the records a collector publishes — single records, API
// pages, whole documents, malformed lines — stored through the Writer in
// batches land exactly as `keytrail ingest` would store the files: every
// record once, every malformed one a dead letter naming its record's
// origin, every row stamped with its record's received time; writing them
// all again stores nothing new.
func TestWriter(t *testing.T) {
	ctx := context.Background()
	o := smallOrg(t)
	for name, w := range engines(t) {
		t.Run(name, func(t *testing.T) {
			o.mapping(t, w)
			wr := newWriter(t, w)
			recs := o.all()
			write := func() ingest.Result {
				var total ingest.Result
				for i := 0; i < len(recs); i += 300 {
					res, err := wr.Write(ctx, recs[i:min(i+300, len(recs))])
					require.NoError(t, err)
					r := res.Total()
					total.Records += r.Records
					total.Accepted += r.Accepted
					total.Duplicates += r.Duplicates
					total.DeadLetters += r.DeadLetters
				}
				return total
			}
			first := write()
			want := 0
			for _, n := range o.manifest.Expected.Records {
				want += n
			}
			require.Equal(t, want, first.Records)
			require.Equal(t, o.manifest.Expected.Stored, first.Accepted)
			require.Equal(t, o.manifest.Expected.Duplicates, first.Duplicates)
			require.Equal(t, o.manifest.Expected.DeadLetters, first.DeadLetters)
			requireStoredOnce(t, w, o)

			origin := regexp.MustCompile(`^[a-z0-9-]+\.(ndjson|json)(:\d+)?#byte=\d+$`)
			dead, err := store.DeadLetters.All(ctx, w.S, "")
			require.NoError(t, err)
			require.NotEmpty(t, dead)
			for _, d := range dead {
				require.Regexp(t, origin, d.Origin, "a dead letter names its record and the bad part's offset")
				require.False(t, d.ReceivedAt.Before(receivedBase) || d.ReceivedAt.After(receivedBase.Add(time.Minute)), "dead letter received %s", d.ReceivedAt)
			}
			files := 0
			for _, f := range o.files {
				if len(f) > 0 {
					files++
				}
			}
			require.EqualValues(t, files, count(t, w, "SELECT count(DISTINCT received_at) FROM raw_records"), "each file's records keep their received time")
			for _, table := range []string{"raw_records", "auth_events", "authenticators", "airflow_events", "dag_runs"} {
				require.Zero(t, count(t, w, "SELECT count() FROM "+table+" WHERE received_at < ? OR received_at > ?", receivedBase, receivedBase.Add(time.Minute)),
					"%s rows carry their record's received time", table)
			}

			again := write()
			require.Zero(t, again.Accepted, "writing again stores nothing new")
			require.Equal(t, o.manifest.Expected.Stored+o.manifest.Expected.Duplicates, again.Duplicates)
			requireStoredOnce(t, w, o)
		})
	}
}

// TestWriterUnknownSource: a record of a source nothing normalizes (a
// foreign producer on a keytrail topic) is a dead letter with its bytes
// and origin, not an error.
func TestWriterUnknownSource(t *testing.T) {
	ctx := context.Background()
	w := embedded(t)
	wr := newWriter(t, w)
	raw := []byte(`{"hello":"world"}`)
	res, err := wr.Write(ctx, []bus.Record{
		{Source: "", Instance: "x", Raw: raw, Origin: "kafka:keytrail.raw.okta/0/17"},
		{Source: "salesforce", Instance: "y", Raw: raw, Origin: "kafka:keytrail.raw.salesforce/1/3"},
	})
	require.NoError(t, err)
	require.Equal(t, 2, res.Total().DeadLetters)
	dead, err := store.DeadLetters.All(ctx, w.S, "ORDER BY origin")
	require.NoError(t, err)
	require.Len(t, dead, 2)
	require.Equal(t, "kafka:keytrail.raw.okta/0/17", dead[0].Origin)
	require.Equal(t, raw, dead[0].Raw)
	require.Contains(t, dead[1].Error, pipeline.ErrNoSource.Error())
	require.Equal(t, model.Source("salesforce"), dead[1].Source)
}

// TestWriterConflict: a record whose id is stored with other bytes is a
// conflict kept with its own record's origin and received time, whether it
// comes in a batch of its own or beside the first copy.
func TestWriterConflict(t *testing.T) {
	ctx := context.Background()
	w := embedded(t)
	wr := newWriter(t, w)
	page := oktaPage(t)
	first := ingest.Split(page, nil)[0].Raw
	other := bytes.Replace(first, []byte(`"severity": "INFO"`), []byte(`"severity": "WARN"`), 1)
	require.NotEqual(t, first, other)
	at := receivedBase.Add(time.Hour)
	res, err := wr.Write(ctx, []bus.Record{
		{Source: model.SourceOkta, Instance: "acme", Raw: first, Origin: "kafka:keytrail.raw.okta/2/10", ReceivedAt: receivedBase},
		{Source: model.SourceOkta, Instance: "acme", Raw: other, Origin: "kafka:keytrail.raw.okta/2/11", ReceivedAt: at},
	})
	require.NoError(t, err)
	require.Equal(t, 1, res.Total().Accepted)
	require.Equal(t, 1, res.Total().Conflicts)
	conflicts := func() (origins []string, received []time.Time) {
		rows, err := w.S.Query(ctx, "SELECT origin, received_at FROM conflicts FINAL")
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var o string
			var r time.Time
			require.NoError(t, rows.Scan(&o, &r))
			origins, received = append(origins, o), append(received, r)
		}
		require.NoError(t, rows.Err())
		return
	}
	origins, received := conflicts()
	require.Equal(t, []string{"kafka:keytrail.raw.okta/2/11#byte=0"}, origins)
	require.True(t, at.Equal(received[0]), "received %s", received[0])

	res, err = wr.Write(ctx, []bus.Record{{Source: model.SourceOkta, Instance: "acme", Raw: other, Origin: "kafka:keytrail.raw.okta/0/99", ReceivedAt: at}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Total().Conflicts, "the conflicting copy again, alone")
	origins, _ = conflicts()
	require.Len(t, origins, 1, "kept once")
}

// TestWriterInstances: one Write of the records of several source
// instances — the same ids in two instances, duplicates, conflicts,
// damaged records, another source, a source nothing reads — counts each
// instance exactly, stamps every row with its own record's received time,
// and names its own record's origin on every dead letter and conflict. The
// steps run in order on one store.
func TestWriterInstances(t *testing.T) {
	ctx := context.Background()
	w := embedded(t)
	wr := newWriter(t, w)
	page := oktaPage(t)
	oktaIDs := regexp.MustCompile(`"uuid": "([^"]+)"`).FindAllSubmatch(page, -1)
	require.Len(t, oktaIDs, 14)
	first := ingest.Split(page, nil)[0].Raw
	firstID := string(oktaIDs[0][1])
	other := bytes.Replace(first, []byte(`"severity": "INFO"`), []byte(`"severity": "WARN"`), 1)
	airflowRec, err := os.ReadFile(filepath.Join("..", "ingest", "airflow", "testdata", "single_record.json"))
	require.NoError(t, err)
	at := func(i int) time.Time { return receivedBase.Add(time.Duration(i) * time.Minute) }
	okta := func(instance string, raw []byte, origin string, i int) bus.Record {
		return bus.Record{Source: model.SourceOkta, Instance: instance, Raw: raw, Origin: origin, ReceivedAt: at(i)}
	}
	key := func(src model.Source, instance string) pipeline.Key {
		return pipeline.Key{Source: src, Instance: instance}
	}
	for _, step := range []struct {
		name string
		recs []bus.Record
		want pipeline.Results
		// received: the received time of stored raw records by
		// instance/event_id; dead and conflicts: the origin and received
		// time of the step's new dead letters and conflicts by instance.
		received  map[string]time.Time
		dead      map[string]stamped
		conflicts map[string]stamped
	}{
		{
			name: "the same page in two instances",
			recs: []bus.Record{okta("acme", page, "kafka:okta/0/1", 1), okta("beta", page, "kafka:okta/1/1", 2)},
			want: pipeline.Results{
				key(model.SourceOkta, "acme"): {Records: 14, Accepted: 14, Batches: 1},
				key(model.SourceOkta, "beta"): {Records: 14, Accepted: 14, Batches: 1},
			},
			received: map[string]time.Time{"acme/" + firstID: at(1), "beta/" + firstID: at(2)},
		},
		{
			name: "duplicates, a conflict, damage, another source and a new instance interleaved",
			recs: []bus.Record{
				okta("beta", other, "kafka:okta/1/2", 3),
				okta("acme", first, "kafka:okta/0/2", 4),
				{Source: model.SourceAirflow, Instance: "af1", Raw: airflowRec, Origin: "kafka:airflow/0/1", ReceivedAt: at(5)},
				okta("gamma", first, "kafka:okta/2/1", 6),
				okta("acme", []byte(`{"uuid": "broken`), "kafka:okta/0/3", 7),
				{Source: "salesforce", Instance: "s", Raw: []byte(`{"id":1}`), Origin: "kafka:salesforce/0/1", ReceivedAt: at(8)},
				okta("gamma", first, "kafka:okta/2/2", 9),
			},
			want: pipeline.Results{
				key(model.SourceOkta, "acme"):   {Records: 2, Duplicates: 1, DeadLetters: 1, Batches: 1},
				key(model.SourceOkta, "beta"):   {Records: 1, Conflicts: 1, Batches: 1},
				key(model.SourceOkta, "gamma"):  {Records: 2, Accepted: 1, Duplicates: 1, Batches: 1},
				key(model.SourceAirflow, "af1"): {Records: 1, Accepted: 1, Batches: 1},
				key("salesforce", "s"):          {Records: 1, DeadLetters: 1},
			},
			received:  map[string]time.Time{"acme/" + firstID: at(1), "beta/" + firstID: at(2), "gamma/" + firstID: at(6), "af1/4001": at(5)},
			dead:      map[string]stamped{"acme": {"kafka:okta/0/3#byte=0", at(7)}, "s": {"kafka:salesforce/0/1", at(8)}},
			conflicts: map[string]stamped{"beta": {"kafka:okta/1/2#byte=0", at(3)}},
		},
		{
			name: "all of it again: the conflict again is a conflict, kept once",
			recs: []bus.Record{okta("beta", page, "kafka:okta/1/3", 10), okta("beta", other, "kafka:okta/1/4", 11), okta("gamma", first, "kafka:okta/2/3", 12)},
			want: pipeline.Results{
				key(model.SourceOkta, "beta"):  {Records: 15, Duplicates: 14, Conflicts: 1, Batches: 1},
				key(model.SourceOkta, "gamma"): {Records: 1, Duplicates: 1, Batches: 1},
			},
			received: map[string]time.Time{"beta/" + firstID: at(2), "gamma/" + firstID: at(6)},
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			dead0 := count(t, w, "SELECT count() FROM dead_letters FINAL")
			conflicts0 := count(t, w, "SELECT count() FROM conflicts FINAL")
			res, err := wr.Write(ctx, step.recs)
			require.NoError(t, err)
			require.Equal(t, step.want, res)
			for k, want := range step.received {
				instance, id, _ := strings.Cut(k, "/")
				got := query[time.Time](t, w, "SELECT received_at FROM raw_records FINAL WHERE instance = ? AND event_id = ?", instance, id)
				require.Len(t, got, 1, k)
				require.True(t, want.Equal(got[0]), "%s received %s, want %s", k, got[0], want)
			}
			for table, want := range map[string]map[string]stamped{"dead_letters": step.dead, "conflicts": step.conflicts} {
				since := dead0
				if table == "conflicts" {
					since = conflicts0
				}
				require.EqualValues(t, since+int64(len(want)), count(t, w, "SELECT count() FROM "+table+" FINAL"), table)
				for instance, s := range want {
					got := query[stamped](t, w, "SELECT origin, received_at FROM "+table+" WHERE instance = ? AND received_at = ?", instance, s.received)
					require.Equal(t, []stamped{s}, got, "%s of %s", table, instance)
				}
			}
		})
	}
	require.EqualValues(t, 14+14+1+1, count(t, w, "SELECT count() FROM raw_records FINAL"), "every record of every instance stored once")
}

// stamped is the origin and received time of a dead letter or conflict.
type stamped struct {
	origin   string
	received time.Time
}

func (s *stamped) fields() []any { return []any{&s.origin, &s.received} }

// query returns the rows of a query of one column, or of two scanned into
// a struct of two fields.
func query[T any](t testing.TB, w *warehouse.Warehouse, q string, args ...any) []T {
	t.Helper()
	rows, err := w.S.Query(context.Background(), q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		dest := []any{&v}
		if p, ok := any(&v).(interface{ fields() []any }); ok {
			dest = p.fields()
		}
		require.NoError(t, rows.Scan(dest...))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

// oktaPage is the Okta System Log page of the okta normalizer's tests.
func oktaPage(t testing.TB) []byte {
	t.Helper()
	page, err := os.ReadFile(filepath.Join("..", "ingest", "okta", "testdata", "logs_page.json"))
	require.NoError(t, err)
	return page
}
