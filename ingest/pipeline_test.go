package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// toyNormalizer accepts {"id":…, "ts":…} objects. A record may also name a
// time field of one of the row kinds ("field": "dag_runs.start_date") and its
// value ("at"), to exercise every time field.
type toyNormalizer struct{}

func (toyNormalizer) Source() model.Source  { return model.SourceOkta }
func (toyNormalizer) Envelopes() [][]string { return [][]string{{"data", "events"}} }
func (toyNormalizer) Normalize(raw []byte, instance string) (Output, error) {
	var v struct {
		ID    string    `json:"id"`
		TS    time.Time `json:"ts"`
		Field string    `json:"field"`
		At    time.Time `json:"at"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return Output{}, err
	}
	if v.ID == "" || v.TS.IsZero() {
		return Output{}, errors.New("missing id or ts")
	}
	o := Output{Raw: model.RawRecord{Source: model.SourceOkta, Instance: instance, EventID: v.ID, TS: v.TS, Raw: raw, SHA256: model.SHA256Hex(raw)}}
	table, _, _ := strings.Cut(v.Field, ".")
	switch table {
	case "", "raw_records", "auth_events":
		o.Auth = []model.AuthEvent{{Source: model.SourceOkta, Instance: instance, EventID: v.ID, TS: v.TS}}
	case "authenticators":
		o.Authenticators = []model.Authenticator{{Source: model.SourceOkta, Instance: instance, EventID: v.ID, TS: v.TS}}
	case "airflow_events":
		o.Airflow = []model.AirflowEvent{{Instance: instance, EventLogID: 1, TS: v.TS}}
	case "dag_runs":
		o.Runs = []model.DagRun{{Instance: instance, DagID: "d", RunID: v.ID, TS: v.TS}}
	}
	switch v.Field {
	case "raw_records.ts":
		o.Raw.TS = v.At
	case "auth_events.ts":
		o.Auth[0].TS = v.At
	case "authenticators.ts":
		o.Authenticators[0].TS = v.At
	case "airflow_events.ts":
		o.Airflow[0].TS = v.At
	case "airflow_events.logical_date":
		o.Airflow[0].LogicalDate = v.At
	case "dag_runs.ts":
		o.Runs[0].TS = v.At
	case "dag_runs.logical_date":
		o.Runs[0].LogicalDate = v.At
	case "dag_runs.start_date":
		o.Runs[0].StartDate = v.At
	case "dag_runs.end_date":
		o.Runs[0].EndDate = v.At
	}
	return o, nil
}

// memSink is an in-memory Sink for the pipeline's own logic; it keeps the
// first copy of a raw record, as the Sink contract says. The warehouse tests
// run the same pipeline against the real engines.
type memSink struct {
	mu        sync.Mutex
	raw       map[RecordID]model.RawRecord
	dead      []model.DeadLetter
	conflicts []model.Conflict
	writes    int
	failAt    int // fail the write with this number (1-based); 0 never
	times     TimeRange
	// known, if set, runs before Known answers (to line up concurrent ingests).
	known func()
	// write, if set, runs before Write stores (to hold a write under way).
	write func()
}

// prod is the id of the toy record id of instance "prod".
func prod(id string) RecordID {
	return RecordID{Source: model.SourceOkta, Instance: "prod", EventID: id}
}

func newMemSink() *memSink {
	return &memSink{raw: map[RecordID]model.RawRecord{}, times: TimeRange{
		First: time.Unix(0, 0), Last: time.Date(2105, 12, 31, 23, 59, 59, 999e6, time.UTC), Why: "test range"}}
}

func (m *memSink) Known(_ context.Context, ids []RecordID) (map[RecordID]string, error) {
	if m.known != nil {
		m.known()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[RecordID]string{}
	for _, id := range ids {
		if r, ok := m.raw[id]; ok {
			out[id] = r.SHA256
		}
	}
	return out, nil
}

func (m *memSink) Write(_ context.Context, b *Batch) (map[RecordID]string, error) {
	if m.write != nil {
		m.write()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.writes == m.failAt {
		return nil, errors.New("disk full")
	}
	preempted := map[RecordID]string{}
	for _, r := range b.Raw {
		id := RecordID{Source: r.Source, Instance: r.Instance, EventID: r.EventID}
		if have, ok := m.raw[id]; ok {
			preempted[id] = have.SHA256
			continue
		}
		m.raw[id] = r
	}
	m.dead = append(m.dead, b.DeadLetters...)
	m.conflicts = append(m.conflicts, b.Conflicts...)
	return preempted, nil
}

func (m *memSink) TimeRange() TimeRange { return m.times }

func TestIngestCountsAndDeadLetters(t *testing.T) {
	sink := newMemSink()
	in := &Ingester{Normalizer: toyNormalizer{}, Instance: "prod", Sink: sink, BatchSize: 2}
	input := strings.Join([]string{
		`{"id":"a","ts":"2026-01-01T00:00:00Z"}`,
		`{"id":"b","ts":"2026-01-01T00:00:01.5+02:00"}`,
		`not json at all`,
		`{"id":"a","ts":"2026-01-01T00:00:00Z"}`,
		`{"ts":"2026-01-01T00:00:00Z"}`,
		`[1]`,
	}, "\n")
	res, err := in.Ingest(context.Background(), "f.ndjson", []byte(input))
	require.NoError(t, err)
	require.Equal(t, Result{File: "f.ndjson", Records: 6, Accepted: 2, Duplicates: 1, DeadLetters: 3, Batches: 3}, res)
	require.Len(t, sink.dead, 3)
	require.Equal(t, "not json at all", string(sink.dead[0].Raw))
	require.Equal(t, model.SHA256Hex([]byte("not json at all")), sink.dead[0].SHA256)
	require.Contains(t, sink.dead[1].Error, "missing id")
	require.Equal(t, "f.ndjson#byte=85", sink.dead[0].Origin)

	// Re-ingesting adds nothing.
	res, err = in.Ingest(context.Background(), "f.ndjson", []byte(input))
	require.NoError(t, err)
	require.Equal(t, 0, res.Accepted)
	require.Equal(t, 3, res.Duplicates)
	require.Len(t, sink.raw, 2)
}

// TestIngestConflicts walks the class: a record with an id already seen (in
// the same input, in an earlier batch of it, or stored by an earlier run) is
// a duplicate when its bytes are the same and a conflict when they differ;
// the first record stays stored and each conflicting version is kept once.
func TestIngestConflicts(t *testing.T) {
	const (
		a1 = `{"id":"a","ts":"2026-01-01T00:00:00Z"}`
		a2 = `{"id":"a","ts":"2026-01-01T00:00:00Z","changed":true}`
		a3 = `{"id":"a","ts":"2026-02-01T00:00:00Z"}`
		b1 = `{"id":"b","ts":"2026-01-01T00:00:00Z"}`
	)
	cases := []struct {
		name      string
		stored    []string // ingested by an earlier run
		input     []string
		batch     int
		want      Result // File, Records and Batches are filled in
		conflicts []string
	}{
		{name: "redelivery in the input", input: []string{a1, b1, a1}, want: Result{Accepted: 2, Duplicates: 1}},
		{name: "other bytes in the input", input: []string{a1, a2, b1}, want: Result{Accepted: 2, Conflicts: 1}, conflicts: []string{a2}},
		{name: "other time in the input", input: []string{a1, a3}, want: Result{Accepted: 1, Conflicts: 1}, conflicts: []string{a3}},
		{name: "the same conflict twice", input: []string{a1, a2, a2}, want: Result{Accepted: 1, Conflicts: 1, Duplicates: 1}, conflicts: []string{a2}},
		{name: "two conflicting versions", input: []string{a1, a2, a3}, want: Result{Accepted: 1, Conflicts: 2}, conflicts: []string{a2, a3}},
		{name: "across batches", input: []string{a1, b1, a2, a1}, batch: 1, want: Result{Accepted: 2, Conflicts: 1, Duplicates: 1}, conflicts: []string{a2}},
		{name: "redelivery of a stored record", stored: []string{a1}, input: []string{a1, b1}, want: Result{Accepted: 1, Duplicates: 1}},
		{name: "other bytes than the stored record", stored: []string{a1}, input: []string{a2}, want: Result{Conflicts: 1}, conflicts: []string{a2}},
		{name: "stored conflict, then the stored bytes", stored: []string{a1}, input: []string{a2, a1}, want: Result{Conflicts: 1, Duplicates: 1}, conflicts: []string{a2}},
		{name: "a dead letter with the id does not count", input: []string{`{"id":"a"}`, a1}, want: Result{Accepted: 1, DeadLetters: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			sink := newMemSink()
			in := &Ingester{Normalizer: toyNormalizer{}, Instance: "prod", Sink: sink, BatchSize: c.batch}
			if len(c.stored) > 0 {
				_, err := in.Ingest(ctx, "earlier", []byte(strings.Join(c.stored, "\n")))
				require.NoError(t, err)
			}
			firstSHA := sink.raw[prod("a")].SHA256
			res, err := in.Ingest(ctx, "f", []byte(strings.Join(c.input, "\n")))
			require.NoError(t, err)
			c.want.File, c.want.Records, c.want.Batches = "f", len(c.input), res.Batches
			require.Equal(t, c.want, res)
			require.Equal(t, res.Records, res.Accepted+res.Duplicates+res.Conflicts+res.DeadLetters)
			var got []string
			for _, k := range sink.conflicts {
				got = append(got, string(k.Raw))
				require.Equal(t, model.SHA256Hex(k.Raw), k.SHA256)
				require.Equal(t, sink.raw[prod(k.EventID)].SHA256, k.StoredSHA256, "a conflict names the stored record")
				require.Regexp(t, `^f#byte=\d+$`, k.Origin)
				require.False(t, k.ReceivedAt.IsZero())
			}
			require.Equal(t, c.conflicts, got)
			if firstSHA != "" {
				require.Equal(t, firstSHA, sink.raw[prod("a")].SHA256, "the stored record stays")
			} else {
				for _, rec := range c.input {
					if _, err := (toyNormalizer{}).Normalize([]byte(rec), "prod"); err == nil {
						require.Equal(t, model.SHA256Hex([]byte(rec)), sink.raw[prod("a")].SHA256, "the first record is the one stored")
						break
					}
				}
			}
		})
	}
}

