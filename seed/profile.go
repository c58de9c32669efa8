package seed

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Profiles: kinds of network that stress a matcher in different ways. Each
// is deterministic and carries its ground truth like the default.
const (
	// ProfileDefault is the rich multi-system network (several fields per
	// record, about 0.6 errors per record, about two records per person).
	ProfileDefault = "default"
	// ProfileSparse gives Patients little to match on: a first and a family
	// name, a birth date, a town and an email address (often missing or
	// changed), about one error per record.
	ProfileSparse = "sparse"
	// ProfileMany gives each person between one and twenty records across
	// the three systems, with about two errors per record.
	ProfileMany = "many"
	// ProfileGeocoded geocodes most facilities to their town's centroid:
	// many Locations share one coordinate and one city under unrelated
	// names (a medical center, a home-health agency, a pharmacy).
	ProfileGeocoded = "geocoded"
)

// Profiles lists the profiles Config.Profile may name, default first.
func Profiles() []string {
	return []string{ProfileDefault, ProfileSparse, ProfileMany, ProfileGeocoded}
}

// profileErrorKinds are error kinds only some profiles make.
var profileErrorKinds = []string{"email-change"}

// profileDefaults fills the rates a profile changes, where the Config
// leaves them zero, before the general defaults.
func (c *Config) profileDefaults() {
	switch c.Profile {
	case ProfileSparse:
		setDefault(&c.ErrorRate, 1.0)
	case ProfileMany:
		setDefault(&c.ErrorRate, 1.8)
	}
}

func setDefault(v *float64, def float64) {
	if *v == 0 {
		*v = def
	}
}

// checkProfile reports an unknown profile.
func (c Config) checkProfile() error {
	if c.Profile == "" || slices.Contains(Profiles(), c.Profile) {
		return nil
	}
	return fmt.Errorf("seed: unknown profile %q (want one of %v)", c.Profile, Profiles())
}

// manyCopies is the most records one entity has in one system under
// ProfileMany: twenty records over three systems.
const manyCopies = 7

// copiesPerSystem is the most records one entity has in one system.
func (c Config) copiesPerSystem() int {
	if c.Profile == ProfileMany {
		return manyCopies
	}
	return maxCopies
}

// manyPlacements spreads between one and twenty records of a person over
// the three patient systems; small counts are the more common.
func (g *generator) manyPlacements(r *rand.Rand) []placement {
	g.places = g.places[:0]
	n := 1 + r.IntN(r.IntN(20)+1)
	first := r.IntN(3)
	for i := range n {
		g.places = append(g.places, placement{sys: (first + i) % 3, copy: i / 3})
	}
	return g.places
}

// sparsen keeps what a thin registry holds of a patient: a first and a
// family name, the birth date, the town and, when known, an email address.
// The email is missing from some records and another of the person's
// addresses in others.
func (g *generator) sparsen(r *rand.Rand, d *patientDraft, p *person) {
	d.middle, d.suffix, d.maiden, d.gender, d.ssn = "", "", "", "", ""
	d.phones, d.gp, d.twin, d.oldAddr = nil, nil, 0, addrDraft{}
	if d.addr.has() {
		d.addr = addrDraft{city: d.addr.city, state: d.addr.state, cityOnly: true}
	}
	switch u := r.Float64(); {
	case p.email == "" || u < 0.25:
		d.email = ""
	case u < 0.4:
		d.email = emailFor(r, p.given, p.family, p.birthYear)
		if d.email != p.email {
			g.addErr("email-change")
		}
	default:
		d.email = p.email
	}
}

// has reports whether the record has an address at all.
func (a *addrDraft) has() bool { return a.line != nil || a.cityOnly }

// geocodedWeights are the facility kinds' weights under ProfileGeocoded:
// home health agencies join the mix.
var geocodedWeights = func() []int {
	w := slices.Clone(facilityWeights)
	w[kindHome] = 15
	return w
}()
