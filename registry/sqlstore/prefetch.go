package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"idem/registry"
)

// deleteKeys deletes one version's blocking keys and returns them.
const deleteKeys = `DELETE FROM idx_match WHERE rid = ? RETURNING key`

// PrefetchBlocking reads how many written records hold each key, in one
// query per 500 keys (on reader connections, beside the writer, while the
// transaction has written nothing), and keeps the counts for the
// transaction: a Bundle of a thousand records asked once per record before. On PostgreSQL it
// first takes the keys' advisory locks, as Candidates would, so the counts
// include what a concurrent writer of the same keys committed.
func (t *tx) PrefetchBlocking(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if t.conn.pg {
		if t.locked == nil {
			t.locked = map[int64]bool{}
		}
		if err := lockKeys(t.db.WithContext(ctx), keys, t.locked); err != nil {
			return err
		}
	}
	if t.keyCounts == nil {
		t.keyCounts = make(map[string]int, len(keys))
	}
	var parts [][]string
	for len(keys) > 0 {
		part := keys[:min(len(keys), 500)]
		keys = keys[len(part):]
		parts = append(parts, part)
	}
	counts := make([]map[string]int, len(parts))
	if !t.flushed && (t.conn.pg || (t.clean != nil && t.clean())) {
		// Nothing of this transaction is written yet (and on PostgreSQL its
		// keys are locked): reader connections, one per core, count what
		// the writer's own would, beside it (see PrefetchCandidates).
		if err := t.countOnReaders(ctx, parts, counts); err != nil {
			return err
		}
	} else {
		for i, part := range parts {
			rs, err := t.conn.query(ctx, countKeysSQL(len(part)), append(stringArgs(part), registry.KeyCountLimit+1)...)
			if err != nil {
				return err
			}
			if counts[i], err = scanCounts(rs); err != nil {
				return err
			}
		}
	}
	for i, part := range parts {
		for _, k := range part {
			t.keyCounts[k] = counts[i][k]
		}
	}
	return nil
}

// countOnReaders counts the keys of each part on reader connections, one
// per core, into counts.
func (t *tx) countOnReaders(ctx context.Context, parts [][]string, counts []map[string]int) error {
	sqldb, err := t.store.read.DB()
	if err != nil {
		return err
	}
	rebind := (&conn{pg: t.conn.pg}).rebind
	readers := min(len(parts), max(1, runtime.GOMAXPROCS(0)))
	errs := make([]error, readers)
	var wg sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := r; i < len(parts) && errs[r] == nil; i += readers {
				rs, err := sqldb.QueryContext(ctx, rebind(countKeysSQL(len(parts[i]))), append(stringArgs(parts[i]), registry.KeyCountLimit+1)...)
				if err == nil {
					counts[i], err = scanCounts(rs)
				}
				errs[r] = err
			}
		}(r)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// scanCounts reads the rows (key, count) of countKeysSQL and closes them.
func scanCounts(rs *sql.Rows) (map[string]int, error) {
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var k string
		var n int
		if err := rs.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rs.Err()
}

// dropKeys runs a DELETE … RETURNING key on idx_match and counts the
// deleted keys out of the prefetched counts.
func (t *tx) dropKeys(ctx context.Context, query string, args ...any) error {
	return t.deleteReturning(ctx, query, args, func(k sql.NullString) {
		if n, ok := t.keyCounts[k.String]; ok {
			t.keyCounts[k.String] = n - 1
		}
	})
}

// Reading candidates ahead. Inside a write transaction on SQLite, the
// linker asks for each record's candidates in turn, and reading them (the
// blocking index, then the candidates' features) was a fifth of the single
// writer's time. Yet what the transaction sees is what is committed plus
// its own writes: SQLite has one writer, and it is this transaction, so
// nothing is committed while it runs. Reader connections, on the other
// cores, therefore read exactly the committed part while the writer works;
// the writer then adds its own writes (the buffer) to each result as
// Candidates always did. This holds only while the transaction's writes are
// all still in the buffer: it must not have flushed, and the requests
// before it in the same commit must not have written (they are not
// committed either). Otherwise Candidates reads as usual.

