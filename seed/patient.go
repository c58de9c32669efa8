package seed

import (
	"math/rand/v2"
	"strings"
)

// placement is one record of an entity: the system holding it and which of
// the entity's records there it is (0, or 1 for an unmerged duplicate).
type placement struct{ sys, copy int }

// patientGroup emits the Patient records of one group of persons.
func (g *generator) patientGroup(r *rand.Rand, gi, count int) error {
	g.personGroup(r, gi)
	for i := range g.people {
		p := &g.people[i]
		if p.index >= count {
			break
		}
		places := g.patientPlacements(r)
		if g.cfg.Profile == ProfileMany {
			places = g.manyPlacements(r)
		}
		for n, pl := range places {
			rr := g.recordRand(typePatient, p.index, n)
			d := g.patientDraft(rr, p, pl.sys)
			if g.cfg.Profile == ProfileSparse {
				g.sparsen(rr, &d, p)
			}
			for k := g.errorCount(rr); k > 0; k-- {
				g.patientError(rr, &d)
			}
			id := g.localID(pl.sys, typePatient, p.index, pl.copy)
			if err := g.record(typePatient, pl.sys, id, p.index, d.resource(pl.sys, id)); err != nil {
				return err
			}
		}
	}
	return g.emitPairs(typePatient, gi*groupSize, count)
}

// patientPlacements decides which systems know a person and whether one of
// them holds a second record: the hospital sees most patients, the
// laboratory many of them, the GP practice its own list.
func (g *generator) patientPlacements(r *rand.Rand) []placement {
	g.places = g.places[:0]
	add := func(s ...int) {
		for _, sys := range s {
			g.places = append(g.places, placement{sys, 0})
		}
	}
	switch u := r.Float64(); {
	case u < g.cfg.ThreeSystems:
		add(sysEHR, sysLab, sysGP)
	case u < g.cfg.ThreeSystems+g.cfg.TwoSystems:
		pairs := [3][2]int{{sysEHR, sysLab}, {sysEHR, sysGP}, {sysLab, sysGP}}
		p := pairs[weighted(r, []int{45, 35, 20})]
		add(p[0], p[1])
	default:
		add([]int{sysEHR, sysLab, sysGP}[weighted(r, []int{45, 25, 30})])
	}
	if r.Float64() < g.cfg.WithinSystem {
		// Re-registrations happen mostly at the hospital's front desks.
		i := r.IntN(len(g.places))
		if g.places[0].sys == sysEHR && r.Float64() < 0.6 {
			i = 0
		}
		g.places = append(g.places[:i+1], append([]placement{{g.places[i].sys, 1}}, g.places[i+1:]...)...)
	}
	return g.places
}

// patientDraft is a Patient record being written: plain fields the error
// functions change, turned into FHIR JSON at the end.
type patientDraft struct {
	names
	suffix, maiden string
	gender, birth  string
	addr, oldAddr  addrDraft
	phones         []phoneDraft
	email, ssn     string
	twin           int
	legacy         bool          // written in capitals without diacritics
	gp             *practitioner // the GP practice's doctor for the patient
}

// addrDraft is an address as a system writes it; line is empty when the
// record has no address.
type addrDraft struct {
	line                    []string
	city, state, zip, plus4 string
	zipFormat               int
	country                 bool
	cityOnly                bool // only the town is recorded (ProfileSparse)
}

type phoneDraft struct {
	digits, use string
	format      int
}

// patientDraft writes what system sys records of p: the fields it
// collects, in its own style, as of the time the record was made.
func (g *generator) patientDraft(r *rand.Rand, p *person, sys int) patientDraft {
	st := &patientStyles[sys]
	g.errs = g.errs[:0]
	d := patientDraft{names: names{given: p.given, family: p.family}, suffix: p.suffix, gender: p.gender, birth: p.birth, twin: p.twin}
	// A record made before a marriage or a move still shows the old name or
	// address: nobody told that system.
	before := (p.moved || p.maiden != "") && r.Float64() < 0.35
	d.legacy = r.Float64() < st.legacy
	if p.maiden != "" {
		g.marriedName(r, &d, p, st, before)
	}
	switch u := r.Float64(); {
	case u < st.middle:
		d.middle = p.middle
	case u < (1+st.middle)/2:
		d.middle = initial(p.middle)
	}
	if r.Float64() < st.nickname {
		if n, ok := g.nickname(r, d.given); ok {
			d.given = n
			g.addErr("nickname")
		}
	}
	g.patientContacts(r, &d, p, sys, before)
	return d
}

