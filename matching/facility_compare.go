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

// isQualifier reports whether a word tells sites apart: a qualifier word
// (or one mistyped, from six letters: "Energency Department" is still a
// part of the hospital), a number ("Ward 3", "2nd floor") or a single
// letter ("Building B").
func isQualifier(w string) bool {
	if len(w) == 1 || qualifierWords[w] {
		return true
	}
	for i := 0; i < len(w); i++ {
		if isDigit(w[i]) {
			return true
		}
	}
	return len(w) >= 6 && closerQualifier(w, "", 1)
}

// sameWord reports whether two words of facility names are one word
// written differently: equal, singular and plural, one cut short ("hosp",
// "labo": at least three letters), one typo apart (four letters or more), or two edits apart (six
// or more, a swap of two letters one edit). Numbers and single letters
// must be equal ("Ward 3" and "Ward 4" are two wards), and so must two
// qualifier words ("radiology" and "cardiology" are two edits apart, and
// two departments); a misspelt word is taken for a qualifier only when no
// other qualifier is as close to it ("vradiology" is radiology).
func sameWord(x, y string) bool {
	switch {
	case x == y:
		return true
	case len(x) == 1 || len(y) == 1 || hasDigit(x) || hasDigit(y):
		return false
	case sameSingular(x, y),
		min(len(x), len(y)) >= 3 && (x[:min(len(x), len(y))] == y[:min(len(x), len(y))]):
		return true
	case qualifierWords[x] && qualifierWords[y]:
		return false
	case mistypedAbbreviations[x] != "":
		return sameWord(mistypedAbbreviations[x], y)
	case mistypedAbbreviations[y] != "":
		return sameWord(x, mistypedAbbreviations[y])
	}
	d := 3
	switch {
	case len(x) >= 4 && len(y) >= 4 && oneTypo(x, y):
		d = 1
	case len(x) >= 6 && len(y) >= 6:
		d = editDistance(x, y, 2)
	}
	if d > 2 {
		return false
	}
	switch {
	case qualifierWords[y]:
		return !closerQualifier(x, y, d)
	case qualifierWords[x]:
		return !closerQualifier(y, x, d)
	}
	return true
}

// sameSingular reports whether two words are one word in singular and
// plural ("laboratories" and "laboratory", "clinics" and "clinic"),
// without building the singular (scoring does not allocate).
func sameSingular(x, y string) bool {
	xb, xy := singular(x)
	yb, yy := singular(y)
	switch {
	case xy == yy:
		return xb == yb
	case xy: // xb + "y"
		return len(yb) == len(xb)+1 && yb[len(xb)] == 'y' && yb[:len(xb)] == xb
	}
	return len(xb) == len(yb)+1 && xb[len(yb)] == 'y' && xb[:len(yb)] == yb
}

// singular strips an English plural ending; y reports that a final "y"
// belongs after the stem ("laboratories" → "laborator", true).
func singular(w string) (stem string, y bool) {
	switch n := len(w); {
	case n > 4 && w[n-3:] == "ies":
		return w[:n-3], true
	case n > 3 && w[n-1] == 's' && w[n-2] != 's':
		return w[:n-1], false
	}
	return w, false
}

// closerQualifier reports whether a qualifier word other than q (and its
// singular or plural) is within d edits of w: "periatrics" is as near
// geriatrics as pediatrics.
func closerQualifier(w, q string, d int) bool {
	for _, o := range qualifierList {
		if o != q && !sameSingular(o, q) && len(o)-len(w) <= d && len(w)-len(o) <= d && editDistance(w, o, d) <= d {
			return true
		}
	}
	return false
}

// qualifierList holds the qualifier words of four letters or more, for
// closerQualifier.
var qualifierList = func() []string {
	var l []string
	for w := range qualifierWords {
		if len(w) >= 4 {
			l = append(l, w)
		}
	}
	return l
}()

func hasDigit(w string) bool {
	for i := 0; i < len(w); i++ {
		if isDigit(w[i]) {
			return true
		}
	}
	return false
}

