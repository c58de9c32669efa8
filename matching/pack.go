package matching

import "strings"

// pack moves the record's values, and the text (identifiers' too), runes
// and q-grams they point to, into one block each, so that comparing two records reads a few
// neighbouring cache lines instead of dozens of scattered allocations: at
// a million comparisons a second, memory latency outweighs the arithmetic.
// Display texts, which only Explain reads, go last.
func (r *Record) pack() {
	n, text, runes, grams := 0, 0, 0, 0
	for _, id := range r.ids {
		text += len(id.system) + len(id.value)
	}
	for f := range r.vals {
		for _, v := range r.vals[f] {
			n++
			text += len(v.norm) + len(v.coarse) + len(v.display)
			runes += len(v.runes)
			grams += len(v.grams)
		}
	}
	all := make([]value, 0, n)
	rs, gs := make([]rune, 0, runes), make([]uint32, 0, grams)
	var sb strings.Builder
	sb.Grow(text)
	put := func(s string) [2]int {
		sb.WriteString(s)
		return [2]int{sb.Len() - len(s), sb.Len()}
	}
	spans := make([][3][2]int, 0, n) // norm, coarse, display
	for f := range r.vals {
		for _, v := range r.vals[f] {
			spans = append(spans, [3][2]int{put(v.norm), put(v.coarse)})
			rs = append(rs, v.runes...)
			v.runes = rs[len(rs)-len(v.runes) : len(rs) : len(rs)]
			gs = append(gs, v.grams...)
			v.grams = gs[len(gs)-len(v.grams) : len(gs) : len(gs)]
			all = append(all, v)
		}
	}
	ids := make([][2][2]int, len(r.ids)) // identifiers' system and value, compared on every score
	for i, id := range r.ids {
		ids[i] = [2][2]int{put(id.system), put(id.value)}
	}
	for i := range all {
		spans[i][2] = put(all[i].display)
	}
	block := sb.String()
	cut := func(sp [2]int) string { return block[sp[0]:sp[1]] }
	for i := range all {
		all[i].norm, all[i].coarse, all[i].display = cut(spans[i][0]), cut(spans[i][1]), cut(spans[i][2])
	}
	for i := range r.ids {
		r.ids[i].system, r.ids[i].value = cut(ids[i][0]), cut(ids[i][1])
	}
	k := 0
	for f := range r.vals {
		m := len(r.vals[f])
		r.vals[f] = all[k : k+m : k+m]
		k += m
	}
}
