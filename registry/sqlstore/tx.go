package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"

	"gorm.io/gorm"

	"idem/registry"
)

// tx implements registry.Tx over a database transaction. Version and index
// rows are buffered and written in multi-row INSERTs when the transaction
// ends (or the buffer grows large), so a Bundle of a thousand resources
// costs a handful of statements per table instead of thousands.
//
// Reads inside the transaction see its buffered writes without flushing
// them (read your writes from the buffer, the rest from the database): a
// linked write reads its candidates and golden records many times, and a
// flush per read turned each Bundle into thousands of tiny INSERTs. Only a
// search inside the transaction over a type with buffered rows, and the
// conditional-create key, still flush first.
type tx struct {
	db     *gorm.DB // for GORM-built reads
	conn   *conn
	store  *Store
	buf    pending
	links  linkCache
	pks    map[string]int64 // "type/id" → resources.pk of rows read, so updates need no RETURNING
	locked map[int64]bool   // blocking-key lock buckets held (PostgreSQL)
	// events are the outbox rows Emit buffered, flattened (outbox.go).
	events []any
	// terms are the changes to term_counts not written yet: +1 per term
	// key of each version flushed, -1 per term key of each version whose
	// match record was deleted (terms.go).
	terms map[string]int
	// keyCounts caches how many written records hold each blocking key
	// (PrefetchBlocking), kept current as this transaction writes and
	// deletes keys; a key absent is read from match_key_counts.
	keyCounts map[string]int
	// clean: nothing before this transaction in its commit has written, so
	// the database holds what is committed; flushed: it has written buffered
	// rows since. While clean and not flushed, candidates may be read ahead
	// on reader connections (ahead, prefetch.go).
	clean     func() bool // nil: not on SQLite's writer (PostgreSQL)
	flushed   bool
	ahead     *readAhead
	aheadHits int // Candidates answered from what was read ahead
}

// pending holds rows not yet written. Heads and versions are flattened
// values; index rows are kept per resource row (replaced whole when the
// resource changes again in the same transaction) and expanded, sorted, at
// flush. The maps are the read-your-writes overlay.
type pending struct {
	heads, versions []any
	headAt          map[string]int            // "type/id" → offset in heads of a buffered new head (SQLite)
	index           map[int64]*registry.Index // rid → its current buffered index rows
	keyRIDs         map[string]map[int64]bool // blocking key → buffered rids holding it
	current         map[string]*bufferedRes   // "type/id" → its newest buffered version
	byRID           map[int64]*bufferedRes    // the same by rid
	types           map[string]bool           // types with buffered rows
	cleared         map[int64]bool            // resources replaced: their written index rows go at flush
	rows            int                       // buffered index rows, for the early flush
	// ops and linkEvents are the link decisions and link history rows
	// written (SQLite: their ids are assigned here), flattened; nothing in
	// a write reads them back but an undo, which flushes first.
	ops, linkEvents []any
}

// bufferedRes is the newest buffered version of a resource.
type bufferedRes struct {
	rid int64
	res *registry.Resource
}

type (
	stringRow struct {
		rid int64
		registry.StringKey
	}
	tokenRow struct {
		rid int64
		registry.TokenKey
	}
	dateRow struct {
		rid int64
		registry.DateKey
	}
	refRow struct {
		rid int64
		registry.RefKey
	}
	keyRow struct {
		rid int64
		key string
	}
)

func (p *pending) empty() bool {
	return len(p.heads)+len(p.versions)+len(p.ops)+len(p.linkEvents) == 0 && len(p.index) == 0
}

func (p *pending) init() {
	if p.current == nil {
		p.headAt, p.index, p.keyRIDs = map[string]int{}, map[int64]*registry.Index{}, map[string]map[int64]bool{}
		p.current, p.byRID, p.types = map[string]*bufferedRes{}, map[int64]*bufferedRes{}, map[string]bool{}
	}
}

