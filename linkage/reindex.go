package linkage

import (
	"context"

	"idem/matching"
	"idem/registry"
)

// reindexBatch is the number of records re-keyed per transaction.
const reindexBatch = 2000

// Reindex recomputes the blocking keys, features and term keys of every
// current record of typ with the matcher's current rules and stores them
// (term keys: records stored before idem counted them get term frequencies); it returns how many records it
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
		index := make(map[string]registry.MatchIndex, len(res.Matches))
		for _, r := range res.Matches {
			body, err := registry.DecodeStored(r)
			if err != nil {
				return n, err
			}
			rec := matching.Extract(typ, body)
			index[r.ID] = registry.MatchIndex{Keys: m.models.Current(ctx).Keys(rec), Record: rec.Encode(), Terms: rec.TermKeys()}
		}
		if err := store.SetMatchIndex(ctx, typ, index); err != nil {
			return n, err
		}
		n += len(index)
		if res.Next == "" {
			return n, nil
		}
		q.Page = res.Next
	}
}
