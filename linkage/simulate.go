package linkage

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"

	"idem/registry"
)

// A re-match's simulation (the dry run, and the plan an apply writes) runs
// the write path's own link step over a memTx: a transaction kept in
// memory over the store's committed reads. The links of the type and of
// its golden records are read once, at the start; the link step's
// changes (links, golden records, operations) stay in memory and are
// dropped at the end. It holds no write transaction: on SQLite the one
// writer stays free for live writes the whole time (before, the
// simulation was a write transaction rolled back at the end, which kept
// every other writer waiting for a whole type's re-link), and on
// PostgreSQL it takes no blocking-key locks. Simulating in pages of
// rolled-back write transactions was the other way: each page would
// have to write back the links of the pages before it (their state is
// what the page's records are matched against), a cost growing with the
// type's size on every page, in the writer.
//
// What it reads is the committed state as of each read, not one
// snapshot: a record stored during the simulation is not in the re-match's
// list and never seen as a candidate (seenTx); links are read once at
// the start. An apply re-matches, one by one, the records stored while it
// ran (Calibrator.catchUp).

// simulationKey marks the context of a simulation. Its plans keep only what
// the simulation is for, the links: no undo snapshot of the golden records
// they touch and no golden record rebuilt, since nothing of a simulation is
// written and its decisions read links and source records, never golden
// records. Before, a simulation kept every golden record it built in
// memory to the end: some 3 GB at the peak of a first import of 100,000
// records.
type simulationKey struct{}

func withSimulation(ctx context.Context) context.Context {
	return context.WithValue(ctx, simulationKey{}, true)
}

func simulating(ctx context.Context) bool {
	v, _ := ctx.Value(simulationKey{}).(bool)
	return v
}

// memTx is the in-memory transaction of a simulation.
type memTx struct {
	store Store

	mu       sync.Mutex
	links    map[linkKey]*registry.Link
	bySource map[string][]*registry.Link // a record's few links; a slice, not a map each: a type of 100,000 records held 100,000 maps
	byGolden map[string][]*registry.Link
	nextLink int64
	nextOp   int64
	put      map[string]*registry.Resource // resources written in the simulation, by "Type/id"
	read     map[string]*registry.Resource // committed reads of the simulated type, cached
	cacheTyp string
}

// newMemTx returns a simulation of typ over store: the links whose source
// or golden record is of typ or of its golden type are read now, but
// those drop selects (nil: none), which the simulation starts without.
func newMemTx(ctx context.Context, store Store, typ string, drop func(*registry.Link) bool) (*memTx, error) {
	t := &memTx{store: store, links: map[linkKey]*registry.Link{}, bySource: map[string][]*registry.Link{},
		byGolden: map[string][]*registry.Link{}, put: map[string]*registry.Resource{}, read: map[string]*registry.Resource{},
		cacheTyp: typ}
	gt := goldenType(typ)
	for _, f := range []registry.LinkFilter{{SourceType: typ}, {SourceType: gt}, {GoldenType: typ}, {GoldenType: gt}} {
		page, err := store.QueryLinks(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, k := range page.Links {
			t.nextLink = max(t.nextLink, k.ID)
			if drop == nil || !drop(k) {
				t.add(k)
			}
		}
	}
	return t, nil
}

func (t *memTx) add(k *registry.Link) {
	c := *k
	key := keyOf(&c)
	t.remove(key)
	t.links[key] = &c
	t.bySource[c.Source()] = append(t.bySource[c.Source()], &c)
	t.byGolden[c.Golden()] = append(t.byGolden[c.Golden()], &c)
}

// unindex removes k (the pointer the maps hold) from m[ref].
func unindex(m map[string][]*registry.Link, ref string, k *registry.Link) {
	list := slices.DeleteFunc(m[ref], func(x *registry.Link) bool { return x == k })
	if len(list) == 0 {
		delete(m, ref)
		return
	}
	m[ref] = list
}

func (t *memTx) remove(key linkKey) {
	k := t.links[key]
	if k == nil {
		return
	}
	delete(t.links, key)
	unindex(t.bySource, k.Source(), k)
	unindex(t.byGolden, k.Golden(), k)
}

// sorted returns copies of the links of set that f selects, in id order
// (as the store returns them).
func sorted(set iter.Seq[*registry.Link], f registry.LinkFilter) []*registry.Link {
	var out []*registry.Link
	for k := range set {
		if selectsLink(f, k) {
			c := *k
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *registry.Link) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// selectsLink reports whether f selects k (paging and sorting aside).
func selectsLink(f registry.LinkFilter, k *registry.Link) bool {
	for _, c := range [][2]string{{f.GoldenType, k.GoldenType}, {f.GoldenID, k.GoldenID},
		{f.SourceType, k.SourceType}, {f.SourceID, k.SourceID}, {f.LinkSource, k.LinkSource}} {
		if c[0] != "" && c[0] != c[1] {
			return false
		}
	}
	if len(f.MatchResult) > 0 && !slices.Contains(f.MatchResult, k.MatchResult) {
		return false
	}
	if (f.MinScore != 0 && k.Score < f.MinScore) || (f.MaxScore != 0 && k.Score > f.MaxScore) {
		return false
	}
	if f.NewGolden != nil && *f.NewGolden != k.NewGolden {
		return false
	}
	return f.CreatedBefore.IsZero() || k.Created.Before(f.CreatedBefore)
}

func (t *memTx) Links(_ context.Context, f registry.LinkFilter) ([]*registry.Link, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case f.SourceType != "" && f.SourceID != "":
		return sorted(slices.Values(t.bySource[f.SourceType+"/"+f.SourceID]), f), nil
	case f.GoldenType != "" && f.GoldenID != "":
		return sorted(slices.Values(t.byGolden[f.GoldenType+"/"+f.GoldenID]), f), nil
	}
	return sorted(maps.Values(t.links), f), nil
}

func (t *memTx) PutLink(_ context.Context, k *registry.Link, _ *registry.Op) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.links[keyOf(k)]; old != nil {
		k.ID, k.Created = old.ID, old.Created
	} else {
		t.nextLink++
		k.ID = t.nextLink
	}
	t.add(k)
	return nil
}

func (t *memTx) DeleteLink(_ context.Context, k *registry.Link, _ *registry.Op) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remove(keyOf(k))
	return nil
}

