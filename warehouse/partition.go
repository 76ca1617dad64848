package warehouse

import (
	"context"
	"sort"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// maxMonthsPerInsert bounds the month partitions one insert touches.
// ClickHouse refuses an insert block that spans more partitions than
// max_partitions_per_insert_block (default 100: "Too many partitions for
// single INSERT block"), so writes spanning more months are split by month.
const maxMonthsPerInsert = 100

// partitionTime returns the time whose month partitions v's table (the
// {{month …}} column of its migration), or the zero time for a table that is
// not partitioned.
func partitionTime(v any) time.Time {
	switch x := v.(type) {
	case *model.RawRecord:
		return x.TS
	case *model.AuthEvent:
		return x.TS
	case *model.Authenticator:
		return x.TS
	case *model.AirflowEvent:
		return x.TS
	case *model.DagRun:
		return x.TS
	case *model.Conflict:
		return x.TS
	case *model.DeadLetter:
		return x.ReceivedAt
	case *model.Correlation:
		return x.ActionTS
	case *model.Alert:
		return x.ActionTS
	}
	return time.Time{}
}

// month is the partition of t: YYYYMM in UTC.
func month(t time.Time) int {
	t = t.UTC()
	return t.Year()*100 + int(t.Month())
}

// byMonth splits vs into parts that each span at most maxMonthsPerInsert
// months of their partition time. A slice that fits is returned whole and
// unchanged; otherwise parts hold whole months in month order, each month's
// values in their original order.
func byMonth[T any](vs []T) [][]T {
	if len(vs) <= maxMonthsPerInsert {
		return [][]T{vs}
	}
	months := make([]int, len(vs))
	distinct := map[int]int{}
	for i := range vs {
		months[i] = month(partitionTime(&vs[i]))
		distinct[months[i]]++
	}
	if len(distinct) <= maxMonthsPerInsert {
		return [][]T{vs}
	}
	order := make([]int, len(vs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return months[order[a]] < months[order[b]] })
	var parts [][]T
	var part []T
	n := 0
	for k, i := range order {
		if k > 0 && months[i] != months[order[k-1]] {
			if n++; n == maxMonthsPerInsert {
				parts, part, n = append(parts, part), nil, 0
			}
		}
		part = append(part, vs[i])
	}
	return append(parts, part)
}

// writeByMonth writes vs to t, one insert per part of byMonth, every part
// with the same row version.
func writeByMonth[T any](ctx context.Context, w *Warehouse, t store.Table[T], vs []T) error {
	if len(vs) == 0 {
		return nil
	}
	v := w.versions().Next()
	for _, part := range byMonth(vs) {
		if err := t.WriteVersion(ctx, w.S, part, v); err != nil {
			return err
		}
	}
	return nil
}
