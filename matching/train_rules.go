package matching

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Estimating m over several blocking rules, as Splink does. Candidate pairs
// found by one blocking rule all agree (more or less) on the fields the rule
// blocks on, so those fields' m cannot be learnt from them: among that
// rule's pairs every pair, true or not, agrees there. Each rule's pairs
// therefore estimate, by EM with u fixed, the m of the fields the rule does
// not block on (the blocked fields are left out of the E-step), with the
// share of matches among the rule's pairs (its own prior); a field's m is
// then the mean of the estimates of the rules that do not block on it,
// weighed by the matches each rule expects. A rule whose EM does not
// converge, or fits another class than the matches, is left out and the
// model fitted again without it (train_check.go).

// blockFeatures are the features each kind of blocking key is made of, or
// that its pairs agree on beyond chance: a rule of that kind blocks on
// every field comparing one of them. Facility names spell the facility's
// type and often its town ("Salem Community Pharmacy", "Lynn Radiology"):
// among the pairs sharing a name word 43 % of the non-matches agree on the
// type (10-17 % of random pairs) and 27 % on the town (8-14 %), and EM
// with u from random pairs took that agreement for matches.
var blockFeatures = map[blockKind][]feature{
	bFamilyYear:         {fFamily, fBirthDate},
	bGivenDate:          {fGiven, fBirthDate},
	bIdentifier:         {fIdentifier},
	bPhone:              {fPhone, fMobile, fHousehold},
	bEmail:              {fEmail},
	bPostcodeDate:       {fPostalCode, fBirthDate, fHousehold},
	bFamilyPostcode:     {fFamily, fPostalCode, fHousehold},
	bFamilyInitial:      {fFamily, fGiven},
	bNameWord:           {fName, fType, fHousehold},
	bPostcode:           {fPostalCode, fHousehold},
	bGeoCell:            {fPosition},
	bAddress:            {fLine, fHousehold},
	bNameCity:           {fGiven, fFamily, fCity, fHousehold},
	bNamePair:           {fGiven, fFamily},
	bDateInitial:        {fBirthDate, fGiven, fFamily},
	bGivenDatePart:      {fGiven, fBirthDate},
	bGivenFamilyLetters: {fGiven, fFamily},
	bFamilyGivenEnds:    {fFamily, fGiven},
}

// RuleReport is how EM went over one blocking rule's pairs.
type RuleReport struct {
	// Rule is the blocking key kind (a rules file's blocking name).
	Rule string
	// Blocked are the fields the rule blocks on (not estimated from its
	// pairs), Estimated those it estimated.
	Blocked, Estimated []string
	// Pairs are the rule's candidate pairs used (a sample when there were
	// more than TrainOptions.MaxRulePairs).
	Pairs int
	// Skipped says why the rule was not used (too few pairs or matches);
	// empty when it was.
	Skipped string `json:",omitempty"`
	// Rejected says why the rule's m was left out although its EM ran:
	// it did not converge, or disagreed with the model fitted from every
	// rule (see reject); empty when it was used.
	Rejected string `json:",omitempty"`
	// Iterations, Converged and Change (the largest parameter change of the
	// last iteration) are the rule's EM; Prior the share of matches among
	// its pairs and ExpectedMatches their number.
	Iterations             int
	Converged              bool
	Change                 float64
	Prior, ExpectedMatches float64
	// ModelMatches are the matches the trained model (every field
	// weighed, the type's prior) expects among the rule's pairs.
	ModelMatches float64
}

// trainingRule is one blocking rule with its pairs' outcomes.
type trainingRule struct {
	name    string
	blocked []bool // per field
	pairs   *pairOutcomes
	last    *RuleReport // its EM's report, with why, once rejected: not run again
}

// trainingRules builds one rule per blocking key kind of the type, each
// with the pairs of records sharing a key of that kind (keys held by more
// than the key cap skipped; a seeded sample when there are more than
// MaxRulePairs).
func trainingRules(base *Model, t *typeModel, tr *TypeRules, rs []*Record, opt TrainOptions) []*trainingRule {
	var out []*trainingRule
	for i, kind := range t.blocking {
		name := tr.Blocking[i]
		feats := blockFeatures[kind]
		r := &trainingRule{name: name, blocked: make([]bool, len(t.fields))}
		for f := range t.fields {
			r.blocked[f] = slices.Contains(feats, t.fields[f].feat)
		}
		// A field that only supports another (a position derived from the
		// address) agrees wherever the other does: blocking on either is
		// blocking on both, or EM takes the pairs' shared town for matching.
		for f := range t.fields {
			if s := t.fields[f].supports; s >= 0 && (r.blocked[f] || r.blocked[s]) {
				r.blocked[f], r.blocked[s] = true, true
			}
		}
		pairs := rulePairs(kind, t, rs, opt, uint64(i))
		r.pairs = newPairOutcomes(base, t, rs, pairs, opt.Frequencies)
		out = append(out, r)
	}
	return out
}

