package matching

import (
	"fmt"
	"strings"
)

// PairSample is one candidate pair the model got wrong, with its evidence:
// a false match (graded certain, different entities) or a missed one (the
// same entity, below certain).
type PairSample struct {
	False bool // a false match; else a missed true pair
	A, B  *Record
	Match *Match
}

// WrongPairs scores the candidate pairs of type typ like Evaluate and
// returns at most n false matches and n missed true pairs, in candidate
// order, explained field by field, for finding out why a model errs.
func WrongPairs(m *Model, typ string, recs []*Record, truth []string, tf Frequencies, n int) []PairSample {
	records := 0
	for _, r := range recs {
		if r.Type == typ {
			records++
		}
	}
	m = m.ForRegistry(typ, records)
	pairs, _ := m.candidates(typ, recs)
	var out []PairSample
	falses, missed := 0, 0
	for _, p := range pairs {
		a, b := recs[p.i], recs[p.j]
		same := int(p.j) < len(truth) && truth[p.i] != "" && truth[p.i] == truth[p.j]
		certain := m.Grade(typ, m.Score(a, b, tf)) == "certain"
		switch {
		case certain && !same && falses < n:
			falses++
			out = append(out, PairSample{False: true, A: a, B: b, Match: m.Explain(a, b, tf)})
		case !certain && same && missed < n:
			missed++
			out = append(out, PairSample{A: a, B: b, Match: m.Explain(a, b, tf)})
		}
	}
	return out
}

// String renders the sample with its evidence, one line per field that
// either record has.
func (s PairSample) String() string {
	var b strings.Builder
	kind := "missed"
	if s.False {
		kind = "FALSE"
	}
	fmt.Fprintf(&b, "%s %s / %s  p %.4f  weight %.2f\n", kind, s.A.ID, s.B.ID, s.Match.Probability, s.Match.Weight)
	for _, e := range s.Match.Fields {
		if e.Left == "" && e.Right == "" {
			continue
		}
		fmt.Fprintf(&b, "    %-13s %-9s %6.2f  %q | %q  (%s)\n", e.Field, e.Level, e.Weight, e.Left, e.Right, e.Rule)
	}
	return b.String()
}
