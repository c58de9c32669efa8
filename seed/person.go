package seed

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"idem/registry/fhir"
)

// refYear is the "today" of the synthetic network: ages and registration
// years count from mid-2024, never from the clock, so output does not change
// with the day it is generated.
const refYear = 2024

// groupSize is the number of entities generated together. Families, twins
// and namesakes need to know each other, so the unit of generation is a
// group of four consecutive entity indexes with its own random stream:
// groups can be generated in any order, or in parallel, with the same result.
const groupSize = 4

// address is a postal address as it really is, before any system writes it.
type address struct {
	number string // house number
	street string // full street name, "Maple Street"
	unit   string // "Apt 4B" or ""
	city   *city
	zip    string
	plus4  string // the ZIP+4 extension
}

// person is a real person: the truth every Patient record is a copy of.
type person struct {
	index          int
	gender         string // male | female
	given, middle  string
	family         string
	maiden         string // family name before marriage, "" if never changed
	suffix         string // "Jr." for a son named after his father
	birth          string // YYYY-MM-DD
	home, old      address
	moved          bool // old holds the address before the move
	phone, mobile  string
	email          string
	ssn            string
	twin           int // birth order of a twin (1, 2), 0 otherwise
	birthYear, age int
}

// newPerson draws an independent person of the given gender ("" = either)
// and age (-1 = drawn from the population's age distribution).
func (g *generator) newPerson(r *rand.Rand, index int, gender string, age int) person {
	if gender == "" {
		gender = "male"
		if r.Float64() < 0.51 {
			gender = "female"
		}
	}
	if age < 0 {
		age = drawAge(r)
	}
	p := person{index: index, gender: gender, age: age}
	p.setBirth(r, refYear-age)
	names := g.data.given(gender, p.birthYear)
	p.given = names.pick(r)
	if r.Float64() < 0.75 {
		p.middle = names.pick(r)
	}
	if p.middle == p.given {
		p.middle = ""
	}
	p.family = g.data.surnames.pick(r)
	p.home = g.newAddress(r, nil)
	p.ssn = ssnFor(g.ssnIDs, index)
	g.lifeEvents(r, &p)
	p.contacts(r)
	return p
}

// drawAge follows roughly the US age pyramid.
func drawAge(r *rand.Rand) int {
	u := r.Float64()
	switch {
	case u < 0.22:
		return r.IntN(18)
	case u < 0.45:
		return 18 + r.IntN(17)
	case u < 0.64:
		return 35 + r.IntN(15)
	case u < 0.83:
		return 50 + r.IntN(15)
	case u < 0.95:
		return 65 + r.IntN(15)
	}
	return 80 + r.IntN(20)
}

// setBirth sets a birth date in year y.
func (p *person) setBirth(r *rand.Rand, y int) {
	m := 1 + r.IntN(12)
	p.birthYear = y
	p.birth = formatDate(y, m, 1+r.IntN(fhir.DaysIn(y, m)))
}

// lifeEvents decides marriage (a name change) and moves for an adult.
func (g *generator) lifeEvents(r *rand.Rand, p *person) {
	if p.gender == "female" && p.age >= 22 && p.maiden == "" && r.Float64() < g.cfg.MarriageRate {
		p.maiden, p.family = p.family, g.data.surnames.pick(r)
	}
	if r.Float64() < g.cfg.MoveRate {
		p.moved, p.old = true, g.newAddress(r, p.home.city)
	}
}

// contacts gives the person phone numbers and an email address the way
// people of their age have them: children none of their own, older people
// a landline more often than a mobile.
func (p *person) contacts(r *rand.Rand) {
	// Drawn again once a group has settled names and homes: nothing may
	// survive from the first draw (an address made from a former name).
	p.phone, p.mobile, p.email = "", "", ""
	area := p.home.city.areas[r.IntN(len(p.home.city.areas))]
	if r.Float64() < 0.25+float64(p.age)/150 {
		p.phone = phoneNumber(r, area)
	}
	if p.age >= 13 && r.Float64() < 0.95-float64(max(p.age-60, 0))/80 {
		p.mobile = phoneNumber(r, area)
	}
	if p.age >= 15 && r.Float64() < 0.6 {
		p.email = emailFor(r, p.given, p.family, p.birthYear)
	}
}

// phoneNumber draws a number in an area code. Exchanges start at 2 as in
// the North American plan.
func phoneNumber(r *rand.Rand, area string) string {
	return area + strconv.Itoa(200+r.IntN(800)) + pad(uint64(r.IntN(10000)), 4)
}

var emailDomains = [...]string{"example.com", "example.net", "example.org", "mail.example.com"}

// emailFor builds a personal address in one of the shapes people choose.
func emailFor(r *rand.Rand, given, family string, year int) string {
	g, f := emailPart(given), emailPart(family)
	var local string
	switch r.IntN(4) {
	case 0:
		local = g + "." + f
	case 1:
		local = g[:1] + f
	case 2:
		local = g + f + strconv.Itoa(year%100)
	default:
		local = f + "." + g + strconv.Itoa(r.IntN(100))
	}
	return local + "@" + emailDomains[r.IntN(len(emailDomains))]
}

// emailPart lower-cases a name and keeps only ASCII letters.
func emailPart(s string) string {
	s, _ = asciiFold(strings.ToLower(s))
	out := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' {
			return c
		}
		return -1
	}, s)
	if out == "" {
		return "x"
	}
	return out
}

var streetSuffixes = [...]string{"Street", "Street", "Street", "Avenue", "Avenue", "Road", "Road", "Drive", "Lane", "Court", "Place", "Boulevard", "Terrace", "Way"}

// newAddress draws a home address, in city when not nil (a move across
// town), else in a town drawn by population.
func (g *generator) newAddress(r *rand.Rand, in *city) address {
	c := in
	if c == nil || r.Float64() < 0.5 {
		c = g.data.pickCity(r)
	}
	a := address{
		number: strconv.Itoa(1 + r.IntN(r.IntN(2000)+1)), // small numbers are more common
		street: g.data.streets.pick(r) + " " + streetSuffixes[r.IntN(len(streetSuffixes))],
		city:   c,
		zip:    c.zips[r.IntN(len(c.zips))],
		plus4:  pad(uint64(1+r.IntN(9998)), 4),
	}
	if r.Float64() < 0.3 {
		a.unit = "Apt " + strconv.Itoa(1+r.IntN(12)) + string(rune('A'+r.IntN(4)))
	}
	return a
}
