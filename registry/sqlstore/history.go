package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

const selectVersion = `SELECT r.pk, r.type, r.id, v.version, v.updated, v.deleted, v.body
	FROM resource_versions v JOIN resources r ON r.pk = v.rid`

// Read returns the current version of typ/id (deletion markers included).
func (s *Store) Read(ctx context.Context, typ, id string) (*registry.Resource, error) {
	return readCurrent(s.read.WithContext(ctx), typ, id)
}

// VRead returns one version of typ/id.
func (s *Store) VRead(ctx context.Context, typ, id string, version int64) (*registry.Resource, error) {
	return readVersion(s.read.WithContext(ctx), typ, id, version)
}

func readVersion(db *gorm.DB, typ, id string, version int64) (*registry.Resource, error) {
	rows, err := scanResources(db.Raw(selectVersion+` WHERE r.type = ? AND r.id = ? AND v.version = ?`, typ, id, version))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, registry.Errorf(registry.ENotFound, "%s/%s has no version %d", typ, id, version)
	}
	return rows[0].res, nil
}

// History returns versions newest first: of one resource (by version) or of
// a type (by time). Paging continues from the last version returned.
func (s *Store) History(ctx context.Context, q *registry.HistoryQuery) (*registry.HistoryResult, error) {
	db := s.read.WithContext(ctx)
	b := &builder{}
	if q.ID != "" {
		if _, err := readCurrent(db, q.Type, q.ID); err != nil {
			return nil, err
		}
		b.add("r.type = ? AND r.id = ?", q.Type, q.ID)
	} else {
		b.add("v.type = ?", q.Type)
	}
	if !q.Since.IsZero() {
		b.add("v.updated >= ?", q.Since.UnixMicro())
	}
	res := &registry.HistoryResult{}
	if err := db.Raw("SELECT COUNT(*) FROM resource_versions v JOIN resources r ON r.pk = v.rid WHERE "+b.sql(), b.args...).Scan(&res.Total).Error; err != nil {
		return nil, err
	}
	order := "v.updated DESC, v.rid DESC, v.version DESC"
	if q.Page != "" {
		c, err := decodeCursor(q.Page, 2)
		if err != nil {
			return nil, err
		}
		upd, ver := sortArg("_lastUpdated", c.Vals[0]), sortArg("_lastUpdated", c.Vals[1])
		b.add("(v.updated < ? OR (v.updated = ? AND (v.rid < ? OR (v.rid = ? AND v.version < ?))))", upd, upd, c.PK, c.PK, ver)
	}
	rows, err := scanResources(db.Raw(selectVersion+" WHERE "+b.sql()+" ORDER BY "+order+" LIMIT ?", append(b.args, q.Count+1)...))
	if err != nil {
		return nil, err
	}
	if len(rows) > q.Count {
		rows = rows[:q.Count]
		last := rows[len(rows)-1]
		res.Next = encodeCursor(cursor{PK: last.pk, Vals: []string{itoa(last.res.LastUpdated), itoa64(last.res.VersionID)}})
	}
	for _, r := range rows {
		res.Versions = append(res.Versions, r.res)
	}
	return res, nil
}

func itoa(t time.Time) string { return itoa64(t.UnixMicro()) }
