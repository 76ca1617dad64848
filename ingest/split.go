package ingest

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrNotJSON marks input that is not JSON in any accepted shape.
var ErrNotJSON = errors.New("input is not JSON")

// ErrTruncated marks the damaged part of a JSON document that was cut short
// or corrupted: the records before the damage are kept, the rest is one piece.
var ErrTruncated = errors.New("truncated or damaged JSON")

// Piece is one record found by Split, or a fragment that could not be parsed.
type Piece struct {
	Raw    []byte // exactly the bytes of the record (or of the damaged fragment)
	Offset int64  // byte offset of Raw in the input
	Err    error  // non-nil when this fragment is not a JSON object
}

// utf8BOM is the byte order mark some Windows tools write before UTF-8 text.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// maxDepth bounds JSON nesting, as encoding/json does.
const maxDepth = 10000

// lineSample is how many non-empty lines decide whether input is
// newline-delimited.
const lineSample = 64

// Split finds the records in data: a single JSON object, a JSON array of
// objects, an object holding records under one of the envelope paths
// (the first member on a path to an array wins), several such documents one
// after the other, or newline-delimited JSON (NDJSON). A UTF-8 byte order mark
// at the start of the input, of a line or of a document is skipped.
//
// Nothing is dropped: every byte that belongs to a record ends up in exactly
// one piece. A document that is cut short or damaged keeps every complete
// record before the damage and yields the damaged remainder as one piece with
// Err set (ErrTruncated), its bytes exact. Input is split line by line only
// when it is newline-delimited (its first line, or at least half of its
// lines, is a JSON value on its own); there each bad line is one piece with
// Err set (ErrNotJSON). Elements and records that are valid JSON but not
// objects are pieces with Err set too, so the caller can dead-letter them.
func Split(data []byte, envelopes [][]string) []Piece {
	s := &splitter{b: data, envelopes: envelopes}
	if len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF) {
		return []Piece{{Raw: data, Err: fmt.Errorf("%w: the input is UTF-16 (byte order mark %X %X at byte 0); keytrail reads UTF-8 JSON", ErrNotJSON, data[0], data[1])}}
	}
	start := s.skip(0, len(data))
	if start == len(data) {
		return nil
	}
	if s.lineDelimited(start) {
		s.lines(start)
	} else {
		s.document(start, len(data))
	}
	return s.out
}

// splitter walks one input, appending pieces to out.
type splitter struct {
	b         []byte
	envelopes [][]string
	out       []Piece
}

// damage is where a document stopped being JSON.
type damage struct {
	start int          // first byte of the damaged remainder
	where string       // what was being read, e.g. "array element 4 at byte 120"
	cause *syntaxError // why it is not JSON
}

// syntaxError is a JSON syntax error at a byte offset of the input: an
// invalid character c found while reading context, or the end of input.
type syntaxError struct {
	off     int
	c       byte
	context string // "" for the end of input
}

func (e *syntaxError) Error() string {
	if e.eof() {
		return fmt.Sprintf("unexpected end of input at byte %d", e.off)
	}
	if e.context == ctxDepth {
		return fmt.Sprintf("%s at byte %d", ctxDepth, e.off)
	}
	return fmt.Sprintf("invalid character %s %s at byte %d", quoteByte(e.c), e.context, e.off)
}

func (e *syntaxError) eof() bool { return e.context == "" }

const ctxDepth = "nesting too deep"

func eof(i int) *syntaxError { return &syntaxError{off: i} }

func (s *splitter) invalid(i int, context string) *syntaxError {
	return &syntaxError{off: i, c: s.b[i], context: context}
}

// valid reports whether b[from:to] is exactly one JSON value.
func (s *splitter) valid(from, to int) bool {
	end, err := s.value(from, to, 0)
	return err == nil && s.ws(end, to) == to
}

func quoteByte(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c >= 0x20 && c < 0x7F {
		return "'" + string(c) + "'"
	}
	return fmt.Sprintf("0x%02X", c)
}

