package collect_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/model"
)

func TestSplitter(t *testing.T) {
	now := time.Date(2025, 3, 3, 12, 0, 0, 123456789, time.UTC)
	key := func(raw []byte) string {
		var r struct {
			A string `json:"a"`
		}
		_ = json.Unmarshal(raw, &r)
		return r.A
	}
	for _, tc := range []struct {
		name      string
		envelopes [][]string
		page      string
		want      []string // raw records
		keys      []string
	}{
		{"array", nil, `[{"a":"k1"}, {"a":"k2"}]`, []string{`{"a":"k1"}`, `{"a":"k2"}`}, []string{"k1", "k2"}},
		{"empty array", nil, `[]`, nil, nil},
		{"graph page", [][]string{{"value"}}, `{"@odata.nextLink":"x","value":[{"a":"k1"}]}`, []string{`{"a":"k1"}`}, []string{"k1"}},
		{"graph page without records", [][]string{{"value"}}, `{"@odata.context":"x","value":[]}`, nil, nil},
		{"google page without items", [][]string{{"items"}}, `{"kind":"admin#reports#activities","etag":"\"e\""}`, nil, nil},
		{"an element that is no record is kept, unkeyed", nil, `[{"a":"k1"}, 7]`, []string{`{"a":"k1"}`, `7`}, []string{"k1", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := collect.Splitter{Source: model.SourceOkta, Instance: "i", Envelopes: tc.envelopes, Key: key}
			recs := s.Split([]byte(tc.page), "https://x/y", now)
			require.Len(t, recs, len(tc.want))
			for i, r := range recs {
				require.Equal(t, tc.want[i], string(r.Raw))
				require.Equal(t, tc.keys[i], r.Key)
				require.Equal(t, model.SourceOkta, r.Source)
				require.Equal(t, "i", r.Instance)
				require.Equal(t, "https://x/y", r.Origin)
				require.Equal(t, model.Millis(now), r.ReceivedAt)
			}
		})
	}
}
