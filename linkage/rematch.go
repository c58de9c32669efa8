package linkage

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"idem/matching"
	"idem/registry"
)

// A re-match under a model gives the links the registry would hold had its
// records of one type been linked under that model, one by one in the
// order they were stored, as the write path links them: each record sees
// the records before it, steward decisions (MANUAL links, NO_MATCH) stand.
// It is computed in memory over the committed state (simulate.go: the
// target, no write transaction held), then
// compared with the links held now (the changes), and applied by writing
// only the changes, record by record, as linking decisions. A group of
// records keeps the golden record most of it is in now, so applying a
// model and then the one before it again gives back the same golden
// records.

// sameQuery reports whether two candidate queries ask the same.
func sameQuery(a, b registry.CandidateQuery) bool {
	return a.KeyCap == b.KeyCap && a.Max == b.Max && slices.Equal(a.Keys, b.Keys)
}

// seenOnly drops from an index's candidates the records before the one
// being linked that the simulation skipped (deleted since it started).
func (t *seenTx) seenOnly(set *registry.CandidateSet) *registry.CandidateSet {
	if !slices.ContainsFunc(set.Found, func(r *registry.Resource) bool { return !t.seen[r.ID] }) {
		return set
	}
	out := &registry.CandidateSet{Capped: set.Capped, Skipped: set.Skipped}
	for i, r := range set.Found {
		if !t.seen[r.ID] {
			continue
		}
		var dec any
		if i < len(set.Decoded) {
			dec = set.Decoded[i]
		}
		out.Found, out.Records, out.Decoded = append(out.Found, r), append(out.Records, set.Records[i]), append(out.Decoded, dec)
	}
	return out
}

// Change kinds of a re-match, per record.
const (
	ChangeNewLink    = "new-link"    // was alone, joins others
	ChangeMoved      = "moved"       // leaves its golden record for another with other records
	ChangeUnlinked   = "unlinked"    // leaves the others, alone now
	ChangeToReview   = "to-review"   // becomes a review candidate of a golden record
	ChangeFromReview = "from-review" // stops being one
)

// ModelChange is how a re-match changes one record's links.
type ModelChange struct {
	Source   string   // "Patient/123"
	Kind     string   `json:",omitempty"` // ChangeNewLink, ChangeMoved, ChangeUnlinked; "" when only review changes
	From, To string   // golden record before and after ("" none, "new" a new one)
	Review   []string `json:",omitempty"` // golden records it becomes a review candidate of ("new" for a new one)
	Dropped  []string `json:",omitempty"` // golden records it stops being one of
	// Score, Grade and Evidence are the decision's best match (MATCH, or
	// the first new review candidate).
	Score    float64         `json:",omitempty"`
	Grade    string          `json:",omitempty"`
	Evidence *matching.Match `json:",omitempty"`
}

// Rematch is what re-matching one type under a model changes (or changed).
type Rematch struct {
	Type         string
	ModelVersion string
	Records      int
	Counts       map[string]int // records per change kind
	Changes      []ModelChange  // every change, in record order

	target  *linkSet
	current *linkSet
	mapped  map[string]string // target golden ref → golden ref to write ("new:N" for a new one)
	size    map[string]int    // target golden ref → records
	first   map[string]string // target golden ref → its first record
}

// Changed is the number of records whose links change.
func (r *Rematch) Changed() int { return len(r.Changes) }

// linkSet is the links of one type's records: their MATCH link and their
// review links (POSSIBLE_MATCH) by golden record.
type linkSet struct {
	order  []string                             // record ids
	match  map[string]*registry.Link            // record id → MATCH link
	review map[string]map[string]*registry.Link // record id → golden ref → POSSIBLE_MATCH link
	size   map[string]int                       // golden ref → records with a MATCH link to it
}

