package exchange

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

// Event retention: a subscription's delivered events are kept for
// Config.Retention (IDEM_EVENT_RETENTION) after the change they report,
// for $events and resend, then pruned. Pruning removes a prefix of each
// subscription's numbers (never an event not yet delivered) and records
// how far it went in subscriptions.pruned, so numbering goes on unchanged
// and $events can say that an event was pruned rather than pretend it
// never was. Outbox rows are normally gone within a poll of their commit;
// one older than the retention means dispatching has failed that long,
// and it is dropped with a warning so the table cannot grow without bound.

// DefaultRetention is how long delivered events are kept without
// Config.Retention.
const DefaultRetention = 30 * 24 * time.Hour

// pruneGap is how often the worker prunes: a tenth of the retention,
// between Poll and 10 minutes.
func (s *Service) pruneGap() time.Duration {
	return min(max(s.cfg.Retention/10, s.cfg.Poll), 10*time.Minute)
}

// maybePrune prunes when pruneGap has passed since the last time.
func (s *Service) maybePrune(ctx context.Context) {
	if time.Since(s.pruned) < s.pruneGap() {
		return
	}
	s.pruned = time.Now()
	if err := s.Prune(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("pruning delivered events", "err", err)
	}
}

// Prune removes the delivered events older than the retention and
// outbox rows as old. Instances sharing a database may prune at once: the
// statements are idempotent.
func (s *Service) Prune(ctx context.Context) error {
	cutoff := s.cfg.Now().Add(-s.cfg.Retention).UnixMicro()
	var dropped int64
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		// The highest delivered number at or before the cutoff; every
		// number below it goes too, so what remains is a suffix.
		err := tx.Exec(`UPDATE subscriptions SET pruned = (SELECT MAX(e.seq) FROM sub_events e
			WHERE e.sub_id = subscriptions.id AND e.at < ? AND e.seq <= subscriptions.delivered)
			WHERE EXISTS (SELECT 1 FROM sub_events e WHERE e.sub_id = subscriptions.id AND e.at < ?
			AND e.seq <= subscriptions.delivered AND e.seq > subscriptions.pruned)`, cutoff, cutoff).Error
		if err != nil {
			return err
		}
		err = tx.Exec(`DELETE FROM sub_events WHERE seq <= (SELECT s.pruned FROM subscriptions s WHERE s.id = sub_events.sub_id)`).Error
		if err != nil {
			return err
		}
		res := tx.Exec(`DELETE FROM outbox WHERE at < ?`, cutoff)
		dropped = res.RowsAffected
		return res.Error
	})
	if dropped > 0 {
		s.log.Warn("outbox rows older than the event retention were dropped undispatched", "rows", dropped, "retention", s.cfg.Retention)
	}
	return err
}

// prunedError is the answer for events numbered up to pruned, which the
// retention removed.
func (s *Service) prunedError(id string, pruned int64) error {
	return registry.Errorf(registry.EGone, "events 1 to %d of Subscription/%s were removed after the event retention period (%s); the oldest kept is %d",
		pruned, id, s.cfg.Retention, pruned+1)
}
