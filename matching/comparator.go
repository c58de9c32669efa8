package matching

import "strings"

// maxFields bounds the fields of one type, so that a comparison's outcomes
// fit in a fixed array on the stack.
const maxFields = 24

// cmpKind names a comparator.
type cmpKind uint8

const (
	cmpName cmpKind = iota
	cmpText
	cmpExact
	cmpDate
	cmpPostcode
	cmpPhone
	cmpEmail
	cmpIdentifier
	cmpDistance
	cmpHousehold
	cmpAddress
	cmpPartOf
	cmpFacility
)

// comparatorInfo describes one comparator: which features it takes, which
// levels it gives, and whether it reads the close/similar thresholds.
type comparatorInfo struct {
	kind       cmpKind
	levels     []Level
	thresholds bool
	accepts    func(feature) bool
}

var (
	allLevels  = []Level{Exact, Close, Similar, Different}
	twoLevels  = []Level{Exact, Different}
	typoLevels = []Level{Exact, Close, Different}
)

func only(f feature) func(feature) bool { return func(g feature) bool { return g == f } }

// comparators are the comparators a rules file may name.
var comparators = map[string]comparatorInfo{
	"name":       {cmpName, allLevels, true, feature.phonetic},
	"text":       {cmpText, allLevels, true, feature.stringValued},
	"exact":      {cmpExact, twoLevels, false, feature.stringValued},
	"date":       {cmpDate, allLevels, false, only(fBirthDate)},
	"postcode":   {cmpPostcode, allLevels, false, only(fPostalCode)},
	"phone":      {cmpPhone, typoLevels, false, func(f feature) bool { return f == fPhone || f == fMobile }},
	"email":      {cmpEmail, allLevels, false, only(fEmail)},
	"identifier": {cmpIdentifier, typoLevels, false, only(fIdentifier)},
	"distance":   {cmpDistance, allLevels, false, only(fPosition)},
	"household":  {cmpHousehold, allLevels, true, only(fHousehold)},
	"address":    {cmpAddress, allLevels, true, only(fHousehold)},
	"partOf":     {cmpPartOf, twoLevels, false, only(fPartOf)},
	"facility":   {cmpFacility, allLevels, true, only(fName)},
}

// idKind is how an identifier system's values are read.
type idKind uint8

const (
	kindLocal idKind = iota
	kindNational
	kindEnterprise
)

// idKinds are the identifier kinds a rules file may name.
var idKinds = map[string]idKind{"local": kindLocal, "national": kindNational, "enterprise": kindEnterprise}

func kindList() string { return strings.Join(sortedKeys(idKinds), ", ") }

// outcome is the result of comparing one field of two records: the level,
// the rule that decided it, the indexes of the two values compared (-1 for
// none), after a given/family swap that the values came crosswise, and
// that the field was weighed given the same household, and that the twin
// signature took over its weight.
type outcome struct {
	level       Level
	rule        rule
	swapped     bool
	inHousehold bool
	inTwins     bool
	capped      bool // the field's disagreement capped the match below certain
	derived     bool // agreement not counted: it follows from the field it supports
	ai, bj      int16
	weight      float64
}

// best keeps the better of two outcomes (the first on a tie).
func best(o, p outcome) outcome {
	if p.level > o.level {
		return p
	}
	return o
}

// minTypoRunes is the shortest name that one typo apart counts as close:
// shorter names one letter apart are as often two names (Jon, Jan) as one
// mistyped.
const minTypoRunes = 4

// compareNames compares every pair of names and keeps the best level:
// exact, then nickname, Jaro-Winkler ≥ close, one typo apart (names of
// minTypoRunes or more: a keyboard slip or two letters swapped, Jaro-Winkler
// as low as 0.83 for four letters) or the same letters without spaces
// (close), then a shared phonetic code, Jaro-Winkler ≥ similar or an
// initial against a name starting with it (similar).
//
// am and bm mark middle names (bit i: a[i]), for the given field: a first
// name meeting a middle name counts only when they agree closely (someone
// known by their middle name), and two middle names are left to the middle
// field, so that siblings sharing a middle name, or a middle initial meeting
// a sibling's first name, do not look like one person.
func compareNames(a, b []value, am, bm uint32, f *fieldModel) outcome {
	o := outcome{level: Missing, ai: -1, bj: -1}
	for i := range a {
		for j := range b {
			mid := am>>i&1 + bm>>j&1
			if mid == 2 {
				continue
			}
			l, rule := nameLevel(&a[i], &b[j], f)
			if mid == 1 && l < Close {
				l, rule = Different, rDifferentNames
			}
			o = best(o, outcome{level: l, rule: rule, ai: int16(i), bj: int16(j)})
			if o.level == Exact {
				return o
			}
		}
	}
	return o
}

