package keycloak

import "testing"

// TestInventory: authenticator inventory snapshots become key registrations
// (testdata/inventory; see ingesttest.Suite.TestInventory).
func TestInventory(t *testing.T) { suite.TestInventory(t) }
