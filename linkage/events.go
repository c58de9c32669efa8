package linkage

import (
	"context"
	"fmt"

	"idem/registry"
)

// emit writes the golden-record events of a committed plan to the outbox,
// in the decision's transaction (Tx.Emit): a new golden record, a record
// linked to or unlinked from one, a merge and the undo of a merge.
func (p *plan) emit(ctx context.Context) error {
	at := p.l.now()
	var evs []registry.Event
	add := func(kind string, golden registry.Ref, source string) {
		evs = append(evs, registry.Event{Kind: kind, Type: golden.Type, ID: golden.ID, Source: source, At: at})
	}
	for _, k := range p.removes {
		add(registry.EventGoldenUnlinked, k.GoldenRef(), k.Source())
	}
	for _, k := range p.puts {
		if k.MatchResult != registry.MatchResultMatch {
			continue
		}
		if k.NewGolden && p.kind == "link" {
			add(registry.EventGoldenCreated, k.GoldenRef(), k.Source())
		}
		add(registry.EventGoldenLinked, k.GoldenRef(), k.Source())
	}
	kind := ""
	switch {
	case p.kind == "merge":
		kind = registry.EventGoldenMerged
	case p.kind == "undo" && p.undoneKind == "merge":
		kind = registry.EventGoldenUnmerged
	}
	if kind != "" {
		for _, g := range p.touched {
			ref, err := registry.ParseRef(g)
			if err != nil {
				return registry.Internal(fmt.Errorf("golden record %q: %w", g, err))
			}
			add(kind, ref, "")
		}
	}
	if len(evs) == 0 {
		return nil
	}
	return p.ltx.Emit(ctx, evs...)
}
