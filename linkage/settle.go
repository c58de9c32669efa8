package linkage

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"idem/registry"
)

// goldenSet is what rebuilding golden records needs to know of the
// decisions that touched them.
type goldenSet struct {
	tx    registry.Tx         // a batch's transaction
	order []string            // golden records to rebuild, in the order first touched
	seen  map[string]struct{} // order, as a set
	// fresh: created by these decisions, so no version of them is stored.
	fresh map[string]bool
	// puts, when set, are every link naming a fresh golden record: it is
	// built from them without reading its links (one decision). Unset for
	// a batch, whose later decisions may move a record again.
	puts []*registry.Link
	// retire: an undo's golden records, deleted when no record is linked
	// to them any more.
	retire map[string]bool
	// bodies are records the decisions' writes stored, by "Type/id".
	bodies map[string]map[string]any
	// audits are a batch's decisions that no write's AuditEvent records
	// (a re-match's), audited together when it settles.
	audits []*decisionAudit
	// reads are the records rebuilding reads, read at once when a batch
	// settles (prefetch), by "Type/id"; nil: not known.
	reads map[string]*registry.Resource
}

// read returns the current version of typ/id as prefetched, else as tx
// reads it.
func (g *goldenSet) read(ctx context.Context, tx registry.Tx, typ, id string) (*registry.Resource, error) {
	if r, ok := g.reads[typ+"/"+id]; ok {
		if r == nil {
			return nil, registry.Errorf(registry.ENotFound, "%s/%s is not known", typ, id)
		}
		return r, nil
	}
	return tx.Read(ctx, typ, id)
}

// decisionAudit is one decision of a batch to audit.
type decisionAudit struct {
	kind  string
	agent registry.Actor
	at    time.Time
	item  registry.AuditItem
}

// goldens is the set of golden records p alone rebuilds.
func (p *plan) goldens() *goldenSet {
	return &goldenSet{order: p.touched, fresh: p.fresh, puts: p.puts, retire: p.retire, bodies: p.bodies}
}

// body returns the body a decision's write stored for ref, or nil.
func (g *goldenSet) body(ref string) map[string]any {
	return g.bodies[ref]
}

// A batch of decisions (a transaction Bundle, an import batch, a chunk of
// a re-match's apply) rebuilds each golden record it touched once, when
// it settles, instead of once per decision: a golden record three records
// of one batch joined is written once, not three times. Nothing a decision
// reads while the batch runs is a golden record's content: decisions read
// links and records. Each decision is still recorded, audited and undoable
// on its own.
type goldenBatchKey struct{}

// withGoldenBatch returns ctx in which plans committed in tx leave their
// golden records to settle.
func withGoldenBatch(ctx context.Context, tx registry.Tx) context.Context {
	return context.WithValue(ctx, goldenBatchKey{}, &goldenSet{tx: tx, seen: map[string]struct{}{}})
}

// goldenBatchFrom returns the batch of ctx that tx's plans join, or nil
// (a plan of another transaction rebuilds its golden records itself).
func goldenBatchFrom(ctx context.Context, tx registry.Tx) *goldenSet {
	b, _ := ctx.Value(goldenBatchKey{}).(*goldenSet)
	if b == nil || b.tx != tx {
		return nil
	}
	return b
}

// add takes the golden records p touched into the batch.
func (b *goldenSet) add(p *plan) {
	for _, g := range p.touched {
		if _, ok := b.seen[g]; !ok {
			b.seen[g] = struct{}{}
			b.order = append(b.order, g)
		}
	}
	for g := range p.fresh {
		if b.fresh == nil {
			b.fresh = map[string]bool{}
		}
		b.fresh[g] = true
	}
	for g := range p.retire {
		if b.retire == nil {
			b.retire = map[string]bool{}
		}
		b.retire[g] = true
	}
	for ref, body := range p.bodies {
		if b.bodies == nil {
			b.bodies = map[string]map[string]any{}
		}
		b.bodies[ref] = body // a record written twice in the batch: its last version
	}
}

