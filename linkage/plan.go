package linkage

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"idem/registry"
)

// plan collects the link changes of one decision, records the prior state
// of everything it touches (so the decision can be undone exactly), then
// applies them and refreshes the golden records involved.
type plan struct {
	l      *Linker
	ltx    registry.Tx
	kind   string
	actor  string
	reason string
	undoes int64
	// inWrite: the plan is the link step of a write, whose AuditEvent
	// records the decision (Linker.Link puts it in the Outcome).
	inWrite bool
	// undoneKind is the kind of the decision an undo undoes (its events).
	undoneKind string

	puts, removes []*registry.Link
	touched       []string            // golden records to rebuild, in order
	seen          map[string]struct{} // touched, as a set
	op            *registry.Op
	capped        []string // blocking keys the matcher could not use (report.go)
	// fresh are the golden records this plan creates: no version of them
	// is stored and no link names them but the plan's, so nothing about
	// them is read from the store.
	fresh map[string]bool
	// bodies are the records this plan's write stored, by "Type/id": a
	// golden record built from them needs not read and decode them again.
	bodies map[string]map[string]any
	// undo: the plan puts back the links of an earlier decision as they
	// were (no review link is dropped), and deletes the golden records
	// that decision created once no record is linked to them.
	undo   bool
	retire map[string]bool
}

// snapshot is the prior state an Op keeps in Before: its links, and the
// golden records it touched. An undo puts the links back and rebuilds the
// golden records from them (the records may have changed since), so their
// bodies are not kept.
type snapshot struct {
	Links   []linkState   `json:"links"`
	Goldens []goldenState `json:"goldens"`
	// Format 1: Goldens name the golden records and those the decision
	// created. 0 (ops written before it): each holds its prior body, none
	// when it did not exist.
	Format int `json:"format,omitempty"`
}

type linkState struct {
	Key   linkKey        `json:"key"`
	Prior *registry.Link `json:"prior,omitempty"` // nil: no link then
}

type linkKey struct {
	GoldenType, GoldenID, SourceType, SourceID string
}

func keyOf(k *registry.Link) linkKey {
	return linkKey{k.GoldenType, k.GoldenID, k.SourceType, k.SourceID}
}

type goldenState struct {
	Ref  string          `json:"ref"`
	New  bool            `json:"new,omitempty"`  // format 1: the decision created it
	Body json.RawMessage `json:"body,omitempty"` // format 0: the prior body (nil: did not exist, or was deleted)
}

// created reports whether the decision created g: undoing it deletes g
// when no record is linked to it any more.
func (s *snapshot) created(g goldenState) bool {
	if s.Format >= 1 {
		return g.New
	}
	return g.Body == nil
}

func (l *Linker) newPlan(ltx registry.Tx, kind, actor, reason string) *plan {
	return &plan{l: l, ltx: ltx, kind: kind, actor: actor, reason: reason, seen: map[string]struct{}{}}
}

// put sets a link; a MATCH link's golden record is rebuilt.
func (p *plan) put(k *registry.Link) {
	p.puts = append(p.puts, k)
	if k.MatchResult == registry.MatchResultMatch || k.MatchResult == registry.MatchResultRedirect {
		p.touch(k.Golden())
	}
}

// remove deletes a link; a MATCH link's golden record is rebuilt.
func (p *plan) remove(k *registry.Link) {
	p.removes = append(p.removes, k)
	if k.MatchResult == registry.MatchResultMatch || k.MatchResult == registry.MatchResultRedirect {
		p.touch(k.Golden())
	}
}

// touch marks a golden record for rebuilding.
func (p *plan) touch(golden string) {
	if golden == "" || strings.HasPrefix(golden, registry.TypeLocation+"/") {
		return
	}
	if _, ok := p.seen[golden]; !ok {
		p.seen[golden] = struct{}{}
		p.touched = append(p.touched, golden)
	}
}

// newGolden makes a new golden record of gtype for self and returns its
// reference. A lone Location has none: a Linkage needs two items.
func (p *plan) newGolden(gtype string, self *registry.Link) string {
	if gtype == registry.TypeLinkage {
		return ""
	}
	self.GoldenType, self.GoldenID, self.NewGolden = gtype, p.l.w.NewResourceID(), true
	p.markFresh(self.Golden())
	return self.Golden()
}

// markFresh records that the plan creates golden.
func (p *plan) markFresh(golden string) {
	if p.fresh == nil {
		p.fresh = map[string]bool{}
	}
	p.fresh[golden] = true
}

// wrote records the body of the record the plan's write stored.
func (p *plan) wrote(typ, id string, body map[string]any) {
	if p.bodies == nil {
		p.bodies = map[string]map[string]any{}
	}
	p.bodies[typ+"/"+id] = body
}

