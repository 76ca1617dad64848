package store

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestVersions(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		clock []time.Time // successive readings
		want  []uint64
	}{
		{"clock moves", []time.Time{base, base.Add(time.Second)}, []uint64{uint64(base.UnixMilli()), uint64(base.UnixMilli()) + 1000}},
		{"same millisecond", []time.Time{base, base, base.Add(time.Microsecond)}, []uint64{uint64(base.UnixMilli()), uint64(base.UnixMilli()) + 1, uint64(base.UnixMilli()) + 2}},
		{"clock steps back", []time.Time{base, base.Add(-time.Hour)}, []uint64{uint64(base.UnixMilli()), uint64(base.UnixMilli()) + 1}},
		{"before the epoch", []time.Time{time.Unix(-5, 0), time.Unix(-5, 0)}, []uint64{1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i := 0
			v := NewVersions(func() time.Time { i++; return c.clock[i-1] })
			for _, w := range c.want {
				require.Equal(t, w, v.Next())
			}
		})
	}
}

func TestVersionsConcurrent(t *testing.T) {
	v := NewVersions(func() time.Time { return time.Unix(1, 0) })
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				n := v.Next()
				mu.Lock()
				seen[n] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, 8000, "every version is handed out once")
}
