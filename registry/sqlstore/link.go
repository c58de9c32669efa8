package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

var (
	_ registry.Tx        = (*tx)(nil)
	_ registry.LinkStore = (*Store)(nil)
)

// linkCols are the columns of a link's state, shared by mdm_links and
// mdm_link_events, in the order of linkArgs and linkDest.
const linkCols = `golden_type, golden_id, source_type, source_id, match_result, link_source,
	score, grade, rule_version, evidence, eid_match, new_golden, created, updated`

const (
	selectLinks = `SELECT id, ` + linkCols + ` FROM mdm_links`
	upsertLink  = `INSERT INTO mdm_links (` + linkCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (golden_type, golden_id, source_type, source_id) DO UPDATE SET
		match_result = excluded.match_result, link_source = excluded.link_source, score = excluded.score,
		grade = excluded.grade, rule_version = excluded.rule_version, evidence = excluded.evidence,
		eid_match = excluded.eid_match, new_golden = excluded.new_golden, updated = excluded.updated
		RETURNING id, created`
	deleteLink = `DELETE FROM mdm_links WHERE golden_type = ? AND golden_id = ? AND source_type = ? AND source_id = ?
		RETURNING id`
	selectEvents = `SELECT id, op_id, link_id, ` + linkCols + `, actor, reason, at FROM mdm_link_events`
	insertEvent  = `INSERT INTO mdm_link_events (op_id, link_id, ` + linkCols + `, actor, reason, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	selectOps = `SELECT id, kind, actor, reason, at, "before", undoes, undone_by FROM mdm_ops`
	insertOp  = `INSERT INTO mdm_ops (kind, actor, reason, at, "before", undoes, undone_by)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`
	insertLinkID = `INSERT INTO mdm_links (id, ` + linkCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	updateLinkID = `UPDATE mdm_links SET match_result = ?, link_source = ?, score = ?, grade = ?, rule_version = ?,
		evidence = ?, eid_match = ?, new_golden = ?, updated = ? WHERE id = ?`
)

func linkArgs(l *registry.Link) []any {
	return []any{l.GoldenType, l.GoldenID, l.SourceType, l.SourceID, l.MatchResult, l.LinkSource,
		l.Score, l.Grade, l.RuleVersion, blob(l.Evidence), l.EIDMatch, l.NewGolden, l.Created.UnixMicro(), l.Updated.UnixMicro()}
}

// linkDest is where a row's linkCols are scanned; times arrive as unix
// microseconds and are set by setTimes.
func linkDest(l *registry.Link, created, updated *int64) []any {
	return []any{&l.GoldenType, &l.GoldenID, &l.SourceType, &l.SourceID, &l.MatchResult, &l.LinkSource,
		&l.Score, &l.Grade, &l.RuleVersion, &l.Evidence, &l.EIDMatch, &l.NewGolden, created, updated}
}

func setTimes(l *registry.Link, created, updated int64) {
	l.Created = time.UnixMicro(created).UTC()
	l.Updated = time.UnixMicro(updated).UTC()
	l.Evidence = unblob(l.Evidence)
}

// blob stores an empty byte slice as NULL: SQLite would keep an empty BLOB,
// and the domain says nil for "none".
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func unblob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func micros(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// linkWhere turns f's selection (not its order or paging) into a WHERE clause.
func linkWhere(f registry.LinkFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	for _, c := range []struct{ col, v string }{{"golden_type", f.GoldenType}, {"golden_id", f.GoldenID},
		{"source_type", f.SourceType}, {"source_id", f.SourceID}, {"link_source", f.LinkSource}} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	if len(f.MatchResult) > 0 {
		// With a record named, its id index finds the few links; "|| ''"
		// keeps the planner off the match_result index, which holds most
		// of the table under MATCH.
		if f.SourceID != "" || f.GoldenID != "" {
			add("match_result || '' IN ?", f.MatchResult)
		} else {
			add("match_result IN ?", f.MatchResult)
		}
	}
	if f.MinScore != 0 {
		add("score >= ?", f.MinScore)
	}
	if f.MaxScore != 0 {
		add("score <= ?", f.MaxScore)
	}
	if !f.CreatedBefore.IsZero() {
		add("created < ?", f.CreatedBefore.UnixMicro())
	}
	if f.NewGolden != nil {
		add("new_golden = ?", *f.NewGolden)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func scanLinks(q *gorm.DB) ([]*registry.Link, error) {
	rs, err := q.Rows()
	if err != nil {
		return nil, err
	}
	return scanLinkRows(rs)
}

func scanLinkRows(rs *sql.Rows) ([]*registry.Link, error) {
	defer rs.Close()
	var out []*registry.Link
	for rs.Next() {
		l := &registry.Link{}
		var created, updated int64
		if err := rs.Scan(append([]any{&l.ID}, linkDest(l, &created, &updated)...)...); err != nil {
			return nil, err
		}
		setTimes(l, created, updated)
		out = append(out, l)
	}
	return out, rs.Err()
}

// The link tables are written directly, not buffered like index rows, so
// the link methods need no flush.

// PutLink inserts l or replaces the link of the same pair, keeping its
// Created; zero times become op.At. It sets l.ID, l.Created and l.Updated
// and appends an event for op.
func (t *tx) PutLink(ctx context.Context, l *registry.Link, op *registry.Op) error {
	if op == nil {
		return errors.New("PutLink: nil op")
	}
	if l.Created.IsZero() {
		l.Created = op.At
	}
	if l.Updated.IsZero() {
		l.Updated = op.At
	}
	l.Updated = micros(l.Updated)
	if !t.conn.pg {
		if done, err := t.putKnownLink(ctx, l); done || err != nil {
			if err != nil {
				return err
			}
			t.links.cachePut(l)
			return t.addEvent(ctx, l, op)
		}
	}
	var created int64
	st, err := t.conn.prepared(ctx, upsertLink)
	if err != nil {
		return err
	}
	if err := st.QueryRowContext(ctx, linkArgs(l)...).Scan(&l.ID, &created); err != nil {
		return err
	}
	l.Created = time.UnixMicro(created).UTC()
	t.links.cachePut(l)
	return t.addEvent(ctx, l, op)
}

// putKnownLink writes l without RETURNING when the cache knows whether
// its pair has a link (SQLite): an UPDATE of that link keeping its id and
// Created, or an INSERT with a new id. done is false when the cache does
// not know.
func (t *tx) putKnownLink(ctx context.Context, l *registry.Link) (done bool, err error) {
	set, loaded := t.links.bySource[l.Source()]
	if !loaded {
		if set, loaded = t.links.byGolden[l.Golden()]; !loaded {
			return false, nil
		}
	}
	for _, x := range set {
		if keyOfLink(x) == keyOfLink(l) {
			l.ID, l.Created = x.ID, x.Created
			return true, t.conn.execPrepared(ctx, updateLinkID, l.MatchResult, l.LinkSource, l.Score, l.Grade, l.RuleVersion,
				blob(l.Evidence), l.EIDMatch, l.NewGolden, l.Updated.UnixMicro(), l.ID)
		}
	}
	id, err := t.conn.newID(ctx, "mdm_links")
	if err != nil {
		return true, err
	}
	l.ID, l.Created = id, micros(l.Created)
	return true, t.conn.execPrepared(ctx, insertLinkID, append([]any{id}, linkArgs(l)...)...)
}

// DeleteLink removes the link of l's pair, if there is one, and appends an
// event with an empty MatchResult either way.
func (t *tx) DeleteLink(ctx context.Context, l *registry.Link, op *registry.Op) error {
	if op == nil {
		return errors.New("DeleteLink: nil op")
	}
	rs, err := t.conn.query(ctx, deleteLink, l.GoldenType, l.GoldenID, l.SourceType, l.SourceID)
	if err != nil {
		return err
	}
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return err
	}
	gone := &registry.Link{GoldenType: l.GoldenType, GoldenID: l.GoldenID, SourceType: l.SourceType, SourceID: l.SourceID,
		Created: op.At, Updated: op.At}
	if len(ids) > 0 {
		gone.ID = ids[0]
	}
	t.links.cacheDelete(l)
	return t.addEvent(ctx, gone, op)
}

func (t *tx) addEvent(ctx context.Context, l *registry.Link, op *registry.Op) error {
	args := append([]any{op.ID, l.ID}, linkArgs(l)...)
	args = append(args, op.Actor, op.Reason, op.At.UnixMicro())
	if !t.conn.pg {
		t.buf.linkEvents = append(t.buf.linkEvents, args...) // written at flush
		return nil
	}
	return t.conn.execPrepared(ctx, insertEvent, args...)
}

// AddOp stores op and sets op.ID.
func (t *tx) AddOp(ctx context.Context, op *registry.Op) error {
	if !t.conn.pg {
		id, err := t.conn.newID(ctx, "mdm_ops")
		if err != nil {
			return err
		}
		op.ID = id
		// Written at flush; an undo reading ops flushes first.
		t.buf.ops = append(t.buf.ops, op.ID, op.Kind, op.Actor, op.Reason, op.At.UnixMicro(), blob(op.Before), op.Undoes, op.UndoneBy)
		return nil
	}
	st, err := t.conn.prepared(ctx, insertOp)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, op.Kind, op.Actor, op.Reason, op.At.UnixMicro(), blob(op.Before), op.Undoes, op.UndoneBy).Scan(&op.ID)
}

// UndoOp records that op id was undone by op by; an op is undone once.
func (t *tx) UndoOp(ctx context.Context, id, by int64) error {
	if by == 0 {
		return errors.New("UndoOp: no undoing op")
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	var ids []int64
	err := t.db.WithContext(ctx).Raw(`UPDATE mdm_ops SET undone_by = ? WHERE id = ? AND undone_by = 0 RETURNING id`, by, id).
		Scan(&ids).Error
	if err != nil || len(ids) > 0 {
		return err
	}
	op, err := t.Op(ctx, id)
	if err != nil {
		return err
	}
	return registry.Errorf(registry.EConflict, "operation %d was already undone by operation %d", id, op.UndoneBy)
}

// Op reads one op, locking its row on PostgreSQL until the transaction ends
// (SQLite's single writer holds everything already).
func (t *tx) Op(ctx context.Context, id int64) (*registry.Op, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	q := selectOps + ` WHERE id = ?`
	if t.conn.pg {
		q += ` FOR UPDATE`
	}
	ops, err := scanOps(t.db.WithContext(ctx).Raw(q, id))
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "operation %d is not known", id)
	}
	return ops[0], nil
}

func scanOps(q *gorm.DB) ([]*registry.Op, error) {
	rs, err := q.Rows()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*registry.Op
	for rs.Next() {
		op := &registry.Op{}
		var at int64
		if err := rs.Scan(&op.ID, &op.Kind, &op.Actor, &op.Reason, &at, &op.Before, &op.Undoes, &op.UndoneBy); err != nil {
			return nil, err
		}
		op.At = time.UnixMicro(at).UTC()
		op.Before = unblob(op.Before)
		out = append(out, op)
	}
	return out, rs.Err()
}

// QueryLinks returns one page of the links f selects and their number:
// best score first with SortByScore, newest first otherwise.
func (s *Store) QueryLinks(ctx context.Context, f registry.LinkFilter) (*registry.LinkPage, error) {
	db := s.read.WithContext(ctx)
	where, args := linkWhere(f)
	page := &registry.LinkPage{}
	if err := db.Raw(`SELECT COUNT(*) FROM mdm_links`+where, args...).Scan(&page.Total).Error; err != nil {
		return nil, err
	}
	offset := max(f.Offset, 0)
	if page.Total <= offset {
		return page, nil
	}
	order := ` ORDER BY created DESC, id DESC`
	if f.SortByScore {
		order = ` ORDER BY score DESC, id`
	}
	limit := int64(math.MaxInt64) // both dialects take it; neither takes "no limit" the same way
	if f.Count > 0 {
		limit = int64(f.Count)
	}
	var err error
	page.Links, err = scanLinks(db.Raw(selectLinks+where+order+` LIMIT ? OFFSET ?`, append(args, limit, offset)...))
	return page, err
}

// LinkHistory returns the events of links whose golden record is one of
// goldenIDs or whose source record is one of sourceIDs, oldest first; none
// when both lists are empty. The lists are read historyChunk ids a query:
// a re-match asks for the history of every record of a new golden record,
// 60,000 ids at 100,000 records, more than a statement may bind ("too many
// SQL variables" on SQLite past 32,766, PostgreSQL past 65,535).
func (s *Store) LinkHistory(ctx context.Context, goldenIDs, sourceIDs []string) ([]*registry.LinkEvent, error) {
	var out []*registry.LinkEvent
	seen := map[int64]bool{} // an event may match both lists
	for _, by := range []struct {
		col string
		ids []string
	}{{"golden_id", goldenIDs}, {"source_id", sourceIDs}} {
		for start := 0; start < len(by.ids); start += historyChunk {
			events, err := s.linkEvents(ctx, by.col, by.ids[start:min(start+historyChunk, len(by.ids))])
			if err != nil {
				return nil, err
			}
			for _, e := range events {
				if !seen[e.ID] {
					seen[e.ID] = true
					out = append(out, e)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b *registry.LinkEvent) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// historyChunk is how many ids one LinkHistory query binds.
const historyChunk = 5000

// linkEvents returns the events whose column col (golden_id or source_id)
// is one of ids.
func (s *Store) linkEvents(ctx context.Context, col string, ids []string) ([]*registry.LinkEvent, error) {
	rs, err := s.read.WithContext(ctx).Raw(selectEvents+" WHERE "+col+" IN ?", ids).Rows()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*registry.LinkEvent
	for rs.Next() {
		e := &registry.LinkEvent{}
		var created, updated, at int64
		dest := append([]any{&e.ID, &e.OpID, &e.Link.ID}, linkDest(&e.Link, &created, &updated)...)
		if err := rs.Scan(append(dest, &e.Actor, &e.Reason, &at)...); err != nil {
			return nil, err
		}
		setTimes(&e.Link, created, updated)
		e.At = time.UnixMicro(at).UTC()
		out = append(out, e)
	}
	return out, rs.Err()
}

// Ops returns the ops with the given ids that exist, by id.
func (s *Store) Ops(ctx context.Context, ids []int64) ([]*registry.Op, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return scanOps(s.read.WithContext(ctx).Raw(selectOps+` WHERE id IN ? ORDER BY id`, ids))
}

type reviewAge struct {
	name  string
	under time.Duration // 0 for the last, unbounded bucket
}

// reviewAges are the age buckets of open review items, youngest first,
// each with its upper bound.
var reviewAges = []reviewAge{{"<1d", 24 * time.Hour}, {"1-7d", 7 * 24 * time.Hour}, {"7-30d", 30 * 24 * time.Hour}, {">30d", 0}}

// ReviewCounts counts the open review items (POSSIBLE_MATCH and
// POSSIBLE_DUPLICATE links) by source type, match result and age at now,
// in that order.
func (s *Store) ReviewCounts(ctx context.Context, now time.Time) ([]registry.ReviewCount, error) {
	var sb strings.Builder
	var args []any
	sb.WriteString(`SELECT source_type, match_result, CASE`)
	for _, a := range reviewAges[:len(reviewAges)-1] {
		sb.WriteString(` WHEN created > ? THEN '` + a.name + `'`)
		args = append(args, now.Add(-a.under).UnixMicro())
	}
	sb.WriteString(` ELSE '` + reviewAges[len(reviewAges)-1].name + `' END AS age, COUNT(*) AS items
		FROM mdm_links WHERE match_result IN ? GROUP BY 1, 2, 3`)
	args = append(args, []string{registry.MatchResultPossible, registry.MatchResultPossibleDuplicate})
	var out []registry.ReviewCount
	if err := s.read.WithContext(ctx).Raw(sb.String(), args...).Scan(&out).Error; err != nil {
		return nil, err
	}
	rank := func(age string) int {
		return slices.IndexFunc(reviewAges, func(a reviewAge) bool { return a.name == age })
	}
	slices.SortFunc(out, func(a, b registry.ReviewCount) int {
		return cmp.Or(cmp.Compare(a.SourceType, b.SourceType), cmp.Compare(a.MatchResult, b.MatchResult),
			cmp.Compare(rank(a.Age), rank(b.Age)))
	})
	return out, nil
}
