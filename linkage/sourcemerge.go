package linkage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"idem/registry"
)

// A source's own decisions about its records, taken by the link step:
//
//   - a merge at the source (IHE ITI-104, PMIR ITI-93): the old record is
//     set active false with a link of type replaced-by to the surviving
//     record of the same source. Its links move to the survivor's golden
//     record (a MANUAL MATCH, so re-matching keeps it), in one op of kind
//     "source-merge" attributed to the source, which a steward can undo
//     like any other decision; PIXm then answers the survivor for the old
//     record's identifiers;
//   - undoing the merge at the source: the old record active again, or its
//     replaced-by link removed, undoes that op here;
//   - a retirement: active false without replaced-by takes the record out
//     of its golden record (op kind "retire"); it no longer contributes to
//     golden records nor is a home for other records. Whether a client may
//     retire is the policy's decision (the "retire" action), taken in the
//     pipeline's authorize step.
//
// Patient has both active and link; Practitioner has active only (it can
// be retired, not merged); Location has neither (a source retires one by
// deleting it).

// Op kinds of a source's decisions.
const (
	OpSourceMerge = "source-merge"
	OpRetire      = "retire"
)

// sourceState is what a record's body says of its own lifecycle.
type sourceState int

const (
	stateActive  sourceState = iota
	stateRetired             // active false, no replaced-by
	stateMerged              // active false, replaced-by another record
)

// recordState reads the state of a Patient or Practitioner body and, for
// a merged one, the reference its replaced-by link holds.
func recordState(typ string, res map[string]any) (sourceState, string) {
	if res == nil || (typ != registry.TypePatient && typ != registry.TypePractitioner) {
		return stateActive, ""
	}
	if active, ok := res["active"].(bool); !ok || active {
		return stateActive, ""
	}
	for _, l := range registry.AsList(res["link"]) {
		link := registry.AsObject(l)
		if registry.AsString(link["type"]) == "replaced-by" {
			return stateMerged, registry.AsString(registry.AsObject(link["other"])["reference"])
		}
	}
	return stateRetired, ""
}

// Retires reports whether res (a new version of a Patient or
// Practitioner) retires its record: active false without a replaced-by
// link. The policy decides whether its client may (action "retire").
func Retires(typ string, res map[string]any) bool {
	s, _ := recordState(typ, res)
	return s == stateRetired
}

// linkSourceDecision is the link step for a record its source merged or
// retired, and for one whose merge the source undid. It reports whether
// it decided the record's links; false leaves them to the matcher.
func (l *Linker) linkSourceDecision(ctx context.Context, ltx registry.Tx, w *registry.Write, out *registry.Outcome) (bool, error) {
	if w.Resource == nil {
		return false, nil
	}
	state, other := recordState(w.Type, w.Resource)
	var p *plan
	var err error
	switch state {
	case stateMerged:
		p, err = l.sourceMerge(ctx, ltx, out.Resource, w.Resource, other)
	case stateRetired:
		p, err = l.retire(ctx, ltx, out.Resource)
	default:
		return false, l.undoSourceMerge(ctx, ltx, w)
	}
	if err != nil {
		return true, err
	}
	if p != nil && p.op != nil {
		out.Decision = &registry.LinkDecision{Op: p.op.ID, Kind: p.kind, Reason: p.reason, Entities: p.auditEntities()}
	}
	if p != nil {
		for _, k := range p.puts {
			if k.MatchResult == registry.MatchResultMatch && k.SourceType == out.Resource.Type && k.SourceID == out.Resource.ID {
				out.Golden = k.Golden()
			}
		}
	}
	if out.Golden == "" && state == stateMerged {
		out.Golden, err = l.goldenOf(ctx, ltx, out.Resource.Type, out.Resource.ID)
	}
	return true, err
}

