package sqlstore

import (
	"context"
	"database/sql"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

var _ registry.MatchStore = (*Store)(nil)

// Candidates returns the current resources of typ sharing a blocking key
// with the record being matched. Each key reads at most KeyCap+1 index
// entries, so an over-shared key (a placeholder name, 1900-01-01) costs a
// bounded time and is reported rather than silently used or dropped. The
// records sharing usable keys are ranked by registry.BlockingWeight from
// the index alone, and only the best q.Max are read: their bodies are what
// costs.
func (s *Store) Candidates(ctx context.Context, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error) {
	sqldb, err := s.read.DB()
	if err != nil {
		return nil, err
	}
	return candidatesWith(func(query string, args ...any) (*sql.Rows, error) {
		query, args = expandIn(query, args)
		return sqldb.QueryContext(ctx, (&conn{pg: s.postgres}).rebind(query), args...)
	}, typ, q, nil, nil)
}

// Candidates is Store.Candidates seeing the transaction's own writes. On
// PostgreSQL it first takes a transaction-scoped advisory lock per key, so
// two transactions matching the same new entity run one after the other:
// under READ COMMITTED the second one's candidate query, a new statement,
// sees what the first committed. SQLite has one writer: nothing to lock.
func (t *tx) Candidates(ctx context.Context, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error) {
	db := t.db.WithContext(ctx)
	if t.conn.pg {
		if t.locked == nil {
			t.locked = map[int64]bool{}
		}
		if err := lockKeys(db, q.Keys, t.locked); err != nil {
			return nil, err
		}
	}
	if c := t.aheadFor(typ, q); c != nil {
		set, err := t.candidatesFrom(ctx, c, typ, q)
		if set != nil || err != nil {
			t.aheadHits++
			return set, err
		}
	}
	return candidatesWith(func(query string, args ...any) (*sql.Rows, error) {
		return t.conn.query(ctx, query, args...)
	}, typ, q, &t.buf, t.keyCounts)
}

// LoadLinks loads the link sets of the records of typ with these ids.
func (t *tx) LoadLinks(ctx context.Context, typ string, ids []string) error {
	return t.preloadSources(ctx, typ, ids)
}

// LoadGoldenLinks loads the link sets of the golden records of typ with
// these ids.
func (t *tx) LoadGoldenLinks(ctx context.Context, typ string, ids []string) error {
	return t.preloadGoldens(ctx, typ, ids)
}

// lockKeys takes a transaction-scoped advisory lock per bucket of the
// keys (their 64-bit hash modulo lockBuckets), in ascending order, and
// skips the buckets this transaction holds already. Buckets, not keys:
// PostgreSQL's lock table holds a few thousand locks, and a Bundle of a
// thousand records has some eleven thousand keys ("out of shared memory").
// Two writes sharing a bucket but no key wait for each other needlessly;
// never the reverse.
func lockKeys(db *gorm.DB, keys []string, held map[int64]bool) error {
	buckets := make([]int64, 0, len(keys))
	for _, k := range keys {
		h := fnv.New64a()
		h.Write([]byte(k))
		if b := int64(h.Sum64() % lockBuckets); !held[b] {
			buckets = append(buckets, b)
		}
	}
	slices.Sort(buckets)
	for _, b := range slices.Compact(buckets) {
		if err := db.Exec(`SELECT pg_advisory_xact_lock(?, ?)`, lockClass, b).Error; err != nil {
			return err
		}
		held[b] = true
	}
	return nil
}

// lockBuckets is the number of advisory locks blocking keys map to, under
// the class lockClass (the first key of the two-key advisory lock).
const (
	lockBuckets = 1024
	lockClass   = 74192
)

// candidatesWith is candidates over the database plus the rows a write
// transaction has buffered (buf, nil outside one): the buffered index rows
// of a resource replace its written ones, which clearIndex already deleted.
func candidatesWith(query func(string, ...any) (*sql.Rows, error), typ string, q registry.CandidateQuery, buf *pending, counted map[string]int) (*registry.CandidateSet, error) {
	out := &registry.CandidateSet{}
	if len(q.Keys) == 0 {
		return out, nil
	}
	b := blocking{query: query, q: q, buf: buf, counted: counted, score: map[int64]float64{}}
	if err := b.count(); err != nil {
		return nil, err
	}
	b.capped(out)
	if err := b.rank(); err != nil {
		return nil, err
	}
	return b.candidates(out, typ, nil)
}

// capped lists in out the keys held by more than KeyCap records.
func (b *blocking) capped(out *registry.CandidateSet) {
	for i, n := range b.counts {
		if n > b.q.KeyCap {
			out.Capped = append(out.Capped, b.q.Keys[i])
		}
	}
}

// candidates fills out with the best Max records ranked, best first: each
// from the buffer, from ahead (rows read beside the writer), or read now.
func (b *blocking) candidates(out *registry.CandidateSet, typ string, ahead map[int64]candidateRow) (*registry.CandidateSet, error) {
	if len(b.score) == 0 {
		return out, nil
	}
	buf := b.buf
	best := registry.TopCandidates(b.score, b.q.Max)
	out.Skipped = len(b.score) - len(best) + b.unfetched
	var found []candidateRow
	var stored []int64
	for _, rid := range best {
		if b := buf.buffered(rid); b != nil {
			if b.res.Type == typ && !b.res.Deleted {
				found = append(found, candidateRow{pk: rid, res: b.res, rec: buf.index[rid].MatchRecord})
			}
			continue
		}
		if row, ok := ahead[rid]; ok {
			if row.res != nil {
				found = append(found, row)
			}
			continue
		}
		stored = append(stored, rid)
	}
	if len(stored) > 0 {
		sel := selectCandidate
		if buf != nil || b.q.Lean {
			sel = selectCandidateLean
		}
		rs, err := b.query(sel+` WHERE r.pk IN ? AND r.type || '' = ? AND r.deleted = ?`, stored, typ, false)
		if err != nil {
			return nil, err
		}
		rows, err := scanCandidates(rs)
		if err != nil {
			return nil, err
		}
		found = append(found, rows...)
	}
	rank := make(map[int64]int, len(best))
	for i, rid := range best {
		rank[rid] = i
	}
	slices.SortFunc(found, func(a, b candidateRow) int { return rank[a.pk] - rank[b.pk] })
	out.Found = make([]*registry.Resource, len(found))
	out.Records = make([][]byte, len(found))
	out.Decoded = make([]any, len(found))
	for i, r := range found {
		out.Found[i], out.Records[i], out.Decoded[i] = r.res, r.rec, r.dec
	}
	return out, nil
}

// blocking ranks the records sharing a query's keys by the sum of the
// keys' BlockingWeight, reading as few index entries as the ranking needs.
// A key held by hundreds of records weighs little: its records can only
// make the best Max when the rarer keys did not already find Max records
// that outrank every sum the unread keys could give. So the keys are read
// rarest first and reading stops there (the threshold algorithm); the
// records already found then learn which unread keys they hold, in one
// query. The result is the ranking of reading every key, at a cost that
// stops growing with the registry once its common keys fill up.
type blocking struct {
	query     func(string, ...any) (*sql.Rows, error)
	q         registry.CandidateQuery
	buf       *pending
	counted   map[string]int // written entries per key, prefetched (PrefetchBlocking)
	counts    []int          // entries per key, up to KeyCap+1
	score     map[int64]float64
	unfetched int // entries of the keys not read (records ranked below Max, perhaps counted twice)
	// masks, when not nil, collects which of the query's keys (bit i: Keys[i])
	// each written record found holds, for a prefetch (prefetch.go).
	masks map[int64]uint64
	// unread has bit i set when rank left the query's key i unread.
	unread uint64
}

// held notes that the written record rid holds the query's key i.
func (b *blocking) held(rid int64, i int) {
	if b.masks != nil {
		b.masks[rid] |= 1 << i
	}
}

// count reads how many records hold each key (countKeysSQL, up to just
// past the query's cap), plus the transaction's buffered ones.
func (b *blocking) count() error {
	b.counts = make([]int, len(b.q.Keys))
	at := b.positions()
	var ask []string
	for k, is := range at {
		n, ok := b.counted[k]
		if !ok {
			ask = append(ask, k)
			continue
		}
		for _, i := range is {
			b.counts[i] = n
		}
	}
	var err error
	if len(ask) > 0 {
		err = b.eachKeyRow(countKeysSQL(len(ask)), append(stringArgs(ask), b.q.KeyCap+1), func(k string, n int64) {
			for _, i := range at[k] {
				b.counts[i] = int(n)
			}
		})
	}
	if b.buf != nil {
		for i, k := range b.q.Keys {
			b.counts[i] += len(b.buf.keyRIDs[k])
		}
	}
	return err
}

// eachKeyRow runs query, whose rows are (key, number), and calls fn on each.
func (b *blocking) eachKeyRow(query string, args []any, fn func(key string, n int64)) error {
	rows, err := b.query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		fn(k, n)
	}
	return rows.Err()
}

