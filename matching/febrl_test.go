package matching_test

import (
	"os"
	"path/filepath"
	"testing"

	"idem/matching"
	"idem/seed"
)

// febrlDir is the shared FEBRL data, beside the repository (never copied
// into it).
var febrlDir = filepath.Join("..", "..", "shared", "data", "febrl")

// loadFEBRL reads one FEBRL file into Patient records and their entities,
// skipping the test when the shared data is absent.
func loadFEBRL(tb testing.TB, file string) ([]*matching.Record, []string) {
	tb.Helper()
	f, err := os.Open(filepath.Join(febrlDir, file))
	if os.IsNotExist(err) {
		tb.Skipf("%s absent", febrlDir)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	pats, ent, err := seed.ReadFEBRL(f)
	if err != nil {
		tb.Fatal(err)
	}
	recs := make([]*matching.Record, len(pats))
	for i, p := range pats {
		recs[i] = matching.Extract("Patient", p)
	}
	return recs, ent
}

// TestFEBRL checks the targets on FEBRL 1 and 2: F1 ≥ 0.99 with
// the default rules and after unsupervised training, blocking recall ≥
// 0.995. Nothing here was fitted to the labels; they are only counted.
func TestFEBRL(t *testing.T) {
	base := matching.NewModel(matching.DefaultRules())
	for _, file := range []string{"dataset1.csv", "dataset2.csv"} {
		t.Run(file, func(t *testing.T) {
			recs, truth := loadFEBRL(t, file)
			tf := matching.NewFrequencyTable(recs)
			trained, tr, err := matching.Train(base, "Patient", recs, matching.TrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", tr)
			for _, m := range []struct {
				name  string
				model *matching.Model
			}{{"default", base}, {"trained", trained}} {
				rep := matching.Evaluate(m.model, "Patient", recs, truth, tf)
				t.Logf("%s model\n%s", m.name, rep)
				if rep.F1 < 0.99 {
					t.Errorf("%s model: F1 %.4f, want ≥ 0.99", m.name, rep.F1)
				}
				if rep.BlockingRecall < 0.995 {
					t.Errorf("%s model: blocking recall %.4f, want ≥ 0.995", m.name, rep.BlockingRecall)
				}
			}
			if !tr.Converged {
				t.Errorf("EM did not converge in %d iterations", tr.Iterations)
			}
		})
	}
}

// BenchmarkScore scores FEBRL 2's candidate pairs (the records sharing a
// blocking key: what $match and Evaluate score), cycling through them.
func BenchmarkScore(b *testing.B) {
	recs, _ := loadFEBRL(b, "dataset2.csv")
	m := matching.NewModel(matching.DefaultRules())
	tf := matching.NewFrequencyTable(recs)
	pairs := candidatePairs(m, recs)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m.Score(recs[pairs[i][0]], recs[pairs[i][1]], tf)
		if i++; i == len(pairs) {
			i = 0
		}
	}
}

// candidatePairs returns the distinct pairs of records sharing a key.
func candidatePairs(m *matching.Model, recs []*matching.Record) [][2]int {
	blocks := map[string][]int{}
	for i, r := range recs {
		for _, k := range m.Keys(r) {
			blocks[k] = append(blocks[k], i)
		}
	}
	seen := map[[2]int]bool{}
	var pairs [][2]int
	for _, idx := range blocks {
		for a := range idx {
			for _, j := range idx[a+1:] {
				if p := [2]int{idx[a], j}; !seen[p] {
					seen[p] = true
					pairs = append(pairs, p)
				}
			}
		}
	}
	return pairs
}
