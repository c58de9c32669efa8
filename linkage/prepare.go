package linkage

import (
	"context"

	"idem/matching"
	"idem/registry"
)

// Prepare begins a batch about to be written (registry.Linker): its
// decisions leave their golden records to Settle. It looks ahead over the
// batch: the store reads at once how many records hold each
// of the batch's blocking keys, and starts reading each record's written
// candidates beside the writer, in the order the records will be linked,
// so that scoring inside the transaction finds them read. The queries are
// the ones score will ask: the record's stored blocking keys, with the
// current model's cap and candidate limit.
func (l *Linker) Prepare(ctx context.Context, tx registry.Tx, batch []*registry.Write) (context.Context, error) {
	ctx = withGoldenBatch(ctx, tx)
	seen := map[string]bool{}
	var keys []string
	byType := map[string][]registry.CandidateQuery{}
	var types []string
	model := l.matcher.models.Current(ctx)
	for _, w := range batch {
		for _, k := range w.Index.Keys {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		if !Matchable(w.Type) || !l.autoLink(w.Type) {
			continue
		}
		if byType[w.Type] == nil {
			types = append(types, w.Type)
		}
		byType[w.Type] = append(byType[w.Type], registry.CandidateQuery{Keys: w.Index.Keys, KeyCap: model.KeyCap(w.Type), Max: model.MaxCandidates(w.Type),
			Decode: l.matcher.decodeCandidate})
	}
	if len(keys) > 0 {
		if err := tx.PrefetchBlocking(ctx, keys); err != nil {
			return nil, err
		}
	}
	for _, typ := range types {
		tx.PrefetchCandidates(ctx, typ, byType[typ])
	}
	return ctx, nil
}

// decodeCandidate gives the readers that read a batch's candidates ahead
// a candidate's features (registry.CandidateQuery.Decode): from the
// matcher's record cache, or decoded and put there. A registry's common
// names make the same records candidates of many records of one Bundle;
// without the cache the readers decoded each of them again for each.
func (m *Matcher) decodeCandidate(r *registry.Resource, b []byte) (any, error) {
	if rec := m.recs.get(r); rec != nil {
		return rec, nil
	}
	rec, err := matching.DecodeRecord(b)
	if err != nil {
		return nil, err
	}
	m.recs.put(r, rec)
	return rec, nil
}