// audit takes p's decision into the batch's audit.
func (b *goldenSet) audit(ctx context.Context, p *plan) {
	entities := p.auditEntities()
	it := registry.AuditItem{Kind: p.op.Kind, Detail: map[string]string{"decision": strconv.FormatInt(p.op.ID, 10), "reason": p.reason}}
	if p.undoes != 0 {
		it.Detail["undoes"] = strconv.FormatInt(p.undoes, 10)
	}
	// The decision's entity is its first source record; the golden
	// records it touched follow it.
	i := slices.IndexFunc(entities, func(e string) bool { return Matchable(strings.SplitN(e, "/", 2)[0]) })
	if i < 0 {
		i = 0
	}
	if len(entities) > 0 {
		it.Ref = entities[i]
		it.Touched = slices.Delete(slices.Clone(entities), i, i+1)
	}
	if len(it.Touched) > maxAuditEntities {
		it.Detail["records"] = strconv.Itoa(len(it.Touched) + 1)
		it.Touched = it.Touched[:maxAuditEntities]
	}
	b.audits = append(b.audits, &decisionAudit{kind: p.op.Kind, agent: registry.ActorFrom(ctx), at: p.op.At, item: it})
}

// Settle ends a batch's link steps (registry.Linker): every golden record
// its decisions touched is rebuilt from its links, once, and the
// decisions no write's AuditEvent records are audited: one event per
// kind of decision and actor for up to a hundred decisions, each
// decision an entity with its id and reason, as a batch's writes are
// (registry.Auditor.AuditBatch).
func (l *Linker) Settle(ctx context.Context, tx registry.Tx) error {
	b := goldenBatchFrom(ctx, tx)
	if b == nil {
		return nil
	}
	if len(b.order) > 1 {
		if err := prefetch(ctx, tx, b); err != nil {
			return err
		}
	}
	for _, g := range b.order {
		if err := l.rebuild(ctx, tx, g, b); err != nil {
			return err
		}
	}
	type group struct {
		first *decisionAudit
		items []registry.AuditItem
		at    time.Time // its last decision's
	}
	var groups []*group
	byKey := map[string]*group{}
	flush := func(g *group) error {
		if len(g.items) == 0 {
			return nil
		}
		ev := registry.AuditEvent(registry.AuditRecord{Action: "E", Subtype: g.first.kind, Outcome: registry.AuditSuccess,
			Agent: g.first.agent, Items: g.items, Recorded: g.at, Detail: map[string]string{"records": strconv.Itoa(len(g.items))}})
		g.items = nil
		_, err := l.w.Create(ctx, tx, registry.TypeAuditEvent, l.w.NewResourceID(), ev)
		return err
	}
	for _, a := range b.audits {
		key := a.kind + "\x00" + a.agent.Kind + "\x00" + a.agent.Name
		g := byKey[key]
		if g == nil {
			g = &group{first: a}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.items, g.at = append(g.items, a.item), a.at
		if len(g.items) == maxAuditEntities {
			if err := flush(g); err != nil {
				return err
			}
		}
	}
	for _, g := range groups {
		if err := flush(g); err != nil {
			return err
		}
	}
	*b = goldenSet{tx: tx, seen: map[string]struct{}{}}
	return nil
}

// prefetch reads at once what rebuilding b's golden records reads: their
// links, the redirects of those stored before, their current versions
// and their records' (b.reads). Read one by one, a batch of a thousand
// records asked the store some three thousand questions as it settled.
func prefetch(ctx context.Context, tx registry.Tx, b *goldenSet) error {
	goldens, stored := map[string][]string{}, map[string][]string{}
	for _, g := range b.order {
		gtype, gid, _ := strings.Cut(g, "/")
		goldens[gtype] = append(goldens[gtype], gid)
		if !b.fresh[g] {
			stored[gtype] = append(stored[gtype], gid)
		}
	}
	reads := map[string][]string{}
	for _, gtype := range slices.Sorted(maps.Keys(goldens)) {
		if err := tx.LoadGoldenLinks(ctx, gtype, goldens[gtype]); err != nil {
			return err
		}
		if err := tx.LoadLinks(ctx, gtype, stored[gtype]); err != nil { // their redirects
			return err
		}
		reads[gtype] = append(reads[gtype], stored[gtype]...)
	}
	for _, g := range b.order {
		gtype, gid, _ := strings.Cut(g, "/")
		links, err := tx.Links(ctx, registry.LinkFilter{GoldenType: gtype, GoldenID: gid, MatchResult: []string{registry.MatchResultMatch}})
		if err != nil {
			return err
		}
		for _, k := range links {
			reads[k.SourceType] = append(reads[k.SourceType], k.SourceID)
		}
	}
	b.reads = map[string]*registry.Resource{}
	for _, typ := range slices.Sorted(maps.Keys(reads)) {
		got, err := tx.ReadAll(ctx, typ, reads[typ])
		if err != nil {
			return err
		}
		for _, id := range reads[typ] {
			b.reads[typ+"/"+id] = got[id] // nil: not known
		}
	}
	return nil
}
