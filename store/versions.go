package store

import (
	"sync"
	"time"
)

// Versions hands out row versions for ReplacingMergeTree tables: the
// clock's time in milliseconds, but strictly increasing, so a row re-written
// within the same millisecond (or after the clock stepped back) still
// replaces the older copy. Safe for concurrent use.
type Versions struct {
	now  func() time.Time
	mu   sync.Mutex
	last uint64
}

// NewVersions returns versions read from now; tests pass a fixed or stepped
// clock instead of time.Now.
func NewVersions(now func() time.Time) *Versions { return &Versions{now: now} }

// Next returns a version greater than every version v returned before.
func (v *Versions) Next() uint64 {
	t := uint64(max(v.now().UnixMilli(), 0))
	v.mu.Lock()
	defer v.mu.Unlock()
	v.last = max(t, v.last+1)
	return v.last
}

// DefaultVersions is the process's row versions on the wall clock; Table.Write
// stamps rows with it. Versions from one process always increase, so a later
// write wins without waiting for the clock; across processes the wall clock
// orders them.
var DefaultVersions = NewVersions(time.Now)