// linkTo points self at golden; a Location candidate without a Linkage
// gets one, holding both.
func (p *plan) linkTo(ctx context.Context, golden string, self *registry.Link, d *decision) (string, error) {
	t, id, _ := strings.Cut(golden, "/")
	if t == registry.TypeLocation {
		lk := &registry.Link{GoldenType: registry.TypeLinkage, GoldenID: p.l.w.NewResourceID(),
			SourceType: t, SourceID: id, MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceAuto,
			Score: self.Score, Grade: self.Grade, RuleVersion: self.RuleVersion, Evidence: self.Evidence, EIDMatch: self.EIDMatch, NewGolden: true}
		p.markFresh(lk.Golden())
		p.put(lk)
		t, id = lk.GoldenType, lk.GoldenID
	}
	self.GoldenType, self.GoldenID = t, id
	return self.Golden(), nil
}

// changed reports whether the plan changes any link.
func (p *plan) changed() bool { return len(p.puts)+len(p.removes) > 0 }

// commit records the decision and applies it. The golden records it
// touched are rebuilt now, or once when the batch it is part of settles
// (settle.go).
func (p *plan) commit(ctx context.Context) error {
	if !p.undo {
		if err := p.dropOrphanReviews(ctx); err != nil {
			return err
		}
	}
	sim := simulating(ctx) // links only (withSimulation)
	if p.changed() {
		var before []byte
		if !sim {
			var err error
			if before, err = p.snapshot(ctx); err != nil {
				return err
			}
		}
		p.op = &registry.Op{Kind: p.kind, Actor: p.actor, Reason: p.reason, At: p.l.now(), Before: before, Undoes: p.undoes}
		if err := p.ltx.AddOp(ctx, p.op); err != nil {
			return err
		}
		for _, k := range p.removes {
			if err := p.ltx.DeleteLink(ctx, k, p.op); err != nil {
				return err
			}
		}
		for _, k := range p.puts {
			if err := p.ltx.PutLink(ctx, k, p.op); err != nil {
				return err
			}
		}
		if b := goldenBatchFrom(ctx, p.ltx); b != nil && !p.inWrite && !sim {
			b.audit(ctx, p) // audited with the batch's other decisions when it settles
		} else if !p.inWrite {
			if err := p.audit(ctx); err != nil {
				return err
			}
		}
		if err := p.emit(ctx); err != nil {
			return err
		}
	}
	if sim {
		return nil
	}
	if b := goldenBatchFrom(ctx, p.ltx); b != nil {
		b.add(p)
		return nil
	}
	g := p.goldens()
	for _, ref := range p.touched {
		if err := p.l.rebuild(ctx, p.ltx, ref, g); err != nil {
			return err
		}
	}
	return nil
}

// dropOrphanReviews removes the review links pointing to golden records
// that this plan leaves without any record: a retired golden record is no
// candidate for anyone.
func (p *plan) dropOrphanReviews(ctx context.Context) error {
	for _, g := range p.touched {
		if p.fresh[g] {
			continue // its only links are the plan's MATCH links
		}
		gt, gid, _ := strings.Cut(g, "/")
		links, err := p.ltx.Links(ctx, registry.LinkFilter{GoldenType: gt, GoldenID: gid})
		if err != nil {
			return err
		}
		left := map[linkKey]bool{}
		for _, k := range links {
			if k.MatchResult == registry.MatchResultMatch {
				left[keyOf(k)] = true
			}
		}
		for _, k := range p.removes {
			delete(left, keyOf(k))
		}
		for _, k := range p.puts {
			if k.Golden() == g {
				left[keyOf(k)] = k.MatchResult == registry.MatchResultMatch
				if !left[keyOf(k)] {
					delete(left, keyOf(k))
				}
			}
		}
		if len(left) > 0 {
			continue
		}
		for _, k := range links {
			if k.MatchResult == registry.MatchResultPossible || k.MatchResult == registry.MatchResultPossibleDuplicate {
				p.removes = append(p.removes, k)
			}
		}
	}
	return nil
}

// snapshot returns the JSON of the prior state of every link the plan
// changes, and the golden records it touches.
func (p *plan) snapshot(ctx context.Context) ([]byte, error) {
	var s snapshot
	done := map[linkKey]bool{}
	for _, k := range append(append([]*registry.Link{}, p.removes...), p.puts...) {
		key := keyOf(k)
		if done[key] {
			continue
		}
		done[key] = true
		prior, err := p.ltx.Links(ctx, registry.LinkFilter{GoldenType: key.GoldenType, GoldenID: key.GoldenID, SourceType: key.SourceType, SourceID: key.SourceID})
		if err != nil {
			return nil, err
		}
		st := linkState{Key: key}
		if len(prior) > 0 {
			st.Prior = prior[0]
		}
		s.Links = append(s.Links, st)
	}
	s.Format = 1
	for _, g := range p.touched {
		s.Goldens = append(s.Goldens, goldenState{Ref: g, New: p.fresh[g]})
	}
	return json.Marshal(s)
}

func (l *Linker) now() time.Time { return l.w.Time() }
