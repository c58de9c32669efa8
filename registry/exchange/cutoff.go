package exchange

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idem/registry/dbclock"
)

// A subscription receives the changes committed after it was made. The
// cutoff compares no clocks: instances sharing a PostgreSQL database may
// disagree by minutes, and a write's time (its instance's clock) against
// a subscription's creation time (another instance's) would drop or add
// the changes within the skew. Instead, making a subscription takes the
// dispatch lock (so no dispatch runs meanwhile), numbers it one above
// every epoch in use, and stamps the outbox rows waiting undispatched
// that carry no epoch yet with that number. A row then waiting was
// committed before the subscription and has an epoch at most its own; a
// row committed later is stamped by a later subscription or not at all.
// So a subscription takes exactly the rows with epoch 0 or above its own.

// stampEpoch gives row (a subscription about to be inserted in tx) its
// epoch and stamps the outbox rows waiting now.
func (s *Service) stampEpoch(tx *gorm.DB, row *subRow) error {
	if s.cfg.Postgres {
		if err := tx.Exec(`SELECT name FROM exchange_locks WHERE name = 'dispatch' FOR UPDATE`).Error; err != nil {
			return err
		}
	}
	var top int64
	err := tx.Raw(`SELECT MAX(e) FROM (SELECT COALESCE(MAX(epoch), 0) AS e FROM subscriptions
		UNION ALL SELECT COALESCE(MAX(epoch), 0) FROM outbox) m`).Scan(&top).Error
	if err != nil {
		return err
	}
	row.Epoch = top + 1
	return tx.Exec(`UPDATE outbox SET epoch = ? WHERE epoch = 0`, row.Epoch).Error
}

// after reports whether an outbox row with epoch e came after the
// subscription sb was made.
func (sb *liveSub) after(e int64) bool { return e == 0 || e > sb.row.Epoch }

// releaseAll gives back the leases this instance still holds when its
// worker stops: a lease taken just as the worker was cancelled (its
// commit reached the database, its answer did not) would otherwise keep
// the other instances away until it expires.
func (s *Service) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.db.Write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE subscriptions SET lease_owner = '', lease_until = 0 WHERE lease_owner = ?`, s.cfg.Instance).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE endpoint_state SET lease_owner = '', lease_until = 0 WHERE lease_owner = ?`, s.cfg.Instance).Error
	})
}

// leaseNow is the time leases (and the retry and pull schedules next to
// them) are set and compared in: the database's clock on PostgreSQL, this
// instance's on SQLite (dbclock, which the bulk job leases use too).
func (s *Service) leaseNow(tx *gorm.DB) (int64, error) {
	return dbclock.Micros(tx, s.cfg.Postgres, s.cfg.Now)
}