// editDistance returns the optimal string alignment distance of two words
// (bytes, at most maxRunes compared: substitutions, insertions, deletions
// and swaps of adjacent letters), or limit+1 once it must exceed limit.
func editDistance(a, b string, limit int) int {
	a, b = a[:min(len(a), maxRunes)], b[:min(len(b), maxRunes)]
	if len(a)-len(b) > limit || len(b)-len(a) > limit {
		return limit + 1
	}
	var prev2, prev, cur [maxRunes + 1]int
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
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev = prev, cur
	}
	return min(prev[len(b)], limit+1)
}

// containerWords name sites that have parts (departments, wards, units):
// a name that is such a site's name plus a qualifier names one of its
// parts. Without one, the added word may be the site's own kind ("Riverside
// Diagnostic" and "Riverside Diagnostic Laboratory").
var containerWords = map[string]bool{
	"hospital": true, "hospitals": true, "center": true, "centers": true, "campus": true, "clinic": true,
	"clinics": true, "institute": true, "university": true, "infirmary": true, "system": true,
}

// qualifierConflict compares two normalised facility names word by word
// and returns the rule of their disagreement, rNone when the words say
// nothing the q-grams should not decide:
//   - rQualifiersDiffer: each name has a word the other lacks, and one of
//     those words is a qualifier ("… Laboratory" and "… Emergency
//     Department", "Ward 3" and "Ward 4");
//   - rPartOfSite: one name is the other plus a qualifier, and the other
//     names a site that has parts ("General Hospital" and "General
//     Hospital Laboratory");
//   - rNoOwnWord: each name has a word the other lacks, and the words they
//     share are only kinds of place (sharesOwnWord).
//
// A name cut short (a field truncated by a system: its last word the
// beginning of the other's word, or of a stop word) says nothing about the
// other's words after the cut. cut reports that one name, every word of it
// matched, is cut short: it agrees with the other only as far as it goes.
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
	cx, cy := cutAt(&wx, nx, &mx, &wy, ny, &my), cutAt(&wy, ny, &my, &wx, nx, &mx)
	ux, qx := unmatched(&wx, nx, &mx, cy)
	uy, qy := unmatched(&wy, ny, &my, cx)
	cut = cx >= 0 && ux == 0 || cy >= 0 && uy == 0
	switch {
	case ux > 0 && uy > 0 && (qx || qy):
		return rQualifiersDiffer, cut
	case ux == 0 && uy > 0 && qy && cx < 0 && hasContainer(&wx, nx),
		uy == 0 && ux > 0 && qx && cy < 0 && hasContainer(&wy, ny):
		return rPartOfSite, cut
	case ux > 0 && uy > 0 && !sharesOwnWord(&wx, nx, &mx):
		return rNoOwnWord, cut
	}
	return rNone, cut
}

// kindWords say what sort of place a site is, or whom it serves, in words
// many unrelated sites' names share ("Community Health Center", "Family
// Practice"); with the qualifier and container words they are not a
// name's own.
var kindWords = map[string]bool{
	"medical": true, "medicine": true, "health": true, "healthcare": true, "care": true, "community": true,
	"family": true, "primary": true, "practice": true, "practices": true, "services": true, "service": true,
	"associates": true, "group": true, "nursing": true, "home": true, "general": true, "memorial": true,
	"regional": true, "county": true, "city": true, "specialty": true, "specialists": true, "partners": true,
	"physicians": true, "doctors": true, "office": true, "offices": true, "diagnostic": true, "diagnostics": true,
}

// sharesOwnWord reports whether a name w matched a word of the other that
// is its own: not a qualifier, a container or a kind word. Two names that
// each have a word the other lacks and share only such words ("King's
// Pharmacy" and "Lewis's Pharmacy", "Northside Clinic" and "Northshore
// Clinic") name two places, however alike their letters.
func sharesOwnWord(w *[maxNameWords]string, n int, m *[maxNameWords]int8) bool {
	for i := range n {
		if m[i] >= 0 && !isQualifier(w[i]) && !containerWords[w[i]] && !kindWords[w[i]] {
			return true
		}
	}
	return false
}

