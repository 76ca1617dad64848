package okta

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/keytrail/keytrail/ingest/internal/decode"
)

// scanner is a strict, allocation-light JSON reader that visits only the
// members a caller asks for and skips (while validating) everything else.
// encoding/json spends most of an Okta record's time validating and
// reflecting over fields keytrail never reads; this keeps normalization
// above 50k LogEvents/s per core.
type scanner struct {
	b     []byte
	i     int
	depth int
}

const maxDepth = 512

func (s *scanner) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", decode.ErrSyntax, what, s.i)
}

// kind names the JSON type of the next value, the way type errors do.
func (s *scanner) kind() string {
	switch c := s.peek(); {
	case c == '{':
		return "a JSON object"
	case c == '[':
		return "a JSON array"
	case c == '"':
		return "a JSON string"
	case c == 't' || c == 'f':
		return "a JSON boolean"
	case c == 'n':
		return "a JSON null"
	case c == '-' || ('0' <= c && c <= '9'):
		return "a JSON number"
	}
	return "no JSON value"
}

// member visits the members of the object named field (null is an empty
// object); any other JSON type is a type error naming the field.
func (s *scanner) member(field string, fn func(key []byte) error) error {
	if c := s.peek(); c != '{' && c != 'n' {
		return decode.TypeError(field, s.kind(), "an object")
	}
	return s.object(fn)
}

// elements visits the elements of the array named field (null is an empty
// array); any other JSON type is a type error naming the field.
func (s *scanner) elements(field string, fn func() error) error {
	if c := s.peek(); c != '[' && c != 'n' {
		return decode.TypeError(field, s.kind(), "an array")
	}
	return s.array(fn)
}

// text reads the string (or null, read as "") named field into dst; any
// other JSON type is a type error naming the field.
func (s *scanner) text(field string, dst *string) error {
	if c := s.peek(); c != '"' && c != 'n' {
		return decode.TypeError(field, s.kind(), "a string")
	}
	v, err := s.str()
	if err != nil {
		return fmt.Errorf("field %s: %w", field, err)
	}
	*dst = v
	return nil
}

// field reads the value named field into dst: a string, a number or a
// boolean as written, null as "", an array as its JSON (lists such as
// authenticatorTransports come both ways). An object is a type error naming
// the field.
func (s *scanner) field(field string, dst *string) error {
	if s.peek() == '{' {
		return decode.TypeError(field, s.kind(), "a string")
	}
	v, err := s.flex()
	if err != nil {
		return fmt.Errorf("field %s: %w", field, err)
	}
	*dst = v
	return nil
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// end checks that only whitespace follows the value.
func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return s.fail("trailing data")
	}
	return nil
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object visits each member of an object; fn must consume the value. A null
// is accepted as an empty object.
func (s *scanner) object(fn func(key []byte) error) error {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '{':
	default:
		return s.fail("want object")
	}
	if s.depth++; s.depth > maxDepth {
		return s.fail("nesting too deep")
	}
	defer func() { s.depth-- }()
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.fail("want member name")
		}
		key, err := s.rawString()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.fail("want ':'")
		}
		s.i++
		if err := fn(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("want ',' or '}'")
		}
	}
}

// array visits each element of an array; fn must consume it. A null is
// accepted as an empty array.
func (s *scanner) array(fn func() error) error {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '[':
	default:
		return s.fail("want array")
	}
	if s.depth++; s.depth > maxDepth {
		return s.fail("nesting too deep")
	}
	defer func() { s.depth-- }()
	s.i++
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("want ',' or ']'")
		}
	}
}

// skip consumes and validates any value.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == '"':
		_, err := s.rawString()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		_, err := s.number()
		return err
	}
	return s.fail("want value")
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("bad literal")
	}
	s.i += len(lit)
	return nil
}

func (s *scanner) number() ([]byte, error) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return nil, s.fail("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, s.fail("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, s.fail("bad number")
		}
	}
	return s.b[start:s.i], nil
}

// rawString consumes a string and returns its contents: a view of the input
// when it has no escapes, else a decoded copy.
func (s *scanner) rawString() ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			out := s.b[start:s.i]
			s.i++
			return out, nil
		case c == '\\':
			return s.escapedString(start)
		case c < 0x20:
			return nil, s.fail("control character in string")
		}
		s.i++
	}
	return nil, s.fail("unterminated string")
}

func (s *scanner) escapedString(start int) ([]byte, error) {
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.fail("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					if x, ok := s.hex4(); ok {
						r2 = x
					} else {
						s.i = save
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.fail("bad escape")
		}
	}
	return nil, s.fail("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// str consumes a string (or null, read as "") and returns it as valid UTF-8.
func (s *scanner) str() (string, error) {
	switch s.peek() {
	case '"':
		b, err := s.rawString()
		if err != nil {
			return "", err
		}
		if !utf8.Valid(b) {
			return validUTF8(b), nil
		}
		return string(b), nil
	case 'n':
		return "", s.literal("null")
	}
	return "", s.fail("want string")
}

// flex consumes any value and returns it as a string: strings decoded,
// numbers and booleans as written, null as "", objects and arrays as their
// raw JSON.
func (s *scanner) flex() (string, error) {
	switch c := s.peek(); {
	case c == '"' || c == 'n':
		return s.str()
	case c == 't' || c == 'f' || c == '-' || ('0' <= c && c <= '9'):
		start := s.i
		if err := s.skip(); err != nil {
			return "", err
		}
		return string(s.b[start:s.i]), nil
	case c == '{' || c == '[':
		start := s.i
		if err := s.skip(); err != nil {
			return "", err
		}
		return string(s.b[start:s.i]), nil
	}
	return "", s.fail("want value")
}

// fieldNamed is field with the name built by name(leaf), only when it is
// needed for an error.
func (s *scanner) fieldNamed(name func(string) string, leaf string, dst *string) error {
	if s.peek() == '{' {
		return decode.TypeError(name(leaf), s.kind(), "a string")
	}
	v, err := s.flex()
	if err != nil {
		return fmt.Errorf("field %s: %w", name(leaf), err)
	}
	*dst = v
	return nil
}

// validUTF8 replaces each invalid byte with U+FFFD, as encoding/json does.
func validUTF8(b []byte) string {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}
