package seed

import (
	"math/rand/v2"
	"strconv"
)

// profession is a kind of licensed practitioner.
type profession struct {
	code, display string  // v2-0360 degree code
	board         string  // licensing board: the licence's identifier system
	prefix        string  // licence number prefix
	weight        int     // relative frequency among staff
	npi           float64 // share holding an NPI (nurses often have none)
	doctor        bool    // addressed as "Dr."
}

// Licence identifier systems of the (fictional) state boards.
const (
	boardMedicine = "http://licensing.example.org/medicine"
	boardNursing  = "http://licensing.example.org/nursing"
	boardPA       = "http://licensing.example.org/physician-assistants"
)

var professions = []profession{
	{"MD", "Doctor of Medicine", boardMedicine, "", 55, 1, true},
	{"DO", "Doctor of Osteopathy", boardMedicine, "", 8, 1, true},
	{"NP", "Nurse Practitioner", boardNursing, "NP", 15, 1, false},
	{"RN", "Registered Nurse", boardNursing, "RN", 12, 0.3, false},
	{"PA", "Physician Assistant", boardPA, "PA", 10, 1, false},
}

var professionWeights = func() []int {
	w := make([]int, len(professions))
	for i, p := range professions {
		w[i] = p.weight
	}
	return w
}()

// practitioner is a real practitioner: the truth behind HR and EHR records.
type practitioner struct {
	person         // name, birth, home address, contacts
	prof    int    // index into professions
	npi     string // "" when the practitioner has none
	licence string
	workTel string // 10 digits: the department's line
}

// practitionerGroup emits the records of one group of practitioners.
func (g *generator) practitionerGroup(r *rand.Rand, gi, count int) error {
	staff := g.staffGroup(r, gi)
	for i := range staff {
		p := &staff[i]
		if p.index >= count {
			break
		}
		for n, pl := range g.practitionerPlacements(r) {
			rr := g.recordRand(typePractitioner, p.index, n)
			d := g.practitionerDraft(rr, p, pl)
			for k := g.errorCount(rr); k > 0; k-- {
				g.practitionerError(rr, &d)
			}
			id := g.localID(pl.sys, typePractitioner, p.index, pl.copy)
			if err := g.record(typePractitioner, pl.sys, id, p.index, d.resource(pl.sys, id)); err != nil {
				return err
			}
		}
	}
	return g.emitPairs(typePractitioner, gi*groupSize, count)
}

// staffGroup generates group gi of practitioners: usually four unrelated
// people, sometimes two pairs of namesakes (two Dr. John Smiths on staff).
func (g *generator) staffGroup(r *rand.Rand, gi int) []practitioner {
	base := gi * groupSize
	g.pairs = g.pairs[:0]
	staff := make([]practitioner, groupSize)
	for i := range staff {
		staff[i] = g.newPractitioner(r, base+i)
	}
	if r.Float64() < g.cfg.Namesakes {
		for i := 0; i < groupSize; i += 2 {
			a, b := &staff[i], &staff[i+1]
			b.gender, b.given, b.family, b.maiden = a.gender, a.given, a.family, ""
			b.email = workEmail(b.given, b.family, 2)
			g.pairs = append(g.pairs, pair{i, i + 1, "namesake"})
		}
	}
	return staff
}

// newPractitioner draws a practitioner of working age with identifiers
// unique to the index.
func (g *generator) newPractitioner(r *rand.Rand, index int) practitioner {
	p := practitioner{person: g.newPerson(r, index, "", 28+r.IntN(40))}
	p.ssn, p.prof = "", weighted(r, professionWeights)
	prof := &professions[p.prof]
	if r.Float64() < prof.npi {
		p.npi = npiFor(g.npiIDs, index)
	}
	p.licence = prof.prefix + strconv.FormatUint(100000+g.licenceIDs.within(uint64(index), 900_000), 10)
	p.contacts(r)
	p.workTel = "617" + strconv.Itoa(200+r.IntN(800)) + pad(uint64(r.IntN(10000)), 4)
	p.email = workEmail(p.given, p.family, 1)
	return p
}

// workEmail is the hospital address of a staff member; the second person
// with a name gets a number.
func workEmail(given, family string, n int) string {
	local := emailPart(given) + "." + emailPart(family)
	if n > 1 {
		local += strconv.Itoa(n)
	}
	return local + "@stmarys.example.org"
}

// practitionerPlacements: HR employs most practitioners and the EHR knows
// most of them; some EHR entries are referring doctors HR never hired, some
// new hires are not in the EHR yet.
func (g *generator) practitionerPlacements(r *rand.Rand) []placement {
	g.places = g.places[:0]
	switch weighted(r, []int{85, 8, 7}) {
	case 0:
		g.places = append(g.places, placement{sysHR, 0}, placement{sysEHR, 0})
	case 1:
		g.places = append(g.places, placement{sysHR, 0})
	default:
		g.places = append(g.places, placement{sysEHR, 0})
	}
	if r.Float64() < g.cfg.WithinSystem {
		// An EHR stub created for a referral, never merged.
		g.places = append(g.places, placement{sysEHR, 1})
	}
	return g.places
}

// gpDoctors picks the GP practice's doctors among the first practitioners:
// the doctors GP patients name as their general practitioner.
func (g *generator) gpDoctors() []practitioner {
	var out []practitioner
	for gi := 0; gi < 4 && gi*groupSize < g.cfg.Practitioners; gi++ {
		g.reseed(typePractitioner, gi)
		for _, p := range g.staffGroup(g.rng, gi) {
			if p.index < g.cfg.Practitioners && professions[p.prof].doctor && p.npi != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
