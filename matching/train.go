package matching

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
)

// TrainOptions tune Train; the zero value gives the defaults.
type TrainOptions struct {
	// Seed makes the random pairs reproducible (default 1).
	Seed uint64
	// RandomPairs is the number of random pairs u is estimated from
	// (default 500,000; every pair when there are fewer).
	RandomPairs int
	// MaxIterations bounds each expectation-maximisation (default 1,000:
	// EM converges linearly, and on a few hundred pairs of a rule whose
	// pairs are nearly all matches it took 300 iterations to change less
	// than the tolerance).
	MaxIterations int
	// Tolerance ends EM when no m changes by more than it and the prior by
	// no more than it relatively (default 1e-5).
	Tolerance float64
	// MinM is the least m EM may give a level (default 1e-3). A level
	// never seen among a few thousand expected matches would otherwise get
	// an m near zero and a weight that no other evidence outweighs, and
	// real data has errors a sample lacks (a mistyped gender, say).
	MinM float64
	// MaxRulePairs bounds the pairs of one blocking rule m is estimated
	// from (default 200,000; a seeded sample when there are more).
	MaxRulePairs int
	// MinRulePairs and MinRuleMatches are the fewest pairs, and expected
	// matches among them, a blocking rule needs to estimate m (default 50
	// and 10): fewer are skipped, and reported.
	MinRulePairs, MinRuleMatches int
	// Frequencies are the term frequencies the E-step weighs agreement
	// with, as scoring does (default: those of the records trained on).
	Frequencies Frequencies
}

func (o *TrainOptions) defaults() {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.RandomPairs <= 0 {
		o.RandomPairs = 500_000
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = 1000
	}
	if o.Tolerance <= 0 {
		o.Tolerance = 1e-5
	}
	if o.MinM <= 0 {
		o.MinM = 1e-3
	}
	if o.MaxRulePairs <= 0 {
		o.MaxRulePairs = 200_000
	}
	if o.MinRulePairs <= 0 {
		o.MinRulePairs = 50
	}
	if o.MinRuleMatches <= 0 {
		o.MinRuleMatches = 10
	}
}

// minCount is the number of random pairs at a level below which the sample
// cannot estimate that level's u: the rules' u is kept unless the sample
// shows it must be smaller.
const minCount = 5

// TrainReport tells how training went.
type TrainReport struct {
	Type                                 string
	Records, RandomPairs, CandidatePairs int
	CappedKeys                           []CappedKey
	// Rules are the blocking rules m was estimated over (see
	// estimateM), each with its own EM's convergence.
	Rules []RuleReport
	// Iterations of the EM that fits the prior over the candidate pairs
	// (m fixed), and whether it and every rule's EM converged within
	// MaxIterations; Changes holds the largest parameter change of each
	// of its iterations.
	Iterations int
	Converged  bool
	Changes    []float64
	// Prior is the estimated probability that two random records match,
	// ExpectedMatches the expected number of matching candidate pairs.
	Prior, ExpectedMatches float64
	Fields                 []FieldReport
	ModelVersion           string
}

// FieldReport holds one field's trained probabilities; USameHousehold is
// nil for a field without household-conditional u.
type FieldReport struct {
	Field          string
	M, U           Levels
	USameHousehold *Levels
}

