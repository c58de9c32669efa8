package matching

import (
	"slices"
	"strconv"
	"strings"
)

// blockKind names one kind of blocking key.
type blockKind uint8

const (
	bFamilyYear blockKind = iota
	bGivenDate
	bIdentifier
	bPhone
	bEmail
	bPostcodeDate
	bFamilyPostcode
	bFamilyInitial
	bNameWord
	bPostcode
	bGeoCell
	bAddress
	bNameCity
	bNamePair
	bDateInitial
	bGivenDatePart
	bGivenFamilyLetters
	bFamilyGivenEnds
)

// blockingKeys are the blocking keys a rules file may name; each comment
// gives the key's tag in the key string.
var blockingKeys = map[string]blockKind{
	"family-phonetic+birth-year":     bFamilyYear,         // fdm: Metaphone of a family name | birth year
	"given-phonetic+birth-date":      bGivenDate,          // gdb: Metaphone of a given name | birth date
	"identifier":                     bIdentifier,         // id: system | value
	"phone":                          bPhone,              // ph: last nine digits
	"email":                          bEmail,              // em: address
	"postal-code+birth-date":         bPostcodeDate,       // pcb: postal code | birth date
	"family-phonetic+postal-code":    bFamilyPostcode,     // fpc: Metaphone of a family name | postal code
	"family-phonetic+given-initial":  bFamilyInitial,      // fgi: Metaphone of a family name | first letter of a given name
	"name-word-phonetic":             bNameWord,           // nw: Metaphone of a significant word of the name
	"postal-code":                    bPostcode,           // pc: postal code
	"geo-cell":                       bGeoCell,            // geo: latitude | longitude, rounded to 0.01° (about 1 km)
	"address":                        bAddress,            // adr: house number | Metaphone of the street name
	"name-phonetic+city":             bNameCity,           // nc: Metaphone of a given or family name | Metaphone of the city
	"given-phonetic+family-phonetic": bNamePair,           // gf: Metaphones of a given (or its formal) name and a family name, in sorted order
	"birth-date+initial":             bDateInitial,        // bi: birth date | first letter of a given or family name
	"given-phonetic+birth-date-part": bGivenDatePart,      // gyx, gmd: Metaphone of a given (or its formal) name | birth year and month or day, or month and day
	"family-phonetic+given-ends":     bFamilyGivenEnds,    // fgb, fge: Metaphone of a family name | first or last three letters of the first given name
	"given-phonetic+family-letters":  bGivenFamilyLetters, // gfl: Metaphone of a given (or its formal) name | the letters of a family name, sorted
}

