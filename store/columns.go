package store

import (
	"slices"
	"time"
	"unsafe"
)

// Column binds one column of a table to a field of T: the field's value is
// appended to a typed column slice on write, and scanned straight into the
// field on read. Build columns with String, Bytes, Time, Int64, Uint64,
// Bool, NullBool and Strings; each takes the column name and a function
// returning the field's address in a T.
type Column[T any] struct {
	// Name is the column's name.
	Name string
	// writer returns an empty typed column slice for this field.
	writer func() columnWriter[T]
	// dest returns the scan destination for this column inside v.
	dest func(v *T) any
}

// columnWriter collects one column of values of T as a typed slice.
type columnWriter[T any] interface {
	add(v *T)
	grow(n int)
	values() any
	reset()
}

type sliceWriter[T, C any] struct {
	get  func(*T) C
	vals []C
}

func (w *sliceWriter[T, C]) add(v *T)    { w.vals = append(w.vals, w.get(v)) }
func (w *sliceWriter[T, C]) grow(n int)  { w.vals = slices.Grow(w.vals, n) }
func (w *sliceWriter[T, C]) values() any { return w.vals }
func (w *sliceWriter[T, C]) reset() {
	clear(w.vals) // drop references to the written values
	w.vals = w.vals[:0]
}

func column[T, C any](name string, get func(*T) C, dest func(*T) any) Column[T] {
	return Column[T]{
		Name:   name,
		writer: func() columnWriter[T] { return &sliceWriter[T, C]{get: get} },
		dest:   dest,
	}
}

// String is a String column holding a string field (or a field of a named
// string type such as model.Source).
func String[T any, S ~string](name string, field func(*T) *S) Column[T] {
	return column(name,
		func(v *T) string { return string(*field(v)) },
		// S's underlying type is string: the field is a string in memory.
		func(v *T) any { return (*string)(unsafe.Pointer(field(v))) })
}

// Bytes is a String column holding a []byte field, written without a copy.
func Bytes[T any](name string, field func(*T) *[]byte) Column[T] {
	return column(name,
		func(v *T) []byte { return *field(v) },
		func(v *T) any { return field(v) })
}

// Time is a timestamp column ({{ts}} or Nullable({{ts}}) in the schema)
// holding a time.Time field; in a Nullable column the zero time is NULL.
func Time[T any](name string, field func(*T) *time.Time) Column[T] {
	return column(name,
		func(v *T) time.Time { return *field(v) },
		func(v *T) any { return field(v) })
}

// Int64 is an Int64 column holding an int64 field (or a named int64 type).
func Int64[T any, I ~int64](name string, field func(*T) *I) Column[T] {
	return column(name,
		func(v *T) int64 { return int64(*field(v)) },
		func(v *T) any { return (*int64)(unsafe.Pointer(field(v))) })
}

// Uint64 is a UInt64 column holding a uint64 field.
func Uint64[T any](name string, field func(*T) *uint64) Column[T] {
	return column(name,
		func(v *T) uint64 { return *field(v) },
		func(v *T) any { return field(v) })
}

// Bool is a UInt8 column holding a bool field (1 or 0).
func Bool[T any](name string, field func(*T) *bool) Column[T] {
	return column(name,
		func(v *T) bool { return *field(v) },
		func(v *T) any { return field(v) })
}

// NullBool is a Nullable(UInt8) column holding a *bool field (nil is NULL).
func NullBool[T any](name string, field func(*T) **bool) Column[T] {
	return column(name,
		func(v *T) *bool { return *field(v) },
		func(v *T) any { return field(v) })
}

// Strings is an Array(String) column holding a []string field.
func Strings[T any](name string, field func(*T) *[]string) Column[T] {
	return column(name,
		func(v *T) []string { return *field(v) },
		func(v *T) any { return field(v) })
}