// Train estimates a model for type typ from unlabelled records, starting
// from base: u from random record pairs (a seeded sample); m by
// expectation-maximisation over the pairs of each of the type's blocking
// rules separately, each field's m from the rules that do not block on it
// (estimateM); then the prior (and u given the same household) by EM over
// the candidate pairs blocking finds, m and u fixed. Every E-step weighs a
// pair as scoring does, term frequencies included; it uses the random-pair
// u, which is exact for candidate pairs because blocking is a function of
// the compared values. The prior is the expected number of matches over
// all pairs. The report says whether every EM converged (Failure).
// Records of other types are ignored.
func Train(base *Model, typ string, recs []*Record, opt TrainOptions) (*Model, *TrainReport, error) {
	t := base.types[typ]
	if t == nil {
		return nil, nil, fmt.Errorf("match train: the rules have no type %q", typ)
	}
	opt.defaults()
	var rs []*Record
	for _, r := range recs {
		if r.Type == typ {
			rs = append(rs, r)
		}
	}
	if len(rs) < 10 {
		return nil, nil, fmt.Errorf("match train: %d %s records, want at least 10", len(rs), typ)
	}
	rep := &TrainReport{Type: typ, Records: len(rs)}
	counts, sampled := countLevels(base, t, rs, opt)
	rep.RandomPairs = sampled
	pairs, capped := base.candidates(typ, rs)
	rep.CandidatePairs, rep.CappedKeys = len(pairs), capped
	if len(pairs) == 0 {
		return nil, nil, errors.New("match train: blocking found no candidate pairs")
	}
	if opt.Frequencies == nil {
		opt.Frequencies = NewFrequencyTable(rs)
	}
	training := trainingRules(base, t, base.rules.Types[typ], rs, opt)
	// the candidate pairs' comparisons do not depend on the fit: made once
	// for every refit
	outcomes := newPairOutcomes(base, t, rs, pairs, opt.Frequencies)
	var rules *Rules
	for {
		rules = base.rules.clone()
		fit(t, rules.Types[typ], len(rs), counts, outcomes, training, opt, rep)
		// a rule whose EM did not converge or fitted another class than
		// the matches is left out, and the model fitted again without it
		if !reject(training, rep.Rules) {
			break
		}
	}
	tr := rules.Types[typ]
	rules.Trained = append(rules.Trained, TrainingNote{
		Type: typ, Records: rep.Records, RandomPairs: rep.RandomPairs, CandidatePairs: rep.CandidatePairs,
		Iterations: rep.Iterations, Converged: rep.Converged, Prior: tr.Prior,
	})
	m := NewModel(rules)
	rep.ModelVersion = m.Version
	for _, f := range tr.Fields {
		rep.Fields = append(rep.Fields, FieldReport{Field: f.Field, M: f.M, U: f.U, USameHousehold: f.USameHousehold})
	}
	return m, rep, nil
}

// fit estimates tr (a fresh copy of the rules' type) from the random-pair
// counts and the rules' pairs not rejected: u, m per rule, then the prior
// over the candidate pairs (their comparisons, outcomes), twice (the second time with the matches the
// first expects among the random pairs taken out of u). It fills rep's
// rules, EM and the matches the fitted model expects among each rule's
// pairs.
func fit(t *typeModel, tr *TypeRules, records int, counts [][numLevels]int, outcomes *pairOutcomes, training []*trainingRule, opt TrainOptions, rep *TrainReport) {
	restatePrior(tr, records)
	setU(tr, counts, 0)
	em := newEM(t, tr, records, outcomes)
	rep.Iterations, rep.Changes = 0, nil
	for pass := range 2 {
		if pass > 0 {
			// The random pairs hold some true matches (many, in a small
			// registry with many duplicates); take out the share EM
			// expects and fit again.
			setU(tr, counts, tr.Prior)
		}
		rep.Rules = estimateM(t, tr, training, opt)
		em.run(opt, rep)
		if ruleFailure(rep.Rules) != nil {
			rep.Converged = false
			break
		}
	}
	fitted := compileType(t.typ, tr)
	for i, r := range training {
		if rep.Rules[i].Pairs > 0 {
			rep.Rules[i].ModelMatches = r.pairs.expect(fitted, nil, math.NaN()).matches
		}
	}
}

