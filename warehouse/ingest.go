package warehouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// Warehouse is keytrail's view of a store.
type Warehouse struct {
	S store.Store
	// Versions stamps the rows the warehouse writes to versioned tables
	// (nil: store.DefaultVersions, the wall clock). Tests inject a clock.
	Versions *store.Versions

	cursorsOnce sync.Once
	cursors     *Cursors // Cursors' store, shared by the process's collectors
}

// versions is w.Versions or the process default.
func (w *Warehouse) versions() *store.Versions {
	if w.Versions != nil {
		return w.Versions
	}
	return store.DefaultVersions
}

// NextVersion returns a row version greater than every one the warehouse
// stamped before (and below every one it stamps after).
func (w *Warehouse) NextVersion() uint64 { return w.versions().Next() }

// New wraps s.
func New(s store.Store) *Warehouse { return &Warehouse{S: s} }

var _ ingest.Sink = (*Warehouse)(nil)

// Conflicts is the conflicts table: records whose id was already stored with
// other bytes.
var Conflicts = store.NewTable("conflicts",
	store.String("source", func(c *model.Conflict) *model.Source { return &c.Source }),
	store.String("instance", func(c *model.Conflict) *string { return &c.Instance }),
	store.String("event_id", func(c *model.Conflict) *string { return &c.EventID }),
	store.Time("ts", func(c *model.Conflict) *time.Time { return &c.TS }),
	store.String("origin", func(c *model.Conflict) *string { return &c.Origin }),
	store.Time("received_at", func(c *model.Conflict) *time.Time { return &c.ReceivedAt }),
	store.Bytes("raw", func(c *model.Conflict) *[]byte { return &c.Raw }),
	store.String("sha256", func(c *model.Conflict) *string { return &c.SHA256 }),
	store.String("stored_sha256", func(c *model.Conflict) *string { return &c.StoredSHA256 }),
)

// knownQueryBytes bounds the ids one look-up binds where values are
// literals in the query text: their literals' bytes, well under the
// servers' max_query_size (256 KiB by default), the rest of the query
// included. Where they are query parameters (chDB) one look-up binds them
// all, which costs the engine one scan of the matching granules instead of
// one per chunk.
const knownQueryBytes = 192 << 10

// literalBytes is the length of id's quoted literal (store.QuoteString,
// the one escaping path) and a separator.
func literalBytes(id string) int { return len(store.QuoteString(id)) + 1 }

// scopeBytes is, at most, the query text of one source instance's
// condition beside its ids.
const scopeBytes = 256

// lookupChunks splits ids into the look-ups of dialect d.
func lookupChunks(d store.Dialect, ids []ingest.RecordID) [][]ingest.RecordID {
	if d.QueryParams || len(ids) == 0 {
		return [][]ingest.RecordID{ids}
	}
	var chunks [][]ingest.RecordID
	start, size := 0, 0
	scopes := map[ingest.RecordID]bool{}
	for i, id := range ids {
		n := literalBytes(id.EventID)
		scope := ingest.RecordID{Source: id.Source, Instance: id.Instance}
		if !scopes[scope] {
			n += scopeBytes + len(id.Source) + len(id.Instance)
		}
		if size+n > knownQueryBytes && i > start {
			chunks = append(chunks, ids[start:i])
			start, size = i, 0
			clear(scopes)
			n = literalBytes(id.EventID) + scopeBytes + len(id.Source) + len(id.Instance)
		}
		scopes[scope] = true
		size += n
	}
	return append(chunks, ids[start:])
}

// Known implements ingest.Sink: the SHA-256 of the copy raw_records keeps
// (the first written) for each of ids that is stored, in one look-up for
// any number of source instances.
func (w *Warehouse) Known(ctx context.Context, ids []ingest.RecordID) (map[ingest.RecordID]string, error) {
	out := map[ingest.RecordID]string{}
	err := w.keptCopies(ctx, ids, 0, func(id ingest.RecordID, sum string) { out[id] = sum })
	if err != nil {
		return nil, fmt.Errorf("known ids: %w", err)
	}
	return out, nil
}

