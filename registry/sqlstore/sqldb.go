package sqlstore

import (
	"context"

	"gorm.io/gorm"

	"idem/registry"
)

// ReadDB returns the pool for queries of packages that keep tables of their
// own in idem's database (policy). On SQLite it is opened read-only
// (mode=ro, _query_only): writes must go through WriteDB.
func (s *Store) ReadDB() *gorm.DB { return s.read }

// WriteDB runs fn in a write transaction of the store: on SQLite inside the
// single writer's group commit (in its own savepoint), on PostgreSQL in a
// transaction retried when it loses a race, so fn may run more than once.
// Rows the registry buffered in the same transaction are flushed first.
func (s *Store) WriteDB(ctx context.Context, fn func(db *gorm.DB) error) error {
	return s.Write(ctx, func(rtx registry.Tx) error {
		t := rtx.(*tx)
		if err := t.flush(ctx); err != nil {
			return err
		}
		return fn(t.db.WithContext(ctx))
	})
}

// ReadIn reads version v of typ/id (0: the current one) in db, a
// transaction WriteDB gave its fn, as that transaction sees it.
func (s *Store) ReadIn(db *gorm.DB, typ, id string, v int64) (*registry.Resource, error) {
	if v > 0 {
		return readVersion(db, typ, id, v)
	}
	return readCurrent(db, typ, id)
}