// goldenOf returns the golden record typ/id is a MATCH of, "" for none.
func (l *Linker) goldenOf(ctx context.Context, ltx registry.Tx, typ, id string) (string, error) {
	links, err := ltx.Links(ctx, registry.LinkFilter{SourceType: typ, SourceID: id, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil || len(links) == 0 {
		return "", err
	}
	return links[0].Golden(), nil
}

// retire takes a retired record out of its golden records.
func (l *Linker) retire(ctx context.Context, ltx registry.Tx, r *registry.Resource) (*plan, error) {
	links, err := ltx.Links(ctx, registry.LinkFilter{SourceType: r.Type, SourceID: r.ID})
	if err != nil || len(links) == 0 {
		return nil, err
	}
	p := l.newPlan(ltx, OpRetire, registry.ActorFrom(ctx).Name, r.Type+"/"+r.ID+" was retired by its source (active false)")
	p.inWrite = true
	for _, k := range links {
		p.remove(k)
	}
	return p, p.commit(ctx)
}

// sourceMerge moves the links of old, which its source replaced by
// other, to the golden record of other.
func (l *Linker) sourceMerge(ctx context.Context, ltx registry.Tx, old *registry.Resource, body map[string]any, other string) (*plan, error) {
	survivor, err := l.survivor(ctx, ltx, old, body, other)
	if err != nil {
		return nil, err
	}
	golden, err := l.goldenOf(ctx, ltx, survivor.Type, survivor.ID)
	if err != nil {
		return nil, err
	}
	current, err := ltx.Links(ctx, registry.LinkFilter{SourceType: old.Type, SourceID: old.ID})
	if err != nil {
		return nil, err
	}
	reason := fmt.Sprintf("source merge: %s/%s replaced by %s/%s", old.Type, old.ID, survivor.Type, survivor.ID)
	p := l.newPlan(ltx, OpSourceMerge, registry.ActorFrom(ctx).Name, reason)
	p.inWrite = true
	var from string // the golden record old leaves
	for _, k := range current {
		switch {
		case k.MatchResult == registry.MatchResultMatch && k.Golden() == golden && k.LinkSource == registry.LinkSourceManual:
			// merged there already: the new version only refreshes it
		case k.MatchResult == registry.MatchResultMatch:
			from = k.Golden()
			p.remove(k)
		case k.MatchResult == registry.MatchResultPossible || k.Golden() == golden:
			p.remove(k) // a merged record needs no review; the source overrides a NO_MATCH to its survivor's entity
		}
	}
	if golden != "" && !slices.ContainsFunc(current, func(k *registry.Link) bool {
		return k.MatchResult == registry.MatchResultMatch && k.Golden() == golden && k.LinkSource == registry.LinkSourceManual
	}) {
		k := &registry.Link{SourceType: old.Type, SourceID: old.ID, MatchResult: registry.MatchResultMatch, LinkSource: registry.LinkSourceManual}
		k.GoldenType, k.GoldenID, _ = strings.Cut(golden, "/")
		p.put(k)
	}
	p.touch(golden)
	if err := l.proposeLeftBehind(ctx, ltx, p, from, golden, old); err != nil {
		return nil, err
	}
	return p, p.commit(ctx)
}

// survivor reads the record a merged record's replaced-by link names (its
// reference already resolved to a registry id by the resolve step) and
// checks it is another current, active record of the same type and the
// same source.
func (l *Linker) survivor(ctx context.Context, ltx registry.Tx, old *registry.Resource, body map[string]any, other string) (*registry.Resource, error) {
	expr := old.Type + ".link.other"
	bad := func(format string, args ...any) error {
		return registry.Invalid(registry.EUnprocessable, "business-rule", expr, format, args...)
	}
	t, id, ok := strings.Cut(other, "/")
	if !ok || t != old.Type || id == "" || strings.Contains(id, "/") {
		return nil, bad("a replaced-by link must point to another %s of the same source as %s/id (got %q)", old.Type, old.Type, other)
	}
	if id == old.ID {
		return nil, bad("%s/%s cannot be replaced by itself", old.Type, old.ID)
	}
	r, err := ltx.Read(ctx, t, id)
	switch {
	case registry.ErrorCode(err) == registry.ENotFound || (err == nil && r.Deleted):
		return nil, bad("the replaced-by target %s is not a current record of this registry (nor a record of the same source by its own id)", other)
	case err != nil:
		return nil, err
	}
	src, err := registry.StoredSource(ctx, ltx, r)
	if err != nil {
		return nil, err
	}
	mine := registry.AsString(registry.AsObject(body["meta"])["source"])
	if sourceSystem(t, src) == "" || sourceSystem(t, src) != sourceSystem(old.Type, mine) {
		return nil, bad("the replaced-by target %s belongs to another source (%s, not %s): a source merges its own records only", other, orNone(sourceSystem(t, src)), orNone(sourceSystem(old.Type, mine)))
	}
	rb, err := registry.DecodeStored(r)
	if err != nil {
		return nil, err
	}
	if s, _ := recordState(t, rb); s != stateActive {
		return nil, bad("the replaced-by target %s is itself inactive: merge into the record that survives", other)
	}
	return r, nil
}

// sourceSystem is the system part of a meta.source: the base of a record
// URL ("<system>/<Type>/<id>"), else the whole.
func sourceSystem(typ, src string) string {
	src, _, _ = strings.Cut(src, "#")
	if base := sourceBase(typ, map[string]any{"meta": map[string]any{"source": src}}); base != "" {
		return base
	}
	return strings.TrimSuffix(src, "/")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// proposeLeftBehind proposes the golden record the merged record left as
// a duplicate of the survivor's, when other records stay in it: they were
// matched to the merged record, so they likely are the survivor's entity
// too, but that is a steward's call.
func (l *Linker) proposeLeftBehind(ctx context.Context, ltx registry.Tx, p *plan, from, to string, old *registry.Resource) error {
	if from == "" || to == "" || from == to {
		return nil
	}
	ft, fid, _ := strings.Cut(from, "/")
	tt, tid, _ := strings.Cut(to, "/")
	members, err := ltx.Links(ctx, registry.LinkFilter{GoldenType: ft, GoldenID: fid, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(members, func(k *registry.Link) bool { return k.Source() != old.Type+"/"+old.ID }) {
		return nil
	}
	for _, pair := range [][4]string{{tt, tid, ft, fid}, {ft, fid, tt, tid}} {
		known, err := ltx.Links(ctx, registry.LinkFilter{GoldenType: pair[0], GoldenID: pair[1], SourceType: pair[2], SourceID: pair[3]})
		if err != nil || len(known) > 0 {
			return err // already proposed, refused or merged
		}
	}
	p.put(&registry.Link{GoldenType: tt, GoldenID: tid, SourceType: ft, SourceID: fid,
		MatchResult: registry.MatchResultPossibleDuplicate, LinkSource: registry.LinkSourceAuto})
	return nil
}

// undoSourceMerge undoes the source merge of a record whose stored
// version was merged and whose new version is not: the source undid the
// merge. The record's links return to their state before the merge (the
// golden records are rebuilt from them, not restored: the records may
// have changed since), and the matcher then judges the record's new
// content as for any update. A merge that a later decision built on (a
// steward moved the record since) is not undone: the later decision
// stands, and the matcher keeps a steward's MANUAL link.
func (l *Linker) undoSourceMerge(ctx context.Context, ltx registry.Tx, w *registry.Write) error {
	if w.Stored == nil || w.Stored.Deleted || !bytes.Contains(w.Stored.Body, []byte(`"replaced-by"`)) {
		return nil // not merged before: no JSON to read on the common update
	}
	prev, err := registry.DecodeStored(w.Stored)
	if err != nil {
		return err
	}
	if s, _ := recordState(w.Type, prev); s != stateMerged {
		return nil
	}
	op, snap, err := l.lastSourceMerge(ctx, w.Type, w.ID)
	if err != nil || op == nil {
		return err
	}
	if err := l.checkLater(ctx, op.ID, snap); err != nil {
		if registry.ErrorCode(err) == registry.EConflict {
			return nil
		}
		return err
	}
	p := l.newPlan(ltx, "undo", registry.ActorFrom(ctx).Name,
		fmt.Sprintf("undo of decision %d (%s): %s/%s is active again at its source", op.ID, op.Kind, w.Type, w.ID))
	p.undoes, p.undoneKind = op.ID, op.Kind
	for _, st := range snap.Links {
		if st.Prior == nil {
			p.remove(&registry.Link{GoldenType: st.Key.GoldenType, GoldenID: st.Key.GoldenID, SourceType: st.Key.SourceType, SourceID: st.Key.SourceID,
				MatchResult: registry.MatchResultMatch}) // MatchResult only marks its golden record for rebuilding
			continue
		}
		k := *st.Prior
		k.ID = 0
		p.put(&k)
	}
	for _, g := range snap.Goldens {
		p.touch(g.Ref)
	}
	if err := p.commit(ctx); err != nil {
		return err
	}
	return ltx.UndoOp(ctx, op.ID, p.op.ID)
}

// lastSourceMerge finds the latest source merge of typ/id not undone,
// with its snapshot. The history is read committed, outside the write's
// transaction: the merge was committed by an earlier request.
func (l *Linker) lastSourceMerge(ctx context.Context, typ, id string) (*registry.Op, snapshot, error) {
	var snap snapshot
	events, err := l.links().LinkHistory(ctx, nil, []string{id})
	if err != nil {
		return nil, snap, err
	}
	var ids []int64
	for _, e := range events {
		if e.Link.SourceType == typ && e.Link.SourceID == id && !slices.Contains(ids, e.OpID) {
			ids = append(ids, e.OpID)
		}
	}
	ops, err := l.links().Ops(ctx, ids)
	if err != nil {
		return nil, snap, err
	}
	var last *registry.Op
	for _, op := range ops {
		if op.Kind == OpSourceMerge && op.UndoneBy == 0 && (last == nil || op.ID > last.ID) {
			last = op
		}
	}
	if last == nil {
		return nil, snap, nil
	}
	if err := json.Unmarshal(last.Before, &snap); err != nil {
		return nil, snap, registry.Internal(err)
	}
	return last, snap, nil
}
