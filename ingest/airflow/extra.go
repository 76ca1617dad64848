package airflow

import (
	"bytes"
	"encoding/json"
	"strings"
)

// DecodeExtra turns Airflow's `extra` column, in any of the encodings
// Airflow has written, into compact JSON:
//
//   - JSON (2.9+ views and REST calls, 3.x, and CLI rows in every version) is
//     kept, compacted;
//   - a Python repr of a list of (name, value) tuples — what the 1.10–2.8 web
//     UI and REST decorators write (str() of the request values), and what
//     the scheduler's auto-pause writes in every version — becomes an object;
//     a name given more than once keeps all its values, in order, as an
//     array; "[]" (no request values) is the empty object;
//   - a Python dict repr (e.g. {'is_paused': True}, from exports and tools
//     that re-encode the column) becomes an object;
//   - any other Python literal becomes its JSON equivalent;
//   - anything else is kept verbatim as a JSON string value.
//
// raw is the JSON value of the field as it appears in the record: usually a
// JSON string holding the column text, but an object or array (an export that
// decoded the column) is accepted too. A missing, null or empty extra gives "".
func DecodeExtra(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] != '"' {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return jsonString(string(raw))
		}
		return buf.String()
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return jsonString(string(raw))
	}
	return decodeExtraText(s)
}

// decodeExtraText decodes the text of an `extra` column.
func decodeExtraText(s string) string {
	t := strings.TrimSpace(s)
	switch t {
	case "":
		return ""
	case "[]": // str([]): a request without values, not a JSON array
		return "{}"
	}
	if json.Valid([]byte(t)) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(t)); err == nil {
			return buf.String()
		}
	}
	v, err := parsePythonLiteral(t)
	if err != nil {
		return jsonString(s)
	}
	var buf bytes.Buffer
	if v.isPairList() {
		writePairsAsObject(&buf, v.items)
	} else {
		writePyJSON(&buf, v)
	}
	return buf.String()
}

// writePairsAsObject writes (name, value) pairs as a JSON object in first
// appearance order; repeated names collect their values into an array.
func writePairsAsObject(buf *bytes.Buffer, pairs []pyValue) {
	order := make([]string, 0, len(pairs))
	vals := make(map[string][]pyValue, len(pairs))
	for _, p := range pairs {
		k := p.items[0].text
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = append(vals[k], p.items[1])
	}
	buf.WriteByte('{')
	for i, k := range order {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(buf, k)
		buf.WriteByte(':')
		if vs := vals[k]; len(vs) == 1 {
			writePyJSON(buf, vs[0])
		} else {
			writePyJSON(buf, pyValue{kind: pyList, items: vs})
		}
	}
	buf.WriteByte('}')
}

func jsonString(s string) string {
	var buf bytes.Buffer
	writeJSONString(&buf, s)
	return buf.String()
}