func newLinkSet(links []*registry.Link) *linkSet {
	s := &linkSet{match: map[string]*registry.Link{}, review: map[string]map[string]*registry.Link{}, size: map[string]int{}}
	for _, k := range links {
		switch k.MatchResult {
		case registry.MatchResultMatch:
			s.match[k.SourceID] = k
			s.size[k.Golden()]++
		case registry.MatchResultPossible:
			if s.review[k.SourceID] == nil {
				s.review[k.SourceID] = map[string]*registry.Link{}
			}
			s.review[k.SourceID][k.Golden()] = k
		}
	}
	return s
}

// golden returns the record's golden record, "" when it has none or is
// alone in a Linkage (a Linkage needs two items: a lone Location has none).
func (s *linkSet) golden(id string) string {
	k := s.match[id]
	if k == nil || (k.GoldenType == registry.TypeLinkage && s.size[k.Golden()] < 2) {
		return ""
	}
	return k.Golden()
}

// PlanRematch computes what re-matching the records of typ under model
// would change, changing nothing and holding no write transaction.
func (l *Linker) PlanRematch(ctx context.Context, typ string, model *matching.Model) (*Rematch, error) {
	return l.PlanRematchProgress(ctx, typ, model, nil)
}

// PlanRematchProgress is PlanRematch telling progress how many of how
// many records are simulated, every few hundred (an error stops it).
func (l *Linker) PlanRematchProgress(ctx context.Context, typ string, model *matching.Model, progress func(done, total int) error) (*Rematch, error) {
	return l.plan(ctx, typ, model, false, progress)
}

// PlanLinkUnlinked computes what linking the records of typ that hold no
// link yet (stored unlinked by a bulk load whose linking waited for a
// model) under model would change. Only they are linked, in the order
// stored, each against the records linked before it; the others keep
// their links, unless linking a new record changes them (it matches two
// golden records, which merge). Linking a load this way costs its own
// records, not the registry's.
func (l *Linker) PlanLinkUnlinked(ctx context.Context, typ string, model *matching.Model) (*Rematch, error) {
	return l.plan(ctx, typ, model, true, nil)
}

// plan is PlanRematchProgress, or with unlinkedOnly PlanLinkUnlinked.
func (l *Linker) plan(ctx context.Context, typ string, model *matching.Model, unlinkedOnly bool, progress func(done, total int) error) (*Rematch, error) {
	if !Matchable(typ) {
		return nil, registry.Errorf(registry.EInvalid, "resourceType %q: want Patient, Practitioner or Location", typ)
	}
	ids, err := l.storedIDs(ctx, typ)
	if err != nil {
		return nil, err
	}
	links, err := l.allLinks(ctx, typ)
	if err != nil {
		return nil, err
	}
	current := newLinkSet(links)
	current.order = ids
	link, kept := ids, []string(nil)
	if unlinkedOnly {
		if link, kept = unlinkedOf(ids, links); len(link) == 0 {
			return &Rematch{Type: typ, ModelVersion: model.Version, Counts: map[string]int{}}, nil // nothing to link
		}
	}
	var step func(int) error
	if progress != nil {
		step = func(done int) error { return progress(done, len(link)) }
	}
	target, err := l.simulate(ctx, typ, model, link, kept, step)
	if err != nil {
		return nil, err
	}
	target.order = ids
	r := &Rematch{Type: typ, ModelVersion: model.Version, Records: len(link), target: target, current: current}
	if err := r.assign(func(ids []string) ([]*registry.LinkEvent, error) { return l.store.LinkHistory(ctx, nil, ids) }); err != nil {
		return nil, err
	}
	r.diff()
	return r, nil
}

// storedIDs lists the current records of typ in the order they were stored.
func (l *Linker) storedIDs(ctx context.Context, typ string) ([]string, error) {
	var ids []string
	q := &registry.Query{Type: typ, Count: 1000, NoTotal: true}
	for {
		res, err := l.store.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, r := range res.Matches {
			ids = append(ids, r.ID)
		}
		if res.Next == "" {
			return ids, nil
		}
		q.Page = res.Next
	}
}

