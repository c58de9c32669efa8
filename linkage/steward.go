package linkage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"idem/registry"
)

// The steward operations. Each runs in one transaction, is recorded as an
// Op with the prior state of the links it changes (so Undo puts them back
// exactly, and rebuilds the golden records from them), and writes MANUAL
// links, which re-matching never overrides.

// splitRef parses "Type/id" and checks the type is one of want.
func splitRef(ref, what string, want ...string) (string, string, error) {
	r, err := registry.ParseRef(strings.TrimSpace(ref))
	if err != nil {
		return "", "", registry.Errorf(registry.EInvalid, "%s %q: want Type/id", what, ref)
	}
	for _, w := range want {
		if r.Type == w {
			return r.Type, r.ID, nil
		}
	}
	return "", "", registry.Errorf(registry.EInvalid, "%s %q: want a reference to %s", what, ref, strings.Join(want, " or "))
}

// mustExist checks that typ/id is a current resource.
func mustExist(ctx context.Context, ltx registry.Tx, typ, id string) error {
	r, err := ltx.Read(ctx, typ, id)
	if err != nil {
		return err
	}
	if r.Deleted {
		return registry.Errorf(registry.EGone, "%s/%s was deleted", typ, id)
	}
	return nil
}

func (l *Linker) write0(ctx context.Context, fn func(ltx registry.Tx) error) error {
	return l.store.Write(ctx, fn)
}

// SetLink is $mdm-update-link and $mdm-create-link: the steward says the
// source record is (MATCH), is not (NO_MATCH) or may be (POSSIBLE_MATCH)
// the golden record's entity. mustExist requires a link to exist already
// (update-link). It returns the link as stored.
func (l *Linker) SetLink(ctx context.Context, golden, source, result string, mustExistLink bool) (*registry.Link, error) {
	switch result {
	case registry.MatchResultMatch, registry.MatchResultNoMatch, registry.MatchResultPossible:
	default:
		return nil, registry.Errorf(registry.EInvalid, "matchResult %q: want MATCH, NO_MATCH or POSSIBLE_MATCH", result)
	}
	// A Location's candidate without a Linkage yet is the Location itself.
	gt, gid, err := splitRef(golden, "goldenResourceId", registry.TypePerson, registry.TypeLinkage, registry.TypeLocation)
	if err != nil {
		return nil, err
	}
	st, sid, err := splitRef(source, "resourceId", registry.TypePatient, registry.TypePractitioner, registry.TypeLocation)
	if err != nil {
		return nil, err
	}
	if goldenType(st) != gt && (gt != registry.TypeLocation || st != registry.TypeLocation || gid == sid) {
		return nil, registry.Errorf(registry.EInvalid, "%s records are linked to %s, not %s", st, goldenType(st), gt)
	}
	var out *registry.Link
	err = l.write0(ctx, func(ltx registry.Tx) error {
		if err := mustExist(ctx, ltx, gt, gid); err != nil {
			return err
		}
		if err := mustExist(ctx, ltx, st, sid); err != nil {
			return err
		}
		links, err := ltx.Links(ctx, registry.LinkFilter{SourceType: st, SourceID: sid})
		if err != nil {
			return err
		}
		var prior *registry.Link
		for _, k := range links {
			if k.GoldenType == gt && k.GoldenID == gid {
				prior = k
			}
		}
		if mustExistLink && prior == nil {
			return registry.Errorf(registry.ENotFound, "no link between %s and %s", golden, source)
		}
		p := l.newPlan(ltx, "update-link", registry.ActorFrom(ctx).Name, fmt.Sprintf("steward: %s is %s of %s", source, result, golden))
		if !mustExistLink {
			p.kind = "create-link"
		}
		k := &registry.Link{GoldenType: gt, GoldenID: gid, SourceType: st, SourceID: sid, MatchResult: result, LinkSource: registry.LinkSourceManual}
		if gt == registry.TypeLocation && result == registry.MatchResultMatch {
			// Linking two Locations: into the candidate's Linkage, or a new one.
			lg, err := l.locationGolden(ctx, ltx, p, gid)
			if err != nil {
				return err
			}
			k.GoldenType, k.GoldenID = lg.Type, lg.ID
			if prior != nil {
				p.remove(prior)
				prior = nil
			}
		}
		if prior != nil {
			k.Score, k.Grade, k.RuleVersion, k.Evidence, k.EIDMatch, k.NewGolden = prior.Score, prior.Grade, prior.RuleVersion, prior.Evidence, prior.EIDMatch, prior.NewGolden
			if prior.MatchResult == registry.MatchResultMatch && result != registry.MatchResultMatch {
				p.touch(prior.Golden()) // it leaves this golden record
			}
		}
		p.put(k)
		if result == registry.MatchResultMatch {
			// One golden record per source: leave the old one, and the
			// other candidates are settled.
			for _, o := range links {
				if o == prior {
					continue
				}
				if o.MatchResult == registry.MatchResultMatch || (o.MatchResult == registry.MatchResultPossible && o.LinkSource == registry.LinkSourceAuto) {
					p.remove(o)
				}
			}
		} else if prior != nil && prior.MatchResult == registry.MatchResultMatch {
			// It was this golden record's: it needs one of its own.
			self := &registry.Link{SourceType: st, SourceID: sid, MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceManual}
			if p.newGolden(gt, self) != "" {
				p.put(self)
			}
		}
		out = k
		return p.commit(ctx)
	})
	return out, err
}