// countLevels counts each field's levels over random pairs (every pair when
// there are few) and returns the counts and the number of pairs. The pairs
// are drawn first, in one seeded sequence, then compared by one worker per
// core (countWorkers): the counts are sums, the same however they are split.
func countLevels(base *Model, t *typeModel, rs []*Record, opt TrainOptions) ([][numLevels]int, int) {
	n := len(rs)
	var pairs [][2]int32
	if total := n * (n - 1) / 2; total <= opt.RandomPairs {
		pairs = make([][2]int32, 0, total)
		for i := range n {
			for j := i + 1; j < n; j++ {
				pairs = append(pairs, [2]int32{int32(i), int32(j)})
			}
		}
	} else {
		pairs = make([][2]int32, opt.RandomPairs)
		rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
		for k := range pairs {
			i, j := rng.IntN(n), rng.IntN(n-1)
			if j >= i {
				j++ // uniform over pairs of distinct records
			}
			pairs[k] = [2]int32{int32(i), int32(j)}
		}
	}
	workers := max(1, min(countWorkers, len(pairs)/10_000))
	parts := make([][][numLevels]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts := make([][numLevels]int, len(t.fields))
			var out [maxFields]outcome
			for _, p := range pairs[w*len(pairs)/workers : (w+1)*len(pairs)/workers] {
				base.compare(t, rs[p[0]], rs[p[1]], nil, &out)
				for f := range t.fields {
					l := out[f].level
					if l == Missing && out[f].rule == rLocalIDs {
						// two local record numbers of one system that differ say
						// nothing when scored, but they are a pair whose
						// identifiers could have agreed: left out, u of agreement
						// came out near 1 (agreement was the only level seen)
						l = Different
					}
					counts[f][l]++
				}
			}
			parts[w] = counts
		}()
	}
	wg.Wait()
	counts := parts[0]
	for _, part := range parts[1:] {
		for f := range counts {
			for l := range counts[f] {
				counts[f][l] += part[f][l]
			}
		}
	}
	return counts, len(pairs)
}

// countWorkers is how many goroutines compare the random pairs of a
// training (the tests compare one with several).
var countWorkers = runtime.GOMAXPROCS(0)

// setU sets every field's u from the random-pair counts, less the matches
// expected among them (prior × pairs × m) once EM has estimated those.
func setU(tr *TypeRules, counts [][numLevels]int, prior float64) {
	for f, fr := range tr.Fields {
		fr.U = estimateU(fr.U, fr.M, counts[f], comparators[fr.Compare].levels, prior)
	}
}

// estimateU turns level counts into u: a level seen at least minCount times
// (after taking out expected matches) takes its share; a rarer one keeps
// the previous u unless the sample bounds it lower. The result sums to 1
// over the comparator's levels; a field never present keeps its u.
func estimateU(prev, m Levels, counts [numLevels]int, levels []Level, prior float64) Levels {
	present := 0
	for _, l := range levels {
		present += counts[l]
	}
	if present == 0 {
		return prev
	}
	var u Levels
	sum := 0.0
	for _, l := range levels {
		c := max(float64(counts[l])-prior*float64(present)*m.get(l), 0)
		v := c / float64(present)
		if c < minCount {
			v = min(prev.get(l), (c+1)/float64(present))
		}
		u.set(l, v)
		sum += v
	}
	for _, l := range levels {
		u.set(l, u.get(l)/sum)
	}
	return u
}

// em fits the prior and u given the same household over the candidate
// pairs, m and u fixed.
type em struct {
	typ    string
	tr     *TypeRules
	pairs  *pairOutcomes
	total  float64   // all pairs of the records, for the prior
	hhBase []*Levels // the rules' uSameHousehold per field (nil: none), as a pseudo-count
}

func newEM(t *typeModel, tr *TypeRules, records int, outcomes *pairOutcomes) *em {
	e := &em{typ: t.typ, tr: tr, total: float64(records) * float64(records-1) / 2, pairs: outcomes}
	for _, f := range tr.Fields {
		var hh *Levels
		if f.USameHousehold != nil {
			c := *f.USameHousehold
			hh = &c
		}
		e.hhBase = append(e.hhBase, hh)
	}
	return e
}

// run iterates EM until convergence, updating tr's uSameHousehold and
// prior.
func (e *em) run(opt TrainOptions, rep *TrainReport) {
	rep.Converged = false
	for i := 0; i < opt.MaxIterations; i++ {
		rep.Iterations++
		st := e.expect()
		change := e.maximise(st)
		rep.Changes = append(rep.Changes, change)
		if change < opt.Tolerance {
			rep.Converged = true
			break
		}
	}
	rep.Prior = e.tr.Prior
	rep.ExpectedMatches = e.expect().matches
}

// emStats are the expected level counts of one E-step: among matches, and
// among the non-matching pairs whose household field is exact.
type emStats struct {
	match, household [][numLevels]float64
	matches          float64
}

// expect is the E-step over the candidate pairs, every field weighed.
func (e *em) expect() emStats {
	return e.pairs.expect(compileType(e.typ, e.tr), nil, math.NaN())
}