// setIndex replaces the buffered index rows of rid (nil: none).
func (p *pending) setIndex(rid int64, ix *registry.Index) {
	p.init()
	if old := p.index[rid]; old != nil {
		p.rows -= indexRows(old)
		for _, k := range old.MatchKeys {
			delete(p.keyRIDs[k], rid)
		}
		delete(p.index, rid)
	}
	if ix == nil {
		return
	}
	p.index[rid] = ix
	p.rows += indexRows(ix)
	for _, k := range ix.MatchKeys {
		set := p.keyRIDs[k]
		if set == nil {
			set = map[int64]bool{}
			p.keyRIDs[k] = set
		}
		set[rid] = true
	}
}

func indexRows(ix *registry.Index) int {
	return len(ix.Strings) + len(ix.Tokens) + len(ix.Dates) + len(ix.Refs) + len(ix.MatchKeys)
}

// expand turns the buffered index into rows, for flush.
func (p *pending) expand() (strs []stringRow, toks []tokenRow, dates []dateRow, refs []refRow, keys []keyRow, recs []any) {
	for rid, ix := range p.index {
		if ix.MatchRecord != nil {
			recs = append(recs, rid, ix.MatchRecord, joinTerms(ix.MatchTerms))
		}
		for _, k := range ix.Strings {
			strs = append(strs, stringRow{rid, k})
		}
		for _, k := range ix.Tokens {
			toks = append(toks, tokenRow{rid, k})
		}
		for _, k := range ix.Dates {
			dates = append(dates, dateRow{rid, k})
		}
		for _, k := range ix.Refs {
			refs = append(refs, refRow{rid, k})
		}
		for _, k := range ix.MatchKeys {
			keys = append(keys, keyRow{rid, k})
		}
	}
	return
}

const selectCurrent = `SELECT r.pk, r.type, r.id, r.version, r.updated, r.deleted, v.body
	FROM resources r JOIN resource_versions v ON v.rid = r.pk AND v.version = r.version`

// Read returns the current version of typ/id, deletion markers included:
// from the buffer when this transaction wrote it, else from the database.
func (t *tx) Read(ctx context.Context, typ, id string) (*registry.Resource, error) {
	if b := t.buf.current[typ+"/"+id]; b != nil {
		return b.res, nil
	}
	rs, err := t.conn.query(ctx, selectCurrent+` WHERE r.type = ? AND r.id = ?`, typ, id)
	if err != nil {
		return nil, err
	}
	rows, err := scanSQL(rs, false)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "%s/%s is not known", typ, id)
	}
	if t.pks == nil {
		t.pks = map[string]int64{}
	}
	t.pks[typ+"/"+id] = rows[0].pk
	return rows[0].res, nil
}

// ReadAll is Read for many records of typ: those this transaction wrote
// from the buffer, the others in one query per readAllChunk ids. Records
// not known are absent from the answer.
func (t *tx) ReadAll(ctx context.Context, typ string, ids []string) (map[string]*registry.Resource, error) {
	out := make(map[string]*registry.Resource, len(ids))
	var missing []string
	for _, id := range ids {
		if b := t.buf.current[typ+"/"+id]; b != nil {
			out[id] = b.res
		} else {
			missing = append(missing, id)
		}
	}
	slices.Sort(missing)
	missing = slices.Compact(missing) // an id asked twice is read once
	if t.pks == nil && len(missing) > 0 {
		t.pks = map[string]int64{}
	}
	for chunk := range slices.Chunk(missing, readAllChunk) {
		rs, err := t.conn.query(ctx, selectCurrent+` WHERE r.type = ? AND r.id IN ?`, typ, chunk)
		if err != nil {
			return nil, err
		}
		rows, err := scanSQL(rs, false)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.res.ID] = r.res
			t.pks[typ+"/"+r.res.ID] = r.pk
		}
	}
	return out, nil
}

// readAllChunk bounds the ids of one ReadAll query (SQLite's and
// PostgreSQL's limits on bound parameters are far above it).
const readAllChunk = 500

