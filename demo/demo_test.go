package demo

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

func generate(tb testing.TB, cfg Config) (*Org, Manifest, string) {
	tb.Helper()
	o, err := Generate(cfg)
	require.NoError(tb, err)
	dir := tb.TempDir()
	m, err := o.WriteFiles(dir, nil)
	require.NoError(tb, err)
	return o, m, dir
}

func hashes(tb testing.TB, dir string) map[string][32]byte {
	tb.Helper()
	out := map[string][32]byte{}
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(tb, err)
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	small := Config{People: 12, Days: 3, Seed: 42}
	_, _, a := generate(t, small)
	_, _, b := generate(t, small)
	require.Equal(t, hashes(t, a), hashes(t, b), "same seed must give byte-identical files")

	other := small
	other.Seed = 43
	_, _, c := generate(t, other)
	ha, hc := hashes(t, a), hashes(t, c)
	require.Equal(t, len(ha), len(hc))
	for name := range ha {
		require.NotEqual(t, ha[name], hc[name], "%s: a different seed must give different content", name)
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	err := Config{People: 3, Days: -1, Instances: []Instance{{Name: "x", Version: "9"}}}.Validate()
	require.Error(t, err)
	require.Contains(t, err.Error(), "people 3")
	require.Contains(t, err.Error(), "days -1")
	require.Contains(t, err.Error(), `version "9"`)
	_, err = Generate(Config{People: 1})
	require.Error(t, err)
}

// records splits a file the way ingest does: one JSON document, or lines;
// arrays and page envelopes hold records. Unparseable lines come back as nil.
func records(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	require.NoError(tb, err)
	var out [][]byte
	var value func(v []byte)
	value = func(v []byte) {
		v = bytes.TrimSpace(v)
		switch v[0] {
		case '[':
			var arr []json.RawMessage
			require.NoError(tb, json.Unmarshal(v, &arr))
			for _, e := range arr {
				out = append(out, e)
			}
		case '{':
			var m map[string]json.RawMessage
			require.NoError(tb, json.Unmarshal(v, &m))
			for _, k := range []string{"value", "items", "event_logs", "dag_runs"} {
				if arr, ok := m[k]; ok {
					value(arr)
					return
				}
			}
			if d, ok := m["data"]; ok {
				var inner map[string]json.RawMessage
				require.NoError(tb, json.Unmarshal(d, &inner))
				value(inner["events"])
				return
			}
			out = append(out, v)
		}
	}
	if json.Valid(data) {
		value(data)
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			out = append(out, nil)
			continue
		}
		value(append([]byte(nil), line...))
	}
	require.NoError(tb, sc.Err())
	return out
}

// hasIDAndTime reports whether rec carries its provider's id and time fields.
func hasIDAndTime(src model.Source, rec []byte) bool {
	var m map[string]any
	if json.Unmarshal(rec, &m) != nil {
		return false
	}
	str := func(v any) bool { s, ok := v.(string); return ok && s != "" }
	switch src {
	case model.SourceOkta:
		return str(m["uuid"]) && str(m["published"])
	case model.SourceEntra:
		return str(m["id"]) && (str(m["createdDateTime"]) || str(m["activityDateTime"]))
	case model.SourceGoogle:
		id, _ := m["id"].(map[string]any)
		return id != nil && str(id["time"]) && str(id["uniqueQualifier"])
	case model.SourceKeycloak:
		_, ok := m["time"].(float64)
		return ok && str(m["id"])
	case model.SourceAirflow:
		if _, ok := m["event"]; ok {
			_, id := m["event_log_id"].(float64)
			return id && str(m["when"])
		}
		return str(m["dag_id"]) && str(m["dag_run_id"]) && (str(m["queued_at"]) || str(m["start_date"]) || str(m["logical_date"]))
	}
	return false
}

func TestRecordsValid(t *testing.T) {
	_, m, dir := generate(t, Config{People: 30, Days: 4, Seed: 5})
	require.NotEmpty(t, m.Files)
	total := 0
	for _, f := range m.Files {
		recs := records(t, filepath.Join(dir, f.Path))
		require.Len(t, recs, f.Records, f.Path)
		bad := 0
		for _, r := range recs {
			if r == nil || !hasIDAndTime(f.Source, r) {
				bad++
			}
		}
		require.Equal(t, f.Malformed, bad, "%s: malformed records", f.Path)
		total += f.Malformed
	}
	require.Positive(t, total)
	require.Equal(t, total, m.Expected.DeadLetters)
	require.Len(t, m.Expected.Gaps, 1)
}