// positions maps each key to its indexes in the query (a key may repeat).
func (b *blocking) positions() map[string][]int {
	at := make(map[string][]int, len(b.q.Keys))
	for i, k := range b.q.Keys {
		at[k] = append(at[k], i)
	}
	return at
}

// rank reads the usable keys rarest first until the unread ones cannot
// change the best Max, then completes the scores of the records found.
func (b *blocking) rank() error {
	var order []int
	for i, n := range b.counts {
		if n > 0 && n <= b.q.KeyCap {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(x, y int) int { return b.counts[x] - b.counts[y] })
	weight := func(i int) float64 { return registry.BlockingWeight(b.counts[i], b.q.KeyCap) }
	rest := 0.0 // the most the unread keys can add to a record
	for _, i := range order {
		rest += weight(i)
	}
	read := 0
	for read < len(order) {
		// The rare keys (no more entries than Max) together, then one by one.
		next := read + 1
		for next < len(order) && b.counts[order[next]] <= b.q.Max {
			next++
		}
		if err := b.fetch(order[read:next]); err != nil {
			return err
		}
		for _, i := range order[read:next] {
			rest -= weight(i)
		}
		read = next
		if b.settled(rest) {
			break
		}
	}
	unread := order[read:]
	for _, i := range unread {
		b.unfetched += b.counts[i]
		b.unread |= 1 << i
	}
	return b.complete(unread)
}

// settled reports whether Max records already score more than rest.
func (b *blocking) settled(rest float64) bool {
	if len(b.score) < b.q.Max {
		return false
	}
	above := 0
	for _, s := range b.score {
		if s > rest {
			if above++; above >= b.q.Max {
				return true
			}
		}
	}
	return false
}

// fetch reads the records holding the keys at these indexes (each holds
// at most KeyCap: count said so).
func (b *blocking) fetch(keys []int) error {
	list := make([]string, 0, len(keys))
	at := map[string][]int{}
	for _, i := range keys {
		k := b.q.Keys[i]
		if at[k] == nil {
			list = append(list, k)
		}
		at[k] = append(at[k], i)
	}
	err := b.eachKeyRow(`SELECT key, rid FROM idx_match WHERE key IN ?`, []any{list}, func(k string, rid int64) {
		for _, i := range at[k] {
			b.score[rid] += registry.BlockingWeight(b.counts[i], b.q.KeyCap)
			b.held(rid, i)
		}
	})
	if b.buf != nil {
		for _, i := range keys {
			for rid := range b.buf.keyRIDs[b.q.Keys[i]] {
				b.score[rid] += registry.BlockingWeight(b.counts[i], b.q.KeyCap)
			}
		}
	}
	return err
}

// complete adds to the records found the weights of the unread keys they
// hold.
func (b *blocking) complete(unread []int) error {
	if len(unread) == 0 || len(b.score) == 0 {
		return nil
	}
	rids := make([]int64, 0, len(b.score))
	for rid := range b.score {
		rids = append(rids, rid)
	}
	keys := make([]string, len(unread))
	at := make(map[string]int, len(unread))
	for j, i := range unread {
		keys[j], at[b.q.Keys[i]] = b.q.Keys[i], i
	}
	err := b.eachKeyRow(`SELECT key, rid FROM idx_match WHERE rid IN ? AND key IN ?`, []any{rids, keys}, func(k string, rid int64) {
		b.score[rid] += registry.BlockingWeight(b.counts[at[k]], b.q.KeyCap)
		b.held(rid, at[k])
		b.unfetched--
	})
	if b.buf != nil {
		for _, i := range unread {
			for rid := range b.buf.keyRIDs[b.q.Keys[i]] {
				if _, found := b.score[rid]; found {
					b.score[rid] += registry.BlockingWeight(b.counts[i], b.q.KeyCap)
					b.unfetched--
				}
			}
		}
	}
	return err
}

// selectCandidate is selectCurrent with the compact features, if stored.
// selectCandidateLean, for linking inside a write, leaves out the body of a
// candidate that has features: the linker scores from them alone, and
// reading fifty bodies a write was a tenth of its time at 100,000 records.
// It does not visit the candidate's version at all then (a correlated
// subquery in the CASE runs only when there are no features): the
// versions table, which holds every body, is the largest and least cached
// of the store.
const (
	selectCandidate = `SELECT r.pk, r.type, r.id, r.version, r.updated, r.deleted, v.body, m.rec
	FROM resources r JOIN resource_versions v ON v.rid = r.pk AND v.version = r.version
	LEFT JOIN match_records m ON m.rid = r.pk`
	selectCandidateLean = `SELECT r.pk, r.type, r.id, r.version, r.updated, r.deleted,
	CASE WHEN m.rec IS NULL THEN (SELECT v.body FROM resource_versions v WHERE v.rid = r.pk AND v.version = r.version) END, m.rec
	FROM resources r LEFT JOIN match_records m ON m.rid = r.pk`
)

// candidateRow is a candidate's current version and compact features.
type candidateRow struct {
	pk  int64
	res *registry.Resource
	rec []byte
	dec any // rec decoded by the query's Decode, when read ahead
}

func scanCandidates(rs *sql.Rows) ([]candidateRow, error) {
	defer rs.Close()
	var out []candidateRow
	for rs.Next() {
		c := candidateRow{res: &registry.Resource{}}
		var updated int64
		if err := rs.Scan(&c.pk, &c.res.Type, &c.res.ID, &c.res.VersionID, &updated, &c.res.Deleted, &c.res.Body, &c.rec); err != nil {
			return nil, err
		}
		c.res.LastUpdated = time.UnixMicro(updated).UTC()
		out = append(out, c)
	}
	return out, rs.Err()
}

// StoredRecords pages through the resources table by its primary key,
// reading a version's body only for a record without compact features.
func (s *Store) StoredRecords(ctx context.Context, typ string, after int64, n int) ([]registry.StoredRecord, error) {
	rs, err := s.read.WithContext(ctx).Raw(selectCandidateLean+` WHERE r.type = ? AND r.deleted = ? AND r.pk > ? ORDER BY r.pk LIMIT ?`,
		typ, false, after, n).Rows()
	if err != nil {
		return nil, registry.Internal(err)
	}
	rows, err := scanCandidates(rs)
	if err != nil {
		return nil, registry.Internal(err)
	}
	out := make([]registry.StoredRecord, len(rows))
	for i, r := range rows {
		out[i] = registry.StoredRecord{Pos: r.pk, Resource: r.res, Record: r.rec}
	}
	return out, nil
}

// CountResources counts the current resources of typ. It reads the whole
// type's index range, so callers cache it.
func (s *Store) CountResources(ctx context.Context, typ string) (int, error) {
	var total int
	err := s.read.WithContext(ctx).Raw(`SELECT COUNT(*) FROM resources WHERE type = ? AND deleted = ?`, typ, false).Scan(&total).Error
	return total, err
}

// SetMatchIndex replaces the blocking keys, features and term keys of
// current resources of typ.
func (s *Store) SetMatchIndex(ctx context.Context, typ string, index map[string]registry.MatchIndex) error {
	return s.Write(ctx, func(rtx registry.Tx) error {
		t := rtx.(*tx)
		for id, ix := range index {
			var rids []int64
			if err := t.db.WithContext(ctx).Raw(`SELECT pk FROM resources WHERE type = ? AND id = ? AND deleted = ?`, typ, id, false).Scan(&rids).Error; err != nil {
				return err
			}
			if len(rids) == 0 {
				continue // deleted meanwhile: nothing to key
			}
			rid := rids[0]
			if err := t.conn.execPrepared(ctx, deleteByRID("idx_match"), rid); err != nil {
				return err
			}
			if err := t.dropRecords(ctx, deleteRecord, rid); err != nil {
				return err
			}
			rows := make([]keyRow, len(ix.Keys))
			for i, k := range ix.Keys {
				rows[i] = keyRow{rid, k}
			}
			if err := t.insertRows(ctx, bufferTables[6].into, 2, keyValues(rows), true); err != nil {
				return err
			}
			if ix.Record != nil {
				if err := t.insertRows(ctx, bufferTables[7].into, 3, []any{rid, ix.Record, joinTerms(ix.Terms)}, true); err != nil {
					return err
				}
				t.countTerms(ix.Terms, 1)
			}
		}
		return t.writeTerms(ctx)
	})
}

// countKeysSQL is the query of how many records hold each of n keys (the
// n arguments), counted up to a limit (the last argument): rows (key,
// count). It reads each key's entries in idx_match up to the limit, so a
// placeholder value held by half the registry costs no more than a key
// just past its cap.
func countKeysSQL(n int) string {
	var sb strings.Builder
	sb.WriteString(`WITH k(key) AS (VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(CAST(? AS TEXT))")
	}
	sb.WriteString(`) SELECT k.key, (SELECT COUNT(*) FROM (SELECT 1 FROM idx_match m WHERE m.key = k.key LIMIT ?) c) FROM k`)
	return sb.String()
}

func stringArgs(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