// keptCopies calls fn with the digest of the copy of each stored id that
// raw_records keeps: the one with the highest version, before and after
// merges. With except > 0 it skips the ids whose kept copy has that version
// (the caller's own), so that a read-back after a write returns only the
// records another writer stored first: usually none. One query asks for
// the ids of every source instance (where values are literals, one per
// knownQueryBytes of them).
func (w *Warehouse) keptCopies(ctx context.Context, ids []ingest.RecordID, except uint64, fn func(id ingest.RecordID, sum string)) error {
	for _, chunk := range lookupChunks(w.S.Dialect(), ids) {
		if len(chunk) == 0 {
			continue
		}
		query, args := keptCopiesQuery(chunk, except)
		rows, err := w.S.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id ingest.RecordID
			var src, sum string
			if err := rows.Scan(&src, &id.Instance, &id.EventID, &sum); err != nil {
				rows.Close()
				return err
			}
			id.Source = model.Source(src)
			fn(id, sum)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// keptCopiesQuery is the look-up of ids' kept copies: one condition per
// source instance, on the table's sort key (source, instance, event_id).
func keptCopiesQuery(ids []ingest.RecordID, except uint64) (string, []any) {
	type scope struct {
		source   model.Source
		instance string
	}
	var order []scope
	byScope := map[scope][]string{}
	for _, id := range ids {
		k := scope{id.Source, id.Instance}
		if _, ok := byScope[k]; !ok {
			order = append(order, k)
		}
		byScope[k] = append(byScope[k], id.EventID)
	}
	var q strings.Builder
	q.WriteString("SELECT source, instance, event_id, argMax(sha256, version) FROM raw_records WHERE ")
	args := make([]any, 0, 3*len(order)+1)
	for i, k := range order {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("(source = ? AND instance = ? AND event_id IN (SELECT arrayJoin(?)))")
		args = append(args, string(k.source), k.instance, byScope[k])
	}
	q.WriteString(" GROUP BY source, instance, event_id HAVING max(version) != ?")
	return q.String(), append(args, except)
}

// rawWrites orders the raw-record writes of this process (see Write).
var rawWrites sync.Mutex

// firstCopyVersion is the version of raw_records rows written now.
// ReplacingMergeTree keeps the row with the highest version, and of a raw
// record the copy to keep is the first one written (the original; a later
// writer that raced past Known is the duplicate), so versions fall as time
// passes: 2^43 ms (year 2248) minus the write time, shifted left 20 bits,
// with 20 random bits so that two writers never share a version.
func firstCopyVersion(now time.Time) uint64 {
	return (uint64(1)<<43-uint64(now.UnixMilli()))<<20 | rand.Uint64N(1<<20)
}

// Write implements ingest.Sink. Rows that reference others are written
// first (authenticators before sign-ins), raw records last: an id present in
// raw_records means the whole record was stored, so Known never hides a
// record whose events were lost. Every table is written by month partition
// (see byMonth), so a batch spanning any number of months is stored.
// Afterwards it reads back which copy raw_records keeps of each record:
// those another writer stored first are returned as preempted.
func (w *Warehouse) Write(ctx context.Context, b *ingest.Batch) (map[ingest.RecordID]string, error) {
	if err := writeByMonth(ctx, w, store.Authenticators, b.Authenticators); err != nil {
		return nil, err
	}
	if err := writeByMonth(ctx, w, store.AuthEvents, b.Auth); err != nil {
		return nil, err
	}
	if err := writeByMonth(ctx, w, store.AirflowEvents, b.Airflow); err != nil {
		return nil, err
	}
	if err := writeByMonth(ctx, w, store.DagRuns, b.Runs); err != nil {
		return nil, err
	}
	if err := writeByMonth(ctx, w, store.DeadLetters, b.DeadLetters); err != nil {
		return nil, err
	}
	if err := writeByMonth(ctx, w, Conflicts, b.Conflicts); err != nil {
		return nil, err
	}
	if len(b.Raw) == 0 {
		return nil, nil
	}
	// One raw-record write and its read-back at a time in this process:
	// a writer that took its (lower) version later could otherwise store
	// and read back before an earlier one stored, and both would count
	// the record accepted. Writers in other processes still race in the
	// rare case that both write within the same read-back window.
	rawWrites.Lock()
	defer rawWrites.Unlock()
	version := firstCopyVersion(time.Now())
	for _, part := range byMonth(b.Raw) {
		if err := store.RawRecords.WriteVersion(ctx, w.S, part, version); err != nil {
			return nil, err
		}
	}
	ids := make([]ingest.RecordID, len(b.Raw))
	for i, r := range b.Raw {
		ids[i] = ingest.RecordID{Source: r.Source, Instance: r.Instance, EventID: r.EventID}
	}
	preempted := map[ingest.RecordID]string{}
	err := w.keptCopies(ctx, ids, version, func(id ingest.RecordID, sum string) { preempted[id] = sum })
	if err != nil {
		return nil, fmt.Errorf("read back stored records: %w", err)
	}
	return preempted, nil
}

// TimeRange implements ingest.Sink: the range of the store's dialect.
func (w *Warehouse) TimeRange() ingest.TimeRange {
	d := w.S.Dialect()
	first, last := d.TimeRange()
	why := "DateTime64(3, 'UTC') on this store"
	if !d.DateTime64 {
		why = fmt.Sprintf("Int64 milliseconds partitioned by month through DateTime on this ClickHouse %d.%d", d.Major, d.Minor)
	}
	return ingest.TimeRange{First: first, Last: last, Why: why}
}