// candidatesAhead is one query's written candidates, read beside the writer.
type candidatesAhead struct {
	ready chan struct{}
	err   error
	// masks holds, for each written record blocking found, which of the
	// query's keys it holds (bit i: Keys[i]); unfetched counts the entries
	// of keys not read (the threshold algorithm stopped early).
	masks     map[int64]uint64
	unfetched int
	// unread and capped have bit i set when key i was left unread (the
	// threshold algorithm stopped before it) or was capped.
	unread, capped uint64
	// rows are the best records by the written counts, read: a record
	// absent or deleted has a row with a nil res.
	rows map[int64]candidateRow
}

// readAhead is a transaction's prefetch: the queries' results by signature,
// and the readers filling them.
type readAhead struct {
	ctx    context.Context // the readers', cancelled when the transaction ends
	cancel context.CancelFunc
	wg     sync.WaitGroup
	byKey  map[string]*candidatesAhead
}

// aheadKey is the signature of a query of typ.
func aheadKey(typ string, q registry.CandidateQuery) string {
	return typ + "\x00" + strconv.Itoa(q.KeyCap) + "\x00" + strconv.Itoa(q.Max) + "\x00" + strings.Join(q.Keys, "\x00")
}

// PrefetchCandidates starts reading the written candidates of qs on
// reader connections, one reader per core, in order (registry.Tx).
//
// On PostgreSQL other transactions commit while this one runs; but a
// linked write of a record takes the advisory locks of its blocking keys
// first (Candidates, PrefetchBlocking) and holds them to its commit. So
// once this transaction holds the locks of a query's keys (PrefetchBlocking
// took them for the batch), no linked write changes which written records
// hold them until it commits, and readers read what it would.
func (t *tx) PrefetchCandidates(ctx context.Context, typ string, qs []registry.CandidateQuery) {
	if t.flushed || len(qs) == 0 {
		return
	}
	if !t.conn.pg && (t.clean == nil || !t.clean()) {
		return
	}
	if t.ahead == nil {
		actx, cancel := context.WithCancel(ctx)
		t.ahead = &readAhead{ctx: actx, cancel: cancel, byKey: map[string]*candidatesAhead{}}
	}
	counted := maps.Clone(t.keyCounts) // written counts; the writer changes its own map
	var todo []registry.CandidateQuery
	var slots []*candidatesAhead
	for _, q := range qs {
		if len(q.Keys) == 0 || len(q.Keys) > 64 || (t.conn.pg && !t.prefetched(q.Keys)) {
			continue
		}
		k := aheadKey(typ, q)
		if t.ahead.byKey[k] != nil {
			continue
		}
		c := &candidatesAhead{ready: make(chan struct{})}
		t.ahead.byKey[k] = c
		todo, slots = append(todo, q), append(slots, c)
	}
	sqldb, err := t.store.read.DB()
	if err != nil {
		for _, c := range slots {
			c.err = err
			close(c.ready)
		}
		return
	}
	actx := t.ahead.ctx
	rebind := (&conn{pg: t.conn.pg}).rebind
	query := func(q string, args ...any) (*sql.Rows, error) {
		q, args = expandIn(q, args)
		return sqldb.QueryContext(actx, rebind(q), args...)
	}
	readers := max(1, runtime.GOMAXPROCS(0))
	for r := 0; r < readers; r++ {
		t.ahead.wg.Add(1)
		go func(r int) {
			defer t.ahead.wg.Done()
			for i := r; i < len(todo); i += readers {
				c := slots[i]
				if actx.Err() != nil {
					c.err = actx.Err()
				} else {
					c.err = c.read(query, typ, todo[i], counted)
				}
				close(c.ready)
			}
		}(r)
	}
}

