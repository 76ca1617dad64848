package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/keytrail/keytrail/model"
)

// Output is what one raw record normalizes to. A record may yield several rows
// (an Entra sign-in can be both a login and a key registration) or none (a
// record that is valid but not of interest still has its raw record kept).
type Output struct {
	Raw            model.RawRecord
	Auth           []model.AuthEvent
	Authenticators []model.Authenticator
	Airflow        []model.AirflowEvent
	Runs           []model.DagRun
}

// Normalizer turns one provider record into keytrail's model.
//
// Normalize receives the bytes of exactly one record (as split by Split) and
// must not retain or modify them. It returns an error for a record it cannot
// accept (missing id or time, wrong shape); the caller dead-letters the raw
// bytes with that error. On success every returned row has a non-empty event id
// and a non-zero time, and Output.Raw carries the record's id, time and bytes.
// Normalize is safe for concurrent use.
type Normalizer interface {
	Source() model.Source
	// Envelopes lists the JSON paths of arrays that hold records in this
	// source's API pages and push envelopes, e.g. {"data","events"} or {"value"}.
	Envelopes() [][]string
	Normalize(raw []byte, instance string) (Output, error)
}

// ErrNotJSON is returned by Split for input that is not JSON in any accepted shape.
var ErrNotJSON = errors.New("input is not JSON")

// Piece is one record found by Split, or a fragment that could not be parsed.
type Piece struct {
	Raw    []byte // exactly the bytes of the record
	Offset int64  // byte offset of the record in the input (for NDJSON: of its line)
	Err    error  // non-nil when this fragment is not valid JSON
}

// Split finds the records in data: a single JSON object, a JSON array of
// objects, newline-delimited JSON, or an object holding records under one of
// the envelope paths (checked in order). A single object that matches no
// envelope is one record. Lines of NDJSON that do not parse become pieces with
// Err set so the caller can dead-letter them; nothing is dropped.
func Split(data []byte, envelopes [][]string) []Piece {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	// Whole input as one JSON value first.
	if json.Valid(trimmed) {
		off := int64(bytes.Index(data, trimmed[:1]))
		return splitValue(trimmed, off, envelopes)
	}
	// Otherwise newline-delimited.
	var out []Piece
	var off int64
	for len(data) > 0 {
		line := data
		next := len(data)
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i]
			next = i + 1
		}
		t := bytes.TrimSpace(line)
		if len(t) > 0 {
			lead := int64(bytes.Index(line, t[:1]))
			if json.Valid(t) {
				out = append(out, splitValue(t, off+lead, envelopes)...)
			} else {
				out = append(out, Piece{Raw: t, Offset: off + lead, Err: fmt.Errorf("line at byte %d: %w", off+lead, ErrNotJSON)})
			}
		}
		off += int64(next)
		data = data[next:]
	}
	return out
}

func splitValue(v []byte, off int64, envelopes [][]string) []Piece {
	switch v[0] {
	case '[':
		return splitArray(v, off)
	case '{':
		for _, path := range envelopes {
			if arr, ok := lookupArray(v, path); ok {
				return splitArray(arr, off+int64(bytes.Index(v, arr)))
			}
		}
		return []Piece{{Raw: v, Offset: off}}
	default:
		return []Piece{{Raw: v, Offset: off, Err: fmt.Errorf("record at byte %d is not a JSON object", off)}}
	}
}

// splitArray returns each element of a JSON array as its own piece, with the
// element's exact bytes.
func splitArray(arr []byte, off int64) []Piece {
	dec := json.NewDecoder(bytes.NewReader(arr))
	if _, err := dec.Token(); err != nil { // '['
		return []Piece{{Raw: arr, Offset: off, Err: err}}
	}
	var out []Piece
	for dec.More() {
		start := dec.InputOffset()
		var m json.RawMessage
		if err := dec.Decode(&m); err != nil {
			return append(out, Piece{Raw: arr[start:], Offset: off + start, Err: err})
		}
		end := dec.InputOffset()
		raw := bytes.TrimSpace(bytes.TrimLeft(arr[start:end], ", \t\r\n"))
		p := Piece{Raw: raw, Offset: off + start}
		if len(raw) == 0 || raw[0] != '{' {
			p.Err = fmt.Errorf("array element at byte %d is not a JSON object", off+start)
		}
		out = append(out, p)
	}
	return out
}

// lookupArray returns the raw bytes of the array at path inside the object v.
func lookupArray(v []byte, path []string) ([]byte, bool) {
	cur := v
	for _, key := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			return nil, false
		}
		next, ok := m[key]
		if !ok {
			return nil, false
		}
		cur = bytes.TrimSpace(next)
	}
	if len(cur) == 0 || cur[0] != '[' {
		return nil, false
	}
	// Return the slice of v that holds the array so offsets and bytes are exact.
	if i := bytes.Index(v, cur); i >= 0 {
		return v[i : i+len(cur)], true
	}
	return cur, true
}
