package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// CurrentPolicyCursor is the cursors row naming the policy version whose
// verdicts are current. Correlations under older versions stay queryable;
// reports and exports read the current one unless told otherwise.
const CurrentPolicyCursor = "correlate/policy_version"

// CurrentPolicy returns the policy version of the latest correlation run, or
// "" when nothing has been correlated yet.
func (w *Warehouse) CurrentPolicy(ctx context.Context) (string, error) {
	cs, err := store.Cursors.All(ctx, w.S, "WHERE collector = ?", CurrentPolicyCursor)
	if err != nil {
		return "", fmt.Errorf("current policy: %w", err)
	}
	if len(cs) == 0 {
		return "", nil
	}
	return cs[0].Position, nil
}

// SetCurrentPolicy records version as the current policy version.
func (w *Warehouse) SetCurrentPolicy(ctx context.Context, version string, now time.Time) error {
	return store.Cursors.Write(ctx, w.S, []model.Cursor{{Collector: CurrentPolicyCursor, Position: version, UpdatedAt: now.UTC()}})
}
