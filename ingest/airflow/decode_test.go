package airflow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireSameDecode checks that decodeRecord gives what json.Unmarshal gives
// for obj: the same record, or an error with the same text.
func requireSameDecode(t *testing.T, obj []byte) {
	t.Helper()
	var want, got record
	werr := json.Unmarshal(obj, &want)
	gerr := decodeRecord(obj, &got)
	if werr != nil {
		require.Error(t, gerr, "%s", obj)
		require.Equal(t, werr.Error(), gerr.Error(), "%s", obj)
		return
	}
	require.NoError(t, gerr, "%s", obj)
	require.Equal(t, want, got, "%s", obj)
}

// TestDecodeRecordMatchesEncodingJSON covers the classes of input the
// record decoder sees, each against encoding/json: every field kind with
// every JSON type (strings, numbers, null, booleans, objects, arrays), keys
// in other cases, repeated keys, escapes and non-ASCII bytes in keys and
// values, unknown members of every type, whitespace everywhere, and
// invalid documents.
func TestDecodeRecordMatchesEncodingJSON(t *testing.T) {
	cases := map[string]string{
		"event log row":          `{"event_log_id":12,"when":"2025-03-03T10:00:00+00:00","event":"trigger","owner":"alice","dag_id":"d","run_id":"r","task_id":null,"map_index":-1,"try_number":0,"extra":"{\"a\": 1}","logical_date":null}`,
		"dag run":                `{"dag_run_id":"manual__x","dag_id":"d","run_type":"manual","state":"success","queued_at":"2025-03-03T10:00:00Z","start_date":null,"end_date":"2025-03-03T10:05:00Z","conf":{"k":[1,2,{"x":null}]},"triggered_by":"ui","triggering_user_name":"bob","external_trigger":true}`,
		"database export":        `{"id":"7","dttm":"2025-03-03 10:00:00.123456+00","event":"cli_task_run","owner":"airflow","extra":null,"execution_date":"2025-03-03 09:00:00+00","map_index":"3","try_number":"2.0"}`,
		"empty object":           `{}`,
		"whitespace everywhere":  " \t\n{ \"event\" :\r\n \"x\" , \"id\"\t:\t5 , \"extra\" : [ 1 , \"]\" , { } ] }\n ",
		"keys in other cases":    `{"EVENT":"a","Event_Log_Id":4,"WHEN":"2025-03-03T10:00:00Z","Extra":{"A":1},"CONF":null,"External_Trigger":"t"}`,
		"repeated keys":          `{"event":"a","event":"b","extra":{"x":1},"extra":null,"id":1,"id":null,"owner":null,"owner":"c"}`,
		"repeated keys by case":  `{"event":"a","EVENT":null,"Owner":"x","owner":"y"}`,
		"escaped key":            `{"ev\u0065nt":"a","id":1}`,
		"escaped quote in key":   `{"a\"b":1,"event":"x"}`,
		"non-ASCII key":          `{"évent":"a","event":"b"}`,
		"Kelvin sign folds to k": `{"tas\u212a_id":"t","event":"e"}`,
		"long-s folds to s":      `{"ſtate":"running","run_type":"manual"}`,
		"long unknown key":       `{"a_key_much_longer_than_any_field_name":1,"event":"e"}`,
		"escapes in values":      `{"event":"a\"b\\c\u00e9\n","owner":"\ud83d\ude00","extra":"{\"k\":\"\\\"\"}"}`,
		"invalid UTF-8 value":    "{\"event\":\"a\xffb\",\"owner\":\"\xc3\"}",
		"unknown members":        `{"x":{"event":"no"},"y":[1,"}",{"z":[]}],"z":null,"w":true,"v":-1.5e3,"event":"yes"}`,
		"numbers as strings":     `{"event_log_id":"12","map_index":" 4 ","try_number":"","id":"x"}`,
		"integral float":         `{"event_log_id":3.0,"try_number":1e2}`,
		"fractional integer":     `{"event_log_id":3.5}`,
		"number for a string":    `{"event":12.5e-1,"owner":-0}`,
		"boolean for a string":   `{"event":true}`,
		"object for a string":    `{"owner":{"name":"x"}}`,
		"array for an int":       `{"id":[1]}`,
		"object for a boolean":   `{"external_trigger":{}}`,
		"bad boolean":            `{"external_trigger":"maybe"}`,
		"boolean spellings":      `{"external_trigger":"F","event":"a"}`,
		"trailing garbage":       `{"event":"a"} x`,
		"two objects":            `{"event":"a"}{"event":"b"}`,
		"truncated":              `{"event":"a"`,
		"missing value":          `{"event":}`,
		"trailing comma":         `{"event":"a",}`,
		"unquoted key":           `{event:"a"}`,
		"single quotes":          `{'event':'a'}`,
		"not an object":          `["event"]`,
		"null document":          `null`,
		"bad escape":             `{"event":"\x"}`,
		"control character":      "{\"event\":\"a\tb\"}",
		"deep nesting in extra":  `{"extra":[[[[[[[[[[{"a":[[[]]]}]]]]]]]]]],"event":"e"}`,
	}
	for name, obj := range cases {
		t.Run(name, func(t *testing.T) { requireSameDecode(t, []byte(obj)) })
	}
}

// TestDecodeRecordEveryField decodes every field of record (by its JSON
// name, as given and in upper case) from every JSON type, against
// encoding/json: a field added to record but not to record.set fails here.
func TestDecodeRecordEveryField(t *testing.T) {
	rt := reflect.TypeOf(record{})
	for i := range rt.NumField() {
		name := rt.Field(i).Tag.Get("json")
		for _, key := range []string{name, strings.ToUpper(name)} {
			for _, v := range []string{`"1"`, `"t"`, `7`, `-2.0`, `null`, `true`, `{"a":[1]}`, `[]`} {
				obj := `{"` + key + `":` + v + `,"event":"e"}`
				t.Run(obj, func(t *testing.T) { requireSameDecode(t, []byte(obj)) })
			}
		}
	}
}

// FuzzDecodeRecord checks decodeRecord against json.Unmarshal on any input,
// seeded with every fixture record.
func FuzzDecodeRecord(f *testing.F) {
	seedRecords(f, func(s string) { f.Add([]byte(s)) })
	f.Add([]byte(`{"EVENT":"a","event":null,"ſtate":1}`))
	f.Fuzz(func(t *testing.T, obj []byte) { requireSameDecode(t, obj) })
}