func (t *memTx) AddOp(_ context.Context, op *registry.Op) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextOp++
	op.ID = t.nextOp
	return nil
}

// UndoOp and Op belong to stewards' undo, never part of linking.
func (t *memTx) UndoOp(context.Context, int64, int64) error {
	return registry.Internal(fmt.Errorf("a re-match simulation undoes no operation"))
}

func (t *memTx) Op(context.Context, int64) (*registry.Op, error) {
	return nil, registry.Internal(fmt.Errorf("a re-match simulation reads no operation"))
}

// Emit drops the events: nothing of a simulation is announced.
func (t *memTx) Emit(context.Context, ...registry.Event) error { return nil }

func (t *memTx) Read(ctx context.Context, typ, id string) (*registry.Resource, error) {
	ref := typ + "/" + id
	t.mu.Lock()
	r := t.put[ref]
	if r == nil {
		r = t.read[ref]
	}
	t.mu.Unlock()
	if r != nil {
		return r, nil
	}
	r, err := t.store.Read(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if typ == t.cacheTyp { // the re-matched records: read again for each golden record they are in
		t.mu.Lock()
		if len(t.read) >= readCache {
			clear(t.read) // bounded: a type of millions is not held in memory
		}
		t.read[ref] = r
		t.mu.Unlock()
	}
	return r, nil
}

// ReadAll reads each record as Read does.
func (t *memTx) ReadAll(ctx context.Context, typ string, ids []string) (map[string]*registry.Resource, error) {
	out := make(map[string]*registry.Resource, len(ids))
	for _, id := range ids {
		r, err := t.Read(ctx, typ, id)
		if registry.ErrorCode(err) == registry.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, nil
}

func (t *memTx) ReadVersion(ctx context.Context, typ, id string, version int64) (*registry.Resource, error) {
	return t.store.VRead(ctx, typ, id, version)
}

func (t *memTx) Match(ctx context.Context, q *registry.Query, limit int) ([]*registry.Resource, error) {
	c := *q
	c.Count, c.NoTotal, c.Page = limit, true, ""
	res, err := t.store.Search(ctx, &c)
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

// Put keeps a golden record's new version for the reads that follow.
func (t *memTx) Put(_ context.Context, p *registry.Put) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.put[p.Resource.Type+"/"+p.Resource.ID] = p.Resource
	return nil
}

func (t *memTx) ClaimKeys(context.Context, ...registry.Claim) error { return nil }

// Candidates reads the committed blocking index (no lock: nothing is
// written); the simulation changes links and golden records, never the
// records blocking finds.
// Candidates come lean (without their bodies), as inside a write: a
// simulation scores them from their features.
func (t *memTx) Candidates(ctx context.Context, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error) {
	q.Lean = true
	return t.store.Candidates(ctx, typ, q)
}

func (t *memTx) PrefetchBlocking(context.Context, []string) error { return nil }

// PrefetchCandidates does nothing: Candidates reads the committed index.
func (t *memTx) PrefetchCandidates(context.Context, string, []registry.CandidateQuery) {}

func (t *memTx) LoadLinks(context.Context, string, []string) error { return nil }

// LoadGoldenLinks: a simulation's links are all in memory.
func (t *memTx) LoadGoldenLinks(context.Context, string, []string) error { return nil }

// readCache bounds the records of the simulated type a simulation keeps
// in memory: a golden record's members are read again each time one
// joins, mostly soon after they were read.
const readCache = 20_000

var _ registry.Tx = (*memTx)(nil)
