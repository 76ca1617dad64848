package warehouse

import (
	"context"
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