// read runs blocking over the written records alone and reads the best.
func (c *candidatesAhead) read(query func(string, ...any) (*sql.Rows, error), typ string, q registry.CandidateQuery, counted map[string]int) error {
	b := blocking{query: query, q: q, counted: counted, score: map[int64]float64{}, masks: map[int64]uint64{}}
	if err := b.count(); err != nil {
		return err
	}
	if err := b.rank(); err != nil {
		return err
	}
	c.masks, c.unfetched, c.unread = b.masks, b.unfetched, b.unread
	for i, n := range b.counts {
		if n > q.KeyCap {
			c.capped |= 1 << i
		}
	}
	c.rows = map[int64]candidateRow{}
	best := registry.TopCandidates(b.score, q.Max)
	if len(best) == 0 {
		return nil
	}
	rs, err := query(selectCandidateLean+` WHERE r.pk IN ? AND r.type || '' = ? AND r.deleted = ?`, best, typ, false)
	if err != nil {
		return err
	}
	rows, err := scanCandidates(rs)
	if err != nil {
		return err
	}
	for _, rid := range best {
		c.rows[rid] = candidateRow{pk: rid}
	}
	for _, r := range rows {
		if q.Decode != nil && r.rec != nil {
			if d, err := q.Decode(r.res, r.rec); err == nil {
				r.dec = d // else the matcher decodes it, or reads its JSON
			}
		}
		c.rows[r.pk] = r
	}
	return nil
}

// aheadFor returns the candidates of q read ahead and still valid, or nil.
func (t *tx) aheadFor(typ string, q registry.CandidateQuery) *candidatesAhead {
	if t.ahead == nil || t.flushed {
		return nil
	}
	c := t.ahead.byKey[aheadKey(typ, q)]
	if c == nil {
		return nil
	}
	<-c.ready
	if c.err != nil {
		return nil
	}
	return c
}

// candidatesFrom is Candidates from what was read ahead (nil when that
// cannot answer q exactly): the written
// records' scores are recomputed with the counts as they are now (the
// buffer's records added, the records this transaction rewrote left out:
// they come from the buffer if they still hold a key), and the buffered
// records ranked in beside them.
func (t *tx) candidatesFrom(ctx context.Context, c *candidatesAhead, typ string, q registry.CandidateQuery) (*registry.CandidateSet, error) {
	out := &registry.CandidateSet{}
	b := blocking{query: func(query string, args ...any) (*sql.Rows, error) {
		return t.conn.query(ctx, query, args...)
	}, q: q, buf: &t.buf, counted: t.keyCounts, score: map[int64]float64{}}
	if err := b.count(); err != nil {
		return nil, err
	}
	b.capped(out)
	usable := func(i int) bool { return b.counts[i] > 0 && b.counts[i] <= q.KeyCap }
	for rid, mask := range c.masks {
		if t.buf.cleared[rid] || t.buf.buffered(rid) != nil {
			continue
		}
		s := 0.0
		for i := range q.Keys {
			if mask&(1<<i) != 0 && usable(i) {
				s += registry.BlockingWeight(b.counts[i], q.KeyCap)
			}
		}
		if s > 0 {
			b.score[rid] = s
		}
	}
	for i, k := range q.Keys {
		if !usable(i) {
			continue
		}
		for rid := range t.buf.keyRIDs[k] {
			b.score[rid] += registry.BlockingWeight(b.counts[i], q.KeyCap)
		}
	}
	// What was read ahead stopped reading keys once the best Max could not
	// change; with this transaction's writes they may: when the records
	// left out (holding unread keys only) could now rank among the best
	// Max, or a capped key is usable again, blocking reads as usual.
	rest := 0.0
	for i := range q.Keys {
		if !usable(i) {
			continue
		}
		if c.capped&(1<<i) != 0 {
			return nil, nil
		}
		if c.unread&(1<<i) != 0 {
			rest += registry.BlockingWeight(b.counts[i], q.KeyCap)
		}
	}
	if rest > 0 && !b.settled(rest) {
		return nil, nil
	}
	b.unfetched = c.unfetched
	return b.candidates(out, typ, c.rows)
}

// stopAhead stops the readers of the transaction's prefetch and waits for
// them: the transaction is over.
func (t *tx) stopAhead() {
	if t.ahead != nil {
		t.ahead.cancel()
		t.ahead.wg.Wait()
		t.ahead = nil
	}
}

// prefetched reports whether PrefetchBlocking read (and on PostgreSQL
// locked) every one of keys.
func (t *tx) prefetched(keys []string) bool {
	for _, k := range keys {
		if _, ok := t.keyCounts[k]; !ok {
			return false
		}
	}
	return true
}
