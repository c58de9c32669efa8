package app

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"idem/matching"
	"idem/registry"
)

// pairOutcome is what the linker did with one true pair.
type pairOutcome int

const (
	pairLinked pairOutcome = iota
	pairReview
	pairMissed
)

// kindTally counts the true pairs of one kind of error by outcome.
type kindTally struct{ pairs, linked, review, missed int }

func (t *kindTally) add(o pairOutcome) {
	t.pairs++
	switch o {
	case pairLinked:
		t.linked++
	case pairReview:
		t.review++
	default:
		t.missed++
	}
}

// errorReport is the linked recall of the true pairs by the kinds of error
// the generator applied to their two records (seed.Record.Errors), by how
// many errors the pair carries, and by the size of the entity's cluster: a
// diagnostic of which kinds of error the linker misses, never an input to
// it.
type errorReport struct {
	byKind, byCount, bySize map[string]*kindTally
	// Lost are the first true pairs not linked (record indexes), with
	// whether they wait in review, for printing with their evidence.
	Lost []lostPair
}

// lostPair is a true pair the linker did not link.
type lostPair struct {
	i, j   int
	review *registry.Link // the POSSIBLE_MATCH link that put it to review; nil: missed
	size   int            // records of the entity
}

// pairKinds names a pair's kinds of error: the union of both records'
// ("none" when neither has any).
func pairKinds(a, b []string) []string {
	out := slices.Clone(a)
	for _, k := range b {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	slices.Sort(out)
	return out
}

// tallyErrors fills an errorReport from the records' errors, entities and
// golden records, keeping at most maxLost unlinked pairs.
func tallyErrors(errs [][]string, entity, golden []string, reviewed func(i, j int) *registry.Link, maxLost int) *errorReport {
	r := &errorReport{byKind: map[string]*kindTally{}, byCount: map[string]*kindTally{}, bySize: map[string]*kindTally{}}
	tally := func(m map[string]*kindTally, k string, o pairOutcome) {
		if m[k] == nil {
			m[k] = &kindTally{}
		}
		m[k].add(o)
	}
	byEntity := map[string][]int{}
	var order []string
	for i, e := range entity {
		if byEntity[e] == nil {
			order = append(order, e)
		}
		byEntity[e] = append(byEntity[e], i)
	}
	for _, e := range order {
		members := byEntity[e]
		size := fmt.Sprintf("%d records", len(members))
		if len(members) >= 4 {
			size = "4+ records"
		}
		for a := 0; a < len(members); a++ {
			for b := a + 1; b < len(members); b++ {
				i, j := members[a], members[b]
				o := pairLinked
				var rl *registry.Link
				switch {
				case golden[i] != "" && golden[i] == golden[j]:
				case reviewed(i, j) != nil:
					o, rl = pairReview, reviewed(i, j)
				default:
					o = pairMissed
				}
				var ei, ej []string
				if i < len(errs) {
					ei, ej = errs[i], errs[j]
				}
				kinds := pairKinds(ei, ej)
				for _, k := range kinds {
					tally(r.byKind, k, o)
				}
				n := len(ei) + len(ej)
				count := fmt.Sprintf("%d errors", min(n, 4))
				if n >= 4 {
					count = "4+ errors"
				}
				tally(r.byCount, count, o)
				tally(r.bySize, size, o)
				if o != pairLinked && len(r.Lost) < maxLost {
					r.Lost = append(r.Lost, lostPair{i, j, rl, len(members)})
				}
			}
		}
	}
	return r
}

// write prints the three tables: recall, share to review and share missed
// per row, worst recall first.
func (r *errorReport) write(w io.Writer) {
	table := func(title string, m map[string]*kindTally) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool {
			ra, rb := m[keys[a]].recall(), m[keys[b]].recall()
			if ra != rb {
				return ra < rb
			}
			return keys[a] < keys[b]
		})
		fmt.Fprintf(w, "  true pairs by %s:\n    %-18s %7s %8s %8s %8s\n", title, "", "pairs", "recall", "review", "missed")
		for _, k := range keys {
			t := m[k]
			fmt.Fprintf(w, "    %-18s %7d %8.4f %8d %8d\n", k, t.pairs, t.recall(), t.review, t.missed)
		}
	}
	table("kind of error (either record)", r.byKind)
	table("errors in the pair", r.byCount)
	table("records of the entity", r.bySize)
}

func (t *kindTally) recall() float64 {
	if t.pairs == 0 {
		return 0
	}
	return float64(t.linked) / float64(t.pairs)
}

// printLost prints up to n true pairs the linker did not link, with the
// kinds of error of each record and the pair's evidence under the
// configured rules (the linker may also have judged the record against a
// cluster: this is the pairwise view).
func printLost(w io.Writer, cfg Config, typ string, resources []map[string]any, errs [][]string, lost []lostPair, n int) error {
	if n <= 0 || len(lost) == 0 {
		return nil
	}
	rules, err := cfg.rules()
	if err != nil {
		return err
	}
	recs := make([]*matching.Record, len(resources))
	for i, r := range resources {
		recs[i] = matching.Extract(typ, r)
	}
	m, tf := matching.NewModel(rules).ForRegistry(typ, len(recs)), matching.NewFrequencyTable(recs)
	for _, p := range lost[:min(n, len(lost))] {
		a, b := recs[p.i], recs[p.j]
		where := "not linked"
		if p.review != nil {
			where = fmt.Sprintf("in review (linker p %.4f %s)", p.review.Score, p.review.Grade)
		}
		where += fmt.Sprintf(", entity of %d", p.size)
		var ei, ej []string
		if p.j < len(errs) {
			ei, ej = errs[p.i], errs[p.j]
		}
		fmt.Fprintf(w, "%s: errors [%s] | [%s]\n", where, strings.Join(ei, ","), strings.Join(ej, ","))
		fmt.Fprint(w, matching.PairSample{A: a, B: b, Match: m.Explain(a, b, tf)})
	}
	return nil
}
