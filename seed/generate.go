package seed

import (
	"math"
	"math/rand/v2"
)

// Record is one generated FHIR resource as a source system holds it, with
// the ground truth beside it.
type Record struct {
	Type    string // Patient | Practitioner | Location
	System  string // source system URI (meta.source is SourceURL(System, Type, LocalID))
	LocalID string // the record's id in its source system (also its identifier there)
	// Entity is the ground truth: the real person or place the record
	// describes ("person-17"). It never appears in the resource.
	Entity string
	// Errors lists what makes this record differ from the truth, by kind
	// ("typo", "nickname", "marriage", ...; see ErrorKinds). Ground truth
	// too: not in the resource.
	Errors []string
	// Resource is the FHIR R4 resource as a JSON map: strings, bools,
	// json.Number, ints, []any and map[string]any.
	Resource map[string]any
}

// Generate streams the synthetic network to emit: Locations first, then
// Practitioners, then Patients, each entity's records together. It stops at
// the first error emit returns. Memory stays constant however many entities
// are asked for.
func Generate(cfg Config, emit func(Record) error) error {
	return GenerateWith(cfg, emit, nil)
}

// GenerateWith is Generate that also reports each hard negative (a pair of
// distinct entities that look alike) to negative, when not nil, after the
// records of both entities.
func GenerateWith(cfg Config, emit func(Record) error, negative func(HardNegative) error) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	g := newGenerator(cfg)
	g.emit, g.negative = emit, negative
	if err := g.each(cfg.Locations, typeLocation, g.locationGroup); err != nil {
		return err
	}
	if err := g.each(cfg.Practitioners, typePractitioner, g.practitionerGroup); err != nil {
		return err
	}
	return g.each(cfg.Persons, typePatient, g.patientGroup)
}

// Indexes of the resource types, for per-type random streams and ids.
const (
	typePatient = iota
	typePractitioner
	typeLocation
	numTypes
)

var typeNames = [numTypes]string{TypePatient, TypePractitioner, TypeLocation}

// generator is the state of one Generate call. Nothing in it grows with
// the number of entities: scratch slices are reused group after group.
type generator struct {
	cfg         Config
	data        *nameData
	src, recSrc *rand.PCG
	rng, recRng *rand.Rand
	noErrors    float64 // e^-ErrorRate: Poisson sampling of the error count
	copies      int     // the most records of one entity in one system
	emit        func(Record) error
	negative    func(HardNegative) error

	ssnIDs, npiIDs, licenceIDs permuter
	localIDs                   [numSystems][numTypes]permuter

	people  []person
	pairs   []pair
	places  []placement
	errs    []string
	clinics []practitioner // the GP practice's doctors
}

func newGenerator(cfg Config) *generator {
	g := &generator{cfg: cfg, data: loadData(), src: &rand.PCG{}, recSrc: &rand.PCG{}}
	g.rng, g.recRng = rand.New(g.src), rand.New(g.recSrc)
	g.noErrors = math.Exp(-cfg.ErrorRate)
	g.copies = cfg.copiesPerSystem()
	g.ssnIDs = newPermuter(ssnCount, cfg.Seed^0x55e)
	g.npiIDs = newPermuter(100_000_000, cfg.Seed^0x2b1)
	g.licenceIDs = newPermuter(900_000, cfg.Seed^0x11c)
	counts := [numTypes]int{cfg.Persons, cfg.Practitioners, cfg.Locations}
	for s := range numSystems {
		for t := range numTypes {
			// Room for g.copies records per entity in one system, and at
			// least the system's usual number width, so that small networks
			// do not get telltale small record numbers.
			n := max(uint64(counts[t])*uint64(g.copies), idSpace(localFormats[s][t].digits))
			g.localIDs[s][t] = newPermuter(n, cfg.Seed^uint64(s*numTypes+t+1)<<32)
		}
	}
	g.clinics = g.gpDoctors()
	return g
}

// maxCopies is the most records one entity has in one system (but see
// ProfileMany).
const maxCopies = 2

// each runs group for every group of count entities of type t, seeding the
// random source from the seed, the type and the group index only.
func (g *generator) each(count, t int, group func(r *rand.Rand, gi, count int) error) error {
	for gi := 0; gi*groupSize < count; gi++ {
		g.reseed(t, gi)
		if err := group(g.rng, gi, count); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) reseed(t, gi int) {
	g.src.Seed(mix(g.cfg.Seed+uint64(t)*0x9e37), uint64(gi))
}

// recordRand returns the random source for the n-th record of an entity.
// Each record has its own stream, so how one record is written (which
// errors, whether a nickname was found) never shifts what another record
// looks like.
func (g *generator) recordRand(t, entity, n int) *rand.Rand {
	g.recSrc.Seed(mix(g.cfg.Seed^0x7265636f7264+uint64(t)), uint64(entity)*8+uint64(n))
	return g.recRng
}

// emitPairs reports the group's hard negatives whose entities both exist.
func (g *generator) emitPairs(t, base, count int) error {
	if g.negative == nil {
		return nil
	}
	for _, p := range g.pairs {
		if base+p.b < count {
			hn := HardNegative{Type: typeNames[t], A: entityID(typeNames[t], base+p.a), B: entityID(typeNames[t], base+p.b), Kind: p.kind}
			if err := g.negative(hn); err != nil {
				return err
			}
		}
	}
	return nil
}

// errorCount draws how many data-entry errors a record gets: Poisson with
// mean ErrorRate (Knuth's method; the mean is small), at most 5.
func (g *generator) errorCount(r *rand.Rand) int {
	k := 0
	for p := r.Float64(); p > g.noErrors && k < 5; p *= r.Float64() {
		k++
	}
	return k
}

// addErr records an error kind once per record.
func (g *generator) addErr(kind string) {
	for _, e := range g.errs {
		if e == kind {
			return
		}
	}
	g.errs = append(g.errs, kind)
}

// record builds the Record for a resource and hands it to emit. The error
// list is copied: g.errs is scratch.
func (g *generator) record(t, sys int, localID string, entity int, res map[string]any) error {
	var errs []string
	if len(g.errs) > 0 {
		errs = append([]string(nil), g.errs...)
	}
	return g.emit(Record{
		Type: typeNames[t], System: systems[sys].URI, LocalID: localID,
		Entity: entityID(typeNames[t], entity), Errors: errs, Resource: res,
	})
}

// weighted picks an index from small integer weights.
func weighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}