// TestIngestTimeRange rejects every time field of every row kind outside the
// sink's range, at both edges, to dead letters naming the field and the range.
func TestIngestTimeRange(t *testing.T) {
	fields := []string{"raw_records.ts", "auth_events.ts", "authenticators.ts", "airflow_events.ts", "airflow_events.logical_date",
		"dag_runs.ts", "dag_runs.logical_date", "dag_runs.start_date", "dag_runs.end_date"}
	edges := []struct {
		at string
		ok bool
	}{
		{"1969-12-31T23:59:59.999Z", false},
		{"1970-01-01T00:00:00Z", true},
		{"2105-12-31T23:59:59.999Z", true},
		{"2106-01-01T00:00:00Z", false},
		{"2300-01-01T00:00:00Z", false},
	}
	for _, field := range fields {
		for _, e := range edges {
			t.Run(field+"="+e.at, func(t *testing.T) {
				sink := newMemSink()
				in := &Ingester{Normalizer: toyNormalizer{}, Instance: "prod", Sink: sink}
				rec := fmt.Sprintf(`{"id":"x","ts":"2026-01-01T00:00:00Z","field":%q,"at":%q}`, field, e.at)
				res, err := in.Ingest(context.Background(), "f", []byte(rec))
				require.NoError(t, err)
				if e.ok {
					require.Equal(t, 1, res.Accepted)
					require.Empty(t, sink.dead)
					return
				}
				require.Equal(t, 1, res.DeadLetters)
				require.Len(t, sink.dead, 1)
				require.Equal(t, rec, string(sink.dead[0].Raw))
				require.Equal(t, fmt.Sprintf("time outside the range the store holds: %s is %s, outside 1970-01-01T00:00:00Z … 2105-12-31T23:59:59.999Z (test range)", field, e.at),
					sink.dead[0].Error)
			})
		}
	}
	// received_at is checked too (a clock far off).
	sink := newMemSink()
	in := &Ingester{Normalizer: toyNormalizer{}, Instance: "prod", Sink: sink, Now: func() time.Time { return time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) }}
	res, err := in.Ingest(context.Background(), "f", []byte(`{"id":"x","ts":"2026-01-01T00:00:00Z"}`))
	require.NoError(t, err)
	require.Equal(t, 1, res.DeadLetters)
	require.Contains(t, sink.dead[0].Error, "raw_records.received_at is 2200-01-01T00:00:00Z")
}

