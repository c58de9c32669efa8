package matching

import (
	"slices"
	"strings"

	"idem/registry"
)

// Record is the comparable form of one Patient, Practitioner or Location:
// normalised values (case, diacritics, punctuation and white space folded;
// every repetition kept) with their phonetic codes, q-grams and other
// derived forms computed once by Extract, so that comparing two Records
// allocates nothing.
type Record struct {
	// Type is the resource type, ID the resource's logical id.
	Type, ID string

	vals  [numFeatures][]value     // the text features, indexed by feature
	codes [numPhonetic][]phonetics // phonetic codes of the name features' vals (see codesOf), for blocking keys
	birth date
	ids   []identifier
	pos   point
	addrs []addressRef // each address's parts, for the household comparison
	// middleOnly marks the given-name values (bit i: vals[fGiven][i]) that
	// are only ever middle names; first marks those that are a first name.
	middleOnly, first uint32
}

// addressRef holds the indexes, in Record.vals, of one address's line, city
// and postal code (-1 for a part it lacks): values are stored once per
// record, so two addresses in one city share the city's value.
type addressRef struct{ line, city, postalCode int8 }

// value is one normalised text value and its derived forms.
type value struct {
	display string     // as written, trimmed: what evidence shows
	norm    string     // Normalize'd (NormalizeLine, NormalizeCode, ... per feature)
	coarse  string     // names: norm without spaces; postal codes: the district; lines: the street
	runes   []rune     // norm as runes, for the edit and Jaro-Winkler metrics
	grams   []uint32   // bigrams of norm, for Dice and Jaccard
	phh     codeHashes // phonetic codes, hashed (name features only)
	spaced  bool       // norm holds a space, so coarse differs from it
	hist    runeHist   // rune counts (name features only), to skip hopeless Jaro-Winkler
	nick    []uint16   // nickname groups (given names only)
}

// identifier is one business identifier: its system and normalised value.
type identifier struct {
	system, value, display string
}

// point is a WGS84 position.
type point struct {
	lat, lon float64
	ok       bool
	key      string // for term frequencies (see newPoint)
}

// Values returns the normalised values of a feature (by its rules name, such
// as "family" or "postalCode"), for display and index maintenance; dates,
// identifiers ("system|value") and positions are rendered as text.
func (r *Record) Values(field string) []string {
	f, ok := featureByName(field)
	if !ok {
		return nil
	}
	switch f {
	case fBirthDate:
		if r.birth.prec == 0 {
			return nil
		}
		return []string{r.birth.display}
	case fIdentifier:
		out := make([]string, len(r.ids))
		for i, id := range r.ids {
			out[i] = id.system + "|" + id.value
		}
		return out
	case fPosition:
		if !r.pos.ok {
			return nil
		}
		return []string{r.pos.String()}
	}
	out := make([]string, len(r.vals[f]))
	for i, v := range r.vals[f] {
		out[i] = v.norm
	}
	return out
}

// Extract builds the Record of a decoded FHIR resource of type typ (numbers
// as json.Number or float64, as registry decodes them). Unknown elements,
// wrong JSON types and blank values are skipped: extraction never fails. The
// ID is res["id"].
func Extract(typ string, res map[string]any) *Record {
	r := &Record{Type: typ, ID: registry.AsString(res["id"])}
	r.identifiers(res["identifier"])
	r.telecoms(res["telecom"])
	r.addresses(res["address"])
	switch typ {
	case registry.TypeLocation:
		r.add(fName, registry.AsString(res["name"]))
		for _, a := range registry.AsList(res["alias"]) {
			r.add(fName, registry.AsString(a))
		}
		r.locationTypes(res["type"])
		r.add(fOrganization, referenceKey(res["managingOrganization"]))
		r.add(fPartOf, referenceKey(res["partOf"]))
		r.pos = parsePoint(registry.AsObject(res["position"]))
	default: // Patient, Practitioner
		for _, n := range registry.AsList(res["name"]) {
			r.humanName(registry.AsObject(n))
		}
		r.birth = parseDate(registry.AsString(res["birthDate"]))
		if g := registry.AsString(res["gender"]); g != "unknown" {
			r.add(fGender, g)
		}
		r.qualifications(res["qualification"])
	}
	r.pack()
	return r
}

