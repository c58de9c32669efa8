package registry

import (
	"context"
	"net/url"
)

// claimPushed claims, for each record a pushed message or document wrote
// under the sender's id, the key it is looked up by (Type?_source=<the
// sender's record URL>), as $import claims it (import.go claimImported)
// and a conditional create its If-None-Exist: keys are unique in the
// store, so when two pushes of the same new source record run at once
// (two instances on PostgreSQL), the one that missed the other's record
// fails on the claim, is retried, and then finds and updates it — one
// registry record. A write the transaction deleted last claims nothing.
// The claims come after every write of the transaction: one flush.
func (s *Service) claimPushed(ctx context.Context, tx Tx, ws []*PushWrite) error {
	done := map[string]bool{}
	var claims []Claim
	for i := len(ws) - 1; i >= 0; i-- { // the last write of a record decides
		w := ws[i]
		if w.source == "" {
			continue
		}
		key := CanonicalQuery(w.Type, url.Values{"_source": {w.source}})
		if done[key] {
			continue
		}
		done[key] = true
		if w.Out == nil || w.Out.Resource == nil || w.Out.Resource.Deleted {
			continue
		}
		claims = append(claims, Claim{Type: w.Type, Key: key, ID: w.Out.Resource.ID})
	}
	return tx.ClaimKeys(ctx, claims...)
}
