package seed

import (
	"maps"
	"slices"
	"testing"
)

func TestNameFrequencies(t *testing.T) {
	d := loadData()
	g := newGenerator(Config{Seed: 1}.withDefaults())
	counts := map[string]int{}
	const draws = 200_000
	for range draws {
		counts[d.surnames.pick(g.rng)]++
	}
	top := slices.SortedFunc(maps.Keys(counts), func(a, b string) int { return counts[b] - counts[a] })
	if top[0] != "Smith" {
		t.Errorf("most common surname %q, want Smith", top[0])
	}
	// Zipf-like: a clear head (Smith about 0.8%, as in the US) and a long tail of
	// thousands of rarer names that together carry about 45%.
	if share := float64(counts["Smith"]) / draws; share < 0.006 || share > 0.011 {
		t.Errorf("Smith share %.4f", share)
	}
	if len(counts) < 2000 {
		t.Errorf("only %d distinct surnames in %d draws", len(counts), draws)
	}
	if counts["Smith"] < 5*counts["Kowalski"] {
		t.Errorf("Smith %d vs Kowalski %d", counts["Smith"], counts["Kowalski"])
	}
	linda := func(year int) int {
		n := 0
		for range 20_000 {
			if d.given("female", year).pick(g.rng) == "Linda" {
				n++
			}
		}
		return n
	}
	if old, young := linda(1950), linda(2015); old < 5*young {
		t.Errorf("Linda: %d born 1950, %d born 2015; the 1950 cohort should dominate", old, young)
	}
}

func TestIdentifiers(t *testing.T) {
	if got := npiCheck("123456789"); got != 3 { // the CMS example NPI 1234567893
		t.Errorf("npiCheck = %d, want 3", got)
	}
	p := newPermuter(1000, 42)
	seen := map[uint64]bool{}
	for i := range uint64(1000) {
		v := p.within(i, 1000)
		if v >= 1000 || seen[v] {
			t.Fatalf("within(%d) = %d: not a permutation", i, v)
		}
		seen[v] = true
	}
	ssns, npis := map[string]bool{}, map[string]bool{}
	for i := range 50_000 {
		s, n := ssnFor(p, i), npiFor(p, i)
		if ssns[s] || npis[n] || len(s) != 11 || s[:3] == "000" || s[:3] == "666" || s[0] == '9' || len(n) != 10 {
			t.Fatalf("index %d: SSN %s, NPI %s (repeated or malformed)", i, s, n)
		}
		ssns[s], npis[n] = true, true
		if int(n[9]-'0') != npiCheck(n[:9]) {
			t.Fatalf("NPI %s has a wrong check digit", n)
		}
	}
}