// humanName adds the family name (whole, and each word of a multi-word name,
// so that "Garcia Lopez" meets "Garcia") and every given-name word (the
// given names after the first also as middle names), or parses the text
// when the name has no parts.
func (r *Record) humanName(n map[string]any) {
	family, given := registry.AsString(n["family"]), registry.AsList(n["given"])
	if family == "" && len(given) == 0 {
		words := strings.Fields(registry.AsString(n["text"]))
		if len(words) == 0 {
			return
		}
		family = words[len(words)-1]
		for _, w := range words[:len(words)-1] {
			given = append(given, w)
		}
	}
	r.addWords(fFamily, family)
	var first, middle uint32
	for i, g := range given {
		bits := r.addWords(fGiven, registry.AsString(g))
		if i == 0 {
			first |= bits
		} else {
			middle |= bits
			r.add(fMiddle, registry.AsString(g))
		}
	}
	// a value that is a first name in any name is a first name
	r.first |= first
	r.middleOnly = (r.middleOnly | middle) &^ r.first
}

// addWords adds s and, when it has several words, each word but the
// particles ("van", "de"), which alone say nothing about a family. It
// returns the indexes of the values, as bits.
func (r *Record) addWords(f feature, s string) uint32 {
	bits := bit(r.add(f, s))
	if words := strings.Fields(Normalize(s)); len(words) > 1 {
		for _, w := range words {
			if !particles[w] {
				bits |= bit(r.add(f, w))
			}
		}
	}
	return bits
}

// bit returns the bit of value index i, none for -1.
func bit(i int8) uint32 {
	if i < 0 {
		return 0
	}
	return 1 << i
}

// particles are the name particles of European, Arabic and Hebrew names.
var particles = map[string]bool{
	"van": true, "von": true, "der": true, "den": true, "de": true, "del": true,
	"della": true, "la": true, "le": true, "da": true, "di": true, "du": true,
	"dos": true, "das": true, "y": true, "bin": true, "ibn": true, "al": true,
	"el": true, "ben": true, "bat": true, "ter": true, "ten": true, "op": true,
}

// referenceKey is what identifies the target of a Reference: its literal
// reference, else its business identifier as "system|value" (sources that
// share identifiers, not resource ids, reference that way), else nothing.
func referenceKey(v any) string {
	ref := registry.AsObject(v)
	if s := registry.AsString(ref["reference"]); s != "" {
		return s
	}
	id := registry.AsObject(ref["identifier"])
	if val := registry.AsString(id["value"]); val != "" {
		return registry.AsString(id["system"]) + "|" + NormalizeCode(val)
	}
	return ""
}

func (r *Record) addresses(v any) {
	list := registry.AsList(v)
	if a, ok := v.(map[string]any); ok { // Location.address is a single Address
		list = []any{a}
	}
	for _, e := range list {
		a := registry.AsObject(e)
		var line []string
		for _, l := range registry.AsList(a["line"]) {
			line = append(line, registry.AsString(l))
		}
		ref := addressRef{
			line:       r.add(fLine, strings.Join(line, " ")),
			city:       r.add(fCity, registry.AsString(a["city"])),
			postalCode: r.add(fPostalCode, registry.AsString(a["postalCode"])),
		}
		if (ref.line >= 0 || ref.city >= 0 || ref.postalCode >= 0) && !slices.Contains(r.addrs, ref) && len(r.addrs) < maxValues {
			r.addrs = append(r.addrs, ref)
		}
		r.add(fState, registry.AsString(a["state"]))
		r.add(fCountry, registry.AsString(a["country"]))
	}
}

func (r *Record) telecoms(v any) {
	for _, e := range registry.AsList(v) {
		cp := registry.AsObject(e)
		switch sys := registry.AsString(cp["system"]); sys {
		case "phone", "sms":
			r.add(fPhone, registry.AsString(cp["value"]))
			if sys == "sms" || registry.AsString(cp["use"]) == "mobile" {
				r.add(fMobile, registry.AsString(cp["value"]))
			}
		case "email":
			r.add(fEmail, registry.AsString(cp["value"]))
		}
	}
}

func (r *Record) identifiers(v any) {
	for _, e := range registry.AsList(v) {
		id := registry.AsObject(e)
		raw := registry.AsString(id["value"])
		val := NormalizeCode(raw)
		if val == "" {
			continue
		}
		x := identifier{system: strings.TrimSpace(registry.AsString(id["system"])), value: val, display: strings.TrimSpace(raw)}
		if !containsID(r.ids, x) && len(r.ids) < maxValues {
			r.ids = append(r.ids, x)
		}
	}
}

