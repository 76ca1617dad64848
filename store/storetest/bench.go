package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// AuthEvents generates n realistic auth events (Okta-sized fields).
func AuthEvents(n int, seed int) []model.AuthEvent {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]model.AuthEvent, n)
	for i := range out {
		hw := i%3 == 0
		out[i] = model.AuthEvent{
			Source: model.SourceOkta, Instance: "prod", EventID: fmt.Sprintf("%08d-9c3e-11ee-b9d1-%012d", seed, i),
			TS: base.Add(time.Duration(i) * 731 * time.Millisecond), Person: fmt.Sprintf("person%04d@example.com", i%997),
			Subject: fmt.Sprintf("00u%017d", i%997), Email: fmt.Sprintf("person%04d@example.com", i%997),
			EventType: "user.authentication.auth_via_mfa", Category: model.CategoryMFA, Outcome: model.OutcomeSuccess,
			Factor: model.FactorWebAuthn, Hardware: &hw, CredentialID: fmt.Sprintf("cred-%d", i%1500),
			App: "Airflow", SessionID: fmt.Sprintf("102%017d", i), IP: "203.0.113.7",
			Detail: "HARDWARE_PROTECTED", Methods: []string{"FIDO_WEBAUTHN"},
			RawSHA256:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			ReceivedAt: base,
		}
	}
	return out
}

// approxBytes is the size of an event's values, for MB/s figures.
func approxBytes(e model.AuthEvent) int {
	return len(e.Source) + len(e.Instance) + len(e.EventID) + 8 + len(e.Person) + len(e.Subject) + len(e.Email) +
		len(e.EventType) + len(e.Category) + len(e.Outcome) + len(e.Factor) + 1 + len(e.AAGUID) + len(e.CredentialID) +
		len(e.App) + len(e.SessionID) + len(e.IP) + len(e.Detail) + len(e.Methods[0]) + len(e.RawSHA256) + 8 + 8
}

// BenchInsert measures batch inserts of 100k auth events (10 batches of 10k)
// into a fresh database of backend b, reporting rows/s and MB/s. Its peer,
// when the backend has InsertFormat, inserts the same batches as JSONEachRow
// (built beforehand) into another fresh database, each peer batch right after
// the store's, so both see the same machine load (jsoneachrow-peer-rows/s).
func BenchInsert(b *testing.B, be Backend) {
	const total, batch = 100_000, 10_000
	ctx := context.Background()
	s := Migrated(b, be)
	evs := AuthEvents(total, 1)
	size := 0
	for _, e := range evs {
		size += approxBytes(e)
	}
	var peer store.Store
	var docs [][]byte
	if be.InsertFormat != nil {
		peer = Migrated(b, be)
		for i := 0; i < total; i += batch {
			docs = append(docs, JSONEachRow(store.AuthEvents, evs[i:i+batch], peer.Dialect()))
		}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	var own, other time.Duration
	for it := 0; it < b.N; it++ {
		for i := 0; i < total; i += batch {
			start := time.Now()
			if err := store.AuthEvents.Write(ctx, s, evs[i:i+batch]); err != nil {
				b.Fatal(err)
			}
			own += time.Since(start)
			if peer == nil {
				continue
			}
			b.StopTimer()
			start = time.Now()
			if err := be.InsertFormat(ctx, peer, store.AuthEvents.Name, "JSONEachRow", docs[i/batch]); err != nil {
				b.Fatal(err)
			}
			other += time.Since(start)
			b.StartTimer()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(total*b.N)/own.Seconds(), "rows/s")
	if peer != nil {
		b.ReportMetric(float64(total*b.N)/other.Seconds(), "jsoneachrow-peer-rows/s")
	}
	n, err := store.CountRows(ctx, s, "SELECT count() FROM auth_events FINAL")
	if err != nil || n != total {
		b.Fatalf("stored %d rows (err %v), want %d", n, err, total)
	}
}
