package matching_test

import (
	"slices"
	"testing"

	"idem/matching"
	"idem/registry"
	"idem/seed"
)

// TestTrainingRulesBlockSupported: a position derived from the address
// agrees wherever the address does, so a training rule blocking on either
// leaves both out of its E-step (else EM, over the pairs of one geocoded
// point, takes "same town" for a match).
func TestTrainingRulesBlockSupported(t *testing.T) {
	var recs []*matching.Record
	err := seed.Generate(seed.Config{Seed: 7, Locations: 400, Profile: seed.ProfileGeocoded}, func(r seed.Record) error {
		if r.Type == registry.TypeLocation {
			recs = append(recs, matching.Extract(r.Type, r.Resource))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err := matching.Train(matching.NewModel(matching.DefaultRules()), registry.TypeLocation, recs, matching.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rules {
		switch r.Rule {
		case "geo-cell", "postal-code":
			if !slices.Contains(r.Blocked, "position") || !slices.Contains(r.Blocked, "household") {
				t.Errorf("rule %s blocks %v, want position and household", r.Rule, r.Blocked)
			}
		case "name-word-phonetic":
			if slices.Contains(r.Blocked, "position") || slices.Contains(r.Blocked, "household") {
				t.Errorf("rule %s blocks %v, want neither position nor household", r.Rule, r.Blocked)
			}
		}
	}
}
