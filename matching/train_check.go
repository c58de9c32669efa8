package matching

import (
	"fmt"
	"math"
	"strings"
)

// Checking a fit. EM over one blocking rule's pairs, with u fixed at the
// random pairs', finds two classes; they are matches and non-matches only
// when the non-matches among the rule's pairs agree on the other fields
// about as often as random pairs do. Where the blocked value goes with
// another field they do not: facility names spell the facility's type and
// often its town ("Riverside Pharmacy"), so the pairs sharing a name word
// agree on type and town far more often than random pairs, and EM takes
// that agreement for the match class — tens of thousands of "matches"
// among a few thousand records. Such a fit tells itself apart from the
// model: the matches a rule's EM expects among its pairs must be about
// those the model fitted from every rule (every field weighed, the type's
// prior) expects among the same pairs.

// maxRuleDisagreement is the most the matches a rule's EM expects among
// its pairs may differ, as a ratio either way, from those the fitted model
// expects (each plus disagreementSlack, so that a handful of expected
// matches on either side does not decide). On generated Locations the
// rules that fit matches stayed within 1.5, those that fitted another
// class were off by 2.5 (the geo-cell rule where sites share their town's
// centroid) to 90; no rule of generated Patients or Practitioners, or of
// FEBRL, passes 2.
const maxRuleDisagreement = 2

// disagreementSlack is added to both sides of the ratio.
const disagreementSlack = 10

// disagreement is the ratio (≥ 1) between the matches a rule's EM expects
// among its pairs and those the fitted model expects.
func disagreement(r *RuleReport) float64 {
	a, b := r.ExpectedMatches+disagreementSlack, r.ModelMatches+disagreementSlack
	return math.Max(a/b, b/a)
}

// inconsistent returns the index of the used rule that disagrees most
// with the fitted model, beyond maxRuleDisagreement; -1 when none does.
func inconsistent(reports []RuleReport) int {
	worst, at := float64(maxRuleDisagreement), -1
	for i := range reports {
		r := &reports[i]
		if r.Skipped != "" || r.Rejected != "" {
			continue
		}
		if d := disagreement(r); d > worst {
			worst, at = d, i
		}
	}
	return at
}

// reject marks the rules whose m must be left out and reports whether it
// marked any (the model is then fitted again): every used rule whose EM did
// not converge (its m is wherever the iterations stopped), else the one
// that disagrees most with the fitted model (see inconsistent; one at a
// time, since the model fitted without it changes the others' agreement).
func reject(rules []*trainingRule, reports []RuleReport) bool {
	marked := false
	for i, r := range reports {
		if r.Skipped == "" && r.Rejected == "" && !r.Converged {
			rules[i].reject(r, fmt.Sprintf("its EM did not converge in %d iterations (last change %.3g)", r.Iterations, r.Change))
			marked = true
		}
	}
	if marked {
		return true
	}
	i := inconsistent(reports)
	if i < 0 {
		return false
	}
	r := reports[i]
	rules[i].reject(r, fmt.Sprintf("its EM expects %.0f matches among its %d pairs, the model fitted from every rule %.0f: it fitted another class than the matches (what it blocks on goes with fields it estimates)",
		r.ExpectedMatches, r.Pairs, r.ModelMatches))
	return true
}

// reject leaves the rule out, keeping its EM's report with why.
func (t *trainingRule) reject(rep RuleReport, why string) {
	rep.Rejected = why
	t.last = &rep
}

// unsound returns why the rules' estimates cannot be trusted, nil when
// they can: every rule with enough pairs was rejected (the model would be
// the rules' m refitted to nothing), or a used rule still disagrees with
// the model.
func unsound(reports []RuleReport) error {
	used, rejected := 0, []string{}
	for _, r := range reports {
		switch {
		case r.Rejected != "":
			rejected = append(rejected, r.Rule+": "+r.Rejected)
		case r.Skipped == "":
			used++
		}
	}
	if used == 0 && len(rejected) > 0 {
		return fmt.Errorf("no blocking rule gave a sound estimate of m (%s)", strings.Join(rejected, "; "))
	}
	if i := inconsistent(reports); i >= 0 {
		r := &reports[i]
		return fmt.Errorf("EM over the pairs of blocking rule %s expects %.0f matches, the model %.0f", r.Rule, r.ExpectedMatches, r.ModelMatches)
	}
	return nil
}
