package matching_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"idem/matching"
	"idem/registry"
	"idem/seed"
)

// network is a generated network's Patients with their ground truth and the
// hard negatives between their entities.
type network struct {
	recs      []*matching.Record
	truth     []string
	negatives []seed.HardNegative
}

func generate(tb testing.TB, cfg seed.Config) *network {
	tb.Helper()
	n := &network{}
	err := seed.GenerateWith(cfg, func(r seed.Record) error {
		if r.Type == registry.TypePatient {
			n.recs = append(n.recs, matching.Extract(r.Type, r.Resource))
			n.truth = append(n.truth, r.Entity)
		}
		return nil
	}, func(h seed.HardNegative) error {
		if h.Type == registry.TypePatient {
			n.negatives = append(n.negatives, h)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestGenerated checks the targets on generated data with realistic
// errors — F1 ≥ 0.98 and blocking recall ≥ 0.995, with the default rules and
// after unsupervised training — and reports how the hard negatives (twins,
// households, juniors, namesakes) grade. The labels are only counted.
func TestGenerated(t *testing.T) {
	n := generate(t, seed.Config{Seed: 7, Persons: 3000})
	base := matching.NewModel(matching.DefaultRules())
	trained, tr, err := matching.Train(base, registry.TypePatient, n.recs, matching.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", tr)
	if !tr.Converged {
		t.Errorf("EM did not converge in %d iterations", tr.Iterations)
	}
	tf := matching.NewFrequencyTable(n.recs)
	for _, m := range []struct {
		name  string
		model *matching.Model
	}{{"default", base}, {"trained", trained}} {
		rep := matching.Evaluate(m.model, registry.TypePatient, n.recs, n.truth, tf)
		t.Logf("%s model\n%s", m.name, rep)
		if rep.F1 < 0.98 {
			t.Errorf("%s model: F1 %.4f, want ≥ 0.98", m.name, rep.F1)
		}
		if rep.BlockingRecall < 0.995 {
			t.Errorf("%s model: blocking recall %.4f, want ≥ 0.995", m.name, rep.BlockingRecall)
		}
		grades := n.negativeGrades(m.model.ForRegistry(registry.TypePatient, len(n.recs)), tf)
		t.Logf("%s model: hard-negative record pairs by grade\n%s", m.name, grades)
		if c := grades.share("certain"); c > 0.01 {
			t.Errorf("%s model: %.2f%% of hard-negative record pairs graded certain, want at most 1%%", m.name, 100*c)
		}
	}
}

// gradeCounts counts record pairs per hard-negative kind and grade.
type gradeCounts map[string]map[string]int

// negativeGrades scores every pair of records of two entities that form a
// hard negative, whether blocking would find it or not.
func (n *network) negativeGrades(m *matching.Model, tf matching.Frequencies) gradeCounts {
	return n.negativeGradesOf(registry.TypePatient, m, tf)
}

// negativeGradesOf is negativeGrades for records of type typ.
func (n *network) negativeGradesOf(typ string, m *matching.Model, tf matching.Frequencies) gradeCounts {
	byEntity := map[string][]int{}
	for i, e := range n.truth {
		byEntity[e] = append(byEntity[e], i)
	}
	counts := gradeCounts{}
	for _, h := range n.negatives {
		if counts[h.Kind] == nil {
			counts[h.Kind] = map[string]int{}
		}
		for _, i := range byEntity[h.A] {
			for _, j := range byEntity[h.B] {
				g := m.Grade(typ, m.Score(n.recs[i], n.recs[j], tf))
				if g == "" {
					g = "none"
				}
				counts[h.Kind][g]++
				counts[h.Kind]["pairs"]++
			}
		}
	}
	return counts
}

// share returns the share of all hard-negative record pairs at a grade.
func (c gradeCounts) share(grade string) float64 {
	at, all := 0, 0
	for _, k := range c {
		at, all = at+k[grade], all+k["pairs"]
	}
	if all == 0 {
		return 0
	}
	return float64(at) / float64(all)
}

// String renders the counts as a table.
func (c gradeCounts) String() string {
	var b strings.Builder
	grades := []string{"pairs", "certain", "probable", "possible", "none"}
	fmt.Fprintf(&b, "  %-10s", "kind")
	for _, g := range grades {
		fmt.Fprintf(&b, " %9s", g)
	}
	kinds := make([]string, 0, len(c))
	for k := range c {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n  %-10s", k)
		for _, g := range grades {
			fmt.Fprintf(&b, " %9d", c[k][g])
		}
	}
	return b.String()
}
