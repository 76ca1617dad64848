package decode

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSON(t *testing.T) {
	type inner struct {
		Details map[string]FlexString `json:"details"`
		N       int                   `json:"n"`
		List    []string              `json:"list"`
		Obj     struct{ A string }    `json:"obj"`
		B       bool                  `json:"b"`
	}
	for _, tc := range []struct{ in, want string }{
		{`{"details":"x"}`, "wrong JSON type: field details: got a JSON string, want an object"},
		{`{"n":"1"}`, "wrong JSON type: field n: got a JSON string, want a number"},
		{`{"list":{}}`, "wrong JSON type: field list: got a JSON object, want an array"},
		{`{"obj":[1]}`, "wrong JSON type: field obj: got a JSON array, want an object"},
		{`{"b":1}`, "wrong JSON type: field b: got a JSON number, want a boolean"},
		{`[1]`, "wrong JSON type: field the record: got a JSON array, want an object"},
	} {
		var v inner
		err := JSON(json.Unmarshal([]byte(tc.in), &v))
		require.EqualError(t, err, tc.want, tc.in)
		require.ErrorIs(t, err, ErrType)
		require.NotContains(t, err.Error(), "Go ")
	}
	var tv struct {
		ID   Text `json:"id"`
		User Text `json:"userId"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"id":"a","userId":null}`), &tv))
	require.Equal(t, Text("a"), tv.ID)
	for in, want := range map[string]string{
		`{"id":7}`:           "wrong JSON type: field id: got a JSON number, want a string",
		`{"userId":{"x":1}}`: "wrong JSON type: field userId: got a JSON object, want a string",
		`{"id":[1]}`:         "wrong JSON type: field id: got a JSON array, want a string",
		`{"id":true}`:        "wrong JSON type: field id: got a JSON bool, want a string",
	} {
		require.EqualError(t, JSON(json.Unmarshal([]byte(in), &tv)), want, in)
	}
	err := TypeError("actor", "a JSON string", "an object")
	require.EqualError(t, err, "wrong JSON type: field actor: got a JSON string, want an object")
	require.ErrorIs(t, err, ErrType)
	var v inner
	err = JSON(json.Unmarshal([]byte(`{"n":`), &v))
	require.ErrorIs(t, err, ErrSyntax)
	require.Nil(t, JSON(nil))
}

func TestTime(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2024-05-14T09:12:03.512Z", "2024-05-14T09:12:03.512Z"},
		{"2024-05-14T09:12:03.5129999Z", "2024-05-14T09:12:03.512Z"},
		{"2024-05-14T11:12:03+02:00", "2024-05-14T09:12:03Z"},
		{"2024-05-14T11:12:03+0200", "2024-05-14T09:12:03Z"},
		{"2024-05-14T11:12:03+02", "2024-05-14T09:12:03Z"},
		{"2024-05-14T09:12:03", "2024-05-14T09:12:03Z"},
		{"2024-05-14 09:12:03.1", "2024-05-14T09:12:03.1Z"},
	} {
		got, err := Time(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got.Format("2006-01-02T15:04:05.999Z07:00"), tc.in)
	}
	_, err := Time("yesterday")
	require.ErrorIs(t, err, ErrTime)
}
