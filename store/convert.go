package store

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// asString returns v's text when v's kind is string (named string types).
func asString(v any) (string, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

// Normalize converts a driver value to the small set of types Rows.Values
// returns: string, int64, uint64, float64, bool, time.Time, nil and []any.
func Normalize(v any) any {
	switch x := v.(type) {
	case nil, string, int64, uint64, float64, bool, time.Time:
		return x
	case []byte:
		return string(x)
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		return uint64(x)
	case uint8:
		return uint64(x)
	case uint16:
		return uint64(x)
	case uint32:
		return uint64(x)
	case float32:
		return float64(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return Normalize(rv.Elem().Interface())
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = Normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.String:
		return rv.String()
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(v)
}

// Assign stores the normalized value src into dest. Supported destinations:
// *string, *[]byte, *int, *int64, *int32, *uint64, *uint32, *uint8, *float64,
// *bool, **bool, *time.Time, *[]string, *[]int64, *any, and pointers to named
// string types. A NULL leaves the zero value (nil for **bool). An Int64 source
// assigned to *time.Time is read as milliseconds since the epoch (how older
// servers store timestamps).
func Assign(dest, src any) error {
	if d, ok := dest.(*any); ok {
		*d = src
		return nil
	}
	if src == nil {
		rv := reflect.ValueOf(dest)
		if rv.Kind() != reflect.Pointer || rv.IsNil() {
			return fmt.Errorf("scan into %T: not a pointer", dest)
		}
		rv.Elem().SetZero()
		return nil
	}
	switch d := dest.(type) {
	case *string:
		switch s := src.(type) {
		case string:
			*d = s
		case time.Time:
			*d = s.UTC().Format("2006-01-02T15:04:05.000Z")
		default:
			*d = fmt.Sprint(s)
		}
		return nil
	case *[]byte:
		if s, ok := src.(string); ok {
			*d = []byte(s)
			return nil
		}
	case *int:
		n, err := toInt64(src)
		*d = int(n)
		return err
	case *int64:
		n, err := toInt64(src)
		*d = n
		return err
	case *int32:
		n, err := toInt64(src)
		*d = int32(n)
		return err
	case *uint64:
		n, err := toInt64(src)
		if u, ok := src.(uint64); ok {
			*d = u
			return nil
		}
		*d = uint64(n)
		return err
	case *uint32:
		n, err := toInt64(src)
		*d = uint32(n)
		return err
	case *uint8:
		n, err := toInt64(src)
		*d = uint8(n)
		return err
	case *float64:
		switch x := src.(type) {
		case float64:
			*d = x
			return nil
		case string:
			f, err := strconv.ParseFloat(x, 64)
			*d = f
			return err
		}
		n, err := toInt64(src)
		*d = float64(n)
		return err
	case *bool:
		b, err := toBool(src)
		*d = b
		return err
	case **bool:
		b, err := toBool(src)
		*d = &b
		return err
	case *time.Time:
		switch x := src.(type) {
		case time.Time:
			*d = x.UTC()
			return nil
		case int64:
			*d = time.UnixMilli(x).UTC()
			return nil
		case uint64:
			*d = time.UnixMilli(int64(x)).UTC()
			return nil
		}
	case *[]string:
		if arr, ok := src.([]any); ok {
			out := make([]string, len(arr))
			for i, e := range arr {
				if err := Assign(&out[i], e); err != nil {
					return err
				}
			}
			*d = out
			return nil
		}
	case *[]int64:
		if arr, ok := src.([]any); ok {
			out := make([]int64, len(arr))
			for i, e := range arr {
				if err := Assign(&out[i], e); err != nil {
					return err
				}
			}
			*d = out
			return nil
		}
	default:
		rv := reflect.ValueOf(dest)
		if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.String {
			if s, ok := src.(string); ok {
				rv.Elem().SetString(s)
				return nil
			}
		}
	}
	return fmt.Errorf("scan %T into %T: unsupported conversion", src, dest)
}

func toInt64(v any) (int64, error) {
	switch x := Normalize(v).(type) {
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("value %d overflows int64", x)
		}
		return int64(x), nil
	case float64:
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	case time.Time:
		return x.UnixMilli(), nil
	}
	return 0, fmt.Errorf("cannot convert %T to an integer", v)
}

func toBool(v any) (bool, error) {
	switch x := Normalize(v).(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case uint64:
		return x != 0, nil
	case string:
		return strconv.ParseBool(x)
	}
	return false, fmt.Errorf("cannot convert %T to bool", v)
}

// ColumnType is a parsed ClickHouse column type.
type ColumnType struct {
	Name     string // base type without Nullable/LowCardinality, e.g. "String", "DateTime64", "Array"
	Nullable bool
	Elem     *ColumnType // for Array
	Raw      string
}

// ParseColumnType parses a ClickHouse type name such as
// "Nullable(DateTime64(3, 'UTC'))" or "Array(String)".
func ParseColumnType(t string) ColumnType {
	ct := ColumnType{Raw: t}
	s := strings.TrimSpace(t)
	for {
		switch {
		case strings.HasPrefix(s, "Nullable(") && strings.HasSuffix(s, ")"):
			ct.Nullable = true
			s = s[len("Nullable(") : len(s)-1]
			continue
		case strings.HasPrefix(s, "LowCardinality(") && strings.HasSuffix(s, ")"):
			s = s[len("LowCardinality(") : len(s)-1]
			continue
		}
		break
	}
	if strings.HasPrefix(s, "Array(") && strings.HasSuffix(s, ")") {
		e := ParseColumnType(s[len("Array(") : len(s)-1])
		ct.Name = "Array"
		ct.Elem = &e
		return ct
	}
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = s[:i]
	}
	ct.Name = s
	return ct
}
