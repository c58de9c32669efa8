package matching

import (
	"fmt"
	"strings"
)

// Report is the outcome of Evaluate: pair counts, blocking recall, and
// pairwise precision, recall and F1 of the predicted matches.
type Report struct {
	Type         string
	ModelVersion string
	Records      int
	// Pairs is every pair of the type's records, TruePairs those of one
	// entity, CandidatePairs those blocking found, TrueCandidates the true
	// pairs among them.
	Pairs, TruePairs, CandidatePairs, TrueCandidates int
	// BlockingRecall is TrueCandidates / TruePairs.
	BlockingRecall float64
	// Precision, Recall and F1 count a pair as predicted when its grade is
	// "certain".
	Precision, Recall, F1 float64
	// ProbablePrecision, ProbableRecall and ProbableF1 count a pair as
	// predicted when its grade is "certain" or "probable".
	ProbablePrecision, ProbableRecall, ProbableF1 float64
	// Grades counts candidate pairs per grade ("none" below possible);
	// TrueGrades counts the true pairs among them.
	Grades, TrueGrades map[string]int
	// CappedKeys are the blocking keys over the type's cap, most shared first.
	CappedKeys []CappedKey
	// Review is the share of true pairs graded probable or possible: left
	// to a steward.
	Review float64
	// Reliability compares predicted probabilities with the observed share
	// of true matches, band by band, over the candidate pairs.
	Reliability []Band
}

// gradeOrder is the order grades are reported in.
var gradeOrder = []string{"certain", "probable", "possible", "none"}

// Evaluate blocks the records of type typ in memory with the model's keys,
// scores every candidate pair with the model restated for a registry of
// these records (Model.ForRegistry), and compares with the truth: truth[i] is the
// entity of recs[i] (records with an empty entity are never a true pair).
// tf may be nil.
func Evaluate(m *Model, typ string, recs []*Record, truth []string, tf Frequencies) *Report {
	rep := &Report{Type: typ, ModelVersion: m.Version, Grades: map[string]int{}, TrueGrades: map[string]int{}}
	entities := map[string]int{}
	for i, r := range recs {
		if r.Type == typ {
			rep.Records++
			if i < len(truth) && truth[i] != "" {
				entities[truth[i]]++
			}
		}
	}
	rep.Pairs = rep.Records * (rep.Records - 1) / 2
	m = m.ForRegistry(typ, rep.Records) // the prior of a registry of this size
	for _, n := range entities {
		rep.TruePairs += n * (n - 1) / 2
	}
	pairs, capped := m.candidates(typ, recs)
	rep.CandidatePairs, rep.CappedKeys = len(pairs), capped
	var tpCertain, predCertain, tpProbable, predProbable int
	rel := newReliability()
	for _, p := range pairs {
		prob := m.Score(recs[p.i], recs[p.j], tf)
		grade := m.Grade(typ, prob)
		if grade == "" {
			grade = "none"
		}
		same := int(p.j) < len(truth) && truth[p.i] != "" && truth[p.i] == truth[p.j]
		rel.add(prob, same)
		rep.Grades[grade]++
		if same {
			rep.TrueCandidates++
			rep.TrueGrades[grade]++
		}
		if grade == "certain" || grade == "probable" {
			predProbable++
			tpProbable += b2i(same)
		}
		if grade == "certain" {
			predCertain++
			tpCertain += b2i(same)
		}
	}
	rep.BlockingRecall = ratio(rep.TrueCandidates, rep.TruePairs)
	rep.Review = ratio(rep.TrueGrades["probable"]+rep.TrueGrades["possible"], rep.TruePairs)
	rep.Reliability = rel.table()
	rep.Precision, rep.Recall, rep.F1 = prf(tpCertain, predCertain, rep.TruePairs)
	rep.ProbablePrecision, rep.ProbableRecall, rep.ProbableF1 = prf(tpProbable, predProbable, rep.TruePairs)
	return rep
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// prf returns precision, recall and F1 from true positives, predicted and
// actual positives.
func prf(tp, predicted, actual int) (p, r, f1 float64) {
	p, r = ratio(tp, predicted), ratio(tp, actual)
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1
}

// String renders the report as a readable table.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s evaluation (model %s)\n", r.Type, r.ModelVersion)
	fmt.Fprintf(&b, "  records %d   pairs %d   true pairs %d\n", r.Records, r.Pairs, r.TruePairs)
	fmt.Fprintf(&b, "  candidate pairs %d   true pairs found by blocking %d   blocking recall %.4f\n",
		r.CandidatePairs, r.TrueCandidates, r.BlockingRecall)
	fmt.Fprintf(&b, "  %-22s %9s %9s %9s\n", "predicted match", "precision", "recall", "F1")
	fmt.Fprintf(&b, "  %-22s %9.4f %9.4f %9.4f\n", "certain", r.Precision, r.Recall, r.F1)
	fmt.Fprintf(&b, "  %-22s %9.4f %9.4f %9.4f\n", "certain or probable", r.ProbablePrecision, r.ProbableRecall, r.ProbableF1)
	fmt.Fprintf(&b, "  %-22s %9s %9s\n", "grade", "pairs", "true")
	for _, g := range gradeOrder {
		fmt.Fprintf(&b, "  %-22s %9d %9d\n", g, r.Grades[g], r.TrueGrades[g])
	}
	fmt.Fprintf(&b, "  true pairs left to review %.2f%%   calibration error %.4f\n", 100*r.Review, CalibrationError(r.Reliability))
	b.WriteString(ReliabilityString(r.Reliability))
	fmt.Fprintf(&b, "  capped keys %d", len(r.CappedKeys))
	for i, k := range r.CappedKeys {
		if i == 5 {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, "  %s (%d)", k.Key, k.Records)
	}
	b.WriteString("\n")
	return b.String()
}
