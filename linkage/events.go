package linkage

import (
	"context"
	"strings"

	"idem/registry"
)

// emit writes the golden-record events of a committed plan to the outbox,
// in the decision's transaction (Tx.Emit): a new golden record, a record
// linked to or unlinked from one, a merge and the undo of a merge.
func (p *plan) emit(ctx context.Context) error {
	at := p.l.now()
	var evs []registry.Event
	add := func(kind, golden, source string) {
		typ, id, _ := strings.Cut(golden, "/")
		evs = append(evs, registry.Event{Kind: kind, Type: typ, ID: id, Source: source, At: at})
	}
	for _, k := range p.removes {
		add(registry.EventGoldenUnlinked, k.Golden(), k.Source())
	}
	for _, k := range p.puts {
		if k.MatchResult != registry.MatchResultMatch {
			continue
		}
		if k.NewGolden && p.kind == "link" {
			add(registry.EventGoldenCreated, k.Golden(), k.Source())
		}
		add(registry.EventGoldenLinked, k.Golden(), k.Source())
	}
	switch {
	case p.kind == "merge":
		for _, g := range p.touched {
			add(registry.EventGoldenMerged, g, "")
		}
	case p.kind == "undo" && p.undoneKind == "merge":
		for _, g := range p.touched {
			add(registry.EventGoldenUnmerged, g, "")
		}
	}
	if len(evs) == 0 {
		return nil
	}
	return p.ltx.Emit(ctx, evs...)
}