// lineDelimited reports whether the input from start is NDJSON: more than
// one non-empty line, and either the first is a JSON value by itself or at
// least half of the first lineSample lines are objects or arrays by
// themselves (and the input as a whole is not one valid document).
func (s *splitter) lineDelimited(start int) bool {
	n, whole := 0, 0
	firstValid := false
	for i := start; i < len(s.b) && n < lineSample; {
		end := len(s.b)
		if j := bytes.IndexByte(s.b[i:], '\n'); j >= 0 {
			end = i + j
		}
		from, to := s.trim(i, end)
		if from < to {
			valid := s.valid(from, to)
			n++
			if n == 1 {
				firstValid = valid
			} else if firstValid {
				return true
			}
			if valid && (s.b[from] == '{' || s.b[from] == '[') {
				whole++
			}
		}
		i = end + 1
	}
	return n > 1 && !firstValid && whole*2 >= n && !s.valid(start, len(s.b))
}

// lines splits NDJSON: each line on its own.
func (s *splitter) lines(start int) {
	for i := start; i < len(s.b); {
		end := len(s.b)
		if j := bytes.IndexByte(s.b[i:], '\n'); j >= 0 {
			end = i + j
		}
		s.line(i, end)
		i = end + 1
	}
}

// line splits one line of NDJSON. A line that yields no record at all is one
// piece with the whole line.
func (s *splitter) line(from, to int) {
	from, to = s.trim(from, to)
	if from >= to {
		return
	}
	mark := len(s.out)
	d := s.walk(from, to)
	if d == nil {
		return
	}
	good := false
	for _, p := range s.out[mark:] {
		good = good || p.Err == nil
	}
	if !good {
		s.out = append(s.out[:mark], Piece{Raw: s.b[from:to], Offset: int64(from), Err: fmt.Errorf("line at byte %d: %w", from, ErrNotJSON)})
		return
	}
	s.remainder(d, mark, to)
}

// document splits the JSON values in b[from:to]; after damage, the rest is
// one piece.
func (s *splitter) document(from, to int) {
	mark := len(s.out)
	if d := s.walk(from, to); d != nil {
		s.remainder(d, mark, to)
	}
}

// walk splits the top-level values in b[i:limit] until the end or the first
// damage. Pieces of the damaged value emitted before the damage stay; the
// damaged remainder is left to the caller.
func (s *splitter) walk(i, limit int) *damage {
	for {
		i = s.skip(i, limit)
		if i >= limit {
			return nil
		}
		mark := len(s.out)
		end, d := s.top(i, limit)
		if d != nil {
			if len(s.out) == mark {
				// Nothing recovered: the whole value is the damaged part.
				what := "value"
				switch s.b[i] {
				case '[':
					what = "array"
				case '{':
					what = "object"
				}
				d.start, d.where = i, fmt.Sprintf("%s at byte %d", what, i)
			}
			return d
		}
		i = end
	}
}

// remainder appends the damaged part b[d.start:limit] as one piece.
func (s *splitter) remainder(d *damage, mark, limit int) {
	from, to := s.trim(d.start, limit)
	if from > to {
		from, to = d.start, d.start
	}
	kept := 0
	for _, p := range s.out[mark:] {
		if p.Err == nil {
			kept++
		}
	}
	sentinel := ErrTruncated
	if kept == 0 && !d.cause.eof() && d.cause.off == d.start {
		sentinel = ErrNotJSON // not even the start of a JSON value
	}
	err := fmt.Errorf("%w: %s: %v", sentinel, d.where, d.cause)
	if kept > 0 {
		err = fmt.Errorf("%w; the %d records before it were kept", err, kept)
	}
	s.out = append(s.out, Piece{Raw: s.b[from:to], Offset: int64(from), Err: err})
}

// top splits one top-level value starting at b[i].
func (s *splitter) top(i, limit int) (int, *damage) {
	switch s.b[i] {
	case '[':
		return s.records(i, limit)
	case '{':
		end, found, d := s.object(i, limit, s.envelopes, 1)
		if d != nil {
			return 0, d
		}
		if !found {
			s.out = append(s.out, Piece{Raw: s.b[i:end], Offset: int64(i)})
		}
		return end, nil
	}
	end, err := s.value(i, limit, 0)
	if err != nil {
		return 0, &damage{start: i, where: fmt.Sprintf("value at byte %d", i), cause: err}
	}
	s.out = append(s.out, Piece{Raw: s.b[i:end], Offset: int64(i), Err: fmt.Errorf("record at byte %d is not a JSON object", i)})
	return end, nil
}