func readCurrent(db *gorm.DB, typ, id string) (*registry.Resource, error) {
	rows, err := scanResources(db.Raw(selectCurrent+` WHERE r.type = ? AND r.id = ?`, typ, id))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "%s/%s is not known", typ, id)
	}
	return rows[0].res, nil
}

// ReadVersion returns one version of typ/id (flushing first: rare, and
// versions are not in the overlay).
func (t *tx) ReadVersion(ctx context.Context, typ, id string, version int64) (*registry.Resource, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return readVersion(t.db.WithContext(ctx), typ, id, version)
}

// Match returns up to limit current resources matching q's clauses. The
// search runs in the database, so rows of q's type still buffered are
// flushed first.
func (t *tx) Match(ctx context.Context, q *registry.Query, limit int) ([]*registry.Resource, error) {
	if t.buf.types[q.Type] {
		if err := t.flush(ctx); err != nil {
			return nil, err
		}
	}
	b := newBuilder(q.Type)
	if err := b.where(q.Clauses); err != nil {
		return nil, err
	}
	rows, err := scanResources(t.db.WithContext(ctx).Raw(selectCurrent+" WHERE "+b.sql()+" ORDER BY r.pk LIMIT ?", append(b.args, limit)...))
	if err != nil {
		return nil, err
	}
	out := make([]*registry.Resource, len(rows))
	for i, r := range rows {
		out[i] = r.res
	}
	return out, nil
}

