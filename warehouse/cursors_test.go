package warehouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/model"
)

// TestCursors: a collector's position survives a new store handle, the
// newest save wins, and collectors do not see each other's positions.
func TestCursors(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := w.Cursors()
			_, ok, err := c.Load(ctx, "okta/acme/logs")
			require.NoError(t, err)
			require.False(t, ok)
			const link = `https://acme.okta.com/api/v1/logs?after=1234&limit=1000&sortOrder=ASCENDING`
			require.NoError(t, c.Save(ctx, model.Cursor{Collector: "okta/acme/logs", Position: "first", UpdatedAt: time.Now().UTC()}))
			require.NoError(t, c.Save(ctx, model.Cursor{Collector: "okta/acme/logs", Position: link, UpdatedAt: time.Now().UTC()}))
			require.NoError(t, c.Save(ctx, model.Cursor{Collector: "entra/corp/signins/interactiveUser", Position: `{"head":"2025-03-03T00:00:00Z"}`, UpdatedAt: time.Now().UTC()}))
			pos, ok, err := New(w.S).Cursors().Load(ctx, "okta/acme/logs")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, link, pos)
			pos, ok, err = c.Load(ctx, "entra/corp/signins/interactiveUser")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, `{"head":"2025-03-03T00:00:00Z"}`, pos)
		})
	}
}

var _ collect.CursorStore = (*Cursors)(nil)

// TestCursorsGroupCommit: Saves from many collectors at once share inserts
// (fewer inserts than saves), each returns only after its cursor is
// stored, and every position loads back through a new handle.
func TestCursorsGroupCommit(t *testing.T) {
	ctx := context.Background()
	const n = 40
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := w.Cursors()
			require.Same(t, c, w.Cursors(), "one cursor store per warehouse")
			start := make(chan struct{})
			errs := make(chan error, n)
			for i := range n {
				go func() {
					<-start
					errs <- c.Save(ctx, model.Cursor{Collector: fmt.Sprintf("okta/c%02d/logs", i), Position: fmt.Sprintf("p%d", i), UpdatedAt: time.Now().UTC()})
				}()
			}
			close(start)
			for range n {
				require.NoError(t, <-errs)
			}
			st := c.Stats()
			require.EqualValues(t, n, st.Saves)
			require.Less(t, st.Inserts, st.Saves, "saves share inserts")
			fresh := New(w.S).Cursors()
			for i := range n {
				pos, ok, err := fresh.Load(ctx, fmt.Sprintf("okta/c%02d/logs", i))
				require.NoError(t, err)
				require.True(t, ok, i)
				require.Equal(t, fmt.Sprintf("p%d", i), pos)
			}
		})
	}
}

// TestCursorsQueued: the Saves that queue behind a running insert go out
// as one insert with the newest position of each collector; one of them
// giving up (its context cancelled) returns its error and leaves the
// others' insert be; when the store fails, every Save of that insert
// fails.
func TestCursorsQueued(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := New(w.S).Cursors()
			saves := queueSaves(t, c, []model.Cursor{
				{Collector: "okta/acme/logs", Position: "old"},
				{Collector: "entra/corp/signins", Position: "e1"},
				{Collector: "okta/acme/logs", Position: "new"},
				{Collector: "keycloak/kc/events", Position: "given-up"},
			})
			saves[3].cancel()
			require.ErrorIs(t, <-saves[3].err, context.Canceled)
			go c.write() // the running insert returns
			for _, s := range saves[:3] {
				require.NoError(t, <-s.err)
			}
			require.Equal(t, CursorStats{Saves: 4, Inserts: 1}, c.Stats())
			for collector, want := range map[string]string{"okta/acme/logs": "new", "entra/corp/signins": "e1"} {
				pos, ok, err := c.Load(ctx, collector)
				require.NoError(t, err)
				require.True(t, ok)
				require.Equal(t, want, pos, collector)
			}

			// A failing store: every Save of the insert fails.
			require.NoError(t, w.S.Exec(ctx, "DROP TABLE cursors"))
			saves = queueSaves(t, c, []model.Cursor{
				{Collector: "okta/acme/logs", Position: "x"},
				{Collector: "entra/corp/signins", Position: "y"},
				{Collector: "google/g/login", Position: "z"},
			})
			go c.write()
			for _, s := range saves {
				require.Error(t, <-s.err)
			}
			require.Error(t, c.Save(ctx, model.Cursor{Collector: "okta/acme/logs", Position: "later"}), "no insert runs now: a save writes at once")
		})
	}
}

// queuedSave is a Save started by queueSaves.
type queuedSave struct {
	err    chan error
	cancel context.CancelFunc
}

// queueSaves starts a Save of each cursor, in order, as if an insert were
// running: each waits in c's queue until the test calls c.write.
func queueSaves(t *testing.T, c *Cursors, cs []model.Cursor) []queuedSave {
	t.Helper()
	c.mu.Lock()
	require.False(t, c.writing)
	c.writing = true
	c.mu.Unlock()
	out := make([]queuedSave, len(cs))
	for i, cur := range cs {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		out[i] = queuedSave{err: make(chan error, 1), cancel: cancel}
		cur.UpdatedAt = time.Now().UTC()
		go func() { out[i].err <- c.Save(ctx, cur) }()
		require.Eventually(t, func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.queued != nil && len(c.queued.waiters) == i+1
		}, 5*time.Second, time.Millisecond)
	}
	return out
}
