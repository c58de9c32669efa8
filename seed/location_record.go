package seed

import (
	"math/rand/v2"
	"strings"
)

// locationDraft is a Location record being written.
type locationDraft struct {
	name         string
	aliases      []string
	kind         int
	typed        bool // the record has a type
	addr         addrDraft
	lat, long    float64
	position     bool
	phone        string
	phoneFormat  int
	org          int // -1: no managing organization
	registryID   string
	partOf       string // registry id of the campus's main site
	partOfName   string
	physicalType bool
}

// locationRecords emits the records of one facility: the registry's, and
// the EHR's copies of the sites the hospital works with.
func (g *generator) locationRecords(r *rand.Rand, f *facility, sites []facility) error {
	g.places = g.places[:0]
	if r.Float64() < 0.95 {
		g.places = append(g.places, placement{sysFacility, 0})
	}
	if r.Float64() < 0.65 || len(g.places) == 0 {
		g.places = append(g.places, placement{sysEHR, 0})
		if r.Float64() < g.cfg.WithinSystem {
			g.places = append(g.places, placement{sysEHR, 1})
		}
	}
	for n, pl := range g.places {
		rr := g.recordRand(typeLocation, f.index, n)
		d := g.locationDraft(rr, f, pl.sys, sites)
		for k := g.errorCount(rr); k > 0; k-- {
			g.locationError(rr, &d)
		}
		id := g.localID(pl.sys, typeLocation, f.index, pl.copy)
		if err := g.record(typeLocation, pl.sys, id, f.index, d.resource(pl.sys, id)); err != nil {
			return err
		}
	}
	return nil
}

// locationDraft writes what system sys records of f. The registry is
// complete and spelled out; the EHR's copy was typed in by someone else,
// with abbreviations, capitals, an old name or address, a rough position.
func (g *generator) locationDraft(r *rand.Rand, f *facility, sys int, sites []facility) locationDraft {
	g.errs = g.errs[:0]
	d := locationDraft{name: f.name, kind: f.kind, typed: true, org: f.org, lat: f.lat, long: f.long}
	d.registryID = g.localID(sysFacility, typeLocation, f.index, 0)
	if f.partOf >= 0 {
		d.partOf = g.localID(sysFacility, typeLocation, f.partOf, 0)
		d.partOfName = sites[f.partOf%groupSize].name
	}
	if sys == sysFacility {
		d.registryAliases(r, f)
		d.addr = addressDraft(r, f.addr, sysGP) // spelled out, like the GP practice writes
		d.addr.country, d.position, d.phone, d.physicalType = true, true, f.phone, f.partOf < 0
		d.phoneFormat, d.registryID = phoneDashes, ""
		if r.Float64() < 0.1 {
			d.org = -1
		}
		return d
	}
	g.ehrLocation(r, &d, f)
	return d
}

func (d *locationDraft) registryAliases(r *rand.Rand, f *facility) {
	if f.acronym != "" && r.Float64() < 0.7 {
		d.aliases = append(d.aliases, f.acronym)
	}
	if f.former != "" {
		d.aliases = append(d.aliases, f.former)
	}
}

// ehrLocation fills the EHR's view of a facility.
func (g *generator) ehrLocation(r *rand.Rand, d *locationDraft, f *facility) {
	if f.former != "" && r.Float64() < 0.5 {
		d.name = f.former
		g.addErr("rename")
	}
	if r.Float64() < 0.5 {
		d.name, _ = abbreviate(d.name, r.IntN(4), r.IntN(2) == 0)
	}
	if r.Float64() < 0.25 {
		d.name, _ = stripPunctuation(d.name)
	}
	if r.Float64() < 0.2 {
		d.name = strings.ToUpper(d.name)
	}
	if f.acronym != "" && r.Float64() < 0.3 {
		d.aliases = []string{f.acronym}
	}
	addr := f.addr
	if f.moved && r.Float64() < 0.6 {
		addr = f.old
		g.addErr("move")
	}
	d.addr = addressDraft(r, addr, sysEHR)
	if r.Float64() < 0.4 {
		d.position = true
		d.lat, d.long = round4(d.lat), round4(d.long)
	}
	if r.Float64() < 0.7 {
		d.phone, d.phoneFormat = f.phone, phoneParens
	}
	d.typed = r.Float64() < 0.8
	if r.Float64() < 0.5 {
		d.org = -1
	}
	if r.Float64() < 0.5 {
		d.registryID = ""
	}
}

