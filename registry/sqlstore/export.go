package sqlstore

import (
	"context"
	"time"

	"idem/registry"
)

// An export reads every resource of a type as it was at the export's
// transactionTime: the version current then is the head when the head is
// no newer (almost always), or else the newest version written by then.
// Pages follow the (type, id) unique index by key, never by OFFSET, so an
// export of millions costs the same per page at the end as at the start.

const snapshotFrom = ` FROM resources r JOIN resource_versions v ON v.rid = r.pk
	AND v.version = CASE WHEN r.updated <= ? THEN r.version
		ELSE (SELECT MAX(x.version) FROM resource_versions x WHERE x.rid = r.pk AND x.updated <= ?) END
	WHERE r.type = ? AND v.deleted = ? AND v.updated > ?`

func snapshotArgs(q registry.SnapshotQuery) []any {
	at := q.At.UnixMicro()
	since := int64(-1)
	if !q.Since.IsZero() {
		since = q.Since.UnixMicro()
	}
	return []any{at, at, q.Type, q.Deleted, since}
}

// Snapshot returns one page of resources of q.Type as they were at q.At.
func (s *Store) Snapshot(ctx context.Context, q registry.SnapshotQuery) ([]*registry.Resource, error) {
	args := append(snapshotArgs(q), q.After, q.Count)
	rows, err := scanResources(s.read.WithContext(ctx).Raw(`SELECT r.pk, r.type, r.id, v.version, v.updated, v.deleted, v.body`+
		snapshotFrom+` AND r.id > ? ORDER BY r.id LIMIT ?`, args...))
	if err != nil {
		return nil, registry.Internal(err)
	}
	out := make([]*registry.Resource, len(rows))
	for i, r := range rows {
		out[i] = r.res
	}
	return out, nil
}

// CountSnapshot counts the resources Snapshot pages through. A record
// whose head is no newer than the snapshot is counted by its head alone
// (the (type, updated) index, no version read); only those written since
// (few: an export counts right after its kick-off) take snapshotFrom's
// search for the version current then.
func (s *Store) CountSnapshot(ctx context.Context, q registry.SnapshotQuery) (int, error) {
	args := snapshotArgs(q) // at, at, type, deleted, since
	var n int
	err := s.read.WithContext(ctx).Raw(`SELECT
		(SELECT COUNT(*) FROM resources WHERE type = ? AND updated <= ? AND updated > ? AND deleted = ?) +
		(SELECT COUNT(*)`+snapshotFrom+` AND r.updated > ?)`,
		append([]any{q.Type, args[0], args[4], q.Deleted}, append(args, args[0])...)...).Scan(&n).Error
	if err != nil {
		return 0, registry.Internal(err)
	}
	return n, nil
}

// Crosswalk returns source records of typ that existed at at and exist
// now, one row each, with their meta.source and the golden record of
// their MATCH link (links are not versioned: the crosswalk is the
// identity translation as it stands when it is read).
func (s *Store) Crosswalk(ctx context.Context, typ string, at time.Time, after string, n int) ([]registry.CrosswalkRow, error) {
	rows, err := s.read.WithContext(ctx).Raw(`SELECT r.id,
		COALESCE((SELECT t.code FROM idx_token t WHERE t.rid = r.pk AND t.param = ? LIMIT 1), ''),
		COALESCE((SELECT l.golden_type || '/' || l.golden_id FROM mdm_links l
			WHERE l.source_type = r.type AND l.source_id = r.id AND l.match_result || '' = ? LIMIT 1), '')`+
		crosswalkFrom+` AND r.id > ? ORDER BY r.id LIMIT ?`,
		append([]any{registry.SourceParamCode(typ), registry.MatchResultMatch}, append(crosswalkArgs(typ, at), after, n)...)...).Rows()
	if err != nil {
		return nil, registry.Internal(err)
	}
	defer rows.Close()
	var out []registry.CrosswalkRow
	for rows.Next() {
		c := registry.CrosswalkRow{Type: typ}
		if err := rows.Scan(&c.ID, &c.Source, &c.Golden); err != nil {
			return nil, registry.Internal(err)
		}
		out = append(out, c)
	}
	return out, internalErr(rows.Err())
}

// crosswalkFrom selects the source records of a type (crosswalkArgs) that
// existed at the export's time and exist now: a record whose head is no
// newer did, without reading its first version (CASE: SQLite and
// PostgreSQL evaluate the branch taken only). Their meta.source and link
// are scalar subqueries, so a record is one row and the count needs
// neither. The link is found by its source (mdm_links_source): the match
// result joined to an empty string keeps SQLite's planner off the review
// queue's index (match_result, created), which it chose otherwise and
// then scanned every MATCH link for each row — a page of 2,000 rows took
// 68 s beside 100,000 links.
const crosswalkFrom = `
		FROM resources r
		WHERE r.type = ? AND r.deleted = ? AND CASE WHEN r.updated <= ? THEN TRUE
			ELSE EXISTS (SELECT 1 FROM resource_versions x WHERE x.rid = r.pk AND x.version = 1 AND x.updated <= ?) END`

func crosswalkArgs(typ string, at time.Time) []any {
	return []any{typ, false, at.UnixMicro(), at.UnixMicro()}
}

// CountCrosswalk counts the rows Crosswalk pages through, in one query.
func (s *Store) CountCrosswalk(ctx context.Context, typ string, at time.Time) (int, error) {
	var n int
	if err := s.read.WithContext(ctx).Raw(`SELECT COUNT(*)`+crosswalkFrom, crosswalkArgs(typ, at)...).Scan(&n).Error; err != nil {
		return 0, registry.Internal(err)
	}
	return n, nil
}
