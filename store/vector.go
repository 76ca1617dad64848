package store

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Vector is one column of a block of query results, decoded to a typed Go
// slice. Backends build blocks of vectors; Rows reads them. Assign copies
// one value into a caller-owned destination without reflection for the
// destinations Rows.Scan documents.
type Vector interface {
	// Len is the number of values.
	Len() int
	// Value returns value i as one of the types Rows.Values documents.
	Value(i int) any
	// Assign stores value i in dest (see Rows.Scan).
	Assign(i int, dest any) error
}

// StringVector is a String, FixedString, Enum or UUID column.
type StringVector []string

// Len implements Vector.
func (v StringVector) Len() int { return len(v) }

// Value implements Vector.
func (v StringVector) Value(i int) any { return v[i] }

// Assign implements Vector.
func (v StringVector) Assign(i int, dest any) error { return assignString(dest, v[i]) }

// IntVector is a signed integer column (Int8 … Int64).
type IntVector[T ~int8 | ~int16 | ~int32 | ~int64] []T

// Len implements Vector.
func (v IntVector[T]) Len() int { return len(v) }

// Value implements Vector.
func (v IntVector[T]) Value(i int) any { return int64(v[i]) }

// Assign implements Vector.
func (v IntVector[T]) Assign(i int, dest any) error { return assignInt(dest, int64(v[i])) }

// UintVector is an unsigned integer column (UInt8 … UInt64).
type UintVector[T ~uint8 | ~uint16 | ~uint32 | ~uint64] []T

// Len implements Vector.
func (v UintVector[T]) Len() int { return len(v) }

// Value implements Vector.
func (v UintVector[T]) Value(i int) any { return uint64(v[i]) }

// Assign implements Vector.
func (v UintVector[T]) Assign(i int, dest any) error { return assignUint(dest, uint64(v[i])) }

// FloatVector is a Float32 or Float64 column.
type FloatVector[T ~float32 | ~float64] []T

// Len implements Vector.
func (v FloatVector[T]) Len() int { return len(v) }

// Value implements Vector.
func (v FloatVector[T]) Value(i int) any { return float64(v[i]) }

// Assign implements Vector.
func (v FloatVector[T]) Assign(i int, dest any) error { return assignFloat(dest, float64(v[i])) }

// BoolVector is a Bool column.
type BoolVector []bool

// Len implements Vector.
func (v BoolVector) Len() int { return len(v) }

// Value implements Vector.
func (v BoolVector) Value(i int) any { return v[i] }

// Assign implements Vector.
func (v BoolVector) Assign(i int, dest any) error {
	var n uint64
	if v[i] {
		n = 1
	}
	if d, ok := dest.(*bool); ok {
		*d = v[i]
		return nil
	}
	return assignUint(dest, n)
}

// TimeVector is a Date, Date32, DateTime or DateTime64 column: Ticks counts
// Unit since the epoch (Unit is a day, a second or 10^-scale seconds).
type TimeVector struct {
	Ticks []int64
	Unit  time.Duration
}

// Len implements Vector.
func (v TimeVector) Len() int { return len(v.Ticks) }

// At returns value i as a UTC time.
func (v TimeVector) At(i int) time.Time { return TickTime(v.Ticks[i], v.Unit) }

// Value implements Vector.
func (v TimeVector) Value(i int) any { return v.At(i) }

// Assign implements Vector.
func (v TimeVector) Assign(i int, dest any) error {
	if d, ok := dest.(*time.Time); ok {
		*d = v.At(i)
		return nil
	}
	return assignTime(dest, v.At(i))
}

// TimeValues is a time column already decoded to time.Time (the server
// backend's driver decodes them).
type TimeValues []time.Time

// Len implements Vector.
func (v TimeValues) Len() int { return len(v) }

// Value implements Vector.
func (v TimeValues) Value(i int) any { return v[i].UTC() }

// Assign implements Vector.
func (v TimeValues) Assign(i int, dest any) error { return assignTime(dest, v[i].UTC()) }

// TickTime is ticks of unit since the epoch as a UTC time, without
// overflowing for any tick count an engine stores.
func TickTime(ticks int64, unit time.Duration) time.Time {
	switch {
	case unit == time.Millisecond:
		return time.UnixMilli(ticks).UTC()
	case unit >= time.Second:
		return time.Unix(ticks*int64(unit/time.Second), 0).UTC()
	}
	per := int64(time.Second / unit)
	sec, frac := ticks/per, ticks%per
	if frac < 0 {
		sec--
		frac += per
	}
	return time.Unix(sec, frac*int64(unit)).UTC()
}

// NullableVector is a Nullable column: Nulls[i] marks NULL, Values holds a
// value (the type's default for a NULL) for every row.
type NullableVector struct {
	Nulls  []bool
	Values Vector
}

// Len implements Vector.
func (v NullableVector) Len() int { return len(v.Nulls) }

// Value implements Vector.
func (v NullableVector) Value(i int) any {
	if v.Nulls[i] {
		return nil
	}
	return v.Values.Value(i)
}

// Assign implements Vector.
func (v NullableVector) Assign(i int, dest any) error {
	if v.Nulls[i] {
		return assignNull(dest)
	}
	if d, ok := dest.(**bool); ok {
		var b bool
		if err := v.Values.Assign(i, &b); err != nil {
			return err
		}
		*d = &b
		return nil
	}
	return v.Values.Assign(i, dest)
}

