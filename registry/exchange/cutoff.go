package exchange

import "gorm.io/gorm"

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