// records splits the array at b[i] into one piece per element.
func (s *splitter) records(i, limit int) (int, *damage) {
	j := s.ws(i+1, limit)
	if j < limit && s.b[j] == ']' {
		return j + 1, nil
	}
	for n := 0; ; n++ {
		end, err := s.value(j, limit, 1)
		if err != nil {
			return 0, &damage{start: j, where: fmt.Sprintf("array element %d at byte %d", n+1, j), cause: err}
		}
		p := Piece{Raw: s.b[j:end], Offset: int64(j)}
		if s.b[j] != '{' {
			p.Err = fmt.Errorf("array element at byte %d is a JSON %s, not an object", j, kind(s.b[j]))
		}
		s.out = append(s.out, p)
		after := func(cause *syntaxError) (int, *damage) {
			return 0, &damage{start: end, where: fmt.Sprintf("array at byte %d, after element %d", i, n+1), cause: cause}
		}
		j = s.ws(end, limit)
		if j >= limit {
			return after(eof(j))
		}
		switch s.b[j] {
		case ']':
			return j + 1, nil
		case ',':
			if j = s.ws(j+1, limit); j >= limit {
				return after(eof(j))
			}
		default:
			return after(s.invalid(j, "after an array element"))
		}
	}
}

// object reads the object at b[i]. When a member on one of paths holds an
// array, its elements are split into pieces and found is true (the object is
// an envelope); otherwise the object is a record and nothing is emitted.
func (s *splitter) object(i, limit int, paths [][]string, depth int) (end int, found bool, d *damage) {
	after := i // where a damaged remainder starts once records were emitted
	fail := func(err *syntaxError) (int, bool, *damage) {
		d := &damage{start: after, cause: err}
		if found {
			d.where = fmt.Sprintf("document at byte %d, after its records", i)
		}
		return 0, found, d
	}
	if depth > maxDepth {
		return fail(&syntaxError{off: i, context: ctxDepth})
	}
	j := s.ws(i+1, limit)
	if j >= limit {
		return fail(eof(j))
	}
	if s.b[j] == '}' {
		return j + 1, false, nil
	}
	for {
		if j >= limit {
			return fail(eof(j))
		}
		if s.b[j] != '"' {
			return fail(s.invalid(j, "looking for an object key"))
		}
		k, err := s.str(j, limit)
		if err != nil {
			return fail(err)
		}
		key := s.b[j+1 : k-1]
		if j = s.ws(k, limit); j >= limit {
			return fail(eof(j))
		}
		if s.b[j] != ':' {
			return fail(s.invalid(j, "after an object key"))
		}
		v := s.ws(j+1, limit)
		if v >= limit {
			return fail(eof(v))
		}
		done := false
		if !found && len(paths) > 0 {
			leaf := false
			var rest [][]string
			for _, p := range paths {
				if len(p) > 0 && p[0] == string(key) {
					if len(p) == 1 {
						leaf = true
					} else {
						rest = append(rest, p[1:])
					}
				}
			}
			switch {
			case leaf && s.b[v] == '[':
				e, d := s.records(v, limit)
				if d != nil {
					return 0, true, d
				}
				j, found, after, done = e, true, e, true
			case len(rest) > 0 && s.b[v] == '{':
				e, f, d := s.object(v, limit, rest, depth+1)
				if d != nil {
					return 0, f, d
				}
				j, done = e, true
				if f {
					found, after = true, e
				}
			}
		}
		if !done {
			if j, err = s.value(v, limit, depth); err != nil {
				return fail(err)
			}
		}
		if j = s.ws(j, limit); j >= limit {
			return fail(eof(j))
		}
		switch s.b[j] {
		case ',':
			j = s.ws(j+1, limit)
		case '}':
			return j + 1, found, nil
		default:
			return fail(s.invalid(j, "after an object member"))
		}
	}
}

