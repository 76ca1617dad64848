package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/store"
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
	page, err := os.ReadFile(filepath.Join("..", "ingest", "okta", "testdata", "logs_page.json"))
	require.NoError(t, err)
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
