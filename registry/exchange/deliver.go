package exchange

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"idem/registry/fhir"
)

// Why not River: River v0.51.2 (riversqlite) enqueues inside idem's
// transaction, but works its jobs on a connection of its own, and SQLite
// has one writer: beside idem's group-committing writer its job fetches
// timed out ("JobGetAvailable timed out after 10s") and it worked about 1
// job in 12 of those enqueued (README, "Subscriptions"). River also has no
// per-key ordering in its open-source edition, and a subscription's events
// must leave in order. So delivery is this small worker: a lease per
// subscription (with expiry; FOR UPDATE SKIP LOCKED on PostgreSQL), taken
// and released through the store's one writer.

// leaseBatch is how many subscriptions one instance takes per round.
const leaseBatch = 8

// Run dispatches the outbox and delivers notifications until ctx ends.
func (s *Service) Run(ctx context.Context) {
	if !s.cfg.Postgres {
		// One process owns a SQLite file: leases left by a killed
		// process are nobody's.
		s.db.Write(ctx, func(tx *gorm.DB) error {
			return tx.Exec(`UPDATE subscriptions SET lease_owner = '', lease_until = 0`).Error
		})
	}
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	defer s.releaseAll()
	for ctx.Err() == nil {
		n, err := s.dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("dispatching events", "err", err)
		}
		s.maybePrune(ctx)
		sent := s.deliverRound(ctx)
		pulled := s.pullRound(ctx)
		if n > 0 || sent || pulled {
			continue
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// deliverRound leases the subscriptions with work due and serves each in
// its own goroutine; it reports whether any had work.
func (s *Service) deliverRound(ctx context.Context) bool {
	subs, err := s.lease(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("leasing subscriptions", "err", err)
		}
		return false
	}
	var wg sync.WaitGroup
	for i := range subs {
		wg.Add(1)
		go func(r *subRow) {
			defer wg.Done()
			s.serve(ctx, r)
		}(&subs[i])
	}
	wg.Wait()
	return len(subs) > 0
}

func (s *Service) leaseFor() time.Duration { return 3 * s.cfg.Timeout }

// lease takes up to leaseBatch subscriptions that have a handshake, events
// or a heartbeat due and no live lease.
func (s *Service) lease(ctx context.Context) ([]subRow, error) {
	lock := ""
	if s.cfg.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := `UPDATE subscriptions SET lease_owner = ?, lease_until = ? WHERE id IN (
		SELECT id FROM subscriptions WHERE status <> 'off' AND next_attempt <= ? AND lease_until < ?
		AND (last_sent = 0 OR events_since_start > delivered OR (heartbeat > 0 AND last_sent + heartbeat * 1000000 <= ?))
		ORDER BY next_attempt LIMIT ?` + lock + `) RETURNING *`
	var rows []subRow
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		now, err := s.leaseNow(tx)
		if err != nil {
			return err
		}
		return tx.Raw(q, s.cfg.Instance, now+s.leaseFor().Microseconds(), now, now, now, leaseBatch).Scan(&rows).Error
	})
	return rows, err
}

// serve carries out the work of one leased subscription: the handshake if
// none succeeded yet, then its pending events in order, batch by batch, or
// a heartbeat. A failure records the error and schedules a retry.
func (s *Service) serve(ctx context.Context, r *subRow) {
	deadline := time.Now().Add(s.leaseFor() / 2)
	// Leased with a handshake done and nothing pending: lease() found its
	// heartbeat due (by the clock leases use, not this instance's).
	heartbeatDue := r.Heartbeat > 0 && r.LastSent != 0 && r.EventsSinceStart == r.Delivered
	if r.LastSent == 0 {
		if err := s.post(ctx, r, s.statusBundle(r, "handshake", nil)); err != nil {
			s.fail(ctx, r, fmt.Errorf("handshake: %w", err))
			return
		}
		if err := s.succeed(ctx, r, r.Delivered, time.Now().Before(deadline)); err != nil {
			return
		}
	}
	for r.EventsSinceStart > r.Delivered && time.Now().Before(deadline) && ctx.Err() == nil {
		evs, err := s.pending(ctx, r)
		if err != nil || len(evs) == 0 {
			s.release(ctx, r)
			return
		}
		b, err := s.eventBundle(ctx, r, evs)
		if err == nil {
			err = s.post(ctx, r, b)
		}
		if err != nil {
			s.fail(ctx, r, err)
			return
		}
		last := evs[len(evs)-1].Seq
		more := r.EventsSinceStart > last && time.Now().Before(deadline)
		if err := s.succeed(ctx, r, last, more); err != nil {
			return
		}
		r.Delivered = last
	}
	if heartbeatDue {
		if err := s.post(ctx, r, s.statusBundle(r, "heartbeat", nil)); err != nil {
			s.fail(ctx, r, fmt.Errorf("heartbeat: %w", err))
			return
		}
		s.succeed(ctx, r, r.Delivered, false)
		return
	}
	s.release(ctx, r)
}

