package matching

import "strings"

// cityClose is the Jaro-Winkler similarity from which two city names count
// as the same town in the household comparison (a typo, not another town).
const cityClose = 0.92

// compareHousehold compares where two people live and how they are reached
// as one piece of evidence. Members of one household share the address
// line, city, postal code and home phone, so those agree or disagree
// together: summed as independent fields they would count one fact — "lives
// there" — four or five times, and a father and his daughter would look like
// one person. The levels, best first:
//
//   - exact: the same house (line exact, or the same street and house
//     number, in the same town or one not stated), or the same phone number;
//   - close: the same street in the same town (the street name equal or one
//     typo apart, or the lines ≥ close), or phone numbers one typo apart;
//   - similar: the same postal code or town only;
//   - different: both have an address or a phone and nothing agrees;
//   - missing: one side has neither an address nor a phone.
//
// Addresses are compared part by part within each address, never a line of
// one address with the town of another.
func compareHousehold(a, b *Record, f *fieldModel) outcome {
	o := compareAddresses(a, b, f)
	if o.level == Exact {
		return o
	}
	p := compareCodes(a.vals[fPhone], b.vals[fPhone], cmpPhone)
	switch p.level {
	case Exact:
		p.rule = rSamePhone
	case Close:
		p.rule = rPhoneTypo
	case Different:
		p.rule = rDifferentPhones
	}
	if p.level != Missing && o.rule == rTownOnly {
		o.rule = rSameTown // a phone was compared too: the levels mean what they say
	}
	return best(o, p) // on a tie the address, which says more
}

// compareAddresses is compareHousehold without the phone: the "address"
// comparator of sites, whose phone is a field of its own. When no two
// compared addresses both have a line, same town is all agreement can
// show, and the rule says so (rTownOnly: weighed by the coarsened levels).
func compareAddresses(a, b *Record, f *fieldModel) outcome {
	o := outcome{level: Missing, ai: -1, bj: -1}
	lines := false
	for i := range a.addrs {
		for j := range b.addrs {
			lines = lines || a.addrs[i].line >= 0 && b.addrs[j].line >= 0
			l, rule := addressLevel(a, b, a.addrs[i], b.addrs[j], f)
			o = best(o, outcome{level: l, rule: rule, ai: int16(i), bj: int16(j)})
			if o.level == Exact {
				return o
			}
		}
	}
	if !lines && o.level == Similar {
		o.rule = rTownOnly
	}
	return o
}

// comparePartOf compares the sites two Locations are part of: exact for the
// same site, different for different sites named in one identifier system,
// or when one record is part of the other (its partOf names the other's
// identifier or id: a department and its hospital); missing otherwise.
func comparePartOf(a, b *Record) outcome {
	if partOfOther(a, b) || partOfOther(b, a) {
		return outcome{level: Different, rule: rPartOfOther, ai: -1, bj: -1}
	}
	o := outcome{level: Missing, ai: -1, bj: -1}
	for i, x := range a.vals[fPartOf] {
		for j, y := range b.vals[fPartOf] {
			switch {
			case x.norm == y.norm:
				return outcome{level: Exact, rule: rSameValue, ai: int16(i), bj: int16(j)}
			case refSystem(x.norm) == refSystem(y.norm):
				o = outcome{level: Different, rule: rDifferentValues, ai: int16(i), bj: int16(j)}
			}
		}
	}
	return o
}

// partOfOther reports whether a is part of b.
func partOfOther(a, b *Record) bool {
	for _, p := range a.vals[fPartOf] {
		for _, id := range b.ids {
			if n := len(id.system); len(p.norm) == n+1+len(id.value) && p.norm[:n] == id.system && p.norm[n] == '|' && p.norm[n+1:] == id.value {
				return true
			}
		}
		if n, m := len(p.norm), len(b.ID); m > 0 && n > m && p.norm[n-m-1] == '/' && p.norm[n-m:] == b.ID {
			return true
		}
	}
	return false
}

