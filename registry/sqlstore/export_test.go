package sqlstore

import "idem/registry"

// ReadAhead returns how many Candidates calls of tx were answered from
// candidates read ahead (prefetch.go).
func ReadAhead(t registry.Tx) int { return t.(*tx).aheadHits }