// eventRow is a row of sub_events.
type eventRow struct {
	SubID    string
	Seq      int64
	Kind     string
	Type     string
	ResID    string
	Version  int64
	Source   string
	At       int64
	Sent     int64
	Attempts int64
}

func (eventRow) TableName() string { return "sub_events" }

// pending reads the next events of r to send, in order.
func (s *Service) pending(ctx context.Context, r *subRow) ([]eventRow, error) {
	n := int64(s.cfg.Batch)
	if r.MaxCount > 0 && r.MaxCount < n {
		n = r.MaxCount
	}
	var evs []eventRow
	err := s.db.Read().WithContext(ctx).Where("sub_id = ? AND seq > ?", r.ID, r.Delivered).Order("seq").Limit(int(n)).Find(&evs).Error
	return evs, err
}

// post sends one notification Bundle to the subscription's endpoint.
func (s *Service) post(ctx context.Context, r *subRow, bundle map[string]any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Endpoint, bytes.NewReader(fhir.MarshalResource(bundle)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	headers, err := s.headersOf(r)
	if err != nil {
		return err
	}
	for _, h := range headers {
		name, val, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(val))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return nil
}

// succeed records delivery up to seq; keep holds the lease for more.
func (s *Service) succeed(ctx context.Context, r *subRow, seq int64, keep bool) error {
	return s.db.Write(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
		now, err := s.leaseNow(tx)
		if err != nil {
			return err
		}
		owner, until := "", int64(0)
		if keep {
			owner, until = s.cfg.Instance, now+s.leaseFor().Microseconds()
		}
		if err := tx.Exec(`UPDATE sub_events SET sent = ?, attempts = attempts + 1 WHERE sub_id = ? AND seq > ? AND seq <= ?`, now, r.ID, r.Delivered, seq).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE subscriptions SET delivered = ?, status = CASE WHEN status = 'off' THEN 'off' ELSE 'active' END,
			errors = 0, last_sent = ?, next_attempt = 0, lease_owner = ?, lease_until = ? WHERE id = ? AND lease_owner = ? AND delivered <= ?`,
			seq, now, owner, until, r.ID, s.cfg.Instance, seq).Error
	})
}

// fail records a failed attempt and schedules the next one with back-off;
// the subscription stays on (status error) and keeps its events.
func (s *Service) fail(ctx context.Context, r *subRow, cause error) {
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	s.db.Write(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
		now, err := s.leaseNow(tx)
		if err != nil {
			return err
		}
		next := now + s.backoff(r.Errors+1).Microseconds()
		tx.Exec(`UPDATE sub_events SET attempts = attempts + 1 WHERE sub_id = ? AND seq = ?`, r.ID, r.Delivered+1)
		return tx.Exec(`UPDATE subscriptions SET status = CASE WHEN status = 'off' THEN 'off' ELSE 'error' END, errors = errors + 1,
			last_error = ?, last_error_at = ?, next_attempt = ?, lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`,
			msg, now, next, r.ID, s.cfg.Instance).Error
	})
	s.log.Warn("delivery failed", "subscription", r.ID, "err", msg, "retry_in", s.backoff(r.Errors+1))
}

// release gives the lease back.
func (s *Service) release(ctx context.Context, r *subRow) {
	s.db.Write(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE subscriptions SET lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`, r.ID, s.cfg.Instance).Error
	})
}
