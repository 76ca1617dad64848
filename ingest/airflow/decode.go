package airflow

import (
	"encoding/json"
	"errors"
)

// decodeRecord decodes the JSON object obj into rec exactly as
// json.Unmarshal(obj, rec) does, without its reflection: obj is validated by
// encoding/json's own scanner (json.Valid), then its top-level members are
// walked once and each value's bytes are handed to the field's
// UnmarshalJSON (or kept, for the raw fields), in document order, as
// encoding/json would hand them. Whatever this walk does not reproduce
// exactly — invalid JSON, a key with an escape or a non-ASCII byte (whose
// case folding encoding/json does by Unicode rules), a field that rejects
// its value (the error message comes from encoding/json) — is decoded again
// by json.Unmarshal into a fresh record, so results and errors are the same
// either way. An Airflow row spends most of its normalization time in
// encoding/json's reflection otherwise (issue 13).
func decodeRecord(obj []byte, rec *record) error {
	if json.Valid(obj) && walkRecord(obj, rec) == nil {
		return nil
	}
	*rec = record{}
	return json.Unmarshal(obj, rec)
}

// errSlowPath sends a record to json.Unmarshal.
var errSlowPath = errors.New("airflow: decode with encoding/json")

// walkRecord stores the members of obj, a valid JSON document, into rec.
func walkRecord(obj []byte, rec *record) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errSlowPath
	}
	i = skipSpace(obj, i+1)
	if obj[i] == '}' {
		return nil
	}
	for {
		// obj[i] is the opening quote of a key (obj is valid JSON).
		end := i + 1
		for obj[end] != '"' {
			if obj[end] == '\\' || obj[end] >= 0x80 {
				return errSlowPath
			}
			end++
		}
		key := obj[i+1 : end]
		i = skipSpace(obj, end+1) + 1 // past ':'
		i = skipSpace(obj, i)
		vend := skipValue(obj, i)
		if err := rec.set(key, obj[i:vend]); err != nil {
			return err
		}
		i = skipSpace(obj, vend)
		if obj[i] == '}' {
			return nil
		}
		i = skipSpace(obj, i+1) // past ','
	}
}

// set hands value to the field of rec that encoding/json would match key
// to: the field named exactly so, else one whose name equals key under
// ASCII case folding (key is ASCII). Other keys are ignored.
func (rec *record) set(key, value []byte) error {
	var lower [24]byte
	if len(key) > len(lower) {
		return nil // longer than every field name
	}
	for j, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[j] = c
	}
	var u json.Unmarshaler
	switch string(lower[:len(key)]) {
	case "event_log_id":
		u = &rec.EventLogID
	case "id":
		u = &rec.ID
	case "when":
		u = &rec.When
	case "dttm":
		u = &rec.Dttm
	case "event":
		u = &rec.Event
	case "task_id":
		u = &rec.TaskID
	case "map_index":
		u = &rec.MapIndex
	case "try_number":
		u = &rec.TryNumber
	case "owner":
		u = &rec.Owner
	case "owner_display_name":
		u = &rec.OwnerDisplayName
	case "extra":
		rec.Extra = append(rec.Extra[:0], value...)
		return nil
	case "execution_date":
		u = &rec.ExecutionDate
	case "logical_date":
		u = &rec.LogicalDate
	case "dag_id":
		u = &rec.DagID
	case "run_id":
		u = &rec.RunID
	case "dag_run_id":
		u = &rec.DagRunID
	case "run_type":
		u = &rec.RunType
	case "state":
		u = &rec.State
	case "queued_at":
		u = &rec.QueuedAt
	case "start_date":
		u = &rec.StartDate
	case "end_date":
		u = &rec.EndDate
	case "run_after":
		u = &rec.RunAfter
	case "conf":
		rec.Conf = append(rec.Conf[:0], value...)
		return nil
	case "triggered_by":
		u = &rec.TriggeredBy
	case "triggering_user_name":
		u = &rec.TriggeringUserName
	case "external_trigger":
		u = &rec.ExternalTrigger
	default:
		return nil
	}
	if err := u.UnmarshalJSON(value); err != nil {
		return errSlowPath // json.Unmarshal words the error
	}
	return nil
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value that starts at b[i]; b is
// valid JSON.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the index after the closing quote of the JSON string
// that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}