// TestIngestStoreFailureSaysWhatWasStored fails the third store write: the
// error says which records were being stored and what the batches before
// stored, and re-running the input completes it without double counting.
func TestIngestStoreFailureSaysWhatWasStored(t *testing.T) {
	var lines []string
	for i := range 7 {
		lines = append(lines, fmt.Sprintf(`{"id":"r%d","ts":"2026-01-01T00:00:00Z"}`, i))
	}
	lines = append(lines, "broken")
	input := []byte(strings.Join(lines, "\n"))
	sink := newMemSink()
	sink.failAt = 3
	in := &Ingester{Normalizer: toyNormalizer{}, Instance: "prod", Sink: sink, BatchSize: 3}
	res, err := in.Ingest(context.Background(), "f", input)
	require.ErrorIs(t, err, ErrStore)
	require.Equal(t, "store write failed: disk full (storing records 7–8 of 8); the 2 batches before them were stored whole (6 accepted, 0 duplicates, 0 conflicts, 0 dead letters); re-running the input is safe: storage is idempotent", err.Error())
	require.Equal(t, Result{File: "f", Records: 8, Accepted: 6, Batches: 2}, res)
	require.Len(t, sink.raw, 6)

	res, err = in.Ingest(context.Background(), "f", input)
	require.NoError(t, err)
	require.Equal(t, Result{File: "f", Records: 8, Accepted: 1, Duplicates: 6, DeadLetters: 1, Batches: 3}, res)
	require.Len(t, sink.raw, 7)
}

