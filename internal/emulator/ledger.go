package emulator

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/ingest/entra"
	"github.com/keytrail/keytrail/ingest/google"
	"github.com/keytrail/keytrail/ingest/keycloak"
	"github.com/keytrail/keytrail/ingest/okta"
	"github.com/keytrail/keytrail/model"
)

// Ledger records every record an emulator served: which, how often, and
// what went wrong on purpose. A record is in the ledger once a response
// holding it was written in full; a response the client gave up on (a slow
// answer past its timeout) is not. It is safe for concurrent use.
type Ledger struct {
	data *Data

	mu        sync.Mutex
	served    map[*feed][]int32
	snapshots map[string]int
	stats     Stats
}

// Stats counts an emulator's requests and faults.
type Stats struct {
	Requests    int64 // API requests, token requests included
	RateLimited int64 // answered 429
	Early       int64 // made after a 429 and before its reset (not at the very time of the 429)
	Errors      int64 // answered 5xx on purpose
	Abandoned   int64 // slow answers the client gave up on
	Poison      int64 // poisoned records served
	Empty       int64 // pages answered empty on purpose
	Duplicated  int64 // records repeated from the page before
	Snapshots   int64 // authenticator inventories served
}

func newLedger(d *Data) *Ledger {
	return &Ledger{data: d, served: map[*feed][]int32{}, snapshots: map[string]int{}}
}

func (l *Ledger) count(fn func(*Ledger)) {
	l.mu.Lock()
	fn(l)
	l.mu.Unlock()
}

// add records items of f as served once more.
func (l *Ledger) add(f *feed, items []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.served[f]
	if s == nil {
		s = make([]int32, len(f.Items))
		l.served[f] = s
	}
	for _, i := range items {
		s[i]++
	}
}

// snapshot records one inventory served for the person of src.
func (l *Ledger) snapshot(src model.Source, subject string) {
	l.mu.Lock()
	l.snapshots[string(src)+"/"+subject]++
	l.stats.Snapshots++
	l.mu.Unlock()
}

// Stats returns the counters.
func (l *Ledger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Snapshots returns how many inventories were served per "source/subject".
func (l *Ledger) Snapshots() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.snapshots))
	for k, v := range l.snapshots {
		out[k] = v
	}
	return out
}

// Served is one record served, and how many times.
type Served struct {
	Feed  *demo.Feed
	Item  int
	Times int
}

// Served returns every record served, by feed and item.
func (l *Ledger) Served() []Served {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Served
	for f, s := range l.served {
		for i, n := range s {
			if n > 0 {
				out = append(out, Served{Feed: f.Feed, Item: i, Times: int(n)})
			}
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Feed != out[b].Feed {
			return string(out[a].Feed.Stream)+out[a].Feed.Instance < string(out[b].Feed.Stream)+out[b].Feed.Instance
		}
		return out[a].Item < out[b].Item
	})
	return out
}

// Normalizers returns the normalizer of every source the emulators serve.
func Normalizers() map[model.Source]ingest.Normalizer {
	return map[model.Source]ingest.Normalizer{
		model.SourceOkta: okta.New(), model.SourceEntra: entra.New(), model.SourceGoogle: google.New(),
		model.SourceKeycloak: keycloak.New(), model.SourceAirflow: airflow.New(),
	}
}

// EventID returns the key keytrail stores a record under,
// "source/instance/event_id", as the source's normalizer derives the id.
func EventID(norms map[model.Source]ingest.Normalizer, src model.Source, instance string, raw []byte) (string, error) {
	n := norms[src]
	if n == nil {
		return "", fmt.Errorf("no normalizer for %s", src)
	}
	out, err := n.Normalize(raw, instance)
	if err != nil {
		return "", err
	}
	return string(src) + "/" + instance + "/" + out.Raw.EventID, nil
}

// EventIDs returns every record served, keyed as EventID keys it, with how
// many times it was served. Records are rendered and normalized again:
// rendering is deterministic, so these are the ids of the bytes served.
func (l *Ledger) EventIDs() (map[string]int, error) {
	norms := Normalizers()
	out := map[string]int{}
	var b []byte
	for _, s := range l.Served() {
		b = s.Feed.Append(b[:0], s.Item)
		id, err := EventID(norms, s.Feed.Source, s.Feed.Instance, b)
		if err != nil {
			return nil, fmt.Errorf("%s %s item %d: %w", s.Feed.Stream, s.Feed.Instance, s.Item, err)
		}
		out[id] += s.Times
	}
	return out, nil
}

// Expected returns the ids of every item of feeds listed by at whose own
// time is from or later (keyed as EventID keys them): what a collector that
// started at from and kept up must have published by at.
func (d *Data) Expected(feeds []*demo.Feed, from, at time.Time) (map[string]bool, error) {
	return ids(feeds, func(f *demo.Feed, i int) bool { return d.Listed(f, i, at) && f.Items[i].TS >= from.UnixMilli() })
}

// Due returns the event ids of every record of feeds whose own time lies
// in [from, to), listed yet or not: what a stream complete up to to must
// have published.
func (d *Data) Due(feeds []*demo.Feed, from, to time.Time) (map[string]bool, error) {
	return ids(feeds, func(f *demo.Feed, i int) bool {
		return f.Items[i].TS >= from.UnixMilli() && f.Items[i].TS < to.UnixMilli()
	})
}

// ids returns the event ids of the records of feeds that keep keeps.
func ids(feeds []*demo.Feed, keep func(f *demo.Feed, i int) bool) (map[string]bool, error) {
	norms := Normalizers()
	out := map[string]bool{}
	var b []byte
	for _, f := range feeds {
		for i := range f.Items {
			if !keep(f, i) {
				continue
			}
			b = f.Append(b[:0], i)
			id, err := EventID(norms, f.Source, f.Instance, b)
			if err != nil {
				return nil, fmt.Errorf("expected %s/%s item %d: %w", f.Source, f.Instance, i, err)
			}
			out[id] = true
		}
	}
	return out, nil
}
