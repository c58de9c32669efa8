package matching

// Facility names are compared word by word before their q-grams. In a
// location registry (mCSD, an EHR's location list) the sites that look most
// alike are the parts of one site: the departments, wards and units of a
// hospital share its address, its position, its switchboard and most of
// its name, and differ in one qualifying word — "St Mary's Hospital
// Cardiology" and "St Mary's Hospital Oncology", "Ward 3" and "Ward 4",
// "General Hospital" and "General Hospital Laboratory". Q-grams read that
// one word as a small difference (similar, or even close), which the shared
// address then outweighs; but a differing qualifier is what tells the two
// sites apart, so it is a disagreement of the names. Words that only say
// what kind of place a site is in general terms ("hospital", "medical
// center", "clinic") are not qualifiers: one site is called both ways.

// maxNameWords bounds the words of a name compared word by word; the rest
// of a longer name is left to the q-grams.
const maxNameWords = 16

// qualifierWords are words that tell one part of a site, or one kind of
// service, from another: departments and specialties, units and wards,
// buildings and wings. A name that has one the other lacks names another
// place. The list is of the words themselves after NormalizeFacilityName
// (abbreviations are already written out).
var qualifierWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		// services and departments
		"laboratory", "laboratories", "lab", "pathology", "blood", "emergency", "trauma", "urgent",
		"imaging", "radiology", "xray", "mri", "ct", "ultrasound", "mammography", "nuclear",
		"pharmacy", "dispensary", "surgery", "surgical", "operating", "anesthesia", "endoscopy",
		"cardiology", "cardiac", "heart", "vascular", "oncology", "cancer", "infusion", "chemotherapy",
		"pediatrics", "pediatric", "children", "childrens", "neonatal", "nicu", "picu", "nursery",
		"maternity", "obstetrics", "gynecology", "womens", "labor", "delivery", "birthing",
		"neurology", "neurosurgery", "stroke", "orthopedics", "orthopedic", "spine", "sports",
		"psychiatry", "psychiatric", "behavioral", "mental", "addiction", "detox",
		"dialysis", "renal", "nephrology", "urology", "dermatology", "ophthalmology", "eye",
		"dental", "dentistry", "oral", "ent", "audiology", "hearing", "sleep", "wound", "burn",
		"pulmonary", "respiratory", "gastroenterology", "endocrinology", "diabetes", "hematology",
		"rheumatology", "geriatrics", "geriatric", "palliative", "hospice", "transplant",
		"rehabilitation", "physiotherapy", "therapy", "intensive", "icu", "ccu", "recovery",
		"inpatient", "outpatient", "ambulatory", "observation", "morgue", "mortuary",
		// parts of a site
		"ward", "wing", "unit", "floor", "level", "room", "bay", "bed", "building", "pavilion",
		"tower", "annex", "block", "campus", "north", "south", "east", "west", "upper", "lower",
	} {
		m[w] = true
	}
	return m
}()

// stopWords are left out when names are compared word by word.
var stopWords = map[string]bool{"and": true, "of": true, "the": true, "at": true, "for": true, "in": true, "on": true}

// nameWords splits a normalised name into its words but stop words
// (substrings of s: no allocation) and returns how many it filled.
func nameWords(s string, out *[maxNameWords]string) int {
	n, start := 0, -1
	for i := 0; i <= len(s) && n < maxNameWords; i++ {
		if i < len(s) && s[i] != ' ' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if w := s[start:i]; !stopWords[w] {
				out[n] = w
				n++
			}
			start = -1
		}
	}
	return n
}

// isQualifier reports whether a word tells sites apart: a qualifier word, a
// number ("Ward 3", "2nd floor") or a single letter ("Building B").
func isQualifier(w string) bool {
	if len(w) == 1 || qualifierWords[w] {
		return true
	}
	for i := 0; i < len(w); i++ {
		if isDigit(w[i]) {
			return true
		}
	}
	return false
}

// sameWord reports whether two words of facility names are one word
// written differently: equal, one cut short ("hosp", "labo": at least three
// letters), one typo apart (four letters or more), or two edits apart (six
// or more). Numbers and single letters must be equal: "Ward 3" and "Ward 4"
// are two wards.
func sameWord(x, y string) bool {
	switch {
	case x == y:
		return true
	case len(x) == 1 || len(y) == 1 || hasDigit(x) || hasDigit(y):
		return false
	case min(len(x), len(y)) >= 3 && (x[:min(len(x), len(y))] == y[:min(len(x), len(y))]):
		return true
	case len(x) >= 4 && len(y) >= 4 && oneTypo(x, y):
		return true
	}
	return len(x) >= 6 && len(y) >= 6 && withinTwoEdits(x, y)
}

func hasDigit(w string) bool {
	for i := 0; i < len(w); i++ {
		if isDigit(w[i]) {
			return true
		}
	}
	return false
}

