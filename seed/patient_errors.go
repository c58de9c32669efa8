package seed

import (
	"math/rand/v2"
	"strings"

	"idem/matching"
)

// Error kinds: what makes a record differ from the truth it copies.
//
//	typo             a letter replaced by its neighbour on the keyboard (name or street)
//	transposition    two adjacent letters swapped
//	phonetic         a spelling that sounds the same (Stephen → Stefen, Thompson → Thomson)
//	nickname         the given name replaced by a diminutive (William → Bill)
//	day-month-swap   birth date with day and month exchanged
//	date-typo        birth year ±1, or one digit of the day or month changed
//	missing          one field left out (birth date, gender, address, phone, SSN, NPI...)
//	format           same content written differently (capitals, punctuation,
//	                 accents, abbreviations, phone and ZIP formats)
//	name-swap        given and family name exchanged
//	middle-initial   middle name cut to its initial
//	truncation       a name cut short by a field-length limit
//	marriage         the maiden name, or a hyphenated name, where the truth has the married one
//	move             the address before the person (or site) moved
//	identifier-typo  SSN or NPI mistyped by one digit or two swapped digits
//	geocode          a location's position 30–200 m off
//	rename           a site under its former name
//	email-change     another email address of the person (ProfileSparse)
//
// The first eleven are drawn per record with the weights below (mean
// Config.ErrorRate per record); the others come from life events and
// Config rates.
var patientErrorKinds = []string{
	"typo", "transposition", "phonetic", "nickname", "day-month-swap", "date-typo",
	"missing", "format", "name-swap", "middle-initial", "truncation",
}

var patientErrorWeights = []int{18, 10, 10, 8, 5, 6, 16, 14, 1, 5, 3}

// ErrorKinds lists every kind of difference Record.Errors can name.
func ErrorKinds() []string {
	kinds := append(append([]string(nil), patientErrorKinds...), "marriage", "move", "identifier-typo", "geocode", "rename")
	return append(kinds, profileErrorKinds...)
}

// patientError applies one data-entry error, trying other kinds when the
// drawn one cannot apply (no birth date to swap, no nickname known...).
func (g *generator) patientError(r *rand.Rand, d *patientDraft) {
	for range 4 {
		kind := patientErrorKinds[weighted(r, patientErrorWeights)]
		if g.applyPatientError(r, d, kind) {
			g.addErr(kind)
			return
		}
	}
}

func (g *generator) applyPatientError(r *rand.Rand, d *patientDraft, kind string) bool {
	if ok, known := g.nameError(r, &d.names, kind); known {
		return ok
	}
	switch kind {
	case "typo": // a name error did not apply: try the street
		if d.addr.cityOnly {
			return set(&d.addr.city)(adjacentTypo(d.addr.city, typoPos(r, d.addr.city), r.IntN(8)))
		}
		return len(d.addr.line) > 0 && set(&d.addr.line[0])(adjacentTypo(d.addr.line[0], typoPos(r, d.addr.line[0]), r.IntN(8)))
	case "day-month-swap":
		return set(&d.birth)(swapDayMonth(d.birth))
	case "date-typo":
		return set(&d.birth)(dateTypo(d.birth, r.IntN(3)))
	case "missing":
		return d.dropField(r)
	case "format":
		return d.reformat(r)
	}
	return false
}

// names are the parts of a person's name that data-entry errors hit.
type names struct{ given, middle, family string }

// nameError applies an error kind that concerns names; known is false for
// other kinds.
func (g *generator) nameError(r *rand.Rand, n *names, kind string) (ok, known bool) {
	f := n.field(r)
	switch kind {
	case "typo":
		if r.IntN(6) == 0 {
			return false, false // leave some typos to the caller's other fields
		}
		return set(f)(adjacentTypo(*f, typoPos(r, *f), r.IntN(8))), true
	case "transposition": // in names long enough to be typed without looking
		return len(*f) >= 4 && set(f)(transpose(*f, r.IntN(len(*f)-1))), true
	case "phonetic":
		return set(f)(phoneticVariant(*f, r.IntN(len(phoneticRules)))), true
	case "nickname":
		return set(&n.given)(g.nickname(r, n.given)), true
	case "truncation":
		return set(f)(truncate(*f, 4+r.IntN(4))), true
	case "middle-initial":
		if len([]rune(n.middle)) < 2 {
			return false, true
		}
		n.middle = initial(n.middle)
		return true, true
	case "name-swap":
		if n.given == "" || n.family == "" || strings.EqualFold(n.given, n.family) {
			return false, true
		}
		n.given, n.family = n.family, n.given
		return true, true
	}
	return false, false
}

