package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/correlate"
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
	return store.Cursors.WriteVersion(ctx, w.S, []model.Cursor{{Collector: CurrentPolicyCursor, Position: version, UpdatedAt: now.UTC()}}, w.versions().Next())
}

// RecordPolicy stores p's canonical text (correlate.Policy.CanonicalYAML)
// beside its version in the policies table, so that every verdict stamped
// with the version can be traced to the rule that produced it. Correlate and
// NewLive call it before they write a verdict; re-recording is idempotent.
func (w *Warehouse) RecordPolicy(ctx context.Context, p correlate.Policy, now time.Time) error {
	rec := store.PolicyRecord{PolicyVersion: p.Version(), PolicyText: string(p.CanonicalYAML()), RecordedAt: model.Millis(now)}
	if err := store.Policies.WriteVersion(ctx, w.S, []store.PolicyRecord{rec}, w.versions().Next()); err != nil {
		return fmt.Errorf("record policy %s: %w", rec.PolicyVersion, err)
	}
	return nil
}

// PolicyText returns the canonical text recorded for a policy version, and
// false when none is (the version was correlated before keytrail recorded
// policy texts, or never).
func (w *Warehouse) PolicyText(ctx context.Context, version string) (string, bool, error) {
	recs, err := store.Policies.All(ctx, w.S, "WHERE policy_version = ?", version)
	if err != nil {
		return "", false, fmt.Errorf("policy text %s: %w", version, err)
	}
	if len(recs) == 0 {
		return "", false, nil
	}
	return recs[0].PolicyText, true, nil
}