// Keys returns the record's blocking keys under the model's rules for its
// type, sorted and without repeats, e.g. "P:fdm:XMT|1970". Two records are
// candidates for comparison when they share at least one key.
func (m *Model) Keys(r *Record) []string {
	t := m.types[r.Type]
	if t == nil {
		return nil
	}
	var keys []string
	for _, k := range t.blocking {
		keys = k.append(keys, t.prefix, r)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// append adds the keys of one kind.
func (k blockKind) append(keys []string, prefix string, r *Record) []string {
	add := func(tag string, parts ...string) {
		keys = append(keys, prefix+":"+tag+":"+strings.Join(parts, "|"))
	}
	year, day := "", r.birth.digits
	if r.birth.prec > 0 {
		year = strconv.Itoa(r.birth.y)
	}
	switch k {
	case bFamilyYear:
		eachCode(r.codesOf(fFamily), func(c string) { ifAll(add, "fdm", c, year) })
	case bGivenDate:
		eachCode(r.codesOf(fGiven), func(c string) { ifAll(add, "gdb", c, day) })
	case bIdentifier:
		for _, id := range r.ids {
			add("id", id.system, id.value)
		}
	case bPhone:
		eachNorm(r.vals[fPhone], func(n string) { add("ph", lastDigits(n)) })
	case bEmail:
		eachNorm(r.vals[fEmail], func(n string) { add("em", n) })
	case bPostcodeDate:
		eachNorm(r.vals[fPostalCode], func(n string) { ifAll(add, "pcb", n, day) })
	case bFamilyPostcode:
		eachCode(r.codesOf(fFamily), func(c string) {
			eachNorm(r.vals[fPostalCode], func(n string) { add("fpc", c, n) })
		})
	case bFamilyInitial:
		eachCode(r.codesOf(fFamily), func(c string) {
			for _, g := range r.vals[fGiven] {
				add("fgi", c, string(g.runes[0]))
			}
		})
	case bNameWord:
		keys = nameWordKeys(keys, prefix, r.vals[fName])
	case bPostcode:
		eachNorm(r.vals[fPostalCode], func(n string) { add("pc", n) })
	case bAddress:
		for _, v := range r.vals[fLine] {
			if num, street := houseAndStreet(v.norm); num != "" {
				add("adr", num, street)
			}
		}
	case bNameCity:
		for _, f := range [...]feature{fGiven, fFamily} {
			eachCode(r.codesOf(f), func(c string) {
				for _, city := range r.codesOf(fCity) {
					ifAll(add, "nc", c, city.dm1)
				}
			})
		}
	case bGeoCell:
		if r.pos.ok {
			add("geo", strconv.Itoa(int(r.pos.lat*100)), strconv.Itoa(int(r.pos.lon*100)))
		}
	default:
		k.appendPersonKeys(add, r, year, day)
	}
	return keys
}

// appendPersonKeys adds the keys of one kind that pair a typo-tolerant form
// of one name with another name or part of the birth date, so that a record
// with a typo in one name and a missing or mistyped birth date still meets
// its duplicates.
func (k blockKind) appendPersonKeys(add func(string, ...string), r *Record, year, day string) {
	switch k {
	case bNamePair:
		for _, g := range givenCodes(r) {
			eachCode(r.codesOf(fFamily), func(f string) { add("gf", min(g, f), max(g, f)) })
		}
	case bFamilyGivenEnds:
		if g := r.vals[fGiven]; len(g) > 0 && len(g[0].runes) >= 3 {
			b, e := string(g[0].runes[:3]), string(g[0].runes[len(g[0].runes)-3:])
			eachCode(r.codesOf(fFamily), func(c string) { add("fgb", c, b); add("fge", c, e) })
		}
	case bGivenDatePart:
		if r.birth.prec == 3 {
			y, m, d := year, pad2(r.birth.m), pad2(r.birth.d)
			for _, g := range givenCodes(r) {
				add("gyx", g, y, m)
				add("gyx", g, y, d) // with y|m above, also meets the same date with day and month swapped
				add("gmd", g, m, d)
			}
		}
	case bGivenFamilyLetters:
		for _, g := range givenCodes(r) {
			for _, f := range r.vals[fFamily] {
				l := slices.Clone(f.runes)
				slices.Sort(l)
				add("gfl", g, string(l))
			}
		}
	case bDateInitial:
		if day != "" {
			for _, l := range initials(r) {
				add("bi", day, l)
			}
		}
	}
}

// ifAll adds a key only when every part is present.
func ifAll(add func(string, ...string), tag string, parts ...string) {
	for _, p := range parts {
		if p == "" {
			return
		}
	}
	add(tag, parts...)
}

// eachCode calls fn with each distinct Metaphone key (primary and alternate)
// of the values.
func eachCode(codes []phonetics, fn func(string)) {
	for _, ph := range codes {
		if ph.dm1 != "" {
			fn(ph.dm1)
		}
		if ph.dm2 != "" && ph.dm2 != ph.dm1 {
			fn(ph.dm2)
		}
	}
}

func eachNorm(vals []value, fn func(string)) {
	for _, v := range vals {
		fn(v.norm)
	}
}

// houseAndStreet returns the house number and the Metaphone key of the
// street name of a normalised line that starts with a number ("12 smith
// street" → "12", "SM0"), or "" when it does not.
func houseAndStreet(line string) (num, street string) {
	words := strings.Fields(line)
	if len(words) < 2 || !isDigits(words[0]) {
		return "", ""
	}
	return words[0], encodePhonetics(words[1]).dm1
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// nameWordKeys adds the Metaphone key of each significant word of a
// Location's names: words of three letters or more that are not generic
// ("hospital", "clinic", ...), which would block everything with everything.
func nameWordKeys(keys []string, prefix string, names []value) []string {
	for _, v := range names {
		for _, w := range strings.Fields(v.norm) {
			if len(w) < 3 || genericWords[w] {
				continue
			}
			if ph := encodePhonetics(w); ph.dm1 != "" {
				keys = append(keys, prefix+":nw:"+ph.dm1)
			}
		}
	}
	return keys
}

// genericWords are words of facility names that identify nothing.
var genericWords = map[string]bool{
	"the": true, "and": true, "of": true, "hospital": true, "clinic": true, "centre": true,
	"center": true, "medical": true, "health": true, "healthcare": true, "care": true,
	"practice": true, "surgery": true, "ward": true, "unit": true, "department": true,
	"dept": true, "building": true, "floor": true, "room": true, "general": true,
	"community": true, "services": true, "service": true, "group": true, "family": true,
	"saint": true, "st": true, "university": true, "inc": true, "llc": true, "ltd": true,
	"pty": true, "laboratory": true, "lab": true, "pharmacy": true, "office": true,
}

// givenCodes returns the primary Metaphone keys of the record's first given
// name and of the formal names its nicknames shorten ("bill": also
// "william"), so that a nickname blocks with the name it stands for. Middle
// names and alternate keys are left out: on generated data they multiplied
// the candidates by about 1.5 and found almost no true pair the others miss.
func givenCodes(r *Record) []string {
	if len(r.vals[fGiven]) == 0 {
		return nil
	}
	codes := []string{r.codesOf(fGiven)[0].dm1}
	t := nicknames()
	v := &r.vals[fGiven][0]
	for _, g := range v.nick {
		if formal := t.members[g][0]; formal != v.norm {
			codes = append(codes, encodePhonetics(formal).dm1)
		}
	}
	slices.Sort(codes)
	return slices.Compact(slices.DeleteFunc(codes, func(c string) bool { return c == "" }))
}

// initials returns the distinct first letters of the record's given and
// family names.
func initials(r *Record) []string {
	var out []string
	for _, f := range [...]feature{fGiven, fFamily} {
		for _, v := range r.vals[f] {
			if l := string(v.runes[0]); !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