// patientContacts fills the address, telecom and identifiers system sys
// knows of p.
func (g *generator) patientContacts(r *rand.Rand, d *patientDraft, p *person, sys int, before bool) {
	st := &patientStyles[sys]
	if r.Float64() < st.address {
		home := p.home
		if before && p.moved {
			home = p.old
			g.addErr("move")
		} else if p.moved && r.Float64() < st.oldAddr {
			d.oldAddr = addressDraft(r, p.old, sys)
		}
		d.addr = addressDraft(r, home, sys)
	}
	if r.Float64() < st.phoneSet {
		d.addPhone(p.mobile, "mobile", st.phone)
		d.addPhone(p.phone, "home", st.phone)
	}
	if p.email != "" && r.Float64() < st.email {
		d.email = p.email
	}
	if sys == sysGP && len(g.clinics) > 0 && r.Float64() < 0.9 {
		d.gp = &g.clinics[p.index%len(g.clinics)]
	}
	if r.Float64() < st.ssn {
		d.ssn = g.carriedID(r, p.ssn)
		if sys == sysLab {
			d.ssn = strings.ReplaceAll(d.ssn, "-", "")
		}
	}
}

// marriedName sets the names a married woman's record shows.
func (g *generator) marriedName(r *rand.Rand, d *patientDraft, p *person, st *patientStyle, before bool) {
	switch {
	case before:
		d.family = p.maiden
		g.addErr("marriage")
	case r.Float64() < 0.08: // she hyphenated, in this system at least
		d.family = p.maiden + "-" + p.family
		g.addErr("marriage")
	case r.Float64() < st.maiden:
		d.maiden = p.maiden
	}
}

// carriedID is a shared identifier as a record carries it: now and then
// mistyped by one digit or two swapped digits.
func (g *generator) carriedID(r *rand.Rand, id string) string {
	if id == "" || r.Float64() >= g.cfg.IdentifierTypo {
		return id
	}
	g.addErr("identifier-typo")
	if r.IntN(2) == 0 {
		if s, ok := swapDigits(id, r.IntN(8)); ok {
			return s
		}
	}
	s, _ := digitTypo(id, r.IntN(9), r.IntN(2))
	return s
}

// swapDigits exchanges the i-th digit of s with the next digit.
func swapDigits(s string, i int) (string, bool) {
	b := []byte(s)
	var pos []int
	for p, c := range b {
		if c >= '0' && c <= '9' {
			pos = append(pos, p)
		}
	}
	if i < 0 || i+1 >= len(pos) || b[pos[i]] == b[pos[i+1]] {
		return s, false
	}
	b[pos[i]], b[pos[i+1]] = b[pos[i+1]], b[pos[i]]
	return string(b), true
}

func (d *patientDraft) addPhone(digits, use string, format int) {
	if digits != "" {
		d.phones = append(d.phones, phoneDraft{digits, use, format})
	}
}

// initial shortens a middle name to its initial.
func initial(s string) string {
	for _, c := range s {
		return string(c)
	}
	return ""
}

// addressDraft writes an address the way system sys does: the hospital
// abbreviates street types, the laboratory prints ZIP+4, the GP practice
// spells everything out; units go on the first line or a second one.
func addressDraft(r *rand.Rand, a address, sys int) addrDraft {
	street := a.street
	if sys != sysGP {
		street = abbreviateSuffix(street)
	}
	line := []string{a.number + " " + street}
	if a.unit != "" {
		unit := a.unit
		if apt, ok := strings.CutPrefix(unit, "Apt "); ok && r.IntN(3) == 0 {
			unit = "#" + apt
		}
		if r.IntN(2) == 0 {
			line[0] += ", " + unit
		} else {
			line = append(line, unit)
		}
	}
	d := addrDraft{line: line, city: a.city.name, state: a.city.state, zip: a.zip, plus4: a.plus4, country: sys == sysEHR}
	if patientStyles[sys].zipPlus4 && r.Float64() < 0.6 {
		d.zipFormat = zipPlus4
	}
	return d
}