func (l *Linker) allLinks(ctx context.Context, typ string) ([]*registry.Link, error) {
	page, err := l.store.QueryLinks(ctx, registry.LinkFilter{SourceType: typ})
	if err != nil {
		return nil, err
	}
	return page.Links, nil
}

// unlinkedOf splits ids into the records without any link and those with
// one, each in the order of ids.
func unlinkedOf(ids []string, links []*registry.Link) (unlinked, linked []string) {
	has := make(map[string]bool, len(links))
	for _, k := range links {
		has[k.SourceID] = true
	}
	for _, id := range ids {
		if has[id] {
			linked = append(linked, id)
		} else {
			unlinked = append(unlinked, id)
		}
	}
	return unlinked, linked
}

// simulate links the records ids of typ under model, in memory over the
// committed state (memTx: no write transaction is held), and returns the
// links it ends with. With kept nil every automatic link is dropped first
// and the records are linked as if they arrived in the order of ids (a
// re-match); otherwise the records kept hold their links and are
// candidates from the start, and only ids are linked. progress, when set,
// hears of every simulateStep records linked, from the first (an error
// stops the simulation).
func (l *Linker) simulate(ctx context.Context, typ string, model *matching.Model, ids, kept []string, progress func(done int) error) (*linkSet, error) {
	ctx = withSimulation(withModel(ctx, model))
	var drop func(*registry.Link) bool
	if kept == nil { // a re-match: every automatic link of typ goes; never held (a million of them was 300 MB)
		drop = func(k *registry.Link) bool {
			return k.SourceType == typ && k.LinkSource == registry.LinkSourceAuto &&
				(k.MatchResult == registry.MatchResultMatch || k.MatchResult == registry.MatchResultPossible)
		}
	}
	mtx, err := newMemTx(ctx, l.store, typ, drop)
	if err != nil {
		return nil, err
	}
	stx := &seenTx{Tx: mtx, typ: typ, seen: make(map[string]bool, len(ids)+len(kept))}
	for _, id := range kept {
		stx.seen[id] = true
	}
	if Matchable(typ) && l.autoLink(typ) {
		if stx.index, err = buildSimIndex(ctx, l.store, typ, model, append(slices.Clip(kept), ids...)); err != nil {
			return nil, err
		}
	}
	ahead := l.readAhead(ctx, mtx, typ, ids, stx.index, len(kept))
	defer ahead.stop()
	for i, id := range ids {
		stx.limit = int32(len(kept) + i)
		if progress != nil && i%simulateStep == 0 {
			if err := progress(i); err != nil {
				return nil, err
			}
		}
		a, err := ahead.next(id)
		if err != nil {
			return nil, err
		}
		if a.err != nil || a.body == nil { // an error, or deleted meanwhile
			if a.err != nil && registry.ErrorCode(a.err) != registry.ENotFound {
				return nil, a.err
			}
			continue
		}
		stx.next = a
		// inWrite: no AuditEvent for a decision that is never written
		if _, _, err := l.linkKeyed(ctx, stx, typ, id, a.body, a.rec, a.query.Keys, true); err != nil {
			return nil, err
		}
		stx.next = nil
		stx.seen[id] = true
	}
	final, err := mtx.Links(ctx, registry.LinkFilter{SourceType: typ})
	if err != nil {
		return nil, err
	}
	out := newLinkSet(final)
	out.order = ids
	return out, nil
}

// simulateStep is how many records a simulation links between two
// progress reports (a job's checkpoints, which also renew its lease).
const simulateStep = 500

// seenTx is a transaction in which blocking finds only the records of typ
// linked so far: a re-match links records as if they arrived in order.
type seenTx struct {
	registry.Tx
	typ  string
	seen map[string]bool
	next *recordAhead // the record being linked, as read ahead
	// index, when set, is the simulation's blocking in memory, and limit
	// the place of the record being linked: its candidates come from
	// the records before it.
	index *simIndex
	limit int32
}