func containsID(ids []identifier, x identifier) bool {
	for _, id := range ids {
		if id.system == x.system && id.value == x.value {
			return true
		}
	}
	return false
}

// qualifications adds each coded qualification as "system|code", and its
// text when there is no code.
func (r *Record) qualifications(v any) {
	for _, e := range registry.AsList(v) {
		r.codeable(fQualification, registry.AsObject(registry.AsObject(e)["code"]))
	}
}

func (r *Record) locationTypes(v any) {
	for _, e := range registry.AsList(v) {
		r.codeable(fType, registry.AsObject(e))
	}
}

// codeable adds the codings of a CodeableConcept, or its text.
func (r *Record) codeable(f feature, cc map[string]any) {
	added := false
	for _, c := range registry.AsList(cc["coding"]) {
		coding := registry.AsObject(c)
		if code := registry.AsString(coding["code"]); code != "" {
			r.add(f, registry.AsString(coding["system"])+"|"+code)
			added = true
		}
	}
	if !added {
		r.add(f, registry.AsString(cc["text"]))
	}
}

// maxValues bounds the values kept per feature: comparing is quadratic in
// them, and no real resource has more.
const maxValues = 32

// add appends one value of a text feature unless it is blank or already
// there, computing the derived forms the feature's comparators use. It
// returns the value's index in r.vals[f], -1 when blank or over maxValues.
func (r *Record) add(f feature, s string) int8 {
	v, ph := cachedNewValue(f, s)
	if v.norm == "" {
		return -1
	}
	for i, w := range r.vals[f] {
		if w.norm == v.norm {
			return int8(i)
		}
	}
	if len(r.vals[f]) == maxValues {
		return -1
	}
	r.vals[f] = append(r.vals[f], v)
	if f.phonetic() {
		r.codes[phoneticSlot[f]] = append(r.codes[phoneticSlot[f]], ph)
	}
	return int8(len(r.vals[f]) - 1)
}

// newValue normalises s for feature f, and returns its phonetic codes for
// a name feature; norm is empty when nothing is left.
func newValue(f feature, s string) (v value, ph phonetics) {
	v.display = strings.TrimSpace(s)
	switch f {
	case fLine:
		v.norm = NormalizeLine(s)
		v.coarse = streetName(v.norm)
	case fPostalCode:
		v.norm = NormalizeCode(s)
		if len(v.norm) == 9 && isDigits(v.norm) {
			v.norm = v.norm[:5] // a US ZIP+4: the ZIP is what other systems write
		}
		v.coarse = postalDistrict(s, v.norm)
	case fPhone, fMobile:
		if v.norm = NormalizeDigits(s); len(v.norm) < 6 {
			v.norm = "" // too short to be a number: an extension, a typo
		}
	case fEmail:
		v.norm = NormalizeEmail(s)
	case fQualification, fType, fOrganization, fPartOf:
		v.norm = strings.TrimSpace(s) // codes and references compare as written
	case fName:
		v.norm = NormalizeFacilityName(s)
	default:
		v.norm = Normalize(s)
	}
	if v.norm == "" {
		return v, ph
	}
	v.runes = []rune(v.norm)
	v.grams = bigrams(v.runes)
	if f.phonetic() {
		v.coarse = strings.ReplaceAll(v.norm, " ", "")
		ph = encodePhonetics(v.norm)
		v.phh = ph.hashes()
		v.spaced = v.coarse != v.norm
		v.hist = newRuneHist(v.runes)
	}
	if f == fGiven {
		v.nick = nicknameGroups(v.norm)
	}
	return v, ph
}

// postalDistrict returns the coarse part of a postal code: the outward code
// of a code written with a space ("SW1A 1AA" → "sw1a"), else the first three
// characters of a code of four or more ("2602" → "260", the ZIP+4
// "02130-8815" → "021").
func postalDistrict(raw, norm string) string {
	if words := strings.Fields(Normalize(raw)); len(words) > 1 && !isDigits(norm) {
		return words[0]
	}
	if len(norm) >= 4 {
		return norm[:3]
	}
	return ""
}