// rulePairs returns the distinct pairs of records sharing a key of one kind.
func rulePairs(kind blockKind, t *typeModel, rs []*Record, opt TrainOptions, salt uint64) []pair {
	blocks := map[string][]int32{}
	for i, r := range rs {
		for _, k := range kind.append(nil, t.prefix, r) {
			blocks[k] = append(blocks[k], int32(i))
		}
	}
	keys := make([]string, 0, len(blocks))
	total := 0
	for k, idx := range blocks {
		if len(idx) > 1 && len(idx) <= t.keyCap {
			keys = append(keys, k)
			total += len(idx) * (len(idx) - 1) / 2
		}
	}
	slices.Sort(keys) // map order is random; the sample must not be
	keep := 1.0
	if total > opt.MaxRulePairs {
		keep = float64(opt.MaxRulePairs) / float64(total)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, salt))
	seen := map[pair]struct{}{}
	for _, k := range keys {
		idx := blocks[k]
		for a := range idx {
			for b := a + 1; b < len(idx); b++ {
				if keep < 1 && rng.Float64() >= keep {
					continue
				}
				i, j := min(idx[a], idx[b]), max(idx[a], idx[b])
				if i != j {
					seen[pair{i, j}] = struct{}{}
				}
			}
		}
	}
	pairs := make([]pair, 0, len(seen))
	for p := range seen {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		if x.i != y.i {
			return int(x.i - y.i)
		}
		return int(x.j - y.j)
	})
	return pairs
}

// estimateM estimates every field's m by EM over each rule's pairs and
// sets tr's m to their combination. Rules with too few pairs are skipped;
// fields no rule estimates keep their m.
func estimateM(t *typeModel, tr *TypeRules, rules []*trainingRule, opt TrainOptions) []RuleReport {
	reports := make([]RuleReport, len(rules))
	ms := make([][]Levels, len(rules))
	for i, r := range rules {
		reports[i], ms[i] = runRule(t, tr, r, opt)
	}
	for f, fr := range tr.Fields {
		levels := comparators[fr.Compare].levels
		var sum Levels
		weight := 0.0
		for i, r := range rules {
			rep := &reports[i]
			if rep.Skipped != "" || rep.Rejected != "" || !rep.Converged || r.blocked[f] {
				continue
			}
			for _, l := range levels {
				sum.set(l, sum.get(l)+rep.ExpectedMatches*ms[i][f].get(l))
			}
			weight += rep.ExpectedMatches
		}
		if weight == 0 {
			continue
		}
		for _, l := range levels {
			fr.M.set(l, sum.get(l)/weight)
		}
	}
	return reports
}

// runRule runs EM over one rule's pairs from tr's m, returning its report
// and its m per field (tr is not changed).
func runRule(t *typeModel, tr *TypeRules, r *trainingRule, opt TrainOptions) (RuleReport, []Levels) {
	if r.last != nil {
		return *r.last, nil
	}
	rep := RuleReport{Rule: r.name, Pairs: r.pairs.len()}
	for f, fr := range tr.Fields {
		if r.blocked[f] {
			rep.Blocked = append(rep.Blocked, fr.Field)
		} else {
			rep.Estimated = append(rep.Estimated, fr.Field)
		}
	}
	// a working copy: the rule's own m, from the current ones
	work := *tr
	work.Fields = make([]*FieldRules, len(tr.Fields))
	base := make([]Levels, len(tr.Fields))
	for f, fr := range tr.Fields {
		c := *fr
		work.Fields[f], base[f] = &c, fr.M
	}
	m := func() []Levels {
		out := make([]Levels, len(work.Fields))
		for f, fr := range work.Fields {
			out[f] = fr.M
		}
		return out
	}
	if rep.Pairs < opt.MinRulePairs {
		rep.Skipped = fmt.Sprintf("%d pairs, want at least %d", rep.Pairs, opt.MinRulePairs)
		return rep, m()
	}
	// start from the share of matches the model gives the pairs with every
	// field weighed
	prior := r.pairs.expect(compileType(t.typ, &work), nil, math.NaN()).matches / float64(rep.Pairs)
	prior = min(max(prior, 1e-6), 1-1e-6)
	for rep.Iterations < opt.MaxIterations {
		rep.Iterations++
		st := r.pairs.expect(compileType(t.typ, &work), r.blocked, prior)
		change := 0.0
		for f, fr := range work.Fields {
			if !r.blocked[f] {
				change = max(change, reestimate(&fr.M, &base[f], &st.match[f], comparators[fr.Compare].levels, opt.MinM))
			}
		}
		next := min(max(st.matches/float64(rep.Pairs), 1e-6), 1-1e-6)
		change = max(change, math.Abs(next-prior)/prior)
		prior, rep.Change = next, change
		if change < opt.Tolerance {
			rep.Converged = true
			break
		}
	}
	rep.Prior, rep.ExpectedMatches = prior, prior*float64(rep.Pairs)
	if rep.ExpectedMatches < float64(opt.MinRuleMatches) {
		rep.Skipped = fmt.Sprintf("%.1f expected matches, want at least %d", rep.ExpectedMatches, opt.MinRuleMatches)
	}
	return rep, m()
}

