// Package decode holds the field decoders every identity-provider normalizer
// shares: provider timestamps and JSON fields whose type varies.
package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// ErrTime is wrapped by every time-parsing error.
var ErrTime = errors.New("bad time")

// Time parses an RFC 3339 / ISO 8601 timestamp with 0 to 9 fractional
// digits and an offset written Z, ±hh:mm, ±hhmm or ±hh (a missing offset
// means UTC, which every provider uses), and returns it in UTC truncated to
// milliseconds. Years outside 1970–9999 give the zero time.
func Time(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return millis(t), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return millis(t), nil
		}
	}
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return time.Time{}, fmt.Errorf("%w: %q", ErrTime, s)
}

var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
}

func millis(t time.Time) time.Time {
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// FlexString decodes a JSON string, number, boolean or null into a string,
// for provider fields whose type varies between versions.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
	default:
		*f = FlexString(b)
	}
	return nil
}

// Text decodes a JSON string or null (as ""). Any other JSON type is a type
// error, which JSON reports with the field's name: for identifiers that a
// provider always writes as strings.
type Text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text(s)
		return nil
	}
	return &json.UnmarshalTypeError{Value: kindOf(b), Type: reflect.TypeOf("")}
}

// kindOf names the JSON type of a raw value the way encoding/json's type
// errors do.
func kindOf(b []byte) string {
	if len(b) == 0 {
		return "value"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	}
	return "number"
}

// UnixMilli returns the UTC time of ms milliseconds since the Unix epoch, or
// the zero time when its year is outside 1970–9999.
func UnixMilli(ms int64) time.Time { return millis(time.UnixMilli(ms)) }

// ErrType is wrapped by errors about a field whose JSON type is not the one
// the provider documents.
var ErrType = errors.New("wrong JSON type")

// ErrSyntax is wrapped by errors about input that is not well-formed JSON.
var ErrSyntax = errors.New("malformed JSON")

// JSON turns an error from encoding/json into one a user can act on: a type
// error names the field path and the JSON type found (never a Go type), a
// syntax error its byte offset. Other errors are returned unchanged.
func JSON(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the record"
		}
		return fmt.Errorf("%w: field %s: got a JSON %s, want %s", ErrType, field, te.Value, jsonKind(te.Type.Kind().String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w at byte %d: %s", ErrSyntax, se.Offset, se.Error())
	}
	return err
}

// TypeError is the error about a field whose JSON type is not the one the
// provider documents, for decoders that do not use encoding/json: got and
// want name JSON types ("a string", "an object"…), as JSON's messages do.
func TypeError(field, got, want string) error {
	return fmt.Errorf("%w: field %s: got %s, want %s", ErrType, field, got, want)
}

// jsonKind names the JSON type that decodes into a Go kind.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return "another type"
}
