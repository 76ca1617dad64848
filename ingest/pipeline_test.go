package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// toyNormalizer accepts {"id":…, "ts":…} objects.
type toyNormalizer struct{}

func (toyNormalizer) Source() model.Source  { return model.SourceOkta }
func (toyNormalizer) Envelopes() [][]string { return [][]string{{"data", "events"}} }
func (toyNormalizer) Normalize(raw []byte, instance string) (Output, error) {
	var v struct {
		ID string    `json:"id"`
		TS time.Time `json:"ts"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return Output{}, err
	}
	if v.ID == "" || v.TS.IsZero() {
		return Output{}, errors.New("missing id or ts")
	}
	return Output{
		Raw:  model.RawRecord{Source: model.SourceOkta, Instance: instance, EventID: v.ID, TS: v.TS, Raw: raw, SHA256: model.SHA256Hex(raw)},
		Auth: []model.AuthEvent{{Source: model.SourceOkta, Instance: instance, EventID: v.ID, TS: v.TS}},
	}, nil
}

// memSink is an in-memory Sink for the pipeline's own logic.
type memSink struct {
	raw  map[string]model.RawRecord
	dead []model.DeadLetter
	fail error
}

func (m *memSink) Known(_ context.Context, _ model.Source, _ string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		if _, ok := m.raw[id]; ok {
			out[id] = true
		}
	}
	return out, nil
}

func (m *memSink) Write(_ context.Context, b *Batch) error {
	if m.fail != nil {
		return m.fail
	}
	for _, r := range b.Raw {
		m.raw[r.EventID] = r
	}
	m.dead = append(m.dead, b.DeadLetters...)
	return nil
}

func TestIngestCountsAndDeadLetters(t *testing.T) {
	sink := &memSink{raw: map[string]model.RawRecord{}}
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
	require.Equal(t, Result{File: "f.ndjson", Records: 6, Accepted: 2, Duplicates: 1, DeadLetters: 3}, res)
	require.Len(t, sink.dead, 3)
	require.Equal(t, "not json at all", string(sink.dead[0].Raw))
	require.Equal(t, model.SHA256Hex([]byte("not json at all")), sink.dead[0].SHA256)
	require.Contains(t, sink.dead[1].Error, "missing id")
	require.Contains(t, sink.dead[0].Origin, "f.ndjson#byte=")

	// Re-ingesting adds nothing.
	res, err = in.Ingest(context.Background(), "f.ndjson", []byte(input))
	require.NoError(t, err)
	require.Equal(t, 0, res.Accepted)
	require.Equal(t, 3, res.Duplicates)
	require.Len(t, sink.raw, 2)
}

func TestIngestStoreFailureIsAnError(t *testing.T) {
	sink := &memSink{raw: map[string]model.RawRecord{}, fail: fmt.Errorf("disk full")}
	in := &Ingester{Normalizer: toyNormalizer{}, Instance: "prod", Sink: sink}
	_, err := in.Ingest(context.Background(), "f", []byte(`{"id":"a","ts":"2026-01-01T00:00:00Z"}`))
	require.ErrorIs(t, err, ErrStore)
}
