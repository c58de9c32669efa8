package seed

import (
	"embed"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/*.txt
var dataFS embed.FS

// table is a weighted list of strings. Sampling draws an integer below the
// total weight and binary-searches the running sums, so it is exact and
// costs no allocation.
type table struct {
	items []string
	cum   []uint64 // cum[i] = weight of items[0..i]
}

func (t *table) add(item string, weight uint64) {
	if weight == 0 {
		return
	}
	var prev uint64
	if n := len(t.cum); n > 0 {
		prev = t.cum[n-1]
	}
	t.items = append(t.items, item)
	t.cum = append(t.cum, prev+weight)
}

func (t *table) total() uint64 { return t.cum[len(t.cum)-1] }

// pick draws one item with probability proportional to its weight.
func (t *table) pick(r *rand.Rand) string { return t.items[t.index(r.Uint64N(t.total()))] }

// head draws from the first n items only: "a common name" for namesakes.
func (t *table) head(r *rand.Rand, n int) string {
	n = min(n, len(t.items))
	return t.items[t.index(r.Uint64N(t.cum[n-1]))]
}

// index returns the first i with cum[i] > x.
func (t *table) index(x uint64) int {
	lo, hi := 0, len(t.cum)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// firstYear, cohorts and cohortSpan bound the birth cohorts given names are weighted
// for: one table per decade from 1900 to 2020.
const (
	firstYear  = 1900
	cohorts    = 13
	cohortSpan = 10
)

// nameData holds every embedded list, parsed once.
type nameData struct {
	surnames *table
	male     [cohorts]*table // by birth decade
	female   [cohorts]*table
	streets  *table
	cities   []city
	cityPick *table // parallel to cities, weighted by population
}

// city is one town addresses are drawn in.
type city struct {
	name, state string
	zips, areas []string
	lat, long   float64
}

var loadData = sync.OnceValue(func() *nameData {
	d, err := parseData()
	if err != nil {
		panic("seed: embedded data: " + err.Error()) // compiled in: a test catches it first
	}
	return d
})

func parseData() (*nameData, error) {
	d := &nameData{surnames: &table{}, streets: &table{}, cityPick: &table{}}
	if err := eachLine("surnames.txt", func(f []string) error { return addWeighted(d.surnames, f) }); err != nil {
		return nil, err
	}
	if err := addSurnameTail(d.surnames); err != nil {
		return nil, err
	}
	var err error
	if d.male, err = givenTables("given_male.txt"); err != nil {
		return nil, err
	}
	if d.female, err = givenTables("given_female.txt"); err != nil {
		return nil, err
	}
	rank := 0
	if err := eachLine("streets.txt", func(f []string) error {
		// Zipf: the k-th street name is used about 1/k as often as the first.
		rank++
		d.streets.add(strings.Join(f, " "), uint64(100000/rank))
		return nil
	}); err != nil {
		return nil, err
	}
	return d, eachLine("cities.txt", d.addCity)
}

// eachLine calls fn with the space-separated fields of every line of an
// embedded file that is neither blank nor a # comment.
func eachLine(name string, fn func([]string) error) error {
	b, err := dataFS.ReadFile("data/" + name)
	if err != nil {
		return err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if err := fn(strings.Fields(line)); err != nil {
			return fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
	}
	return nil
}

// addWeighted adds "Name words ... weight" to t.
func addWeighted(t *table, f []string) error {
	if len(f) < 2 {
		return fmt.Errorf("want name and weight")
	}
	w, err := strconv.ParseUint(f[len(f)-1], 10, 32)
	if err != nil {
		return err
	}
	t.add(strings.Join(f[:len(f)-1], " "), w*1000)
	return nil
}

// addSurnameTail composes the long tail of rare surnames. Real populations
// have far more distinct surnames than any hand-written list; without a tail
// every person would share a name with thousands of others and
// term-frequency weighting could never reward a rare name. The tail gets
// the population share the head list leaves (about 60%: the listed names
// are weighted per 100,000 people), so Smith keeps its real 0.8%.
func addSurnameTail(t *table) error {
	seen := make(map[string]bool, len(t.items))
	for _, s := range t.items {
		seen[s] = true
	}
	head := float64(t.total())
	tail := &table{}
	err := eachLine("surname_parts.txt", func(f []string) error {
		parts := strings.Split(strings.Join(f, " "), "|")
		if len(parts) != 3 {
			return fmt.Errorf("want weight | first parts | second parts")
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
		if err != nil {
			return err
		}
		for i, a := range strings.Fields(parts[1]) {
			for j, b := range strings.Fields(parts[2]) {
				if name := a + b; !seen[name] {
					seen[name] = true
					// Flatter than the head: the tail stands for many
					// thousands of real names of similar, small frequency.
					tail.add(name, uint64(w*1e6/math.Pow(float64((i+1)*(j+1)), 0.3)))
				}
			}
		}
		return nil
	})
	scale := max(1e8-head, head/4) / float64(tail.total()) // 1e8: 100,000 people × 1000
	prev := uint64(0)
	for i, name := range tail.items {
		t.add(name, max(1, uint64(float64(tail.cum[i]-prev)*scale)))
		prev = tail.cum[i]
	}
	return err
}

// givenTables reads "Name weight peakYear" lines into one table per birth
// decade: a name's weight falls off with the distance from its peak, so a
// woman born in 1945 is likely a Linda and one born in 2010 an Emma.
func givenTables(name string) (out [cohorts]*table, err error) {
	for i := range out {
		out[i] = &table{}
	}
	err = eachLine(name, func(f []string) error {
		if len(f) != 3 {
			return fmt.Errorf("want name, weight and peak year")
		}
		w, err1 := strconv.ParseFloat(f[1], 64)
		peak, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad weight or year")
		}
		for c := range out {
			mid := firstYear + c*cohortSpan + cohortSpan/2
			dist := float64(mid-peak) / 22
			// Names never vanish completely: 3% of the peak weight remains.
			out[c].add(f[0], uint64(w*1000*max(0.03, math.Exp(-dist*dist))))
		}
		return nil
	})
	return out, err
}

// addCity parses "city|state|zips|areas|lat|long|population".
func (d *nameData) addCity(f []string) error {
	parts := strings.Split(strings.Join(f, " "), "|")
	if len(parts) != 7 {
		return fmt.Errorf("want 7 pipe-separated columns")
	}
	lat, err1 := strconv.ParseFloat(parts[4], 64)
	long, err2 := strconv.ParseFloat(parts[5], 64)
	pop, err3 := strconv.ParseUint(parts[6], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return fmt.Errorf("bad number")
	}
	d.cityPick.add(parts[0], pop)
	d.cities = append(d.cities, city{
		name: parts[0], state: parts[1], lat: lat, long: long,
		zips: strings.Fields(parts[2]), areas: strings.Fields(parts[3]),
	})
	return nil
}

// given returns the given-name table for a gender and birth year.
func (d *nameData) given(gender string, year int) *table {
	c := min(max((year-firstYear)/cohortSpan, 0), cohorts-1)
	if gender == "female" {
		return d.female[c]
	}
	return d.male[c]
}

// pickCity draws a town weighted by population.
func (d *nameData) pickCity(r *rand.Rand) *city {
	return &d.cities[d.cityPick.index(r.Uint64N(d.cityPick.total()))]
}