// ArrayVector is an Array column: row i holds Values[Offsets[i-1]:Offsets[i]]
// (Offsets[-1] = 0), the layout of ClickHouse's Native format.
type ArrayVector struct {
	Offsets []uint64
	Values  Vector
}

// Len implements Vector.
func (v ArrayVector) Len() int { return len(v.Offsets) }

func (v ArrayVector) bounds(i int) (int, int) {
	lo := uint64(0)
	if i > 0 {
		lo = v.Offsets[i-1]
	}
	return int(lo), int(v.Offsets[i])
}

// Value implements Vector.
func (v ArrayVector) Value(i int) any {
	lo, hi := v.bounds(i)
	out := make([]any, hi-lo)
	for j := range out {
		out[j] = v.Values.Value(lo + j)
	}
	return out
}

// Assign implements Vector.
func (v ArrayVector) Assign(i int, dest any) error {
	lo, hi := v.bounds(i)
	switch d := dest.(type) {
	case *[]string:
		if sv, ok := v.Values.(StringVector); ok {
			*d = append([]string(nil), sv[lo:hi]...)
			return nil
		}
		out := make([]string, hi-lo)
		for j := range out {
			if err := v.Values.Assign(lo+j, &out[j]); err != nil {
				return err
			}
		}
		*d = out
		return nil
	case *[]int64:
		out := make([]int64, hi-lo)
		for j := range out {
			if err := v.Values.Assign(lo+j, &out[j]); err != nil {
				return err
			}
		}
		*d = out
		return nil
	}
	return Assign(dest, v.Value(i))
}

// AnyVector holds values already normalized to the Rows.Values types; the
// fallback for column types without a typed vector.
type AnyVector []any

// Len implements Vector.
func (v AnyVector) Len() int { return len(v) }

// Value implements Vector.
func (v AnyVector) Value(i int) any { return v[i] }

// Assign implements Vector.
func (v AnyVector) Assign(i int, dest any) error { return Assign(dest, v[i]) }

// The assign functions store one typed value in a destination. The common
// destinations are a type switch; anything else goes through Assign.

func assignString(dest any, s string) error {
	switch d := dest.(type) {
	case *string:
		*d = s
		return nil
	case *[]byte:
		*d = []byte(s)
		return nil
	case *any:
		*d = s
		return nil
	}
	return Assign(dest, s)
}

func assignInt(dest any, n int64) error {
	switch d := dest.(type) {
	case *int64:
		*d = n
		return nil
	case *int:
		*d = int(n)
		return nil
	case *int32:
		if n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Errorf("value %d overflows int32", n)
		}
		*d = int32(n)
		return nil
	case *uint64:
		if n < 0 {
			return fmt.Errorf("value %d is negative: cannot scan into uint64", n)
		}
		*d = uint64(n)
		return nil
	case *float64:
		*d = float64(n)
		return nil
	case *bool:
		*d = n != 0
		return nil
	case *time.Time:
		*d = time.UnixMilli(n).UTC()
		return nil
	case *string:
		*d = strconv.FormatInt(n, 10)
		return nil
	case *any:
		*d = n
		return nil
	}
	return Assign(dest, n)
}

func assignUint(dest any, n uint64) error {
	switch d := dest.(type) {
	case *uint64:
		*d = n
		return nil
	case *int64:
		if n > math.MaxInt64 {
			return fmt.Errorf("value %d overflows int64", n)
		}
		*d = int64(n)
		return nil
	case *uint8:
		if n > math.MaxUint8 {
			return fmt.Errorf("value %d overflows uint8", n)
		}
		*d = uint8(n)
		return nil
	case *uint32:
		if n > math.MaxUint32 {
			return fmt.Errorf("value %d overflows uint32", n)
		}
		*d = uint32(n)
		return nil
	case *int:
		if n > math.MaxInt {
			return fmt.Errorf("value %d overflows int", n)
		}
		*d = int(n)
		return nil
	case *bool:
		*d = n != 0
		return nil
	case *float64:
		*d = float64(n)
		return nil
	case *string:
		*d = strconv.FormatUint(n, 10)
		return nil
	case *any:
		*d = n
		return nil
	}
	return Assign(dest, n)
}

func assignFloat(dest any, f float64) error {
	switch d := dest.(type) {
	case *float64:
		*d = f
		return nil
	case *any:
		*d = f
		return nil
	}
	return Assign(dest, f)
}

func assignTime(dest any, t time.Time) error {
	switch d := dest.(type) {
	case *time.Time:
		*d = t
		return nil
	case *any:
		*d = t
		return nil
	}
	return Assign(dest, t)
}

// assignNull stores NULL: the zero value of dest's type (nil for pointers).
func assignNull(dest any) error {
	switch d := dest.(type) {
	case *string:
		*d = ""
	case *int64:
		*d = 0
	case *uint64:
		*d = 0
	case *time.Time:
		*d = time.Time{}
	case **bool:
		*d = nil
	case *bool:
		*d = false
	case *any:
		*d = nil
	default:
		return Assign(dest, nil)
	}
	return nil
}
