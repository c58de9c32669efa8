package linkage

import "idem/registry"

// report tells out what the plan did for its record, for the match
// reports of bulk imports: whether a new golden record was made for it,
// how many review items it opened, and the blocking keys too common to
// use. A nil plan (a failed link) reports nothing.
func (p *plan) report(out *registry.Outcome) {
	if p == nil {
		return
	}
	for _, k := range p.puts {
		if k.SourceType != out.Resource.Type || k.SourceID != out.Resource.ID {
			continue
		}
		switch {
		case k.MatchResult == registry.MatchResultMatch && k.NewGolden:
			out.NewGolden = true
		case k.MatchResult == registry.MatchResultPossible:
			out.Review++
		}
	}
	out.Capped = p.capped
}
