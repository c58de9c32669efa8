package sqlstore

import (
	"context"
	"errors"
	"strings"

	"gorm.io/gorm"

	"idem/registry"
)

// tx implements registry.Tx over a database transaction. Version and index
// rows are buffered and written in multi-row INSERTs when the transaction
// reads, replaces index rows, or ends, so a Bundle of a thousand resources
// costs a handful of statements per table instead of thousands.
type tx struct {
	db    *gorm.DB // for GORM-built reads
	conn  *conn
	store *Store
	buf   pending
}

// pending holds rows not yet written: resources and version rows as
// flattened values, index rows typed so that flush can sort them.
type pending struct {
	heads, versions []any
	strings         []stringRow
	tokens          []tokenRow
	dates           []dateRow
	refs            []refRow
	keys            []keyRow
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
	return len(p.heads)+len(p.versions)+len(p.strings)+len(p.tokens)+len(p.dates)+len(p.refs)+len(p.keys) == 0
}

const selectCurrent = `SELECT r.pk, r.type, r.id, r.version, r.updated, r.deleted, v.body
	FROM resources r JOIN resource_versions v ON v.rid = r.pk AND v.version = r.version`

// Read returns the current version of typ/id, deletion markers included.
func (t *tx) Read(ctx context.Context, typ, id string) (*registry.Resource, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return readCurrent(t.db.WithContext(ctx), typ, id)
}

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

// ReadVersion returns one version of typ/id.
func (t *tx) ReadVersion(ctx context.Context, typ, id string, version int64) (*registry.Resource, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return readVersion(t.db.WithContext(ctx), typ, id, version)
}

// Match returns up to limit current resources matching q's clauses.
func (t *tx) Match(ctx context.Context, q *registry.Query, limit int) ([]*registry.Resource, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
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

// ClaimKey records a conditional-create key; a duplicate is a lost race.
func (t *tx) ClaimKey(ctx context.Context, typ, key, id string) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	err := t.conn.exec(ctx, `INSERT INTO cond_keys (key, type, rid) SELECT ?, ?, pk FROM resources WHERE type = ? AND id = ?`,
		key, typ, typ, id)
	if isUniqueViolation(err) {
		return registry.ErrRetry(err)
	}
	return err
}

// Put stores a new version: the resources row (inserted, or moved forward
// only if it is still at PrevVersion) now, the version and index rows buffered.
func (t *tx) Put(ctx context.Context, p *registry.Put) error {
	rid, err := t.putHead(ctx, p)
	if err != nil {
		return err
	}
	if p.PrevVersion != 0 {
		if err := t.clearIndex(ctx, rid); err != nil {
			return err
		}
	}
	r := p.Resource
	t.buf.versions = append(t.buf.versions, rid, r.VersionID, r.Type, r.LastUpdated.UnixMicro(), r.Deleted, r.Body)
	if p.Index != nil {
		t.buffer(rid, p.Index)
	}
	if len(t.buf.strings) > flushAt {
		return t.flush(ctx)
	}
	return nil
}

// flushAt bounds the buffered values before an early flush.
const flushAt = 1 << 18

func (t *tx) buffer(rid int64, ix *registry.Index) {
	for _, k := range ix.Strings {
		t.buf.strings = append(t.buf.strings, stringRow{rid, k})
	}
	for _, k := range ix.Tokens {
		t.buf.tokens = append(t.buf.tokens, tokenRow{rid, k})
	}
	for _, k := range ix.Dates {
		t.buf.dates = append(t.buf.dates, dateRow{rid, k})
	}
	for _, k := range ix.Refs {
		t.buf.refs = append(t.buf.refs, refRow{rid, k})
	}
	for _, k := range ix.MatchKeys {
		t.buf.keys = append(t.buf.keys, keyRow{rid, k})
	}
}

const (
	insertHead = `INSERT INTO resources (type, id, version, updated, deleted, sort_family, sort_given, sort_name, sort_birth)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`
	updateHead = `UPDATE resources SET version = ?, updated = ?, deleted = ?, sort_family = ?, sort_given = ?, sort_name = ?, sort_birth = ?
		WHERE type = ? AND id = ? AND version = ? RETURNING pk`
)

func (t *tx) putHead(ctx context.Context, p *registry.Put) (int64, error) {
	r := p.Resource
	var sk registry.SortKeys
	if p.Index != nil {
		sk = p.Index.Sort
	}
	var rid int64
	var ok bool
	var err error
	if p.PrevVersion == 0 && !t.conn.pg {
		// A new row on SQLite: its key is assigned here and the row is
		// buffered; a duplicate (type, id) fails the flush at the end of
		// this request, inside its own savepoint.
		rid, err = t.conn.newPK(ctx)
		t.buf.heads = append(t.buf.heads, rid, r.Type, r.ID, r.VersionID, r.LastUpdated.UnixMicro(), r.Deleted, sk.Family, sk.Given, sk.Name, sk.Birthdate)
		return rid, err
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

func (t *tx) clearIndex(ctx context.Context, rid int64) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	for _, table := range clearTables {
		if err := t.conn.execPrepared(ctx, deleteByRID(table), rid); err != nil {
			return err
		}
	}
	return nil
}

// flush writes the buffered rows.
func (t *tx) flush(ctx context.Context) error {
	if t.buf.empty() {
		return nil
	}
	b := t.buf
	t.buf = pending{}
	for i, vals := range [][]any{b.heads, b.versions, b.stringValues(), b.tokenValues(), b.dateValues(), b.refValues(), b.keyValues()} {
		w := bufferTables[i]
		if err := t.insertRows(ctx, w.into, w.width, vals, w.dedupe); err != nil {
			if isUniqueViolation(err) {
				return registry.ErrRetry(err)
			}
			return err
		}
	}
	return nil
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
}

var clearTables = []string{"idx_string", "idx_token", "idx_date", "idx_ref", "idx_match", "cond_keys"}

func deleteByRID(table string) string { return `DELETE FROM ` + table + ` WHERE rid = ?` }

// writeStatements lists every statement shape of the write path, for preparing.
func writeStatements() []string {
	qs := []string{insertHead, updateHead}
	for _, table := range clearTables {
		qs = append(qs, deleteByRID(table))
	}
	for _, w := range bufferTables {
		for n := 1; n <= maxChunk; n *= 2 {
			qs = append(qs, insertSQL(w.into, w.width, n, w.dedupe))
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