func nameLevel(x, y *value, f *fieldModel) (Level, rule) {
	if x.norm == y.norm {
		return Exact, rSameName
	}
	if f.nicknames && shareGroup(x.nick, y.nick) {
		return Close, rNickname
	}
	if (x.spaced || y.spaced) && x.coarse == y.coarse {
		return Close, rSpacing
	}
	jw := 0.0
	if jaroWinklerBound(x.runes, y.runes, &x.hist, &y.hist) >= f.similar {
		jw = jaroWinkler(x.runes, y.runes)
	}
	switch {
	case jw >= f.close:
		return Close, rJWClose
	case len(x.runes) >= minTypoRunes && len(y.runes) >= minTypoRunes && oneTypo(x.norm, y.norm):
		return Close, rOneTypo
	case x.phh.agree(&y.phh):
		return Similar, rPhonetic
	case jw >= f.similar:
		return Similar, rJWSimilar
	case isInitialOf(x.runes, y.runes) || isInitialOf(y.runes, x.runes):
		return Similar, rInitial
	case f.nicknames && (nicknameTypo(x, y) || nicknameTypo(y, x)):
		return Similar, rNicknameTypo
	}
	return Different, rDifferentNames
}

// nicknameTypo reports whether x is one typo from a nickname equivalent of
// y ("Nicoel" and "Nikki": Nicole): two common errors meeting, which would
// otherwise read as unrelated names. Names of fewer than three letters are
// left out.
func nicknameTypo(x, y *value) bool {
	if len(y.nick) == 0 || len(x.runes) < 3 {
		return false
	}
	t := nicknames()
	for _, g := range y.nick {
		for _, n := range t.members[g] {
			if len(n) >= 3 && oneTypo(x.norm, n) {
				return true
			}
		}
	}
	return false
}

// isInitialOf reports whether a is a single letter that starts b.
func isInitialOf(a, b []rune) bool {
	return len(a) == 1 && len(b) > 1 && b[0] == a[0]
}

// compareTexts compares texts by their bigram profiles (Dice or Jaccard).
func compareTexts(a, b []value, f *fieldModel) outcome {
	return bestOfPairs(a, b, func(x, y *value) (Level, rule) { return textLevel(x, y, f) })
}

// bestOfPairs levels every pair of values of a and b and keeps the best
// outcome, stopping at the first exact one.
func bestOfPairs(a, b []value, level func(x, y *value) (Level, rule)) outcome {
	o := outcome{level: Missing, ai: -1, bj: -1}
	for i := range a {
		for j := range b {
			l, rule := level(&a[i], &b[j])
			o = best(o, outcome{level: l, rule: rule, ai: int16(i), bj: int16(j)})
			if o.level == Exact {
				return o
			}
		}
	}
	return o
}

func textLevel(x, y *value, f *fieldModel) (Level, rule) {
	if x.norm == y.norm {
		return Exact, rSameText
	}
	s := gramScore(x, y, f)
	switch {
	case s >= f.close:
		return Close, rGramsClose
	case s >= f.similar:
		return Similar, rGramsSimilar
	}
	return Different, rDifferentText
}

// gramScore returns the field's q-gram similarity (Dice or Jaccard) of two
// values.
func gramScore(x, y *value, f *fieldModel) float64 {
	if f.jaccard {
		return jaccard(x.grams, y.grams)
	}
	return dice(x.grams, y.grams)
}

// compareExact gives exact when any two values are equal, else different.
func compareExact(a, b []value) outcome {
	if len(a) == 0 || len(b) == 0 {
		return outcome{level: Missing, ai: -1, bj: -1}
	}
	for i := range a {
		for j := range b {
			if a[i].norm == b[j].norm {
				return outcome{level: Exact, rule: rSameValue, ai: int16(i), bj: int16(j)}
			}
		}
	}
	return outcome{level: Different, rule: rDifferentValues, ai: 0, bj: 0}
}

