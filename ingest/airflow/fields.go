package airflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// optString is a JSON field that may be absent, null, a string, or (in
// database exports) a number; numbers keep their JSON text.
type optString struct {
	set   bool // the key was present, even if null
	null  bool
	value string
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *optString) UnmarshalJSON(b []byte) error {
	s.set = true
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		s.null = true
		return nil
	case len(b) > 0 && b[0] == '"':
		return unquote(b, &s.value)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		s.value = string(b)
		return nil
	}
	return fmt.Errorf("want a string, got %s", truncate(string(b), 32))
}

// unquote decodes the JSON string b into dst as json.Unmarshal does. A
// string without escapes or control characters whose bytes are valid UTF-8
// is its own value; the others (escapes, invalid UTF-8 replaced by U+FFFD,
// errors) go through encoding/json.
func unquote(b []byte, dst *string) error {
	if len(b) >= 2 && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		plain := utf8.Valid(inner)
		for _, c := range inner {
			if c == '\\' || c == '"' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			*dst = string(inner)
			return nil
		}
	}
	return json.Unmarshal(b, dst)
}

// optInt is a JSON field that may be absent, null, an integer, or an integer
// written as a string (CSV-to-JSON exports).
type optInt struct {
	set   bool
	valid bool
	value int64
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *optInt) UnmarshalJSON(b []byte) error {
	n.set = true
	b = bytes.TrimSpace(b)
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := unquote(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 3.0 == 3 in JSON; accept integral floats.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("want an integer, got %s", truncate(s, 32))
		}
		v = int64(f)
	}
	n.valid, n.value = true, v
	return nil
}

// record holds every field of an event log row or a DAG run that keytrail
// reads, under all the names Airflow versions and exports use.
type record struct {
	// event logs
	EventLogID       optInt          `json:"event_log_id"`
	ID               optInt          `json:"id"`
	When             optString       `json:"when"`
	Dttm             optString       `json:"dttm"`
	Event            optString       `json:"event"`
	TaskID           optString       `json:"task_id"`
	MapIndex         optInt          `json:"map_index"`
	TryNumber        optInt          `json:"try_number"`
	Owner            optString       `json:"owner"`
	OwnerDisplayName optString       `json:"owner_display_name"`
	Extra            json.RawMessage `json:"extra"`
	ExecutionDate    optString       `json:"execution_date"`
	LogicalDate      optString       `json:"logical_date"`
	DagID            optString       `json:"dag_id"`
	RunID            optString       `json:"run_id"`
	// DAG runs
	DagRunID           optString       `json:"dag_run_id"`
	RunType            optString       `json:"run_type"`
	State              optString       `json:"state"`
	QueuedAt           optString       `json:"queued_at"`
	StartDate          optString       `json:"start_date"`
	EndDate            optString       `json:"end_date"`
	RunAfter           optString       `json:"run_after"`
	Conf               json.RawMessage `json:"conf"`
	TriggeredBy        optString       `json:"triggered_by"`
	TriggeringUserName optString       `json:"triggering_user_name"`
	ExternalTrigger    optBool         `json:"external_trigger"`
}

// optBool is a JSON field that may be absent, null, a boolean, or a boolean
// written as a string or 0/1 (database exports).
type optBool struct {
	valid bool
	value bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *optBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"`)
	switch strings.ToLower(s) {
	case "null", "":
		return nil
	case "true", "t", "1":
		b.valid, b.value = true, true
		return nil
	case "false", "f", "0":
		b.valid, b.value = true, false
		return nil
	}
	return fmt.Errorf("want a boolean, got %s", truncate(string(data), 32))
}

// badField names the first field of obj whose value has the wrong type, or
// "" when the object itself does not decode. Only used on the error path.
func badField(obj []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return ""
	}
	rt := reflect.TypeOf(record{})
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		name := f.Tag.Get("json")
		v, ok := m[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(v, reflect.New(f.Type).Interface()); err != nil {
			return name
		}
	}
	return ""
}