// TestIngestConcurrent lines up two ingests of overlapping inputs so that
// both look the records up before either writes: each record is counted as
// accepted by exactly one of them, and a concurrent conflicting version is a
// conflict, not a second acceptance.
func TestIngestConcurrent(t *testing.T) {
	sink := newMemSink()
	var ready sync.WaitGroup
	ready.Add(2)
	sink.known = func() { ready.Done(); ready.Wait() }
	one := `{"id":"a","ts":"2026-01-01T00:00:00Z"}` + "\n" + `{"id":"b","ts":"2026-01-01T00:00:00Z"}` + "\n" + `{"id":"c","ts":"2026-01-01T00:00:00Z"}`
	two := `{"id":"a","ts":"2026-01-01T00:00:00Z"}` + "\n" + `{"id":"b","ts":"2026-01-01T00:00:00Z","v":2}` + "\n" + `{"id":"d","ts":"2026-01-01T00:00:00Z"}`
	results := make([]Result, 2)
	var wg sync.WaitGroup
	for i, input := range []string{one, two} {
		wg.Go(func() {
			in := &Ingester{Normalizer: toyNormalizer{}, Instance: "prod", Sink: sink}
			res, err := in.Ingest(context.Background(), fmt.Sprint("f", i), []byte(input))
			require.NoError(t, err)
			results[i] = res
		})
	}
	wg.Wait()
	sum := Result{}
	for _, r := range results {
		require.Equal(t, r.Records, r.Accepted+r.Duplicates+r.Conflicts+r.DeadLetters)
		sum.Accepted += r.Accepted
		sum.Duplicates += r.Duplicates
		sum.Conflicts += r.Conflicts
	}
	require.Equal(t, len(sink.raw), sum.Accepted, "each stored record accepted once")
	require.Equal(t, 4, sum.Accepted)
	require.Equal(t, 1, sum.Duplicates)
	require.Equal(t, 1, sum.Conflicts)
	require.Len(t, sink.conflicts, 1)
	require.NotEqual(t, sink.raw[prod("b")].SHA256, sink.conflicts[0].SHA256)
	require.Equal(t, sink.raw[prod("b")].SHA256, sink.conflicts[0].StoredSHA256)
}
