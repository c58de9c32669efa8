package linkage

import (
	"context"
	"slices"
	"strings"

	"idem/registry"
)

// applyChunk is the number of records whose links one transaction of an
// apply changes.
const applyChunk = 200

// ApplyRematch writes the changes r lists, each record's as one linking
// decision of the actor of ctx (audited, in the link history, undoable):
// first every record's golden record, then the review links, so that a
// review link never points to a golden record not written yet. A record a
// steward linked by hand since r was computed is left alone.
func (l *Linker) ApplyRematch(ctx context.Context, r *Rematch, reason string) error {
	return l.ApplyRematchProgress(ctx, r, reason, nil)
}

// ApplyRematchProgress is ApplyRematch telling progress, after each
// transaction, how many of the records to change are done.
func (l *Linker) ApplyRematchProgress(ctx context.Context, r *Rematch, reason string, progress func(done, total int) error) error {
	ids := map[string]string{} // placeholder → new golden record id
	resolve := func(ref string) string {
		if !isNew(ref) {
			return ref
		}
		if ids[ref] == "" {
			t, _, _ := strings.Cut(ref, "/")
			ids[ref] = t + "/" + l.w.NewResourceID()
		}
		return ids[ref]
	}
	// Ids are chosen before any transaction, so a retried one writes the same.
	var moves, reviews []string
	for _, c := range r.Changes {
		id := strings.TrimPrefix(c.Source, r.Type+"/")
		if c.Kind != "" {
			resolve(r.to(id))
			moves = append(moves, id)
		}
		if len(c.Review)+len(c.Dropped) > 0 {
			for g := range r.wantedReview(id) {
				resolve(g)
			}
			reviews = append(reviews, id)
		}
	}
	// The records moving to one golden record are applied together, in
	// one transaction (unless a chunk ends among them): it is rebuilt once
	// for all of them, not once per record. A first load's Person of three
	// sources would otherwise be written three times, its records being
	// far apart in the stored order.
	slices.SortStableFunc(moves, func(a, b string) int { return strings.Compare(r.to(a), r.to(b)) })
	// A new golden record is created by the chunk that holds its first
	// record: no version of it is stored before, nor any link to it.
	createdIn := map[string]int{} // new golden record (placeholder) → its chunk
	chunkOf := make(map[string]int, len(moves))
	for i, id := range moves {
		chunkOf[id] = i / applyChunk
		if to := r.to(id); isNew(to) {
			if _, ok := createdIn[to]; !ok {
				createdIn[to] = i / applyChunk
			}
		}
	}
	total := len(moves) + len(reviews)
	step := func(before int) func(int) error {
		if progress == nil {
			return nil
		}
		return func(done int) error { return progress(before+done, total) }
	}
	if err := l.inChunks(ctx, r.Type, moves, step(0), func(ctx context.Context, ltx registry.Tx, id string) error {
		c, ok := createdIn[r.to(id)]
		return l.applyMatch(ctx, ltx, r, id, resolve, reason, ok && c == chunkOf[id])
	}); err != nil {
		return err
	}
	return l.inChunks(ctx, r.Type, reviews, step(len(moves)), func(ctx context.Context, ltx registry.Tx, id string) error {
		return l.applyReview(ctx, ltx, r, id, resolve, reason)
	})
}

// inChunks runs fn for each id of typ, applyChunk ids per transaction (on
// SQLite live writes queue for the writer between two of them), each
// transaction a batch whose golden records are rebuilt once, at its end,
// and whose records' links are read in one query; progress, when set,
// hears of the ids done after each.
func (l *Linker) inChunks(ctx context.Context, typ string, ids []string, progress func(done int) error, fn func(ctx context.Context, ltx registry.Tx, id string) error) error {
	for start := 0; start < len(ids); start += applyChunk {
		chunk := ids[start:min(start+applyChunk, len(ids))]
		err := l.write0(ctx, func(ltx registry.Tx) error {
			if err := ltx.LoadLinks(ctx, typ, chunk); err != nil {
				return err
			}
			bctx := withGoldenBatch(ctx, ltx)
			for _, id := range chunk {
				if err := fn(bctx, ltx, id); err != nil {
					return err
				}
			}
			return l.Settle(bctx, ltx)
		})
		if err != nil {
			return err
		}
		if progress != nil {
			if err := progress(start + len(chunk)); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyMatch moves one record to its golden record after the re-match;
// fresh: the golden record is new, and created in this transaction.
func (l *Linker) applyMatch(ctx context.Context, ltx registry.Tx, r *Rematch, id string, resolve func(string) string, reason string, fresh bool) error {
	now, err := ltx.Links(ctx, registry.LinkFilter{SourceType: r.Type, SourceID: id, MatchResult: []string{registry.MatchResultMatch}})
	if err != nil {
		return err
	}
	to := r.to(id)
	if to != "" {
		to = resolve(to)
	}
	p := l.newPlan(ltx, "rematch", registry.ActorFrom(ctx).Name, reason)
	for _, k := range now {
		if k.LinkSource == registry.LinkSourceManual {
			return nil // a steward decided meanwhile
		}
		if k.Golden() != to {
			p.remove(k)
		}
	}
	if to != "" && (len(now) == 0 || now[0].Golden() != to) {
		k := *r.target.match[id]
		k.ID, k.LinkSource, k.MatchResult = 0, registry.LinkSourceAuto, registry.MatchResultMatch
		k.GoldenType, k.GoldenID, _ = strings.Cut(to, "/")
		k.NewGolden = isNew(r.to(id)) && r.firstOf(id)
		if fresh {
			p.markFresh(to)
		}
		p.put(&k)
	}
	return p.commit(ctx)
}

// firstOf reports whether id is the first record of its target group.
func (r *Rematch) firstOf(id string) bool {
	return r.first[r.target.golden(id)] == id
}

// applyReview sets one record's review links to those after the re-match.
func (l *Linker) applyReview(ctx context.Context, ltx registry.Tx, r *Rematch, id string, resolve func(string) string, reason string) error {
	now, err := ltx.Links(ctx, registry.LinkFilter{SourceType: r.Type, SourceID: id, MatchResult: []string{registry.MatchResultPossible}})
	if err != nil {
		return err
	}
	want := map[string]*registry.Link{}
	for g, k := range r.wantedReview(id) {
		want[resolve(g)] = k
	}
	p := l.newPlan(ltx, "rematch", registry.ActorFrom(ctx).Name, reason)
	have := map[string]bool{}
	for _, k := range now {
		have[k.Golden()] = true
		if want[k.Golden()] == nil && k.LinkSource == registry.LinkSourceAuto {
			p.remove(k)
		}
	}
	for g, k := range want {
		if have[g] {
			continue
		}
		c := *k
		c.ID, c.LinkSource, c.MatchResult, c.NewGolden = 0, registry.LinkSourceAuto, registry.MatchResultPossible, false
		c.GoldenType, c.GoldenID, _ = strings.Cut(g, "/")
		p.put(&c)
	}
	return p.commit(ctx)
}
