package seed

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// facilityKind is a kind of health-care site, with the name patterns sites
// of that kind are called by. In a pattern {saint}, {place}, {surname} and
// {city} are filled in.
type facilityKind struct {
	code, display string // v3-RoleCode service delivery location type
	weight        int
	patterns      []string
}

var facilityKinds = []facilityKind{
	{"HOSP", "Hospital", 10, []string{"{saint} Hospital", "{city} General Hospital", "{place} Memorial Hospital", "{city} Regional Medical Center", "{surname} Memorial Hospital"}},
	{"PC", "Primary care clinic", 35, []string{"{place} Family Practice", "{surname} Family Medicine", "{place} Health Center", "{city} Community Health Center", "{place} Pediatrics", "{place} Primary Care"}},
	{"HLAB", "Hospital laboratory", 8, []string{"{place} Laboratory", "{city} Clinical Laboratories", "{place} Diagnostic Laboratory"}},
	{"PHARM", "Pharmacy", 15, []string{"{place} Pharmacy", "{surname}'s Pharmacy", "{city} Community Pharmacy"}},
	{"RADDX", "Radiology diagnostics or therapeutics unit", 8, []string{"{place} Imaging Center", "{city} Radiology"}},
	{"OF", "Outpatient facility", 12, []string{"{place} Urgent Care", "{city} Urgent Care Center", "{place} Surgery Center"}},
	{"NCCF", "Nursing or custodial care facility", 12, []string{"{place} Nursing and Rehabilitation Center", "{saint} Nursing Home", "{place} Senior Care Center"}},
	{"ER", "Emergency room", 0, nil}, // only as a hospital department
	// Home health agencies and hospices serve patients at home; only
	// ProfileGeocoded has them (weight 0 keeps the default's stream).
	{"COMM", "Community Location", 0, []string{"{place} Home Health", "{surname} Home Care", "{city} Visiting Nurses", "{place} Hospice"}},
	// Departments and units that exist only inside a hospital campus.
	{"CARD", "Cardiology clinic", 0, nil},
	{"ONCL", "Oncology clinic", 0, nil},
	{"PEDC", "Pediatrics clinic", 0, nil},
	{"HU", "Hospital unit", 0, nil},
}

const (
	kindHospital = 0
	kindLab      = 2
	kindImaging  = 4
	kindER       = 7
	kindHome     = 8
	kindCardio   = 9
	kindOncology = 10
	kindPeds     = 11
	kindUnit     = 12
)

// campusUnit is a department or unit a hospital campus may have: its kind
// and the words added to the hospital's name.
type campusUnit struct {
	kind   int
	suffix string
}

// campusUnits are the parts of a campus a group draws three of. They are
// the hardest negatives of a location registry: one address, one position,
// often one switchboard, and names that differ in a single word ("…
// Cardiology" and "… Oncology", "… Ward 3" and "… Ward 4").
var campusUnits = []campusUnit{
	{kindLab, "Laboratory"}, {kindER, "Emergency Department"}, {kindImaging, "Imaging Center"},
	{kindCardio, "Cardiology"}, {kindOncology, "Oncology"}, {kindPeds, "Pediatrics"},
	{kindUnit, "Ward 3"}, {kindUnit, "Ward 4"}, {kindUnit, "Ward 5"},
}

var facilityWeights = func() []int {
	w := make([]int, len(facilityKinds))
	for i, k := range facilityKinds {
		w[i] = k.weight
	}
	return w
}()

var (
	saints = []string{"Mary's", "Joseph's", "Luke's", "Vincent's", "Elizabeth's", "Anne's", "Francis", "John's",
		"Margaret's", "Patrick's", "Anthony's", "Jude", "Catherine's", "Michael's", "Peter's", "Agnes"}
	places = []string{"Riverside", "Hillcrest", "Lakeview", "Northside", "Oak Ridge", "Greenfield", "Fairview",
		"Brookside", "Maplewood", "Cedar Grove", "Harbor", "Bayview", "Pinecrest", "Valley", "Westfield",
		"Eastside", "Summit", "Beacon Hill", "Parkside", "Meadowbrook", "Elmwood", "Southgate"}
)

// organization is a health system that manages sites.
type organization struct{ id, name string }

var organizations = []organization{
	{"ORG-001", "St Mary's Health"}, {"ORG-002", "Northeast Community Health Partners"},
	{"ORG-003", "Bay State Senior Living"}, {"ORG-004", "Commonwealth Pharmacy Group"},
	{"ORG-005", "Pioneer Valley Health System"}, {"ORG-006", "Harborview Diagnostics"},
}

// facility is a real site: the truth behind registry and EHR Location records.
type facility struct {
	index     int
	kind      int
	name      string // official name
	former    string // name before a rename, "" if never renamed
	acronym   string // "SMH", for hospitals
	addr, old address
	moved     bool
	lat, long float64
	phone     string
	org       int
	partOf    int // index of the main site of a campus, -1 if none
}

