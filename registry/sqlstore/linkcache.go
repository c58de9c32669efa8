package sqlstore

import (
	"context"
	"slices"

	"idem/registry"
)

// linkCache keeps, inside one write transaction, the complete link sets of
// the records and golden records the linker has looked at: a linked write
// asks for the same record's links many times (its own, each candidate's,
// its golden record's, the snapshot's), and one query per question was a
// quarter of the write's time. Sets are loaded whole (by source or by
// golden record), kept current by PutLink and DeleteLink, and filtered in
// memory; a set not loaded is read from the database.
type linkCache struct {
	bySource map[string][]*registry.Link // "type/id" of the source → its links, by id
	byGolden map[string][]*registry.Link // "type/id" of the golden record → its links, by id
}

func (c *linkCache) init() {
	if c.bySource == nil {
		c.bySource, c.byGolden = map[string][]*registry.Link{}, map[string][]*registry.Link{}
	}
}

// Links returns the links f selects, by id; f's order and paging are ignored.
func (t *tx) Links(ctx context.Context, f registry.LinkFilter) ([]*registry.Link, error) {
	t.links.init()
	var set []*registry.Link
	var err error
	switch {
	case f.SourceType != "" && f.SourceID != "":
		set, err = t.linkSet(ctx, t.links.bySource, f.SourceType+"/"+f.SourceID, `source_type = ? AND source_id = ?`, f.SourceType, f.SourceID)
	case f.GoldenType != "" && f.GoldenID != "":
		set, err = t.linkSet(ctx, t.links.byGolden, f.GoldenType+"/"+f.GoldenID, `golden_type = ? AND golden_id = ?`, f.GoldenType, f.GoldenID)
	default:
		return t.queryLinks(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	var out []*registry.Link
	for _, l := range set {
		if selects(f, l) {
			c := *l
			out = append(out, &c)
		}
	}
	return out, nil
}

func (t *tx) queryLinks(ctx context.Context, f registry.LinkFilter) ([]*registry.Link, error) {
	where, args := linkWhere(f)
	rs, err := t.conn.query(ctx, selectLinks+where+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	return scanLinkRows(rs)
}

// linkSet returns the cached set under key, loading it with cond first.
func (t *tx) linkSet(ctx context.Context, sets map[string][]*registry.Link, key, cond string, args ...any) ([]*registry.Link, error) {
	if set, ok := sets[key]; ok {
		return set, nil
	}
	rs, err := t.conn.query(ctx, selectLinks+" WHERE "+cond+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	set, err := scanLinkRows(rs)
	if err != nil {
		return nil, err
	}
	sets[key] = set
	return set, nil
}

// preloadSources loads the link sets of the records of typ with these
// ids that are not cached yet (the candidates of a match).
func (t *tx) preloadSources(ctx context.Context, typ string, ids []string) error {
	t.links.init()
	return t.preload(ctx, t.links.bySource, "source", (*registry.Link).Source, typ, ids)
}

// preloadGoldens loads the link sets of the golden records of typ with
// these ids that are not cached yet.
func (t *tx) preloadGoldens(ctx context.Context, typ string, ids []string) error {
	t.links.init()
	return t.preload(ctx, t.links.byGolden, "golden", (*registry.Link).Golden, typ, ids)
}

// preload loads into sets, by ref ("Type/id" of the link's side, side
// being "source" or "golden"), the link sets of those of ids not in it
// yet: one query per readAllChunk ids.
func (t *tx) preload(ctx context.Context, sets map[string][]*registry.Link, side string, ref func(*registry.Link) string, typ string, ids []string) error {
	var missing []string
	for _, id := range ids {
		if _, ok := sets[typ+"/"+id]; !ok {
			missing = append(missing, id)
		}
	}
	for chunk := range slices.Chunk(missing, readAllChunk) {
		rs, err := t.conn.query(ctx, selectLinks+` WHERE `+side+`_type = ? AND `+side+`_id IN ? ORDER BY id`, typ, chunk)
		if err != nil {
			return err
		}
		links, err := scanLinkRows(rs)
		if err != nil {
			return err
		}
		for _, id := range chunk {
			sets[typ+"/"+id] = nil
		}
		for _, l := range links {
			sets[ref(l)] = append(sets[ref(l)], l)
		}
	}
	return nil
}

// noLinks records that a resource created in this transaction is the
// source of no link yet.
func (t *tx) noLinks(typ, id string) {
	t.links.init()
	if _, ok := t.links.bySource[typ+"/"+id]; !ok {
		t.links.bySource[typ+"/"+id] = nil
	}
}

// cachePut records l (after its upsert) in the loaded sets it belongs to.
func (c *linkCache) cachePut(l *registry.Link) {
	if c.bySource == nil {
		return
	}
	stored := *l
	for _, ref := range []struct {
		sets map[string][]*registry.Link
		key  string
	}{{c.bySource, l.Source()}, {c.byGolden, l.Golden()}} {
		set, ok := ref.sets[ref.key]
		if !ok {
			continue
		}
		i := slices.IndexFunc(set, func(x *registry.Link) bool { return keyOfLink(x) == keyOfLink(l) })
		if i >= 0 {
			set = slices.Delete(set, i, i+1)
		}
		at, _ := slices.BinarySearchFunc(set, stored.ID, func(x *registry.Link, id int64) int { return int(x.ID - id) })
		ref.sets[ref.key] = slices.Insert(set, at, &stored)
	}
}

// cacheDelete removes the link of l's pair from the loaded sets.
func (c *linkCache) cacheDelete(l *registry.Link) {
	if c.bySource == nil {
		return
	}
	for _, ref := range []struct {
		sets map[string][]*registry.Link
		key  string
	}{{c.bySource, l.Source()}, {c.byGolden, l.Golden()}} {
		if set, ok := ref.sets[ref.key]; ok {
			ref.sets[ref.key] = slices.DeleteFunc(slices.Clone(set), func(x *registry.Link) bool { return keyOfLink(x) == keyOfLink(l) })
		}
	}
}

// invalidate forgets every cached set (after a write the cache does not follow).
func (c *linkCache) invalidate() { *c = linkCache{} }

func keyOfLink(l *registry.Link) [4]string {
	return [4]string{l.GoldenType, l.GoldenID, l.SourceType, l.SourceID}
}

// selects reports whether f's selection holds l (as linkWhere does in SQL).
func selects(f registry.LinkFilter, l *registry.Link) bool {
	for _, c := range [][2]string{{f.GoldenType, l.GoldenType}, {f.GoldenID, l.GoldenID},
		{f.SourceType, l.SourceType}, {f.SourceID, l.SourceID}, {f.LinkSource, l.LinkSource}} {
		if c[0] != "" && c[0] != c[1] {
			return false
		}
	}
	if len(f.MatchResult) > 0 && !slices.Contains(f.MatchResult, l.MatchResult) {
		return false
	}
	if (f.MinScore != 0 && l.Score < f.MinScore) || (f.MaxScore != 0 && l.Score > f.MaxScore) {
		return false
	}
	return f.CreatedBefore.IsZero() || l.Created.Before(f.CreatedBefore)
}