// refSystem is the system of a "system|value" reference key, or "" for a
// literal reference.
func refSystem(k string) string {
	if i := strings.LastIndexByte(k, '|'); i >= 0 {
		return k[:i]
	}
	return ""
}

// addressLevel levels two addresses. The same street is the same street
// name (or one typo apart), or lines agreeing closely as a whole; the same
// house adds the house number.
func addressLevel(a, b *Record, x, y addressRef, f *fieldModel) (Level, rule) {
	area := areaLevel(a, b, x, y)
	hasLine, street, house := x.line >= 0 && y.line >= 0, false, false
	if hasLine {
		lx, ly := &a.vals[fLine][x.line], &b.vals[fLine][y.line]
		switch {
		case lx.norm == ly.norm:
			street, house = true, true
		case lx.coarse != "" && (lx.coarse == ly.coarse || oneTypo(lx.coarse, ly.coarse)),
			area != Different && gramsMayReach(lx, ly, f.close) && gramScore(lx, ly, f) >= f.close:
			// q-grams last, and only where they can change the level: they cost most
			street, house = true, sameHouseNumber(lx.norm, ly.norm)
		}
	}
	switch {
	case !hasLine && area == Missing:
		return Missing, rNone
	case house && area != Different:
		return Exact, rSameAddress
	case street && area != Different:
		return Close, rSameStreet
	case area == Exact || street:
		return Similar, rSameTown // one street name in two towns is a common name
	}
	return Different, rDifferentAddresses
}

// gramsMayReach reports whether two values' q-gram profiles are alike enough
// in size for their Dice (or Jaccard, which is lower) to reach t.
func gramsMayReach(x, y *value, t float64) bool {
	nx, ny := len(x.grams), len(y.grams)
	return nx+ny > 0 && 2*float64(min(nx, ny)) >= t*float64(nx+ny)
}

// areaLevel says whether two addresses are in the same town: exact when the
// postal codes agree (or are one typo apart) or the city names do, different
// when one of them is on both sides and neither agrees, missing otherwise.
func areaLevel(a, b *Record, x, y addressRef) Level {
	l := Missing
	if x.postalCode >= 0 && y.postalCode >= 0 {
		if pl, _ := codeLevel(&a.vals[fPostalCode][x.postalCode], &b.vals[fPostalCode][y.postalCode], cmpPostcode); pl >= Close {
			return Exact
		}
		l = Different
	}
	if x.city >= 0 && y.city >= 0 {
		if sameCity(&a.vals[fCity][x.city], &b.vals[fCity][y.city]) {
			return Exact
		}
		l = Different
	}
	return l
}

// sameCity reports whether two city names are the same town, allowing for
// spacing and a typo.
func sameCity(x, y *value) bool {
	if x.norm == y.norm || x.coarse == y.coarse {
		return true
	}
	return jaroWinklerBound(x.runes, y.runes, &x.hist, &y.hist) >= cityClose && jaroWinkler(x.runes, y.runes) >= cityClose
}

// sameHouseNumber reports whether two normalised lines start with the same
// word: the house number, when they have one ("12 main street" and "14 main
// street" are neighbours, not one house).
func sameHouseNumber(x, y string) bool {
	return firstWord(x) == firstWord(y)
}

func firstWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i]
		}
	}
	return s
}

// householdDisplay renders the household values of r that the outcome
// compared: the phone number when a phone decided, else the address (line,
// town and postal code); for a missing comparison whatever r has.
func householdDisplay(r *Record, i int, rl rule) string {
	if rl == rSamePhone || rl == rPhoneTypo || rl == rDifferentPhones || len(r.addrs) == 0 {
		if vals := r.vals[fPhone]; i < len(vals) {
			return vals[i].display
		}
		return ""
	}
	if i >= len(r.addrs) {
		return ""
	}
	ref, s := r.addrs[i], ""
	for _, part := range [...]struct {
		f   feature
		idx int8
	}{{fLine, ref.line}, {fCity, ref.city}, {fPostalCode, ref.postalCode}} {
		if part.idx < 0 {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += r.vals[part.f][part.idx].display
	}
	return s
}