// ClaimKeys records conditional-create keys, in one statement per
// claimChunk claims; a duplicate is a lost race.
func (t *tx) ClaimKeys(ctx context.Context, claims ...registry.Claim) error {
	if len(claims) == 0 {
		return nil
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	for chunk := range slices.Chunk(claims, claimChunk) {
		args := make([]any, 0, 3*len(chunk))
		for _, c := range chunk {
			args = append(args, c.Key, c.Type, c.ID)
		}
		err := t.conn.exec(ctx, `INSERT INTO cond_keys (key, type, rid) SELECT v.column1, v.column2, r.pk FROM (VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(chunk)), ", ")+
			`) AS v JOIN resources r ON r.type = v.column2 AND r.id = v.column3`, args...)
		if isUniqueViolation(err) {
			return registry.ErrRetry(err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// claimChunk bounds the claims of one statement.
const claimChunk = 300

// Put stores a new version: the resources row (inserted, or moved forward
// only if it is still at PrevVersion) now or buffered, the version and
// index rows buffered.
func (t *tx) Put(ctx context.Context, p *registry.Put) error {
	t.buf.init()
	rid, err := t.putHead(ctx, p)
	if err != nil {
		return err
	}
	if p.PrevVersion != 0 {
		if err := t.clearIndex(ctx, rid, p.Index); err != nil {
			return err
		}
	}
	r := p.Resource
	t.buf.versions = append(t.buf.versions, rid, r.VersionID, r.Type, r.LastUpdated.UnixMicro(), r.Deleted, r.Body)
	t.buf.setIndex(rid, p.Index)
	b := &bufferedRes{rid: rid, res: r}
	t.buf.current[r.Type+"/"+r.ID], t.buf.byRID[rid] = b, b
	t.buf.types[r.Type] = true
	if p.PrevVersion == 0 && r.Type != registry.TypePerson && r.Type != registry.TypeLinkage {
		// A record created now is no link's source yet (golden records
		// are written after their links, so they are not known to be).
		t.noLinks(r.Type, r.ID)
	}
	if t.buf.rows > flushAt {
		return t.flush(ctx)
	}
	return nil
}

// flushAt bounds the buffered index rows before an early flush.
const flushAt = 1 << 18

const (
	insertHead = `INSERT INTO resources (type, id, version, updated, deleted, sort_family, sort_given, sort_name, sort_birth)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`
	updateHead = `UPDATE resources SET version = ?, updated = ?, deleted = ?, sort_family = ?, sort_given = ?, sort_name = ?, sort_birth = ?
		WHERE type = ? AND id = ? AND version = ? RETURNING pk`
	updateHeadPK = `UPDATE resources SET version = ?, updated = ?, deleted = ?, sort_family = ?, sort_given = ?, sort_name = ?, sort_birth = ?
		WHERE pk = ? AND version = ?`
)

// headWidth is the number of values of one buffered head.
const headWidth = 10

func (t *tx) putHead(ctx context.Context, p *registry.Put) (int64, error) {
	r := p.Resource
	var sk registry.SortKeys
	if p.Index != nil {
		sk = p.Index.Sort
	}
	key := r.Type + "/" + r.ID
	if at, ok := t.buf.headAt[key]; ok {
		// Created in this transaction and not flushed yet: move the
		// buffered head forward instead of updating a row not written.
		h := t.buf.heads[at : at+headWidth]
		if p.PrevVersion == 0 || h[3].(int64) != p.PrevVersion {
			return 0, registry.ErrRetry(errors.New("version moved on"))
		}
		h[3], h[4], h[5], h[6], h[7], h[8], h[9] = r.VersionID, r.LastUpdated.UnixMicro(), r.Deleted, sk.Family, sk.Given, sk.Name, sk.Birthdate
		return h[0].(int64), nil
	}
	var rid int64
	var ok bool
	var err error
	if p.PrevVersion == 0 && !t.conn.pg {
		// A new row on SQLite: its key is assigned here and the row is
		// buffered; a duplicate (type, id) fails the flush at the end of
		// this request, inside its own savepoint.
		rid, err = t.conn.newPK(ctx)
		t.buf.headAt[key] = len(t.buf.heads)
		t.buf.heads = append(t.buf.heads, rid, r.Type, r.ID, r.VersionID, r.LastUpdated.UnixMicro(), r.Deleted, sk.Family, sk.Given, sk.Name, sk.Birthdate)
		return rid, err
	}
	if pk, known := t.pks[key]; known && p.PrevVersion != 0 && !t.conn.pg {
		// Read in this transaction: its key is known, and SQLite's single
		// writer lets nothing move the version in between but this check.
		n, err := t.conn.execCount(ctx, updateHeadPK,
			r.VersionID, r.LastUpdated.UnixMicro(), r.Deleted, sk.Family, sk.Given, sk.Name, sk.Birthdate, pk, p.PrevVersion)
		if err == nil && n != 1 {
			err = registry.ErrRetry(errors.New("version moved on"))
		}
		return pk, err
	}
	if p.PrevVersion == 0 {
		rid, ok, err = t.conn.returningID(ctx, insertHead,
			r.Type, r.ID, r.VersionID, r.LastUpdated.UnixMicro(), r.Deleted, sk.Family, sk.Given, sk.Name, sk.Birthdate)
	} else {
		rid, ok, err = t.conn.returningID(ctx, updateHead,
			r.VersionID, r.LastUpdated.UnixMicro(), r.Deleted, sk.Family, sk.Given, sk.Name, sk.Birthdate, r.Type, r.ID, p.PrevVersion)
	}
	switch {
	case isUniqueViolation(err):
		return 0, registry.ErrRetry(err)
	case err != nil:
		return 0, err
	case !ok:
		return 0, registry.ErrRetry(errors.New("version moved on"))
	}
	return rid, nil
}

// clearIndex removes the index rows of rid: the buffered ones from the
// buffer, the written ones from the database (none for a head still
// buffered).
//
// The written rows are deleted at the next flush, one statement per table
// for every resource replaced (a golden record rewritten a thousand times
// in a Bundle cost seven DELETEs each). Until then a search in the
// transaction flushes first (Match), and blocking, which reads the
// database under the overlay, sees no stale keys: a resource with
// blocking keys (next the new version ix, or a deletion) has its keys and
// features deleted at once.
func (t *tx) clearIndex(ctx context.Context, rid int64, ix *registry.Index) error {
	t.buf.setIndex(rid, nil)
	if b := t.buf.byRID[rid]; b != nil {
		if _, buffered := t.buf.headAt[b.res.Type+"/"+b.res.ID]; buffered {
			return nil
		}
	}
	if ix == nil || len(ix.MatchKeys) > 0 || ix.MatchRecord != nil {
		if err := t.dropKeys(ctx, deleteKeys, rid); err != nil {
			return err
		}
		if err := t.dropRecords(ctx, deleteRecord, rid); err != nil {
			return err
		}
	}
	if t.buf.cleared == nil {
		t.buf.cleared = map[int64]bool{}
	}
	t.buf.cleared[rid] = true
	return nil
}

// clearWritten deletes the written index rows of the resources replaced
// since the last flush; the search rows of those rewritten with new rows
// (in index) are brought to the new rows instead, the rows kept noted in
// have (diff.go).
func (t *tx) clearWritten(ctx context.Context, rids map[int64]bool, index map[int64]*registry.Index, have *writtenRows) error {
	if len(rids) == 0 {
		return nil
	}
	list := make([]int64, 0, len(rids))
	for rid := range rids {
		list = append(list, rid)
	}
	slices.Sort(list)
	for start := 0; start < len(list); start += maxChunk {
		chunk := list[start:min(start+maxChunk, len(list))]
		var rewritten, gone []int64
		for _, rid := range chunk {
			if index[rid] != nil {
				rewritten = append(rewritten, rid)
			} else {
				gone = append(gone, rid)
			}
		}
		if err := t.diffSearch(ctx, rewritten, index, have); err != nil {
			return err
		}
		for _, table := range clearTables {
			if searchTables[table] {
				if len(gone) > 0 {
					if err := t.conn.exec(ctx, `DELETE FROM `+table+` WHERE rid IN `+placeholders(len(gone)), int64Args(gone)...); err != nil {
						return err
					}
				}
				continue
			}
			if table == "idx_match" {
				if err := t.dropKeys(ctx, `DELETE FROM idx_match WHERE rid IN `+placeholders(len(chunk))+` RETURNING key`, int64Args(chunk)...); err != nil {
					return err
				}
				continue
			}
			if table == "match_records" {
				if err := t.dropRecords(ctx, `DELETE FROM match_records WHERE rid IN `+placeholders(len(chunk))+` RETURNING terms`, int64Args(chunk)...); err != nil {
					return err
				}
				continue
			}
			if err := t.conn.exec(ctx, `DELETE FROM `+table+` WHERE rid IN `+placeholders(len(chunk)), int64Args(chunk)...); err != nil {
				return err
			}
		}
	}
	return nil
}

func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

func int64Args(xs []int64) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// flush writes the buffered rows.
func (t *tx) flush(ctx context.Context) error {
	if err := t.flushEvents(ctx); err != nil {
		return err
	}
	if t.buf.empty() {
		return t.writeTerms(ctx)
	}
	b := t.buf
	t.buf = pending{}
	t.flushed = true
	var have writtenRows
	if err := t.clearWritten(ctx, b.cleared, b.index, &have); err != nil {
		return err
	}
	strs, toks, dates, refs, keys, recs := b.expand()
	strs, toks, dates, refs = have.drop(strs, toks, dates, refs)
	if t.keyCounts != nil {
		for _, k := range keys {
			if n, ok := t.keyCounts[k.key]; ok {
				t.keyCounts[k.key] = n + 1 // written now: no longer buffered
			}
		}
	}
	for _, ix := range b.index {
		if ix.MatchRecord != nil {
			t.countTerms(ix.MatchTerms, 1)
		}
	}
	for i, vals := range [][]any{b.heads, b.versions, stringValues(strs), tokenValues(toks), dateValues(dates), refValues(refs), keyValues(keys), recs} {
		w := bufferTables[i]
		if err := t.insertRows(ctx, w.into, w.width, vals, w.dedupe); err != nil {
			if isUniqueViolation(err) {
				return registry.ErrRetry(err)
			}
			return err
		}
	}
	for i, vals := range [][]any{b.ops, b.linkEvents} {
		if err := t.insertRows(ctx, logTables[i].into, logTables[i].width, vals, false); err != nil {
			return err
		}
	}
	return t.writeTerms(ctx)
}

// logTables are the link log's tables flush writes, in the order of
// pending's ops and linkEvents.
var logTables = []struct {
	into  string
	width int
}{
	{`mdm_ops (id, kind, actor, reason, at, "before", undoes, undone_by)`, 8},
	{`mdm_link_events (op_id, link_id, ` + linkCols + `, actor, reason, at)`, 19},
}

// bufferTables are the tables flush writes, in the order of pending's fields.
var bufferTables = []struct {
	into   string
	width  int
	dedupe bool
}{
	{"resources (pk, type, id, version, updated, deleted, sort_family, sort_given, sort_name, sort_birth)", 10, false},
	{"resource_versions (rid, version, type, updated, deleted, body)", 6, false},
	{"idx_string (rid, param, norm, exact)", 4, true},
	{"idx_token (rid, param, system, code)", 4, true},
	{"idx_date (rid, param, lo, hi)", 4, true},
	{"idx_ref (rid, param, target)", 3, true},
	{"idx_match (rid, key)", 2, true},
	{"match_records (rid, rec, terms)", 3, true},
}

var clearTables = []string{"idx_string", "idx_token", "idx_date", "idx_ref", "idx_match", "match_records", "cond_keys"}

// matchTables are the tables blocking reads, cleared at once.
var matchTables = []string{"idx_match", "match_records"}

func deleteByRID(table string) string { return `DELETE FROM ` + table + ` WHERE rid = ?` }

// writeStatements lists every statement shape of the write path, for preparing.
func writeStatements() []string {
	qs := append([]string{insertHead, updateHead, deleteRecord, deleteKeys}, termStatements()...)
	for _, table := range clearTables {
		qs = append(qs, deleteByRID(table))
	}
	for _, w := range bufferTables {
		for n := 1; n <= maxChunk; n *= 2 {
			qs = append(qs, insertSQL(w.into, w.width, n, w.dedupe))
		}
	}
	for _, w := range logTables {
		for n := 1; n <= maxChunk; n *= 2 {
			qs = append(qs, insertSQL(w.into, w.width, n, false))
		}
	}
	return qs
}

// maxChunk is the largest row count of one multi-row INSERT. Rows go in
// chunks of powers of two up to it, so each table has a few statement shapes,
// each prepared once per database.
const maxChunk = 256

func (t *tx) insertRows(ctx context.Context, into string, width int, vals []any, dedupe bool) error {
	rows := len(vals) / width
	for start := 0; start < rows; {
		n := maxChunk
		for n > rows-start {
			n /= 2
		}
		query := insertSQL(into, width, n, dedupe)
		if err := t.conn.execPrepared(ctx, query, vals[start*width:(start+n)*width]...); err != nil {
			return err
		}
		start += n
	}
	return nil
}

// insertSQL builds "INSERT INTO into VALUES (?, ?), (?, ?)". With dedupe it
// adds ON CONFLICT DO NOTHING: the SQLite index tables are keyed by their
// whole row, so a value extracted twice is stored once.
func insertSQL(into string, width, rows int, dedupe bool) string {
	ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	var sb strings.Builder
	sb.Grow(len(into) + 40 + rows*(len(ph)+2))
	sb.WriteString("INSERT INTO ")
	sb.WriteString(into)
	sb.WriteString(" VALUES ")
	for i := 0; i < rows; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(ph)
	}
	if dedupe {
		sb.WriteString(" ON CONFLICT DO NOTHING")
	}
	return sb.String()
}

func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "PRIMARY KEY constraint failed")
}

// buffered returns the newest buffered version of the resource row rid,
// nil when p is nil or holds none.
func (p *pending) buffered(rid int64) *bufferedRes {
	if p == nil {
		return nil
	}
	return p.byRID[rid]
}
