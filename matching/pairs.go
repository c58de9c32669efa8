package matching

import (
	"slices"
	"sort"

	"idem/registry"
)

// pair is two record indexes, i < j.
type pair struct{ i, j int32 }

// CappedKey is a blocking key that more records share than the type's key
// cap allows: it is not used to find candidates, and is reported.
type CappedKey struct {
	Key     string
	Records int
}

// candidates returns the distinct record pairs of one type that blocking
// proposes, in index order, and the capped keys (most shared first).
// Records of other types are ignored. As in the store, each record's
// partners (the records sharing a usable key with it) are ranked by
// registry.BlockingWeight and only the best MaxCandidates kept; a pair is
// proposed when either record keeps the other, as matching each record when
// it was written would.
func (m *Model) candidates(typ string, recs []*Record) ([]pair, []CappedKey) {
	blocks := map[string][]int32{}
	keys := make([][]string, len(recs))
	for i, r := range recs {
		if r.Type != typ {
			continue
		}
		keys[i] = m.Keys(r)
		for _, k := range keys[i] {
			blocks[k] = append(blocks[k], int32(i))
		}
	}
	limit, most := m.KeyCap(typ), m.MaxCandidates(typ)
	var capped []CappedKey
	for k, idx := range blocks {
		if len(idx) > limit {
			capped = append(capped, CappedKey{Key: k, Records: len(idx)})
		}
	}
	seen := map[pair]struct{}{}
	score := map[int32]float64{}
	for i := range recs {
		clear(score)
		for _, k := range keys[i] {
			idx := blocks[k]
			if len(idx) > limit {
				continue
			}
			w := registry.BlockingWeight(len(idx)-1, limit) // the others holding the key
			for _, j := range idx {
				if j != int32(i) {
					score[j] += w
				}
			}
		}
		for _, j := range registry.TopCandidates(score, most) {
			a, b := int32(i), j
			if a > b {
				a, b = b, a
			}
			seen[pair{a, b}] = struct{}{}
		}
	}
	pairs := make([]pair, 0, len(seen))
	for p := range seen {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		if x.i != y.i {
			return int(x.i - y.i)
		}
		return int(x.j - y.j)
	})
	sort.Slice(capped, func(a, b int) bool {
		if capped[a].Records != capped[b].Records {
			return capped[a].Records > capped[b].Records
		}
		return capped[a].Key < capped[b].Key
	})
	return pairs, capped
}
