package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

func TestSnapshot(t *testing.T) {
	at := time.Date(2025, 3, 4, 6, 0, 0, 123456789, time.UTC)
	response := []byte(" [{\"id\": \"fwf1\",  \"factorType\": \"webauthn\"}]\n")
	doc, err := AppendSnapshot(nil, Snapshot{Source: model.SourceOkta, Kind: "factors", Subject: "00u1", URL: "https://acme.okta.com/api/v1/users/00u1/factors", FetchedAt: at, Response: response})
	require.NoError(t, err)
	require.True(t, IsSnapshot(doc))
	require.True(t, json.Valid(doc))
	require.Contains(t, string(doc), `"response": [{"id": "fwf1",  "factorType": "webauthn"}]}`, "the provider's bytes, verbatim")
	s, err := ParseSnapshot(doc)
	require.NoError(t, err)
	require.Equal(t, model.SourceOkta, s.Source)
	require.Equal(t, "00u1", s.Subject)
	require.Equal(t, model.Millis(at), s.FetchedAt)
	require.Equal(t, "inventory/factors/00u1@2025-03-04T06:00:00.123Z", s.EventID())
	r := s.RawRecord("acme", doc, at)
	require.Equal(t, doc, r.Raw)
	require.Equal(t, model.SHA256Hex(doc), r.SHA256)
	a := s.Registration("acme", "fwf1", "cred", "CB69481E-8FF7-4039-93EC-0A2729A154A8", "YubiKey", time.Time{}, r.SHA256)
	require.Equal(t, "cb69481e-8ff7-4039-93ec-0a2729a154a8", a.AAGUID)
	require.Equal(t, model.Millis(at), a.TS, "no creation time: the snapshot's")
	require.Equal(t, "inventory/fwf1", a.EventID)

	_, err = AppendSnapshot(nil, Snapshot{Kind: "factors", Subject: "x", Response: []byte("{")})
	require.ErrorIs(t, err, ErrSnapshot)
	for _, bad := range []string{
		`{"keytrail_inventory": null, "response": []}`,
		`{"keytrail_inventory": {"kind":"factors","fetched_at":"2025-03-04T06:00:00Z"}, "response": []}`,
		`{"keytrail_inventory": {"subject":"s","fetched_at":"2025-03-04T06:00:00Z"}, "response": []}`,
		`{"keytrail_inventory": {"kind":"factors","subject":"s","fetched_at":"2025-03-04T06:00:00Z"}}`,
		`{"keytrail_inventory": {"kind":"factors","subject":"s","fetched_at":"soon"}, "response": []}`,
		`{"keytrail_inventory": {"kind":"factors","subject":"s"`,
	} {
		_, err := ParseSnapshot([]byte(bad))
		require.ErrorIs(t, err, ErrSnapshot, bad)
	}
	require.False(t, IsSnapshot([]byte(`{"uuid": "x", "keytrail_inventory": {}}`)))
}

func FuzzParseSnapshot(f *testing.F) {
	f.Add([]byte(`{"keytrail_inventory": {"source":"okta","kind":"factors","subject":"00u1","url":"u","fetched_at":"2025-03-04T06:00:00.000Z"}, "response": []}`))
	f.Add([]byte(`{"keytrail_inventory": {"kind":"k","subject":"s","fetched_at":"2025-03-04T06:00:00Z"}, "response": {"value": [1]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseSnapshot(raw)
		if err != nil {
			return
		}
		if s.Subject == "" || s.Kind == "" || s.FetchedAt.IsZero() || !json.Valid(s.Response) {
			t.Fatalf("accepted an incomplete snapshot: %+v", s)
		}
		doc, err := AppendSnapshot(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSnapshot(doc)
		if err != nil || again.EventID() != s.EventID() {
			t.Fatalf("round trip: %v %q %q", err, again.EventID(), s.EventID())
		}
	})
}
