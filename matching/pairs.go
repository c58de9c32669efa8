package matching

import (
	"slices"
	"sort"
)

// pair is two record indexes, i < j.
type pair struct{ i, j int32 }

// CappedKey is a blocking key that more records share than the type's key
// cap allows: it is not used to find candidates, and is reported.
type CappedKey struct {
	Key     string
	Records int
}

// candidates returns the distinct record pairs of one type that share at
// least one usable blocking key, in index order, and the capped keys (most
// shared first). Records of other types are ignored.
func (m *Model) candidates(typ string, recs []*Record) ([]pair, []CappedKey) {
	blocks := map[string][]int32{}
	for i, r := range recs {
		if r.Type != typ {
			continue
		}
		for _, k := range m.Keys(r) {
			blocks[k] = append(blocks[k], int32(i))
		}
	}
	limit := m.KeyCap(typ)
	var capped []CappedKey
	seen := map[pair]struct{}{}
	for k, idx := range blocks {
		if len(idx) > limit {
			capped = append(capped, CappedKey{Key: k, Records: len(idx)})
			continue
		}
		for a := range idx {
			for b := a + 1; b < len(idx); b++ {
				seen[pair{idx[a], idx[b]}] = struct{}{}
			}
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
