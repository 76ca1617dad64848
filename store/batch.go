package store

import "time"

// Batch is a columnar insert into one table, begun by Store.PrepareBatch
// with an explicit column list. Each column is filled with typed slices
// (Column(i).Append); Send writes the rows as one insert. A batch is
// accepted whole or not at all from the caller's point of view: on error,
// retry the whole batch (tables are idempotent on their keys). A batch is
// not safe for concurrent use.
type Batch interface {
	// Column returns the appender of the i-th column of the column list.
	Column(i int) BatchColumn
	// Rows is the number of rows appended so far (of the first column).
	Rows() int
	// Send writes the batch. Every column must hold the same number of
	// values. The batch cannot be used afterwards.
	Send() error
	// Abort discards the batch. It is safe after Send.
	Abort() error
}

// BatchColumn appends values to one column of a batch.
//
// Append takes a typed slice; the values are copied, so the caller may reuse
// the slice. Column types take these slices:
//
//	String               []string, [][]byte
//	Int64                []int64
//	UInt64, UInt32       []uint64, []uint32
//	UInt8, Bool          []uint8, []bool
//	Nullable(UInt8)      []*bool (nil is NULL)
//	Float64              []float64
//	timestamp ({{ts}})   []time.Time — DateTime64(3, 'UTC'), or Int64 milliseconds on
//	                     servers without DateTime64; the zero time is NULL in a
//	                     Nullable column and the epoch otherwise
//	Array(String)        [][]string
type BatchColumn interface {
	Append(values any) error
}

// SliceLen is the length of a slice of one of the BatchColumn types (0 for
// anything else).
func SliceLen(values any) int {
	switch v := values.(type) {
	case []string:
		return len(v)
	case [][]byte:
		return len(v)
	case []int64:
		return len(v)
	case []uint64:
		return len(v)
	case []uint32:
		return len(v)
	case []uint8:
		return len(v)
	case []bool:
		return len(v)
	case []*bool:
		return len(v)
	case []float64:
		return len(v)
	case []time.Time:
		return len(v)
	case [][]string:
		return len(v)
	}
	return 0
}