// maximise sets uSameHousehold from the expected level counts among
// non-matches of one household (with one pseudo-pair at the rules' value,
// so that a level never seen keeps a small probability), and the prior from
// the expected matches; it returns the largest change.
func (e *em) maximise(st emStats) float64 {
	change := 0.0
	for f, fr := range e.tr.Fields {
		levels := comparators[fr.Compare].levels
		if fr.USameHousehold != nil {
			change = max(change, reestimate(fr.USameHousehold, e.hhBase[f], &st.household[f], levels, 0))
		}
	}
	prior := min(max(st.matches/e.total, 1e-12), 0.5)
	change = max(change, math.Abs(prior-e.tr.Prior)/e.tr.Prior)
	if tw := e.tr.Twins; tw != nil {
		// twins are a share of all pairs too: their u keeps its ratio to
		// the prior, which EM cannot tell apart from the rest of the prior
		tw.U = min(tw.U*prior/e.tr.Prior, 1)
	}
	e.tr.Prior = prior
	return change
}

// restatePrior restates the type's prior and twins' u for n records (see
// Model.ForRegistry), the registry EM then fits the prior to.
func restatePrior(tr *TypeRules, n int) {
	if tr.PriorRecords > 1 && n > 1 {
		scale := float64(tr.PriorRecords-1) / float64(n-1)
		tr.Prior = min(tr.Prior*scale, 0.5)
		if tr.Twins != nil {
			tr.Twins.U = min(tr.Twins.U*scale, 1)
		}
	}
	tr.PriorRecords = n
}

// reestimate sets p to the expected counts' shares, with one pseudo-count
// at base and no share below floor (the others scaled down to make room),
// and returns the largest change.
func reestimate(p, base *Levels, counts *[numLevels]float64, levels []Level, floor float64) float64 {
	present := 0.0
	for _, l := range levels {
		present += counts[l]
	}
	var next Levels
	raised, rest := 0.0, 0.0
	for _, l := range levels {
		v := (counts[l] + base.get(l)) / (present + 1)
		if v < floor {
			raised += floor
			v = -1 // set below
		} else {
			rest += v
		}
		next.set(l, v)
	}
	change := 0.0
	for _, l := range levels {
		v := next.get(l)
		if v < 0 {
			v = floor
		} else {
			v *= (1 - raised) / rest
		}
		change = max(change, math.Abs(v-p.get(l)))
		p.set(l, v)
	}
	return change
}

// String renders the report as a table.
func (r *TrainReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s training: %d records, %d random pairs, %d candidate pairs, %d capped keys\n",
		r.Type, r.Records, r.RandomPairs, r.CandidatePairs, len(r.CappedKeys))
	rulesString(&b, r.Rules)
	fmt.Fprintf(&b, "  EM: %d iterations, converged %v, last change %.2g; prior %.3g, expected matches %.1f\n",
		r.Iterations, r.Converged, lastOr(r.Changes), r.Prior, r.ExpectedMatches)
	fmt.Fprintf(&b, "  %-14s %-9s %10s %10s %10s %10s\n", "field", "", "exact", "close", "similar", "different")
	for _, f := range r.Fields {
		rows := []struct {
			name string
			p    *Levels
		}{{"m", &f.M}, {"u", &f.U}, {"u|house", f.USameHousehold}}
		for _, row := range rows {
			if row.p != nil {
				fmt.Fprintf(&b, "  %-14s %-9s %10.4g %10.4g %10.4g %10.4g\n", f.Field, row.name,
					row.p.Exact, row.p.Close, row.p.Similar, row.p.Different)
			}
		}
	}
	fmt.Fprintf(&b, "  model %s\n", r.ModelVersion)
	return b.String()
}

// Failure returns why the trained model is not sound, nil when it is: a
// blocking rule's EM that did not converge and was not left out, every
// rule left out, a rule that disagrees with the model, or the prior's EM
// that did not converge.
func (r *TrainReport) Failure() error {
	if err := ruleFailure(r.Rules); err != nil {
		return err
	}
	if err := unsound(r.Rules); err != nil {
		return err
	}
	if !r.Converged {
		return fmt.Errorf("expectation-maximisation of the prior did not converge in %d iterations (last change %.3g)", r.Iterations, lastOr(r.Changes))
	}
	return nil
}

func lastOr(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[len(xs)-1]
}
