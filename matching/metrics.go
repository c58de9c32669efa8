package matching

import "slices"

// maxRunes bounds the strings the edit metrics look at: the match flags and
// distance rows live on the stack so that scoring does not allocate. Longer
// values (rare for names and codes) are compared on their first maxRunes
// runes; exact equality is always decided on the whole value.
const maxRunes = 64

// jaroWinkler returns the textbook Jaro-Winkler similarity (Winkler 1990):
// matching window max(len)/2-1, transpositions counted as half the
// out-of-order matches, prefix bonus 0.1 per common leading rune up to 4,
// applied only when the Jaro similarity exceeds 0.7.
func jaroWinkler(a, b []rune) float64 {
	j := jaro(a, b)
	if j <= 0.7 {
		return j
	}
	prefix := 0
	for prefix < 4 && prefix < len(a) && prefix < len(b) && a[prefix] == b[prefix] {
		prefix++
	}
	return j + 0.1*float64(prefix)*(1-j)
}

// jaro returns the Jaro similarity of two rune strings.
func jaro(a, b []rune) float64 {
	a, b = a[:min(len(a), maxRunes)], b[:min(len(b), maxRunes)]
	if len(a) == 0 || len(b) == 0 {
		if len(a) == len(b) {
			return 1
		}
		return 0
	}
	window := max(max(len(a), len(b))/2-1, 0)
	var ma, mb [maxRunes]bool
	matches := 0
	for i, r := range a {
		for j := max(0, i-window); j <= min(len(b)-1, i+window); j++ {
			if !mb[j] && b[j] == r {
				ma[i], mb[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	halfT, j := 0, 0
	for i := range a {
		if !ma[i] {
			continue
		}
		for !mb[j] {
			j++
		}
		if a[i] != b[j] {
			halfT++
		}
		j++
	}
	m := float64(matches)
	return (m/float64(len(a)) + m/float64(len(b)) + (m-float64(halfT)/2)/m) / 3
}

// runeHist counts the runes of a string (at most maxRunes of them) in 32
// buckets; runes sharing a bucket only make the bound below looser.
type runeHist [32]uint8

func newRuneHist(s []rune) runeHist {
	var h runeHist
	for _, r := range s[:min(len(s), maxRunes)] {
		h[r&31]++
	}
	return h
}

// jaroWinklerBound returns an upper bound of jaroWinkler(a, b) from the rune
// histograms: the matching runes cannot outnumber the runes the two strings
// have in common, wherever they stand. It costs a fraction of the metric and
// rules out most pairs of unrelated names.
func jaroWinklerBound(a, b []rune, ha, hb *runeHist) float64 {
	common := 0
	for i := range ha {
		common += int(min(ha[i], hb[i]))
	}
	la, lb := min(len(a), maxRunes), min(len(b), maxRunes)
	if common == 0 || la == 0 || lb == 0 {
		return 0
	}
	c := float64(common)
	j := (c/float64(la) + c/float64(lb) + 1) / 3
	if j <= 0.7 {
		return j
	}
	return j + 0.4*(1-j) // the largest prefix bonus
}

// oneTypo reports whether two strings are one edit apart: one rune
// substituted, inserted or deleted, or two adjacent runes swapped. Linear
// time, no allocation; equal strings are not one typo apart.
func oneTypo(a, b string) bool {
	if a == b || len(a)-len(b) > 1 || len(b)-len(a) > 1 {
		return false
	}
	i := 0 // skip the common prefix, then look at what differs
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	x, y := a[i:], b[i:]
	switch {
	case len(x) == len(y):
		return x[1:] == y[1:] || len(x) >= 2 && x[0] == y[1] && x[1] == y[0] && x[2:] == y[2:]
	case len(x) == len(y)+1:
		return x[1:] == y
	case len(y) == len(x)+1:
		return y[1:] == x
	}
	return false
}

// bigrams returns the multiset of rune bigrams of s, sorted, as the q-gram
// profile the Dice and Jaccard coefficients compare (no padding, as in
// strutil). A bigram is packed in 32 bits, exactly for runes of the Basic
// Multilingual Plane (every alphabet in names); rarer runes may collide.
func bigrams(s []rune) []uint32 {
	if len(s) < 2 {
		return nil
	}
	return appendBigrams(make([]uint32, 0, len(s)-1), s)
}

// appendBigrams appends the sorted bigrams of s to g (decoding puts a
// record's q-grams in one slice).
func appendBigrams(g []uint32, s []rune) []uint32 {
	k := len(g)
	for i := 1; i < len(s); i++ {
		g = append(g, uint32(s[i-1])<<16|uint32(s[i])&0xffff)
	}
	sortGrams(g[k:])
	return g
}

// sortGrams sorts q-grams: by insertion when they are few, as a name's
// are, which is quicker than slices.Sort's dispatch; decoding a record
// sorts every value's.
func sortGrams(g []uint32) {
	if len(g) > 24 {
		slices.Sort(g)
		return
	}
	for i := 1; i < len(g); i++ {
		x, j := g[i], i
		for ; j > 0 && g[j-1] > x; j-- {
			g[j] = g[j-1]
		}
		g[j] = x
	}
}

// commonGrams counts the q-grams two sorted multisets share (minimum counts).
func commonGrams(a, b []uint32) int {
	n := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			n, i, j = n+1, i+1, j+1
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return n
}

// dice returns the Sorensen-Dice coefficient of two q-gram multisets.
func dice(a, b []uint32) float64 {
	if len(a)+len(b) == 0 {
		return 0
	}
	return 2 * float64(commonGrams(a, b)) / float64(len(a)+len(b))
}

// jaccard returns the Jaccard coefficient of two q-gram multisets.
func jaccard(a, b []uint32) float64 {
	c := commonGrams(a, b)
	if u := len(a) + len(b) - c; u > 0 {
		return float64(c) / float64(u)
	}
	return 0
}