// compareCodes levels postal codes, phone numbers and e-mail addresses:
// exact, one typo apart (close), the same district or mailbox name
// (similar), different.
func compareCodes(a, b []value, kind cmpKind) outcome {
	return bestOfPairs(a, b, func(x, y *value) (Level, rule) { return codeLevel(x, y, kind) })
}

func codeLevel(x, y *value, kind cmpKind) (Level, rule) {
	xn, yn := x.norm, y.norm
	if kind == cmpPhone {
		// country and trunk prefixes vary: the subscriber's last nine digits decide
		xn, yn = lastDigits(xn), lastDigits(yn)
	}
	switch {
	case xn == yn:
		return Exact, rSameValue
	case kind == cmpEmail && numberedApart(xn, yn):
		// jane.doe@ and jane.doe2@: an organisation's scheme numbering
		// namesakes, not a typo
		return Different, rDifferentValues
	case oneTypo(xn, yn):
		return Close, rOneTypo
	case kind == cmpPostcode && x.coarse != "" && x.coarse == y.coarse:
		return Similar, rDistrict
	case kind == cmpEmail && sameMailbox(xn, yn):
		return Similar, rMailbox
	}
	return Different, rDifferentValues
}

// numberedApart reports whether two addresses differ only in the digits of
// their mailbox names.
func numberedApart(x, y string) bool {
	i, j := 0, 0
	differ := false
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && isDigit(x[i]):
			i, differ = i+1, true
		case j < len(y) && isDigit(y[j]):
			j, differ = j+1, true
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
		default:
			return false
		}
	}
	return differ
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lastDigits returns the last nine digits of a phone number.
func lastDigits(s string) string {
	return s[max(0, len(s)-9):]
}

// sameMailbox reports whether two addresses have the same part before '@'
// (at other providers), when that part is long enough to mean something.
func sameMailbox(x, y string) bool {
	i, j := strings.LastIndexByte(x, '@'), strings.LastIndexByte(y, '@')
	return i >= 4 && x[:i] == y[:j]
}

// compareIdentifiers compares identifiers of the same system. Same value is
// exact for every kind. For enterprise and national identifiers one typo
// apart is close and another value is different (strong disagreement);
// for local record numbers those say nothing (missing), since duplicates
// inside one system have different record numbers.
func compareIdentifiers(a, b []identifier, m *Model) outcome {
	o := outcome{level: Missing, ai: -1, bj: -1}
	for i := range a {
		for j := range b {
			if a[i].system != b[j].system {
				continue
			}
			l, rule := identifierLevel(&a[i], &b[j], m)
			if l == Missing && o.rule == rNone {
				// say nothing, but remember they were compared: u of
				// agreement is counted among such pairs too (countLevels)
				o.rule = rule
			}
			o = best(o, outcome{level: l, rule: rule, ai: int16(i), bj: int16(j)})
			if o.level == Exact {
				return o
			}
		}
	}
	return o
}

func identifierLevel(x, y *identifier, m *Model) (Level, rule) {
	switch {
	case x.value == y.value:
		return Exact, rSameID
	case m.kindOf(x.system) == kindLocal: // looked up only now: hashing a URL costs
		return Missing, rLocalIDs
	case oneTypo(x.value, y.value):
		return Close, rOneTypo
	}
	return Different, rDifferentID
}

// compareDistance levels the distance between two positions by the field's
// maximum metres for exact, close and similar.
func compareDistance(a, b point, f *fieldModel) outcome {
	if !a.ok || !b.ok {
		return outcome{level: Missing, ai: -1, bj: -1}
	}
	d := metres(a, b)
	o := outcome{level: Different, rule: rFar, ai: 0, bj: 0}
	switch {
	case d <= f.metres[0]:
		o.level, o.rule = Exact, rNear
	case d <= f.metres[1]:
		o.level, o.rule = Close, rCloseBy
	case d <= f.metres[2]:
		o.level, o.rule = Similar, rSameArea
	}
	return o
}
