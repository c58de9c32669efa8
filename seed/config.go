package seed

import (
	"errors"
	"fmt"
)

// Config says what to generate. The same Config (Seed included) always
// yields byte-identical output. A zero rate means "use the default"
// (DefaultConfig lists them); a negative rate means none at all.
type Config struct {
	Seed          uint64
	Persons       int // distinct real people (Patients)
	Practitioners int // distinct real practitioners
	Locations     int // distinct real facilities
	// Profile selects a kind of network (see Profiles): "" or "default",
	// "sparse", "many" or "geocoded".
	Profile string

	// Shares of persons known to exactly two and to all three patient
	// systems (the rest are known to one). Defaults 0.30 and 0.15.
	TwoSystems   float64
	ThreeSystems float64
	// WithinSystem is the share of entities with a second record in one
	// system: a re-registration nobody merged. Default 0.04.
	WithinSystem float64
	// ErrorRate is the mean number of data-entry errors per record
	// (typos, transpositions, nicknames, swapped dates, missing fields...),
	// drawn from a Poisson distribution. Default 0.6.
	ErrorRate float64
	// IdentifierTypo is the share of carried SSNs and NPIs that are
	// mistyped by one digit. Default 0.02.
	IdentifierTypo float64
	// MoveRate is the share of persons who moved: records made before the
	// move keep the old address. Default 0.15.
	MoveRate float64
	// MarriageRate is the share of adult women who took a spouse's family
	// name; older records keep the maiden name. Default 0.40.
	MarriageRate float64
	// Household, Twins and Namesakes are the shares of groups of four
	// persons generated as one family at one address, as a family with
	// twins, and as two pairs sharing a common name and birth year: the
	// hard negatives a matcher must keep apart. Defaults 0.25, 0.04, 0.08.
	// For facilities, half the Household share is hospital campuses (a
	// hospital and its departments at one address) and Namesakes the share
	// of same-named sites in two towns; for practitioners, Namesakes is the
	// share of groups with two pairs of same-named colleagues.
	Household float64
	Twins     float64
	Namesakes float64
}

// DefaultConfig returns the default rates with no entities; set the counts.
func DefaultConfig() Config {
	return Config{
		TwoSystems: 0.30, ThreeSystems: 0.15, WithinSystem: 0.04,
		ErrorRate: 0.6, IdentifierTypo: 0.02, MoveRate: 0.15, MarriageRate: 0.40,
		Household: 0.25, Twins: 0.04, Namesakes: 0.08,
	}
}

// Demo is the network `idem serve` loads into an empty database: a few
// thousand persons over the three patient systems with the practitioners
// and facilities that serve them.
func Demo() Config {
	c := DefaultConfig()
	c.Seed, c.Persons, c.Practitioners, c.Locations = 1, 3000, 200, 60
	return c
}

// withDefaults fills zero rates with the defaults and turns negative ones
// into zero.
func (c Config) withDefaults() Config {
	c.profileDefaults()
	d := DefaultConfig()
	for _, f := range []struct {
		v   *float64
		def float64
	}{
		{&c.TwoSystems, d.TwoSystems}, {&c.ThreeSystems, d.ThreeSystems},
		{&c.WithinSystem, d.WithinSystem}, {&c.ErrorRate, d.ErrorRate},
		{&c.IdentifierTypo, d.IdentifierTypo}, {&c.MoveRate, d.MoveRate},
		{&c.MarriageRate, d.MarriageRate}, {&c.Household, d.Household},
		{&c.Twins, d.Twins}, {&c.Namesakes, d.Namesakes},
	} {
		switch {
		case *f.v == 0:
			*f.v = f.def
		case *f.v < 0:
			*f.v = 0
		}
	}
	return c
}

// maxEntities bounds each count: identifiers are drawn from fixed-width
// number spaces (SSNs, NPIs) that must stay unique.
const maxEntities = 50_000_000

// validate checks a Config after withDefaults.
func (c Config) validate() error {
	errs := []error{c.checkProfile()}
	for _, n := range []struct {
		name string
		v    int
	}{{"Persons", c.Persons}, {"Practitioners", c.Practitioners}, {"Locations", c.Locations}} {
		if n.v < 0 || n.v > maxEntities {
			errs = append(errs, fmt.Errorf("seed: %s = %d, want 0 to %d", n.name, n.v, maxEntities))
		}
	}
	shares := []float64{c.WithinSystem, c.IdentifierTypo, c.MoveRate, c.MarriageRate}
	for _, s := range shares {
		if s > 1 {
			errs = append(errs, fmt.Errorf("seed: a rate is %g, want at most 1", s))
		}
	}
	if c.TwoSystems+c.ThreeSystems > 1 {
		errs = append(errs, errors.New("seed: TwoSystems + ThreeSystems exceeds 1"))
	}
	if c.Household+c.Twins+c.Namesakes > 1 {
		errs = append(errs, errors.New("seed: Household + Twins + Namesakes exceeds 1"))
	}
	if c.ErrorRate > 10 {
		errs = append(errs, fmt.Errorf("seed: ErrorRate = %g, want at most 10", c.ErrorRate))
	}
	return errors.Join(errs...)
}
