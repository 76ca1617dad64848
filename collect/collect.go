package collect

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/model"
)

// Stream is one feed of a provider, read page by page from a cursor: an
// audit log, a sign-in log, an authenticator inventory.
type Stream interface {
	// Name identifies the stream within its collector ("logs",
	// "signins/nonInteractiveUser", "factors"); it names the stream's
	// cursor.
	Name() string
	// Next reads the page at cursor ("" for a stream never read before)
	// and returns it. Next must be repeatable: after a failed publish the
	// Runner calls it again with the same cursor, and must get the same
	// records or a superset (duplicates are harmless, gaps are not).
	Next(ctx context.Context, cursor string) (Page, error)
}

// Page is what one Next read.
type Page struct {
	// Records are the provider's records in the order the provider listed
	// them, one provider record each, bytes as received.
	Records []bus.Record
	// Cursor is the position after Records. The Runner saves it once
	// Records are published.
	Cursor string
	// More is true when another page can be read right away; false when the
	// stream has caught up and the Runner waits its poll interval.
	More bool
	// Position is the provider time the stream is complete up to (zero:
	// unknown); the Runner reports lag as now − Position.
	Position time.Time
	// Complete is the provider time up to which the stream has read every
	// record the provider will ever list (zero: no news). It is not
	// Position: a stream that reads its time again for records listed late
	// (a lag window) is complete only up to where it last did, and one that
	// pages in the provider's listing order (Okta's published order with
	// records listed late, Airflow's event_log_id) only once it has caught
	// up.
	Complete time.Time
	// NotBefore, when set, is the earliest time the Runner calls Next
	// again: a stream that read part of a page before the provider's rate
	// limit stopped it returns what it read with the limit's reset here.
	NotBefore time.Time
}

// Collector is one source instance and its streams.
type Collector struct {
	Source   model.Source
	Instance string
	Streams  []Stream
	// Poll paces the streams and retries their failures.
	Poll PollConfig
}

// Name is the collector's name: "source/instance".
func (c *Collector) Name() string { return string(c.Source) + "/" + c.Instance }

// CursorName is the name a stream's cursor is saved under:
// "source/instance/stream".
func CursorName(src model.Source, instance, stream string) string {
	return string(src) + "/" + instance + "/" + stream
}

// CursorStore keeps collectors' positions durably. The warehouse implements
// it over the cursors table.
type CursorStore interface {
	// Load returns the position saved under name, and false when none is.
	Load(ctx context.Context, name string) (position string, ok bool, err error)
	// Save stores c and returns only once it is durable. A later Save of
	// the same name replaces it.
	Save(ctx context.Context, c model.Cursor) error
}

// MemCursors is a CursorStore in memory, for tests and one-shot runs. The
// zero value is ready to use; it is safe for concurrent use.
type MemCursors struct {
	mu sync.Mutex
	m  map[string]model.Cursor
}

// Load implements CursorStore.
func (m *MemCursors) Load(_ context.Context, name string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[name]
	return c.Position, ok, nil
}

// Save implements CursorStore.
func (m *MemCursors) Save(_ context.Context, c model.Cursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]model.Cursor{}
	}
	m.m[c.Collector] = c
	return nil
}

// All returns every saved cursor by name.
func (m *MemCursors) All() map[string]model.Cursor {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]model.Cursor, len(m.m))
	for k, v := range m.m {
		out[k] = v
	}
	return out
}

// Options are the runtime dependencies collectors and runners share.
type Options struct {
	// Client sends the providers' requests; default a client of its own
	// (per-request timeouts come from PollConfig.Timeout).
	Client *http.Client
	// Clock tells time for cursors, windows, waits and token expiry;
	// default the real clock.
	Clock clockwork.Clock
	// Logger receives one line per change of a stream's state (failing,
	// recovered); default slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns o with its zero fields set.
func (o Options) WithDefaults() Options {
	if o.Client == nil {
		o.Client = &http.Client{Transport: http.DefaultTransport}
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Status is what a stream is doing, for `keytrail status`.
type Status struct {
	Collector string `json:"collector"` // source/instance
	Stream    string `json:"stream"`
	// Cursor is the saved position (opaque; secrets never appear in it).
	Cursor string `json:"cursor"`
	// Position is the provider time the stream is complete up to.
	Position time.Time `json:"position,omitzero"`
	// Lag is how far Position was behind now at the last page.
	Lag time.Duration `json:"lag"`
	// Complete is the provider time up to which every record the provider
	// will list has been published (see Page.Complete).
	Complete time.Time `json:"complete,omitzero"`
	// State is "starting", "reading", "caught_up", "backoff",
	// "rate_limited" or "stopped".
	State string `json:"state"`
	// LastSuccess is when the last page was published and its cursor saved.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError is the last failure and when it happened; cleared by the
	// next success.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Pages and Published count pages read and records published since
	// the runner started; Duplicates counts records skipped because this
	// runner had published the same bytes already (documented overlaps:
	// re-read lag windows, a record repeated on two pages).
	Pages      int64 `json:"pages"`
	Published  int64 `json:"published"`
	Duplicates int64 `json:"duplicates"`
}