// kind names the JSON type of a value by its first byte.
func kind(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// value checks the JSON value at b[i] strictly and returns its end.
func (s *splitter) value(i, limit, depth int) (int, *syntaxError) {
	if i >= limit {
		return i, eof(i)
	}
	switch c := s.b[i]; {
	case c == '{':
		return s.skipObject(i, limit, depth+1)
	case c == '[':
		return s.skipArray(i, limit, depth+1)
	case c == '"':
		return s.str(i, limit)
	case c == 't':
		return s.literal(i, limit, "true")
	case c == 'f':
		return s.literal(i, limit, "false")
	case c == 'n':
		return s.literal(i, limit, "null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number(i, limit)
	}
	return i, s.invalid(i, "looking for the beginning of a value")
}

// skipObject checks the object at b[i] strictly and returns its end.
func (s *splitter) skipObject(i, limit, depth int) (int, *syntaxError) {
	end, _, d := s.object(i, limit, nil, depth)
	if d != nil {
		return d.cause.off, d.cause
	}
	return end, nil
}

func (s *splitter) skipArray(i, limit, depth int) (int, *syntaxError) {
	if depth > maxDepth {
		return i, &syntaxError{off: i, context: ctxDepth}
	}
	j := s.ws(i+1, limit)
	if j < limit && s.b[j] == ']' {
		return j + 1, nil
	}
	for {
		var err *syntaxError
		if j, err = s.value(j, limit, depth); err != nil {
			return j, err
		}
		if j = s.ws(j, limit); j >= limit {
			return j, eof(j)
		}
		switch s.b[j] {
		case ',':
			j = s.ws(j+1, limit)
		case ']':
			return j + 1, nil
		default:
			return j, s.invalid(j, "after an array element")
		}
	}
}

// str checks the string at b[i] (which is '"') and returns its end.
func (s *splitter) str(i, limit int) (int, *syntaxError) {
	b := s.b[:limit]
	for j := i + 1; j < len(b); {
		c := b[j]
		if c >= 0x20 && c != '"' && c != '\\' {
			j++
			continue
		}
		switch c {
		case '"':
			return j + 1, nil
		case '\\':
			if j+1 >= len(b) {
				return j + 1, eof(j + 1)
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := j + 2; k < j+6; k++ {
					if k >= len(b) {
						return k, eof(k)
					}
					if !isHex(b[k]) {
						return k, s.invalid(k, "in a \\u escape")
					}
				}
				j += 6
			default:
				return j + 1, s.invalid(j+1, "in a string escape")
			}
		default:
			return j, s.invalid(j, "in a string (control characters must be escaped)")
		}
	}
	return limit, eof(limit)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *splitter) literal(i, limit int, lit string) (int, *syntaxError) {
	for k := 0; k < len(lit); k++ {
		if i+k >= limit {
			return i + k, eof(i + k)
		}
		if s.b[i+k] != lit[k] {
			return i + k, s.invalid(i+k, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// number checks a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *splitter) number(i, limit int) (int, *syntaxError) {
	j := i
	if s.b[j] == '-' {
		j++
	}
	digits := func(context string) *syntaxError {
		if j >= limit {
			return eof(j)
		}
		if s.b[j] < '0' || s.b[j] > '9' {
			return s.invalid(j, context)
		}
		for j < limit && s.b[j] >= '0' && s.b[j] <= '9' {
			j++
		}
		return nil
	}
	if j < limit && s.b[j] == '0' {
		j++
	} else if err := digits("in a number"); err != nil {
		return j, err
	}
	if j < limit && s.b[j] == '.' {
		j++
		if err := digits("after the decimal point in a number"); err != nil {
			return j, err
		}
	}
	if j < limit && (s.b[j] == 'e' || s.b[j] == 'E') {
		j++
		if j < limit && (s.b[j] == '+' || s.b[j] == '-') {
			j++
		}
		if err := digits("in the exponent of a number"); err != nil {
			return j, err
		}
	}
	return j, nil
}

// ws skips JSON whitespace.
func (s *splitter) ws(i, limit int) int {
	b := s.b[:limit]
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skip skips whitespace and byte order marks between values.
func (s *splitter) skip(i, limit int) int {
	for {
		i = s.ws(i, limit)
		if i+len(utf8BOM) > limit || !bytes.Equal(s.b[i:i+len(utf8BOM)], utf8BOM) {
			return i
		}
		i += len(utf8BOM)
	}
}

// trim returns b[from:to] without surrounding whitespace and a leading byte
// order mark.
func (s *splitter) trim(from, to int) (int, int) {
	from = s.skip(from, to)
	for to > from {
		switch s.b[to-1] {
		case ' ', '\t', '\n', '\r':
			to--
			continue
		}
		break
	}
	return from, to
}