func TestIntentCoversActions(t *testing.T) {
	o, m, dir := generate(t, Config{People: 20, Days: 4, Seed: 9})
	intents := map[string]Intent{}
	f, err := os.Open(filepath.Join(dir, m.Intent))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var it Intent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &it))
		_, dup := intents[it.ActionID]
		require.False(t, dup, "duplicate action id %s", it.ActionID)
		intents[it.ActionID] = it
	}
	require.Len(t, intents, m.Expected.AuditActions+m.Expected.Runs)

	taskStates := map[string]bool{"stuck in queued reschedule": true} // 3.1's name for tsStuck
	for _, s := range taskStateNames {
		taskStates[s] = true
	}
	humans, runs := 0, 0
	for _, fi := range m.Files {
		if fi.Source != model.SourceAirflow {
			continue
		}
		for _, rec := range records(t, filepath.Join(dir, fi.Path)) {
			if rec == nil || !hasIDAndTime(fi.Source, rec) {
				continue
			}
			var r struct {
				ID    *int64  `json:"event_log_id"`
				Event *string `json:"event"`
				DagID string  `json:"dag_id"`
				RunID string  `json:"dag_run_id"`
				Type  string  `json:"run_type"`
			}
			require.NoError(t, json.Unmarshal(rec, &r))
			if r.Event == nil {
				runs++
				it, ok := intents[fi.Instance+":"+r.DagID+":"+r.RunID]
				require.True(t, ok, "run %s has no intent", r.RunID)
				require.Equal(t, r.Type, it.RunType)
				if it.Verdict == model.VerdictInherited {
					require.NotEqual(t, model.RunManual, it.RunType, "a manual run is its trigger's act, never inherited")
					require.Contains(t, intents, it.InheritedFrom)
					require.Equal(t, intents[it.InheritedFrom].Verdict, it.InheritedVerdict)
				}
				if it.TriggerActionID != "" {
					require.Equal(t, model.RunManual, it.RunType)
					require.Contains(t, intents, it.TriggerActionID)
					require.Equal(t, intents[it.TriggerActionID].Verdict, it.Verdict, "a manual run carries its trigger's verdict")
				}
				continue
			}
			if taskStates[*r.Event] {
				continue
			}
			humans++
			id := fi.Instance + ":" + jsonInt(*r.ID)
			it, ok := intents[id]
			require.True(t, ok, "human action %s (%s) has no intent", id, *r.Event)
			require.Equal(t, *r.Event, it.Event)
		}
	}
	require.Equal(t, m.Expected.AuditActions, humans)
	require.Equal(t, m.Expected.Runs, runs)
	require.Equal(t, len(o.Intents()), len(intents))
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestEveryVerdictAtSmallSize(t *testing.T) {
	for _, seed := range []uint64{0, 1, 2, 3} {
		o, err := Generate(Config{People: 12, Days: 3, Seed: seed})
		require.NoError(t, err)
		v := o.Verdicts()
		for _, want := range model.Verdicts {
			require.Positive(t, v[want], "seed %d: no %s action (%v)", seed, want, v)
		}
		skew := 0
		o.EachIntent(func(it *Intent) {
			if it.Scenario == "clock_skew" {
				skew++
				require.Equal(t, model.VerdictVerified, it.Verdict)
				require.Negative(t, *it.AssertionOffsetMS)
				require.GreaterOrEqual(t, *it.AssertionOffsetMS, -ClockSkew.Milliseconds())
			}
		})
		require.Positive(t, skew, "seed %d: no clock-skew case", seed)
	}
}

func TestDefaultSize(t *testing.T) {
	if testing.Short() {
		t.Skip("default size takes a few seconds")
	}
	_, m, _ := generate(t, Config{})
	total := 0
	for _, n := range m.Expected.Records {
		total += n
	}
	require.InDelta(t, 1_000_000, total, 250_000, "records at defaults: %v", m.Expected.Records)
	for _, src := range []model.Source{model.SourceOkta, model.SourceEntra, model.SourceGoogle, model.SourceKeycloak, model.SourceAirflow} {
		require.Positive(t, m.Expected.Records[src], src)
	}
	require.Positive(t, m.Expected.Duplicates)
}

func BenchmarkGenerate(b *testing.B) {
	var records int
	for b.Loop() {
		o, err := Generate(Config{})
		require.NoError(b, err)
		m, err := o.WriteFiles(b.TempDir(), nil)
		require.NoError(b, err)
		records = 0
		for _, n := range m.Expected.Records {
			records += n
		}
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func TestProgress(t *testing.T) {
	o, err := Generate(Config{People: 12, Days: 3})
	require.NoError(t, err)
	var last, total int
	_, err = o.WriteFiles(t.TempDir(), func(d, n int) { last, total = d, n })
	require.NoError(t, err)
	require.Positive(t, total)
	require.Equal(t, total, last)
}