// set returns a function storing a changed value into f when ok; it keeps
// the error cases above to one line each.
func set(f *string) func(string, bool) bool {
	return func(s string, ok bool) bool {
		if ok && s != "" {
			*f = s
		}
		return ok && s != ""
	}
}

// field picks the given or the family name to damage; family names
// are longer and less familiar, so they get more of the errors.
func (n *names) field(r *rand.Rand) *string {
	if r.IntN(5) < 2 {
		return &n.given
	}
	return &n.family
}

// typoPos picks the letter a typo hits: rarely the first one, which the
// typist looks at.
func typoPos(r *rand.Rand, s string) int {
	n := len([]rune(s))
	if n < 2 || r.IntN(8) == 0 {
		return 0
	}
	return 1 + r.IntN(n-1)
}

// nickname returns a diminutive of given from the project's nickname table,
// the shorter forms only: people register as "Bill", not the reverse.
func (g *generator) nickname(r *rand.Rand, given string) (string, bool) {
	// Draw first, whatever the table holds: a change to the nickname table
	// then changes only the names it concerns, not the random stream.
	k := r.IntN(1 << 16)
	var short []string
	for _, n := range matching.Diminutives(given) {
		if len(n) < len(given) && !strings.ContainsRune(n, ' ') {
			short = append(short, n)
		}
	}
	if len(short) == 0 {
		return given, false
	}
	return titleCase(short[k%len(short)]), true
}

// dropField empties one field the record has.
func (d *patientDraft) dropField(r *rand.Rand) bool {
	fields := []func() bool{
		func() bool { return empty(&d.birth) },
		func() bool { return empty(&d.gender) },
		func() bool { return empty(&d.middle) },
		func() bool { return empty(&d.email) },
		func() bool { return empty(&d.ssn) },
		func() bool { ok := d.addr.has(); d.addr, d.oldAddr = addrDraft{}, addrDraft{}; return ok },
		func() bool { ok := len(d.phones) > 0; d.phones = nil; return ok },
	}
	start := r.IntN(len(fields))
	for i := range fields {
		if fields[(start+i)%len(fields)]() {
			return true
		}
	}
	return false
}

func empty(f *string) bool { ok := *f != ""; *f = ""; return ok }

// reformat writes one field differently without changing what it says:
// capitals, punctuation, accents, abbreviations, phone and ZIP formats.
func (d *patientDraft) reformat(r *rand.Rand) bool {
	options := []func() bool{
		func() bool { return set(&d.family)(strings.ToUpper(d.family), d.family != strings.ToUpper(d.family)) },
		func() bool { return set(&d.given)(strings.ToLower(d.given), d.given != strings.ToLower(d.given)) },
		func() bool { return set(&d.family)(stripPunctuation(d.family)) },
		func() bool { return set(&d.family)(closeUp(d.family)) },
		func() bool { return set(&d.family)(asciiFold(d.family)) || set(&d.given)(asciiFold(d.given)) },
		func() bool {
			return len(d.addr.line) > 0 && set(&d.addr.line[0])(abbreviate(d.addr.line[0], r.IntN(3), r.IntN(2) == 0))
		},
		func() bool {
			if len(d.phones) == 0 {
				return false
			}
			d.phones[0].format = (d.phones[0].format + 1 + r.IntN(phoneFormats-1)) % phoneFormats
			return true
		},
		func() bool {
			if len(d.addr.line) == 0 {
				return false
			}
			d.addr.zipFormat = (d.addr.zipFormat + 1 + r.IntN(zipFormats-1)) % zipFormats
			return true
		},
	}
	start := r.IntN(len(options))
	for i := range options {
		if options[(start+i)%len(options)]() {
			return true
		}
	}
	return false
}