// round4 keeps four decimals (about 10 m): the EHR's geocoder.
func round4(x float64) float64 {
	if x < 0 {
		return -float64(int64(-x*1e4+0.5)) / 1e4
	}
	return float64(int64(x*1e4+0.5)) / 1e4
}

var (
	locationErrorKinds   = []string{"typo", "transposition", "format", "missing", "geocode", "truncation"}
	locationErrorWeights = []int{20, 10, 25, 25, 12, 3}
)

// locationError applies one data-entry error to a location record.
func (g *generator) locationError(r *rand.Rand, d *locationDraft) {
	for range 4 {
		kind := locationErrorKinds[weighted(r, locationErrorWeights)]
		if d.apply(r, kind) {
			g.addErr(kind)
			return
		}
	}
}

func (d *locationDraft) apply(r *rand.Rand, kind string) bool {
	f := &d.name
	if d.addr.line != nil && r.IntN(5) == 0 {
		f = &d.addr.line[0]
	}
	switch kind {
	case "typo":
		return set(f)(adjacentTypo(*f, typoPos(r, *f), r.IntN(8)))
	case "transposition":
		return set(f)(transpose(*f, r.IntN(max(len(*f)-1, 1))))
	case "truncation":
		return set(&d.name)(truncate(d.name, 12+r.IntN(10)))
	case "format":
		return set(f)(abbreviate(*f, r.IntN(4), r.IntN(2) == 0)) || set(&d.name)(stripPunctuation(d.name))
	case "geocode":
		if !d.position {
			return false
		}
		// The entrance instead of the building's centre: 30–200 m off.
		d.lat += (0.0003 + r.Float64()*0.0015) * float64(1-2*r.IntN(2))
		d.long += (0.0003 + r.Float64()*0.0015) * float64(1-2*r.IntN(2))
		return true
	case "missing":
		return d.dropField(r)
	}
	return false
}

func (d *locationDraft) dropField(r *rand.Rand) bool {
	fields := []func() bool{
		func() bool { ok := d.aliases != nil; d.aliases = nil; return ok },
		func() bool { ok := d.position; d.position = false; return ok },
		func() bool { return empty(&d.phone) },
		func() bool { ok := d.typed; d.typed = false; return ok },
		func() bool { ok := d.org >= 0; d.org = -1; return ok },
		func() bool { return empty(&d.registryID) },
		func() bool { ok := len(d.addr.line) > 1; d.addr.line = d.addr.line[:1]; return ok },
	}
	start := r.IntN(len(fields))
	for i := range fields {
		if fields[(start+i)%len(fields)]() {
			return true
		}
	}
	return false
}

// resource turns the draft into the Location system sys holds.
func (d *locationDraft) resource(sys int, id string) map[string]any {
	res := newResource(TypeLocation, sys, id)
	ids := []any{identifier("", "", systems[sys].Identifiers[TypeLocation], id)}
	if d.registryID != "" {
		ids = append(ids, identifier("", "", systems[sysFacility].Identifiers[TypeLocation], d.registryID))
	}
	res["identifier"] = ids
	res["status"] = "active"
	res["name"] = d.name
	if d.aliases != nil {
		alias := make([]any, len(d.aliases))
		for i, a := range d.aliases {
			alias[i] = a
		}
		res["alias"] = alias
	}
	res["mode"] = "instance"
	if d.typed {
		k := &facilityKinds[d.kind]
		res["type"] = []any{concept(v3RoleCode, k.code, k.display)}
	}
	if d.phone != "" {
		res["telecom"] = []any{contactPoint("phone", formatPhone(d.phone, d.phoneFormat), "work")}
	}
	if d.addr.line != nil {
		res["address"] = d.addr.json("work", false)
	}
	if d.physicalType {
		res["physicalType"] = concept(physicalType, "bu", "Building")
	}
	if d.position {
		res["position"] = map[string]any{"longitude": decimal(d.long), "latitude": decimal(d.lat)}
	}
	if d.org >= 0 {
		o := organizations[d.org]
		res["managingOrganization"] = logicalRef("Organization", SystemOrganization, o.id, o.name)
	}
	if d.partOf != "" {
		res["partOf"] = logicalRef(TypeLocation, systems[sysFacility].Identifiers[TypeLocation], d.partOf, d.partOfName)
	}
	return res
}

// logicalRef references a resource by business identifier: the sources
// share identifiers, not resource ids, so a literal reference would dangle.
func logicalRef(typ, system, value, display string) map[string]any {
	return map[string]any{
		"type":       typ,
		"identifier": map[string]any{"system": system, "value": value},
		"display":    display,
	}
}
