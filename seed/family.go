package seed

import (
	"math/rand/v2"
	"strconv"
)

// HardNegative is a pair of distinct real entities whose records look alike:
// a pair a matcher must keep apart. Kinds: "twins" (same family name, birth
// date and address), "household" (family members at one address), "junior"
// (a son named after his father), "namesake" (same common name and birth
// year, or for places the same name in another town), "campus" (different
// departments at one site).
type HardNegative struct {
	Type string // resource type of both entities
	A, B string // Entity ids, A before B in generation order
	Kind string
}

// pair is a hard negative inside the group being generated.
type pair struct {
	a, b int // indexes into the group
	kind string
}

// Entity id prefixes: ids are "person-17", "practitioner-3", "location-0".
var entityPrefix = map[string]string{
	TypePatient: "person-", TypePractitioner: "practitioner-", TypeLocation: "location-",
}

// entityID names the ground-truth entity of a type and index.
func entityID(typ string, index int) string { return entityPrefix[typ] + strconv.Itoa(index) }

// personGroup generates the persons of group gi into g.people and their
// hard negatives into g.pairs.
func (g *generator) personGroup(r *rand.Rand, gi int) {
	base := gi * groupSize
	g.people, g.pairs = g.people[:0], g.pairs[:0]
	u, c, family := r.Float64(), g.cfg, false
	switch {
	case u < c.Household:
		g.household(r, base, false)
		family = true
	case u < c.Household+c.Twins:
		g.household(r, base, true)
		family = true
	case u < c.Household+c.Twins+c.Namesakes:
		g.namesakes(r, base)
	default:
		for i := range groupSize {
			g.people = append(g.people, g.newPerson(r, base+i, "", -1))
		}
	}
	// Contacts come last: email addresses are made from the final names.
	for i := range g.people {
		g.people[i].contacts(r)
		if family { // one landline per household
			g.people[i].phone = g.people[0].phone
		}
	}
}

// household generates two parents and two children at one address; with
// twins set the children are twins.
func (g *generator) household(r *rand.Rand, base int, twins bool) {
	fatherAge := 26 + r.IntN(40)
	father := g.newPerson(r, base, "male", fatherAge)
	mother := g.newPerson(r, base+1, "female", min(max(fatherAge-4+r.IntN(7), 20), 95))
	birthName := mother.family
	if mother.maiden != "" {
		birthName = mother.maiden
	}
	mother.family, mother.maiden = birthName, ""
	if r.Float64() < min(0.8, 2*g.cfg.MarriageRate) { // most mothers took the father's name
		mother.family, mother.maiden = father.family, birthName
	}
	mother.home, mother.moved, mother.old = father.home, father.moved, father.old
	g.people = append(g.people, father, mother)

	oldest := max(min(fatherAge, mother.age)-18, 0)
	for i := range 2 {
		child := g.newPerson(r, base+2+i, "", r.IntN(min(oldest, 30)+1))
		child.family, child.maiden = father.family, ""
		child.home, child.moved, child.old = father.home, father.moved, father.old
		g.people = append(g.people, child)
	}
	kids := g.people[2:4]
	if twins {
		g.makeTwins(r, &kids[0], &kids[1])
	} else if kids[0].gender == "male" && r.Float64() < 0.15 {
		kids[0].given, kids[0].suffix = father.given, "Jr."
		g.pairs = append(g.pairs, pair{0, 2, "junior"})
	}
	for a := range 4 {
		for b := a + 1; b < 4; b++ {
			if (a != 0 || b != 2 || kids[0].suffix == "") && (a != 2 || b != 3 || !twins) {
				g.pairs = append(g.pairs, pair{a, b, "household"})
			}
		}
	}
}

// makeTwins gives the second child the first one's birth date and a
// different given name.
func (g *generator) makeTwins(r *rand.Rand, a, b *person) {
	b.birth, b.birthYear, b.age = a.birth, a.birthYear, a.age
	names := g.data.given(b.gender, b.birthYear)
	for b.given = names.pick(r); b.given == a.given; b.given = names.pick(r) {
	}
	a.twin, b.twin = 1, 2
	g.pairs = append(g.pairs, pair{2, 3, "twins"})
}

// namesakes generates two pairs of unrelated persons who share a common
// given and family name and a birth year but not a birth date.
func (g *generator) namesakes(r *rand.Rand, base int) {
	for i := 0; i < groupSize; i += 2 {
		a := g.newPerson(r, base+i, "", -1)
		b := g.newPerson(r, base+i+1, a.gender, a.age)
		a.given = g.data.given(a.gender, a.birthYear).head(r, 20)
		a.family, a.maiden, b.maiden = g.data.surnames.head(r, 40), "", ""
		b.given, b.family = a.given, a.family
		for b.setBirth(r, a.birthYear); b.birth == a.birth; b.setBirth(r, a.birthYear) {
		}
		g.people = append(g.people, a, b)
		g.pairs = append(g.pairs, pair{i, i + 1, "namesake"})
	}
}