// withinTwoEdits reports whether the Levenshtein distance of two words
// (bytes, at most maxRunes compared) is at most two.
func withinTwoEdits(a, b string) bool {
	a, b = a[:min(len(a), maxRunes)], b[:min(len(b), maxRunes)]
	if len(a)-len(b) > 2 || len(b)-len(a) > 2 {
		return false
	}
	var prev, cur [maxRunes + 1]int
	for j := range len(b) + 1 {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > 2 {
			return false
		}
		prev = cur
	}
	return prev[len(b)] <= 2
}

// qualifierConflict compares two normalised facility names word by word
// and returns the rule of their disagreement, rNone when the words say
// nothing the q-grams should not decide:
//   - rQualifiersDiffer: each name has a word the other lacks, and one of
//     those words is a qualifier ("… Laboratory" and "… Emergency
//     Department", "Ward 3" and "Ward 4");
//   - rPartOfSite: one name is the other plus a qualifier ("General
//     Hospital" and "General Hospital Laboratory"), unless the shorter one
//     is cut short (its last word a beginning of the other's word: a field
//     truncated by a system), which leaves the question open.
//
// cut reports that one name, every word of it matched, is cut short: it
// agrees with the other only as far as it goes.
func qualifierConflict(x, y string) (r rule, cut bool) {
	var wx, wy [maxNameWords]string
	nx, ny := nameWords(x, &wx), nameWords(y, &wy)
	if nx == 0 || ny == 0 {
		return rNone, false
	}
	var mx, my [maxNameWords]int8 // the index of each word's partner, -1 for none
	for i := range maxNameWords {
		mx[i], my[i] = -1, -1
	}
	// equal words first, so that a fuzzy match does not take a word's twin
	for pass := range 2 {
		for i := range nx {
			for j := 0; j < ny && mx[i] < 0; j++ {
				if my[j] < 0 && (wx[i] == wy[j] || pass == 1 && sameWord(wx[i], wy[j])) {
					mx[i], my[j] = int8(j), int8(i)
				}
			}
		}
	}
	cutX, cutY := cutShort(&wx, nx, &mx, &wy, ny, &my), cutShort(&wy, ny, &my, &wx, nx, &mx)
	ux, qx := unmatched(&wx, nx, &mx)
	uy, qy := unmatched(&wy, ny, &my)
	cut = cutX && ux == 0 || cutY && uy == 0
	switch {
	case ux > 0 && uy > 0 && (qx || qy):
		return rQualifiersDiffer, cut
	case ux == 0 && uy > 0 && qy && !cutX, uy == 0 && ux > 0 && qx && !cutY:
		return rPartOfSite, cut
	}
	return rNone, cut
}

// cutShort reports whether the name w looks cut short against the name o:
// its last word is a strict beginning (however short) of a word of o that
// no other word of w matched. When the last word was not matched yet, it
// now is.
func cutShort(w *[maxNameWords]string, n int, m *[maxNameWords]int8, o *[maxNameWords]string, on int, om *[maxNameWords]int8) bool {
	last := w[n-1]
	for j := range on {
		if (om[j] < 0 || int(om[j]) == n-1) && len(o[j]) > len(last) && o[j][:len(last)] == last {
			if m[n-1] < 0 {
				m[n-1], om[j] = int8(j), int8(n-1)
			}
			return true
		}
	}
	return false
}

// unmatched counts the words of a name left unmatched and reports whether
// one of them is a qualifier.
func unmatched(w *[maxNameWords]string, n int, m *[maxNameWords]int8) (int, bool) {
	count, qual := 0, false
	for i := range n {
		if m[i] < 0 {
			count++
			qual = qual || isQualifier(w[i])
		}
	}
	return count, qual
}

// compareFacilityNames compares every pair of names (name and aliases) and
// keeps the best level: exact for the same normalised name; different when
// the words disagree in a qualifier (qualifierConflict); else by q-grams
// like compareTexts, but at most similar for a name cut short.
func compareFacilityNames(a, b []value, f *fieldModel) outcome {
	o := outcome{level: Missing, ai: -1, bj: -1}
	for i := range a {
		for j := range b {
			l, r := facilityNameLevel(&a[i], &b[j], f)
			o = best(o, outcome{level: l, rule: r, ai: int16(i), bj: int16(j)})
			if o.level == Exact {
				return o
			}
		}
	}
	return o
}

func facilityNameLevel(x, y *value, f *fieldModel) (Level, rule) {
	if x.norm == y.norm {
		return Exact, rSameText
	}
	r, cut := qualifierConflict(x.norm, y.norm)
	if r != rNone {
		return Different, r
	}
	l, r := textLevel(x, y, f)
	if cut && l > Similar {
		// "Southgate Memorial Ho" may be the hospital or any of its wards
		return Similar, rCutShort
	}
	return l, r
}