// cutAt returns, when the name w looks cut short against the name o, the
// index of the word of o where it was cut, else -1. w is cut short when its
// last word is a strict beginning (however short; one typo allowed from
// four letters when it matched nothing) of a word of o that no other word
// of w matched, or, from two letters, a strict beginning of a stop word
// after a matched word ("Nursing an"). A last word not matched yet is now.
func cutAt(w *[maxNameWords]string, n int, m *[maxNameWords]int8, o *[maxNameWords]string, on int, om *[maxNameWords]int8) int {
	last := w[n-1]
	for j := range on {
		if om[j] >= 0 && int(om[j]) != n-1 || len(o[j]) <= len(last) {
			continue
		}
		if p := o[j][:len(last)]; p == last || m[n-1] < 0 && len(last) >= 4 && oneTypo(last, p) {
			if m[n-1] < 0 {
				m[n-1], om[j] = int8(j), int8(n-1)
			}
			return j
		}
	}
	if n >= 2 && m[n-2] >= 0 && m[n-1] < 0 && len(last) >= 2 && stopPrefix(last) {
		m[n-1] = m[n-2]
		return int(m[n-2])
	}
	return -1
}

// stopPrefix reports whether w is the strict beginning of a stop word.
func stopPrefix(w string) bool {
	for s := range stopWords {
		if len(s) > len(w) && s[:len(w)] == w {
			return true
		}
	}
	return false
}

// hasContainer reports whether a name has a word naming a site with parts.
func hasContainer(w *[maxNameWords]string, n int) bool {
	for i := range n {
		if containerWords[w[i]] {
			return true
		}
	}
	return false
}

// unmatched counts the words of a name left unmatched, but those after
// index cut when the other name was cut there (-1: none), and reports
// whether one of them is a qualifier.
func unmatched(w *[maxNameWords]string, n int, m *[maxNameWords]int8, cut int) (int, bool) {
	count, qual := 0, false
	for i := range n {
		if cut >= 0 && i > cut {
			break
		}
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
	return bestOfPairs(a, b, func(x, y *value) (Level, rule) { return facilityNameLevel(x, y, f) })
}

func facilityNameLevel(x, y *value, f *fieldModel) (Level, rule) {
	if x.norm == y.norm {
		return Exact, rSameText
	}
	l, r := textLevel(x, y, f)
	if l == Different {
		return l, r // the words can only say so again
	}
	q, cut := qualifierConflict(x.norm, y.norm)
	if q != rNone {
		return Different, q
	}
	if cut && l > Similar {
		// "Southgate Memorial Ho" may be the hospital or any of its wards
		return Similar, rCutShort
	}
	return l, r
}

// mistypedAbbreviations maps each word one typo (a substitution or a swap)
// from an abbreviation of three letters or more in facilityWords to the
// word it abbreviates ("kabs" → laboratories, "pab" → laboratory): written
// out, the abbreviation would have agreed; left as it is, a mistyped one
// read as another qualifier ("Meadowbrook Pab" and "Meadowbrook
// Laboratory" differed in a qualifier and were vetoed). A variant as near
// two words' abbreviations, or itself a word normalising or the
// qualifiers know, is left out.
var mistypedAbbreviations = func() map[string]string {
	out := map[string]string{}
	add := func(v, full string) {
		if facilityWords[v] != "" || qualifierWords[v] {
			return
		}
		if prior, ok := out[v]; ok && prior != full {
			full = "" // ambiguous
		}
		out[v] = full
	}
	for a, full := range facilityWords {
		if len(a) < 3 {
			continue
		}
		b := []byte(a)
		for i := range b {
			orig := b[i]
			for c := byte('a'); c <= 'z'; c++ {
				if c != orig {
					b[i] = c
					add(string(b), full)
				}
			}
			b[i] = orig
			if i+1 < len(b) && b[i] != b[i+1] {
				b[i], b[i+1] = b[i+1], b[i]
				add(string(b), full)
				b[i], b[i+1] = b[i+1], b[i]
			}
		}
	}
	for w := range facilityWordSet {
		delete(out, w)
	}
	return out
}()

// facilityWordSet holds the words facilityWords writes out.
var facilityWordSet = func() map[string]bool {
	out := map[string]bool{}
	for _, w := range facilityWords {
		out[w] = true
	}
	return out
}()