// locationGolden returns the Linkage of Location id, making one (with
// the Location as its first item, MANUAL) when it has none.
func (l *Linker) locationGolden(ctx context.Context, ltx registry.Tx, p *plan, id string) (registry.Ref, error) {
	links, err := ltx.Links(ctx, registry.LinkFilter{SourceType: registry.TypeLocation, SourceID: id, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil || len(links) > 0 {
		if err != nil {
			return registry.Ref{}, err
		}
		return links[0].GoldenRef(), nil
	}
	k := &registry.Link{GoldenType: registry.TypeLinkage, GoldenID: l.w.NewResourceID(), SourceType: registry.TypeLocation, SourceID: id,
		MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceManual, NewGolden: true}
	p.put(k)
	return k.GoldenRef(), nil
}

// Merge is $mdm-merge-golden-resources: every record of the from golden
// record moves to the to one (MANUAL); from is retired, pointing to to.
func (l *Linker) Merge(ctx context.Context, from, to string) error {
	ft, fid, err := splitRef(from, "fromGoldenResourceId", registry.TypePerson, registry.TypeLinkage)
	if err != nil {
		return err
	}
	tt, tid, err := splitRef(to, "toGoldenResourceId", ft)
	if err != nil {
		return err
	}
	if fid == tid {
		return registry.Errorf(registry.EInvalid, "cannot merge %s into itself", from)
	}
	return l.write0(ctx, func(ltx registry.Tx) error {
		if err := mustExist(ctx, ltx, ft, fid); err != nil {
			return err
		}
		if err := mustExist(ctx, ltx, tt, tid); err != nil {
			return err
		}
		links, err := ltx.Links(ctx, registry.LinkFilter{GoldenType: ft, GoldenID: fid})
		if err != nil {
			return err
		}
		p := l.newPlan(ltx, "merge", registry.ActorFrom(ctx).Name, "steward: merge "+from+" into "+to)
		for _, k := range links {
			p.remove(k)
			if k.MatchResult == registry.MatchResultMatch {
				m := *k
				m.ID, m.GoldenID, m.LinkSource = 0, tid, registry.LinkSourceManual
				p.put(&m)
			}
		}
		between, err := ltx.Links(ctx, registry.LinkFilter{GoldenType: tt, GoldenID: tid, SourceType: ft, SourceID: fid})
		if err != nil {
			return err
		}
		for _, k := range between {
			p.remove(k)
		}
		p.put(&registry.Link{GoldenType: tt, GoldenID: tid, SourceType: ft, SourceID: fid, MatchResult: registry.MatchResultRedirect, LinkSource: registry.LinkSourceManual})
		p.touch(from)
		return p.commit(ctx)
	})
}

// NotDuplicate is $mdm-not-duplicate: two golden records are different
// entities; re-matching will not propose them again.
func (l *Linker) NotDuplicate(ctx context.Context, golden, target string) error {
	gt, gid, err := splitRef(golden, "goldenResourceId", registry.TypePerson, registry.TypeLinkage)
	if err != nil {
		return err
	}
	tt, tid, err := splitRef(target, "targetGoldenResourceId", gt)
	if err != nil {
		return err
	}
	if gid == tid {
		return registry.Errorf(registry.EInvalid, "%s cannot be marked not a duplicate of itself", golden)
	}
	return l.write0(ctx, func(ltx registry.Tx) error {
		if err := mustExist(ctx, ltx, gt, gid); err != nil {
			return err
		}
		if err := mustExist(ctx, ltx, tt, tid); err != nil {
			return err
		}
		p := l.newPlan(ltx, "not-duplicate", registry.ActorFrom(ctx).Name, "steward: "+golden+" and "+target+" are different entities")
		for _, pair := range [][4]string{{gt, gid, tt, tid}, {tt, tid, gt, gid}} {
			ks, err := ltx.Links(ctx, registry.LinkFilter{GoldenType: pair[0], GoldenID: pair[1], SourceType: pair[2], SourceID: pair[3]})
			if err != nil {
				return err
			}
			for _, k := range ks {
				p.remove(k)
			}
		}
		p.put(&registry.Link{GoldenType: gt, GoldenID: gid, SourceType: tt, SourceID: tid, MatchResult: registry.MatchResultNoMatch, LinkSource: registry.LinkSourceManual})
		return p.commit(ctx)
	})
}

// Clear is $mdm-clear: every AUTO link of the source types goes, and the
// golden records left without records are retired. Steward decisions stay.
func (l *Linker) Clear(ctx context.Context, types []string) (int, error) {
	n := 0
	for _, typ := range types {
		if !Matchable(typ) {
			return n, registry.Errorf(registry.EInvalid, "resourceType %q: want Patient, Practitioner or Location", typ)
		}
		for {
			page, err := l.links().QueryLinks(ctx, registry.LinkFilter{SourceType: typ, LinkSource: registry.LinkSourceAuto, Count: 500})
			if err != nil {
				return n, err
			}
			if len(page.Links) == 0 {
				break
			}
			err = l.write0(ctx, func(ltx registry.Tx) error {
				p := l.newPlan(ltx, "clear", registry.ActorFrom(ctx).Name, "$mdm-clear of "+typ)
				for _, k := range page.Links {
					p.remove(k)
				}
				return p.commit(ctx)
			})
			if err != nil {
				return n, err
			}
			n += len(page.Links)
		}
	}
	return n, nil
}

// Links is the read side of the links, for the web layer.
func (l *Linker) Links() registry.LinkStore { return l.store }

func (l *Linker) links() registry.LinkStore { return l.store }

// Undo reverses a decision: its links are put back exactly as they were
// before it, and its golden records rebuilt from them (the content they
// had then, unless their records changed since; one it created and that
// nothing links to any more is deleted). A decision whose links a later
// decision changed is undone only after that later one (409 otherwise).
// The undo is itself a decision, so it can be undone too.
func (l *Linker) Undo(ctx context.Context, id int64) (*registry.Op, error) {
	ops, err := l.links().Ops(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "no decision %d", id)
	}
	var snap snapshot
	if err := json.Unmarshal(ops[0].Before, &snap); err != nil {
		return nil, registry.Internal(err)
	}
	if err := l.checkLater(ctx, id, snap); err != nil {
		return nil, err
	}
	var undo *registry.Op
	err = l.write0(ctx, func(ltx registry.Tx) error {
		op, err := ltx.Op(ctx, id)
		if err != nil {
			return err
		}
		if op.UndoneBy != 0 {
			return registry.Errorf(registry.EConflict, "decision %d was already undone by decision %d", id, op.UndoneBy)
		}
		p := l.newPlan(ltx, "undo", registry.ActorFrom(ctx).Name, fmt.Sprintf("undo of decision %d (%s)", id, op.Kind))
		p.undoes, p.undoneKind, p.undo = id, op.Kind, true
		for _, st := range snap.Links {
			if st.Prior == nil {
				p.removes = append(p.removes, &registry.Link{GoldenType: st.Key.GoldenType, GoldenID: st.Key.GoldenID, SourceType: st.Key.SourceType, SourceID: st.Key.SourceID})
				continue
			}
			k := *st.Prior
			k.ID = 0
			p.puts = append(p.puts, &k)
		}
		// The golden records are rebuilt from the links put back; those
		// the decision created go when nothing links to them any more.
		for _, g := range snap.Goldens {
			p.touch(g.Ref)
			if snap.created(g) {
				if p.retire == nil {
					p.retire = map[string]bool{}
				}
				p.retire[g.Ref] = true
			}
		}
		if err := p.commit(ctx); err != nil {
			return err
		}
		undo = p.op
		return ltx.UndoOp(ctx, id, p.op.ID)
	})
	return undo, err
}

// checkLater refuses to undo a decision when a later decision, not itself
// undone, changed one of its links.
func (l *Linker) checkLater(ctx context.Context, id int64, snap snapshot) error {
	keys := map[linkKey]bool{}
	var sources []string
	for _, st := range snap.Links {
		keys[st.Key] = true
		sources = append(sources, st.Key.SourceID)
	}
	if len(sources) == 0 {
		return nil
	}
	events, err := l.links().LinkHistory(ctx, nil, sources)
	if err != nil {
		return err
	}
	later := map[int64]bool{}
	for _, e := range events {
		if e.OpID > id && keys[keyOf(&e.Link)] {
			later[e.OpID] = true
		}
	}
	var ids []int64
	for op := range later {
		ids = append(ids, op)
	}
	ops, err := l.links().Ops(ctx, ids)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if op.UndoneBy == 0 && op.Undoes != id {
			return registry.Errorf(registry.EConflict, "decision %d (%s) changed the same links later: undo it first", op.ID, op.Kind)
		}
	}
	return nil
}