func (t *seenTx) Candidates(ctx context.Context, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error) {
	if typ != t.typ {
		return t.Tx.Candidates(ctx, typ, q)
	}
	if t.index != nil {
		if a := t.next; a != nil && a.set != nil && sameQuery(a.query, q) {
			return t.seenOnly(a.set), nil // read ahead, decoded
		}
		return t.seenOnly(t.index.candidates(q, t.limit)), nil
	}
	want := q.Max
	q.Max *= 2 // room for the records not linked yet, which are dropped
	var set *registry.CandidateSet
	if a := t.next; a != nil && a.set != nil && sameQuery(a.query, q) {
		set = a.set
	} else {
		var err error
		if set, err = t.Tx.Candidates(ctx, typ, q); err != nil {
			return nil, err
		}
	}
	out := &registry.CandidateSet{Capped: set.Capped, Skipped: set.Skipped}
	for i, r := range set.Found {
		if !t.seen[r.ID] {
			continue
		}
		if want >= 0 && len(out.Found) >= want {
			out.Skipped++
			continue
		}
		out.Found = append(out.Found, r)
		var rec []byte
		if i < len(set.Records) {
			rec = set.Records[i]
		}
		out.Records = append(out.Records, rec)
		var dec any
		if i < len(set.Decoded) {
			dec = set.Decoded[i]
		}
		out.Decoded = append(out.Decoded, dec)
	}
	return out, nil
}

// assign chooses the golden record each target group is written to: a
// golden record that exists now when the group has one (a steward's link
// kept it, or most of its records are in it; largest overlaps are served
// first, ties in record order), else the golden record without records
// that one of its records left last (history reads the records' link
// events, oldest first), else a new one.
func (r *Rematch) assign(history func(ids []string) ([]*registry.LinkEvent, error)) error {
	groups := map[string][]string{} // target golden ref → record ids, in order
	var refs []string
	for _, id := range r.target.order {
		if g := r.target.golden(id); g != "" {
			if groups[g] == nil {
				refs = append(refs, g)
			}
			groups[g] = append(groups[g], id)
		}
	}
	r.mapped, r.size, r.first = map[string]string{}, map[string]int{}, map[string]string{}
	claimed := map[string]bool{}
	for _, g := range refs {
		r.size[g], r.first[g] = len(groups[g]), groups[g][0]
		if r.current.size[g] > 0 { // kept by a steward's link: the same golden record
			r.mapped[g], claimed[g] = g, true
		}
	}
	type overlap struct {
		target, now string
		n, first    int
	}
	var ov []overlap
	for gi, g := range refs {
		if r.mapped[g] != "" {
			continue
		}
		count := map[string]int{}
		for _, id := range groups[g] {
			if now := r.current.golden(id); now != "" && !claimed[now] {
				count[now]++
			}
		}
		for now, n := range count {
			ov = append(ov, overlap{g, now, n, gi})
		}
	}
	slices.SortStableFunc(ov, func(a, b overlap) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		if c := cmp.Compare(a.first, b.first); c != 0 {
			return c
		}
		return cmp.Compare(a.now, b.now)
	})
	for _, o := range ov {
		if r.mapped[o.target] == "" && !claimed[o.now] {
			r.mapped[o.target], claimed[o.now] = o.now, true
		}
	}
	if err := r.reuse(refs, groups, claimed, history); err != nil {
		return err
	}
	n := 0
	for _, g := range refs {
		if r.mapped[g] == "" {
			n++
			r.mapped[g] = newRef(g, n)
		}
	}
	return nil
}

