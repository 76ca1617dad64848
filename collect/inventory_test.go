package collect_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// people is an InventoryLister over numbered users, two per page, whose
// reads fail as told.
type people struct {
	n     int
	fail  map[string]error
	reads []string
}

func (p *people) Users(_ context.Context, page string) ([]string, string, error) {
	start := 0
	if page != "" {
		json.Unmarshal([]byte(page), &start)
	}
	var out []string
	for i := start; i < min(start+2, p.n); i++ {
		out = append(out, "u"+string(rune('0'+i)))
	}
	next := ""
	if start+2 < p.n {
		b, _ := json.Marshal(start + 2)
		next = string(b)
	}
	return out, next, nil
}

func (p *people) Inventory(_ context.Context, s string) ([]byte, string, error) {
	p.reads = append(p.reads, s)
	if err := p.fail[s]; err != nil {
		delete(p.fail, s)
		return nil, "", err
	}
	return []byte(`[{"id":"f-` + s + `"}]`), "https://x/users/" + s + "/factors", nil
}

func TestInventoryStream(t *testing.T) {
	start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(start)
	reset := start.Add(time.Minute)
	l := &people{n: 5, fail: map[string]error{
		"u1": errors.New("boom"),                                                     // after u0: u0 is published, the page ends
		"u2": &collect.HTTPError{Status: http.StatusNotFound},                        // gone: skipped
		"u4": &collect.HTTPError{Status: 429, RetryAt: reset},                        // first of its page: the error
		"u3": &collect.HTTPError{Status: http.StatusTooManyRequests, RetryAt: reset}, // after u2: page ends, waits
	}}
	s := collect.NewInventoryStream(model.SourceOkta, "acme", "factors", l, collect.InventoryConfig{Interval: 24 * time.Hour, Batch: 2}, clock)
	require.Equal(t, "factors", s.Name())
	var got []string
	cursor := ""
	for range 20 {
		p, err := s.Next(context.Background(), cursor)
		if err != nil {
			continue // retried with the same cursor
		}
		for _, r := range p.Records {
			snap, err := ingest.ParseSnapshot(r.Raw)
			require.NoError(t, err)
			require.Equal(t, r.Key, snap.Subject)
			require.Equal(t, "factors", snap.Kind)
			require.JSONEq(t, `[{"id":"f-`+snap.Subject+`"}]`, string(snap.Response))
			got = append(got, snap.Subject)
		}
		if !p.NotBefore.IsZero() {
			require.Equal(t, reset, p.NotBefore)
		}
		cursor = p.Cursor
		if !p.More {
			require.Equal(t, clock.Now(), p.Complete, "after the first round the inventory holds back nothing")
			break
		}
		require.True(t, p.Complete.IsZero(), "until its first round is done, the inventory is complete up to nothing")
	}
	require.Equal(t, []string{"u0", "u1", "u3", "u4"}, got, "every user once, the one that vanished skipped")
	// the next round waits for the interval
	p, err := s.Next(context.Background(), cursor)
	require.NoError(t, err)
	require.Empty(t, p.Records)
	require.False(t, p.More)
	require.Equal(t, start, p.Position)
	require.Equal(t, clock.Now(), p.Complete)
	clock.Advance(24 * time.Hour)
	p, err = s.Next(context.Background(), cursor)
	require.NoError(t, err)
	require.Len(t, p.Records, 2)
}
