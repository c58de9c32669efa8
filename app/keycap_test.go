package app

import (
	"testing"

	"idem/matching"
	"idem/registry"
)

// TestKeyCapBelowCountLimit checks that every key cap rules may set is
// below how far the store counts a key's records, so a capped key is
// always seen past its cap.
func TestKeyCapBelowCountLimit(t *testing.T) {
	if matching.MaxKeyCap >= registry.KeyCountLimit {
		t.Fatalf("matching.MaxKeyCap %d must be below registry.KeyCountLimit %d", matching.MaxKeyCap, registry.KeyCountLimit)
	}
}
