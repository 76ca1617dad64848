// Package enrich completes ingested batches before they are stored
// (Enricher, an ingest.Enricher): it resolves IdP subjects and Airflow
// actors to people through package identity, decides what each WebAuthn
// credential is and whether it is hardware-backed through package aaguid,
// and stores the identities it learns. ResolveStored and ResolveOwners bring
// the people of stored rows up to date when identities arrive after the
// rows that need them; People resolves such rows as a correlation run reads
// them.
//
// The stored identities, registrations and rows are read and written
// through the interfaces declared here (Identities, Store, Rewriter), which
// warehouse.Warehouse implements; package identity stays the pure resolver.
package enrich