// locationGroup emits the records of one group of facilities.
func (g *generator) locationGroup(r *rand.Rand, gi, count int) error {
	sites := g.siteGroup(r, gi)
	for i := range sites {
		f := &sites[i]
		if f.index >= count {
			break
		}
		if err := g.locationRecords(r, f, sites); err != nil {
			return err
		}
	}
	return g.emitPairs(typeLocation, gi*groupSize, count)
}

// siteGroup generates group gi of facilities: unrelated sites, or a
// hospital campus (the hospital and three departments at one address), or
// two pairs of same-named sites in different towns.
func (g *generator) siteGroup(r *rand.Rand, gi int) []facility {
	base := gi * groupSize
	g.pairs = g.pairs[:0]
	sites := make([]facility, groupSize)
	weights := facilityWeights
	if g.cfg.Profile == ProfileGeocoded {
		weights = geocodedWeights
	}
	for i := range sites {
		sites[i] = g.newFacility(r, base+i, weighted(r, weights))
	}
	switch u := r.Float64(); {
	case u < g.cfg.Household/2:
		g.campus(r, sites)
	case u < g.cfg.Household/2+g.cfg.Namesakes:
		for i := 0; i < groupSize; i += 2 {
			a, b := &sites[i], &sites[i+1]
			for b.kind != a.kind || b.addr.city == a.addr.city {
				*b = g.newFacility(r, b.index, a.kind)
			}
			a.name = g.facilityName(r, a.kind, a.addr.city, true)
			b.name, a.acronym, b.acronym = a.name, "", ""
			if a.kind == kindHospital {
				a.acronym, b.acronym = acronym(a.name), acronym(a.name)
			}
			g.pairs = append(g.pairs, pair{i, i + 1, "namesake"})
		}
	}
	return sites
}

// campus turns the group into a hospital and three of its departments or
// units (campusUnits): one address, one position, similar names; about
// half of the departments are reached through the hospital's switchboard
// and list its number.
func (g *generator) campus(r *rand.Rand, sites []facility) {
	main := &sites[0]
	main.kind = kindHospital
	main.name = g.facilityName(r, kindHospital, main.addr.city, false)
	main.acronym, main.addr.unit = acronym(main.name), ""
	for i, u := range r.Perm(len(campusUnits))[:groupSize-1] {
		s, unit := &sites[i+1], campusUnits[u]
		s.kind, s.org, s.partOf, s.acronym, s.former = unit.kind, main.org, main.index, "", ""
		s.addr, s.old, s.moved, s.lat, s.long = main.addr, main.old, main.moved, main.lat, main.long
		s.name = main.name + " " + unit.suffix
		if r.IntN(2) == 0 {
			s.phone = main.phone
		}
	}
	for a := range groupSize {
		for b := a + 1; b < groupSize; b++ {
			g.pairs = append(g.pairs, pair{a, b, "campus"})
		}
	}
}

// newFacility draws a site of a kind in a town drawn by population.
func (g *generator) newFacility(r *rand.Rand, index, kind int) facility {
	f := facility{index: index, kind: kind, partOf: -1}
	f.addr = g.newAddress(r, nil)
	f.addr.unit = ""
	if kind != kindHospital && r.Float64() < 0.3 {
		f.addr.unit = "Suite " + strconv.Itoa(100*(1+r.IntN(4))+r.IntN(20))
	}
	c := f.addr.city
	f.lat, f.long = c.lat+(r.Float64()-0.5)*0.08, c.long+(r.Float64()-0.5)*0.1
	if g.cfg.Profile == ProfileGeocoded && r.Float64() < 0.8 {
		// geocoded from the town alone: the town's centroid
		f.lat, f.long = c.lat, c.long
	}
	f.phone = phoneNumber(r, c.areas[r.IntN(len(c.areas))])
	f.name = g.facilityName(r, kind, c, false)
	if kind == kindHospital {
		f.acronym = acronym(f.name)
	}
	if r.Float64() < 0.08 { // renamed: a merger or a donor
		f.former = g.facilityName(r, kind, c, false)
	}
	if r.Float64() < 0.05 { // relocated
		f.moved, f.old = true, g.newAddress(r, c)
		f.old.unit = ""
	}
	f.org = r.IntN(len(organizations))
	return f
}

// facilityName fills a name pattern of the kind. With noCity set it avoids
// patterns naming the town, so that sites in two towns can share the name.
func (g *generator) facilityName(r *rand.Rand, kind int, c *city, noCity bool) string {
	pats := facilityKinds[kind].patterns
	p := pats[r.IntN(len(pats))]
	for noCity && strings.Contains(p, "{city}") {
		p = pats[r.IntN(len(pats))]
	}
	saint := "Saint "
	if r.IntN(2) == 0 {
		saint = "St. "
	}
	return strings.NewReplacer(
		"{saint}", saint+saints[r.IntN(len(saints))],
		"{place}", places[r.IntN(len(places))],
		"{surname}", g.data.surnames.head(r, 150),
		"{city}", c.name,
	).Replace(p)
}

// acronym is what staff call a site: "Saint Mary's Hospital" → "SMH".
func acronym(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		if w != "and" && w != "of" && w[0] >= 'A' && w[0] <= 'Z' {
			b.WriteByte(w[0])
		}
	}
	return b.String()
}
