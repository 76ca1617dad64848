package decode

import (
	"bytes"
	"encoding/json"
)

// FlexStrings decodes a JSON array of strings, numbers or booleans, a single
// such value (a one-element list), or null (no elements), for provider list
// fields that log shippers flatten when they hold one value.
type FlexStrings OneOrMany[FlexString]

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexStrings) UnmarshalJSON(b []byte) error {
	return (*OneOrMany[FlexString])(f).UnmarshalJSON(b)
}

// Strings returns the values as plain strings.
func (f FlexStrings) Strings() []string {
	out := make([]string, 0, len(f))
	for _, s := range f {
		out = append(out, string(s))
	}
	return out
}

// OneOrMany decodes a JSON array of T, a single T (a one-element list) or
// null (no elements): log shippers often split an array into one record per
// element and keep the singular object where the provider writes an array.
type OneOrMany[T any] []T

// UnmarshalJSON implements json.Unmarshaler.
func (o *OneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*o = nil
		return nil
	case b[0] == '[':
		var list []T
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*o = list
		return nil
	}
	var one T
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*o = OneOrMany[T]{one}
	return nil
}
