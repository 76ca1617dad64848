package decode

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFlexStrings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`{"v":["a","b"]}`, []string{"a", "b"}},
		{`{"v":"a"}`, []string{"a"}},
		{`{"v":[1,true,null]}`, []string{"1", "true", ""}},
		{`{"v":7}`, []string{"7"}},
		{`{"v":null}`, []string{}},
		{`{}`, []string{}},
	} {
		var v struct {
			V FlexStrings `json:"v"`
		}
		require.NoError(t, json.Unmarshal([]byte(tc.in), &v), tc.in)
		require.Equal(t, tc.want, v.V.Strings(), tc.in)
	}
	var v struct {
		V FlexStrings `json:"v"`
	}
	// FlexString keeps any other JSON value as its text.
	require.NoError(t, json.Unmarshal([]byte(`{"v":{"a":1}}`), &v))
	require.Equal(t, []string{`{"a":1}`}, v.V.Strings())
	require.ErrorIs(t, JSON(json.Unmarshal([]byte(`{"v":[1,`), &v)), ErrSyntax)
}

func TestOneOrMany(t *testing.T) {
	type item struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	type rec struct {
		Items OneOrMany[item] `json:"items"`
	}
	for _, tc := range []struct {
		in   string
		want []item
	}{
		{`{"items":[{"name":"a"},{"name":"b"}]}`, []item{{Name: "a"}, {Name: "b"}}},
		{`{"items":{"name":"a","n":2}}`, []item{{Name: "a", N: 2}}},
		{`{"items":null}`, nil},
		{`{}`, nil},
	} {
		var r rec
		require.NoError(t, json.Unmarshal([]byte(tc.in), &r), tc.in)
		require.Equal(t, tc.want, []item(r.Items), tc.in)
	}
	for in, field := range map[string]string{
		`{"items":"x"}`:           "field items",
		`{"items":{"n":"2"}}`:     "field items.n",
		`{"items":[{"n":"2"}]}`:   "field items.n",
		`{"items":[{"name":{}}]}`: "field items.name",
		`{"items":{"name":[1]}}`:  "field items.name",
	} {
		var r rec
		err := JSON(json.Unmarshal([]byte(in), &r))
		require.ErrorIs(t, err, ErrType, in)
		require.Contains(t, err.Error(), field, in)
		require.NotContains(t, err.Error(), "decode.", in)
	}
}