// ruleFailure returns an error naming the first rule whose EM did not
// converge, nil when every rule used converged.
func ruleFailure(reports []RuleReport) error {
	for _, r := range reports {
		if r.Skipped == "" && r.Rejected == "" && !r.Converged {
			return fmt.Errorf("EM over the pairs of blocking rule %s did not converge in %d iterations (last change %.3g)", r.Rule, r.Iterations, r.Change)
		}
	}
	return nil
}

// rulesString renders the rules' reports, one line each.
func rulesString(b *strings.Builder, reports []RuleReport) {
	for _, r := range reports {
		if r.Skipped != "" {
			fmt.Fprintf(b, "  rule %-32s %7d pairs, skipped: %s\n", r.Rule, r.Pairs, r.Skipped)
			continue
		}
		fmt.Fprintf(b, "  rule %-32s %7d pairs, EM %d iterations, converged %v, last change %.2g; matches %.1f (share %.3g; the model %.1f); m of %s\n",
			r.Rule, r.Pairs, r.Iterations, r.Converged, r.Change, r.ExpectedMatches, r.Prior, r.ModelMatches, strings.Join(r.Estimated, ", "))
		if r.Rejected != "" {
			fmt.Fprintf(b, "  %-37s rejected: %s\n", "", r.Rejected)
		}
	}
}

// pairOutcomes are the field outcomes of candidate pairs, compared once,
// with the first record of each (whose values' frequencies weigh an
// agreement) and the term frequencies scoring uses.
type pairOutcomes struct {
	recs   []*Record
	first  []int32
	outs   []outcome // pair-major: outs[p*fields+f]
	fields int
	tf     Frequencies
}

func newPairOutcomes(base *Model, t *typeModel, rs []*Record, pairs []pair, tf Frequencies) *pairOutcomes {
	po := &pairOutcomes{recs: rs, fields: len(t.fields), tf: tf}
	po.first = make([]int32, 0, len(pairs))
	po.outs = make([]outcome, 0, len(pairs)*po.fields)
	var out [maxFields]outcome
	for _, p := range pairs {
		a, b := rs[p.i], rs[p.j]
		for f := range t.fields {
			out[f] = base.compareField(&t.fields[f], a, b)
		}
		if t.given >= 0 {
			t.swap(a, b, &out)
		}
		po.first = append(po.first, p.i)
		po.outs = append(po.outs, out[:po.fields]...)
	}
	return po
}

func (po *pairOutcomes) len() int { return len(po.first) }

// expect computes each pair's match probability as t weighs it (household
// weights, term frequencies, twins and vetoes included), leaving out the
// blocked fields and with prior as the prior (NaN: t's own, with every
// field), and sums the probabilities per field and level.
func (po *pairOutcomes) expect(t *typeModel, blocked []bool, prior float64) emStats {
	st := emStats{match: make([][numLevels]float64, po.fields), household: make([][numLevels]float64, po.fields)}
	priorWeight := t.priorWeight
	if !math.IsNaN(prior) {
		priorWeight = math.Log2(prior / (1 - prior))
	}
	var out [maxFields]outcome
	for p, i := range po.first {
		copy(out[:po.fields], po.outs[p*po.fields:(p+1)*po.fields])
		w := t.weigh(po.recs[i], po.tf, &out)
		if blocked != nil || !math.IsNaN(prior) {
			w = priorWeight
			veto := false
			for f := range po.fields {
				if blocked == nil || !blocked[f] {
					w += out[f].weight
					veto = veto || out[f].capped
				}
			}
			if veto {
				w = min(w, t.vetoWeight)
			}
		}
		pm := probability(w)
		st.matches += pm
		for f := range po.fields {
			st.match[f][out[f].level] += pm
		}
		if t.household >= 0 && out[t.household].level == Exact {
			for f := range po.fields {
				st.household[f][out[f].level] += 1 - pm
			}
		}
	}
	return st
}