// reuse gives the groups still without a golden record the one their
// records left last, when it holds no records now.
func (r *Rematch) reuse(refs []string, groups map[string][]string, claimed map[string]bool, history func(ids []string) ([]*registry.LinkEvent, error)) error {
	var ids []string
	for _, g := range refs {
		if r.mapped[g] == "" {
			ids = append(ids, groups[g]...)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	events, err := history(ids)
	if err != nil {
		return err
	}
	left := map[string][]string{} // record id → golden records it was in, newest last
	for _, ev := range events {
		k := ev.Link
		if k.MatchResult == registry.MatchResultMatch && k.SourceType == r.Type {
			left[k.SourceID] = append(left[k.SourceID], k.Golden())
		}
	}
	for _, g := range refs {
		if r.mapped[g] != "" {
			continue
		}
		gt, _, _ := strings.Cut(g, "/")
		for _, id := range groups[g] {
			was := left[id]
			for i := len(was) - 1; i >= 0; i-- {
				if old := was[i]; !claimed[old] && r.current.size[old] == 0 && strings.HasPrefix(old, gt+"/") {
					r.mapped[g], claimed[old] = old, true
					break
				}
			}
			if r.mapped[g] != "" {
				break
			}
		}
	}
	return nil
}

// newRef is the placeholder of the n-th new golden record of type of g.
func newRef(g string, n int) string {
	t, _, _ := strings.Cut(g, "/")
	return t + "/new:" + itoa(n)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// isNew reports whether ref is a new golden record's placeholder.
func isNew(ref string) bool { return strings.Contains(ref, "/new:") }

// to returns the golden record the record goes to ("" none).
func (r *Rematch) to(id string) string {
	g := r.target.golden(id)
	if g == "" {
		return ""
	}
	return r.mapped[g]
}

// reviewRef maps a target review link's golden record: a golden record of
// a target group, or a lone Location itself.
func (r *Rematch) reviewRef(g string) string {
	if m, ok := r.mapped[g]; ok {
		return m
	}
	return g
}

// diff lists the changes per record.
func (r *Rematch) diff() {
	r.Counts = map[string]int{}
	for _, id := range r.target.order {
		from, to := r.current.golden(id), r.to(id)
		c := ModelChange{Source: r.Type + "/" + id, From: from, To: display(to)}
		if from != to {
			aloneBefore := from == "" || r.current.size[from] < 2
			aloneAfter := to == "" || r.size[r.target.golden(id)] < 2
			switch {
			case aloneBefore && !aloneAfter:
				c.Kind = ChangeNewLink
			case !aloneBefore && aloneAfter:
				c.Kind = ChangeUnlinked
			default:
				c.Kind = ChangeMoved
			}
			if k := r.target.match[id]; k != nil && to != "" {
				c.Score, c.Grade, c.Evidence = k.Score, k.Grade, evidenceOf(k)
			}
		}
		want := r.wantedReview(id)
		for g, k := range want {
			if r.current.review[id][g] == nil {
				c.Review = append(c.Review, display(g))
				if c.Kind == "" && c.Evidence == nil {
					c.Score, c.Grade, c.Evidence = k.Score, k.Grade, evidenceOf(k)
				}
			}
		}
		for g, k := range r.current.review[id] {
			if want[g] == nil && k.LinkSource == registry.LinkSourceAuto {
				c.Dropped = append(c.Dropped, g)
			}
		}
		slices.Sort(c.Review)
		slices.Sort(c.Dropped)
		if c.Kind == "" && len(c.Review) == 0 && len(c.Dropped) == 0 {
			continue
		}
		if c.Kind != "" {
			r.Counts[c.Kind]++
		}
		if len(c.Review) > 0 {
			r.Counts[ChangeToReview]++
		}
		if len(c.Dropped) > 0 {
			r.Counts[ChangeFromReview]++
		}
		r.Changes = append(r.Changes, c)
	}
}

// wantedReview returns the record's review links after the re-match, by
// the golden record they are written to.
func (r *Rematch) wantedReview(id string) map[string]*registry.Link {
	out := map[string]*registry.Link{}
	for g, k := range r.target.review[id] {
		out[r.reviewRef(g)] = k
	}
	return out
}

// display shows a new golden record's placeholder as "new".
func display(ref string) string {
	if isNew(ref) {
		return "new"
	}
	return ref
}

func evidenceOf(k *registry.Link) *matching.Match {
	if len(k.Evidence) == 0 {
		return nil
	}
	var m matching.Match
	if err := json.Unmarshal(k.Evidence, &m); err != nil {
		return nil
	}
	return &m
}
