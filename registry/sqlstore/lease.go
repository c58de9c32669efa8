package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/dbclock"
)

var _ registry.LeaseStore = (*Store)(nil)

// leaseMigration keeps named leases (registry.LeaseStore).
var leaseMigration = migration{
	sqlite:   []string{`CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL)`},
	postgres: []string{`CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until BIGINT NOT NULL)`},
}

// TryLease takes or renews the lease name for holder: one upsert whose
// update applies only when the lease is holder's or expired, so of two
// instances asking at once one wins. Times are the database's on
// PostgreSQL (dbclock), as the job leases' are.
func (s *Store) TryLease(ctx context.Context, name, holder string, local time.Time, d time.Duration) (bool, error) {
	var won bool
	err := s.WriteDB(ctx, func(db *gorm.DB) error {
		now, err := dbclock.Micros(db, s.postgres, func() time.Time { return local })
		if err != nil {
			return err
		}
		res := db.Exec(`INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE leases.holder = excluded.holder OR leases.until < ?`, name, holder, now+d.Microseconds(), now)
		won = res.RowsAffected == 1
		return res.Error
	})
	return won, err
}

// ReleaseLease frees name if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.WriteDB(ctx, func(db *gorm.DB) error {
		return db.Exec(`DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder).Error
	})
}
