package matching

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// synthetic returns n people, each with an original record and, for every
// other person, a corrupted duplicate, and the entity of each record.
func synthetic(n int) ([]*Record, []string) {
	given := []string{"ann", "bob", "carl", "dora", "emil", "fay", "gus", "hana", "ivo", "jana", "kurt", "lena"}
	family := []string{"smith", "jones", "brown", "taylor", "wilson", "evans", "walker", "wright", "roberts", "green", "hall", "wood", "clark", "lewis"}
	r := rand.New(rand.NewPCG(9, 9))
	var recs []*Record
	var truth []string
	for i := range n {
		g, f := given[r.IntN(len(given))], family[r.IntN(len(family))]
		dob := fmt.Sprintf("%d-%02d-%02d", 1930+r.IntN(70), 1+r.IntN(12), 1+r.IntN(28))
		street, pc := fmt.Sprintf("%d %s street", 1+r.IntN(99), family[r.IntN(len(family))]), fmt.Sprint(2000+r.IntN(900))
		mk := func(g, f, dob string) *Record {
			return Extract("Patient", with(patient(g, f, dob), "address", address(street, "town", pc, "nsw")))
		}
		recs, truth = append(recs, mk(g, f, dob)), append(truth, fmt.Sprint(i))
		if i%2 == 0 {
			f2 := f[:len(f)-1] + "e" // a typo in the family name
			recs, truth = append(recs, mk(g, f2, dob)), append(truth, fmt.Sprint(i))
		}
	}
	return recs, truth
}

func TestTrainAndEvaluate(t *testing.T) {
	recs, truth := synthetic(400)
	base := NewModel(DefaultRules())
	m, rep, err := Train(base, "Patient", recs, TrainOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Converged || rep.Records != len(recs) || rep.CandidatePairs == 0 || m.Version == base.Version {
		t.Errorf("report %s", rep)
	}
	// 200 true pairs among about 180,000: the prior must land near 1e-3.
	if rep.Prior < 5e-4 || rep.Prior > 2e-3 || rep.ExpectedMatches < 180 || rep.ExpectedMatches > 230 {
		t.Errorf("prior %g, expected matches %.1f", rep.Prior, rep.ExpectedMatches)
	}
	for _, f := range rep.Fields {
		for l := Different; l <= Exact; l++ {
			if v := f.M.get(l); v != 0 && v < 1e-3*(1-1e-9) {
				t.Errorf("%s: m(%s) = %g, below the floor", f.Field, l, v)
			}
		}
	}
	again, _, _ := Train(base, "Patient", recs, TrainOptions{Seed: 3})
	if again.Version != m.Version {
		t.Error("training with one seed is not deterministic")
	}
	if !strings.Contains(rep.String(), "EM:") {
		t.Errorf("report text %q", rep)
	}
	tf := NewFrequencyTable(recs)
	for _, model := range []*Model{base, m} {
		ev := Evaluate(model, "Patient", recs, truth, tf)
		if ev.TruePairs != 200 || ev.BlockingRecall != 1 || ev.F1 < 0.95 {
			t.Errorf("evaluation\n%s", ev)
		}
		if !strings.Contains(ev.String(), "blocking recall 1.0000") {
			t.Errorf("report text %q", ev)
		}
	}
}

// The random pairs' level counts are the same whether one goroutine or
// several compare them, drawn from many records (sampled) or few (every
// pair), so a model's version does not depend on the machine's cores.
func TestCountLevelsSameOnAnyCores(t *testing.T) {
	recs, _ := synthetic(400)
	base := NewModel(DefaultRules())
	tm := base.types["Patient"]
	defer func(w int) { countWorkers = w }(countWorkers)
	for _, opt := range []TrainOptions{{Seed: 5, RandomPairs: 50_000}, {Seed: 5, RandomPairs: 1_000_000}} {
		countWorkers = 1
		one, n1 := countLevels(base, tm, recs, opt)
		countWorkers = 3
		three, n3 := countLevels(base, tm, recs, opt)
		if n1 != n3 || n1 != min(opt.RandomPairs, len(recs)*(len(recs)-1)/2) {
			t.Fatalf("pairs %d and %d", n1, n3)
		}
		for f := range one {
			if one[f] != three[f] {
				t.Fatalf("field %d: %v with one goroutine, %v with three", f, one[f], three[f])
			}
		}
	}
}

func TestTrainErrors(t *testing.T) {
	base := NewModel(DefaultRules())
	recs, _ := synthetic(3)
	if _, _, err := Train(base, "Patient", recs, TrainOptions{}); err == nil {
		t.Error("training on 5 records succeeds")
	}
	if _, _, err := Train(base, "Observation", recs, TrainOptions{}); err == nil {
		t.Error("training an unknown type succeeds")
	}
}

func TestEvaluateCounts(t *testing.T) {
	m := NewModel(DefaultRules())
	recs := []*Record{
		Extract("Patient", patient("Ann", "Lee", "1970-01-02")),
		Extract("Patient", patient("Ann", "Lee", "1970-01-02")),
		Extract("Patient", patient("Bob", "Lee", "1970-05-06")),
		Extract("Location", map[string]any{"name": "x"}),
	}
	ev := Evaluate(m, "Patient", recs, []string{"a", "a", "b", "a"}, nil)
	if ev.Records != 3 || ev.Pairs != 3 || ev.TruePairs != 1 || ev.TrueCandidates != 1 || ev.Precision != 1 || ev.Recall != 1 {
		t.Errorf("evaluation\n%s", ev)
	}
}

func TestKeyCapReported(t *testing.T) {
	rules := DefaultRules()
	rules.Types["Patient"].KeyCap = 3
	m := NewModel(rules)
	var recs []*Record
	for range 5 { // five "John Doe, 1900-01-01" placeholders
		recs = append(recs, Extract("Patient", patient("John", "Doe", "1900-01-01")))
	}
	ev := Evaluate(m, "Patient", recs, []string{"1", "2", "3", "4", "5"}, nil)
	if len(ev.CappedKeys) == 0 || ev.CappedKeys[0].Records != 5 || ev.CandidatePairs != 0 {
		t.Errorf("capped keys %v, candidates %d", ev.CappedKeys, ev.CandidatePairs)
	}
}
