package exchange

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

// TopicURLs lists the canonical URLs of the topics offered.
func (s *Service) TopicURLs() []string {
	out := make([]string, len(Topics))
	for i, t := range Topics {
		out[i] = t.Canonical
	}
	return out
}

// Deliveries lists every subscription's delivery state for admins: its
// endpoint, status, events numbered and delivered, pending count, failures
// and last error.
func (s *Service) Deliveries(ctx context.Context) ([]map[string]any, error) {
	states, err := s.SubscriptionStates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(states))
	for _, r := range states {
		m := map[string]any{"id": r.ID, "owner": r.Owner, "topic": r.Topic, "endpoint": r.Endpoint, "status": r.Status,
			"content": r.Content, "events": r.Events, "delivered": r.Delivered, "pending": r.Pending(),
			"errors": r.Errors, "lastError": r.LastError, "pruned": r.Pruned}
		for k, t := range map[string]time.Time{"lastErrorAt": r.LastErrorAt, "lastSent": r.LastSent, "nextAttempt": r.NextAttempt} {
			if !t.IsZero() {
				m[k] = registry.FormatInstant(t)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// Resend delivers subscription id's events again from event number from
// (admins), and retries at once when it is failing.
func (s *Service) Resend(ctx context.Context, id string, from int64) error {
	if !registry.ActorFrom(ctx).HasRole("admin") {
		return registry.Errorf(registry.EForbidden, "resending is for admins")
	}
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		var row subRow
		if err := s.owned(ctx, tx, id, &row); err != nil {
			return err
		}
		if from < 1 || from > row.EventsSinceStart+1 {
			return registry.Invalid(registry.EInvalid, "invalid", "from", "event number %d is not between 1 and %d", from, row.EventsSinceStart+1)
		}
		if from <= row.Pruned {
			return s.prunedError(id, row.Pruned)
		}
		if err := tx.Exec(`UPDATE sub_events SET sent = 0 WHERE sub_id = ? AND seq >= ?`, id, from).Error; err != nil {
			return err
		}
		// pruned < from: a prune on another instance since the read
		// would have removed events this resend is to send.
		res := tx.Exec(`UPDATE subscriptions SET delivered = ?, next_attempt = 0 WHERE id = ? AND pruned < ?`, min(row.Delivered, from-1), id, from)
		if res.Error == nil && res.RowsAffected == 0 {
			return registry.Errorf(registry.EConflict, "events of Subscription/%s were pruned meanwhile: try again", id)
		}
		return res.Error
	})
	if err == nil {
		s.Wake()
	}
	return err
}
