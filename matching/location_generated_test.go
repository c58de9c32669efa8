package matching_test

import (
	"testing"

	"idem/matching"
	"idem/registry"
	"idem/seed"
)

// locations generates a network's Locations with their truth and hard
// negatives (hospital campuses, same-named sites in two towns).
func locations(tb testing.TB, cfg seed.Config) *network {
	tb.Helper()
	n := &network{}
	err := seed.GenerateWith(cfg, func(r seed.Record) error {
		if r.Type == registry.TypeLocation {
			n.recs = append(n.recs, matching.Extract(r.Type, r.Resource))
			n.truth = append(n.truth, r.Entity)
		}
		return nil
	}, func(h seed.HardNegative) error {
		if h.Type == registry.TypeLocation {
			n.negatives = append(n.negatives, h)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestGeneratedLocations checks the rules' Location model on generated
// facilities, per profile: precision of automatic (certain) links at least
// 0.99 and F1 at least 0.94 (measured 1.000 / 0.95), and no record pair of
// two parts of one campus or of two same-named sites graded certain.
func TestGeneratedLocations(t *testing.T) {
	m := matching.NewModel(matching.DefaultRules())
	for _, profile := range []string{seed.ProfileDefault, seed.ProfileGeocoded} {
		t.Run(profile, func(t *testing.T) {
			n := locations(t, seed.Config{Seed: 7, Locations: 1000, Profile: profile})
			tf := matching.NewFrequencyTable(n.recs)
			rep := matching.Evaluate(m, registry.TypeLocation, n.recs, n.truth, tf)
			t.Logf("%s", rep)
			if rep.Precision < 0.99 || rep.F1 < 0.94 {
				t.Errorf("precision %.4f, F1 %.4f: want at least 0.99 and 0.94", rep.Precision, rep.F1)
			}
			grades := n.negativeGradesOf(registry.TypeLocation, m.ForRegistry(registry.TypeLocation, len(n.recs)), tf)
			t.Logf("hard-negative record pairs by grade\n%s", grades)
			if c := grades.share("certain"); c > 0 {
				t.Errorf("%.2f%% of hard-negative record pairs graded certain, want none", 100*c)
			}
		})
	}
}

// BenchmarkScoreLocation scores the candidate pairs of 1,000 generated
// facilities (the geocoded profile), cycling through them.
func BenchmarkScoreLocation(b *testing.B) {
	n := locations(b, seed.Config{Seed: 7, Locations: 1000, Profile: seed.ProfileGeocoded})
	m := matching.NewModel(matching.DefaultRules())
	tf := matching.NewFrequencyTable(n.recs)
	pairs := candidatePairs(m, n.recs)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m.Score(n.recs[pairs[i][0]], n.recs[pairs[i][1]], tf)
		if i++; i == len(pairs) {
			i = 0
		}
	}
}
