package matching_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"idem/matching"
	"idem/registry"
	"idem/seed"
)

// trueM returns, per field, the share of true pairs (records of one entity,
// the generator's truth) at each level among those where the field is
// present on both sides: the m a perfect estimate would give.
func trueM(m *matching.Model, n *network) map[string]map[string]float64 {
	byEntity := map[string][]int{}
	for i, e := range n.truth {
		byEntity[e] = append(byEntity[e], i)
	}
	counts := map[string]map[string]float64{}
	for _, idx := range byEntity {
		for a := range idx {
			for b := a + 1; b < len(idx); b++ {
				for _, ev := range m.Explain(n.recs[idx[a]], n.recs[idx[b]], nil).Fields {
					if ev.Level == "missing" {
						continue
					}
					if counts[ev.Field] == nil {
						counts[ev.Field] = map[string]float64{}
					}
					counts[ev.Field][ev.Level]++
					counts[ev.Field]["present"]++
				}
			}
		}
	}
	for _, c := range counts {
		for l, v := range c {
			if l != "present" {
				c[l] = v / c["present"]
			}
		}
	}
	return counts
}

// mTolerance is how far (absolute) an estimated m may be from the share of
// true pairs at that level, per profile. Errors in generated data are not
// independent between fields (a record copied with care has few, a sloppy
// one several), which EM's independence assumption cannot see; 0.05 leaves
// room for that and still catches an estimate from the wrong pairs (a
// blocked field's exact agreement estimated from its own rule's pairs would
// be near 1). Sparse records have a name, a birth date, a town and an
// e-mail address: a pair sharing a family name and birth year whose given
// names differ has only the town left to tell a match, and EM counts some
// of those namesakes as matches (given m(different) 0.09 against a true
// 0.02 measured), hence 0.1 there.
var mTolerance = map[string]float64{seed.ProfileDefault: 0.05, seed.ProfileSparse: 0.1}

// TestTrainEstimatesM checks, on generated networks of several profiles,
// that the m estimated over the blocking rules is close to each field's
// true agreement rate among the true pairs, level by level, for every field
// with enough true pairs to know it; and that every rule used converged,
// with the fields it blocks on left out of its estimate.
func TestTrainEstimatesM(t *testing.T) {
	for _, profile := range []string{seed.ProfileDefault, seed.ProfileSparse} {
		t.Run(profile, func(t *testing.T) {
			n := generate(t, seed.Config{Seed: 11, Persons: 2000, Profile: profile})
			base := matching.NewModel(matching.DefaultRules())
			_, rep, err := matching.Train(base, registry.TypePatient, n.recs, matching.TrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Failure(); err != nil {
				t.Fatalf("%v\n%s", err, rep)
			}
			used := 0
			for _, r := range rep.Rules {
				if r.Skipped != "" {
					continue
				}
				used++
				for _, f := range r.Blocked {
					if slices.Contains(r.Estimated, f) {
						t.Errorf("rule %s blocks on %s and estimates it", r.Rule, f)
					}
				}
			}
			if used < 3 {
				t.Errorf("%d blocking rules used, want several\n%s", used, rep)
			}
			truth := trueM(base, n)
			var b strings.Builder
			fmt.Fprintf(&b, "%-11s %-9s %9s %9s\n", "field", "level", "estimated", "true")
			for _, f := range rep.Fields {
				tm := truth[f.Field]
				if tm["present"] < 100 || !estimated(rep, f.Field) {
					continue // too few true pairs hold it to know its m
				}
				for _, l := range []string{"exact", "close", "similar", "different"} {
					est := levelOf(f.M, l)
					fmt.Fprintf(&b, "%-11s %-9s %9.4f %9.4f\n", f.Field, l, est, tm[l])
					if math.Abs(est-tm[l]) > mTolerance[profile] {
						t.Errorf("%s m(%s) = %.4f, true share %.4f (%g true pairs): off by more than %g",
							f.Field, l, est, tm[l], tm["present"], mTolerance[profile])
					}
				}
			}
			t.Logf("%s\n%s", rep, &b)
		})
	}
}

// estimated reports whether a rule that was used estimated field.
func estimated(rep *matching.TrainReport, field string) bool {
	for _, r := range rep.Rules {
		if r.Skipped == "" && slices.Contains(r.Estimated, field) {
			return true
		}
	}
	return false
}

func levelOf(p matching.Levels, l string) float64 {
	switch l {
	case "exact":
		return p.Exact
	case "close":
		return p.Close
	case "similar":
		return p.Similar
	}
	return p.Different
}

// TestTrainRuleNotConverged checks that a blocking rule's EM that does not
// converge fails the training, naming the rule.
func TestTrainRuleNotConverged(t *testing.T) {
	n := generate(t, seed.Config{Seed: 11, Persons: 500})
	base := matching.NewModel(matching.DefaultRules())
	_, rep, err := matching.Train(base, registry.TypePatient, n.recs, matching.TrainOptions{MaxIterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Converged || rep.Failure() == nil || !strings.Contains(rep.Failure().Error(), "blocking rule") {
		t.Errorf("one iteration: converged %v, failure %v", rep.Converged, rep.Failure())
	}
}
