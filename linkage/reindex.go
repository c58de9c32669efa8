package linkage

import (
	"context"

	"idem/registry"
)

// reindexBatch is the number of records re-keyed per transaction.
const reindexBatch = 2000

// Reindex recomputes the blocking keys of every current record of typ with
// the matcher's current rules and stores them; it returns how many records it
// re-keyed. Records written meanwhile get their keys on write as usual.
func Reindex(ctx context.Context, store interface {
	registry.Store
	registry.MatchStore
}, m *Matcher, typ string) (int, error) {
	q := &registry.Query{Type: typ, Count: reindexBatch, NoTotal: true}
	n := 0
	for {
		res, err := store.Search(ctx, q)
		if err != nil {
			return n, err
		}
		keys := make(map[string][]string, len(res.Matches))
		for _, r := range res.Matches {
			body, err := registry.DecodeStored(r)
			if err != nil {
				return n, err
			}
			keys[r.ID] = m.Keys(typ, body)
		}
		if err := store.SetMatchKeys(ctx, typ, keys); err != nil {
			return n, err
		}
		n += len(keys)
		if res.Next == "" {
			return n, nil
		}
		q.Page = res.Next
	}
}
