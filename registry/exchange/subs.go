package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/fhir"
)

// subRow is a row of the subscriptions table.
type subRow struct {
	ID               string `gorm:"primaryKey"`
	Owner            string
	Body             []byte
	Topic            string
	Status           string
	Endpoint         string
	Content          string
	Heartbeat        int64
	MaxCount         int64
	EventsSinceStart int64
	Delivered        int64
	Errors           int64
	LastError        string
	LastErrorAt      int64
	LastSent         int64
	NextAttempt      int64
	LeaseOwner       string
	LeaseUntil       int64
	Pruned           int64  // events numbered up to this were removed (retention.go)
	Headers          string // the channel headers, sealed (secrets.go)
	Epoch            int64  // events waiting when it was made carry an epoch up to this (cutoff.go)
	Created          int64
	Updated          int64
}

func (subRow) TableName() string { return "subscriptions" }

// CreateSubscription stores a new Subscription for the acting client (or
// an admin). mayRead reports whether the actor may read records of a
// type: a subscription is a standing read.
func (s *Service) CreateSubscription(ctx context.Context, res map[string]any, mayRead func(typ string) bool) (map[string]any, error) {
	a := registry.ActorFrom(ctx)
	if a.Kind != "client" && !a.HasRole("admin") {
		return nil, registry.Errorf(registry.EForbidden, "only a client system or an admin may subscribe")
	}
	p, err := s.parse(res, mayRead)
	if err != nil {
		return nil, err
	}
	now := s.now()
	row := &subRow{ID: uuid.NewString(), Owner: a.Name, Created: now}
	if row.Headers, err = s.sealHeaders(row.ID, p.headers, ""); err != nil {
		return nil, err
	}
	s.fill(row, res, p, now)
	err = s.db.Write(ctx, func(tx *gorm.DB) error {
		if err := s.stampEpoch(tx, row); err != nil {
			return err
		}
		return tx.Create(row).Error
	})
	if err != nil {
		return nil, registry.Internal(err)
	}
	s.Wake()
	return s.render(row)
}

// UpdateSubscription replaces subscription id; its event numbering goes on.
func (s *Service) UpdateSubscription(ctx context.Context, id string, res map[string]any, mayRead func(typ string) bool) (map[string]any, error) {
	p, err := s.parse(res, mayRead)
	if err != nil {
		return nil, err
	}
	var row subRow
	err = s.db.Write(ctx, func(tx *gorm.DB) error {
		if err := s.owned(ctx, tx, id, &row); err != nil {
			return err
		}
		var err error
		if row.Headers, err = s.sealHeaders(row.ID, p.headers, row.Headers); err != nil {
			return err
		}
		s.fill(&row, res, p, s.now())
		return tx.Select("body", "topic", "status", "endpoint", "content", "heartbeat", "max_count", "updated", "headers").Updates(&row).Error
	})
	if err != nil {
		return nil, err
	}
	s.Wake()
	return s.render(&row)
}

// ReadSubscription returns subscription id with its current status.
func (s *Service) ReadSubscription(ctx context.Context, id string) (map[string]any, error) {
	var row subRow
	if err := s.owned(ctx, s.db.Read().WithContext(ctx), id, &row); err != nil {
		return nil, err
	}
	return s.render(&row)
}

// ListSubscriptions returns the subscriptions the actor may see (an
// admin: all), newest first, at most limit.
func (s *Service) ListSubscriptions(ctx context.Context, limit int) ([]map[string]any, error) {
	a := registry.ActorFrom(ctx)
	q := s.db.Read().WithContext(ctx).Order("created DESC").Limit(limit)
	if !a.HasRole("admin") {
		q = q.Where("owner = ?", a.Name)
	}
	var rows []subRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, registry.Internal(err)
	}
	out := make([]map[string]any, 0, len(rows))
	for i := range rows {
		m, err := s.render(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// DeleteSubscription removes subscription id and its undelivered events.
func (s *Service) DeleteSubscription(ctx context.Context, id string) error {
	return s.db.Write(ctx, func(tx *gorm.DB) error {
		var row subRow
		if err := s.owned(ctx, tx, id, &row); err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM sub_events WHERE sub_id = ?`, id).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM subscriptions WHERE id = ?`, id).Error
	})
}

// owned loads subscription id into row when the actor may manage it;
// another client's subscription is not found, so ids do not leak.
func (s *Service) owned(ctx context.Context, db *gorm.DB, id string, row *subRow) error {
	err := db.Where("id = ?", id).Take(row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !mayManage(registry.ActorFrom(ctx), row.Owner)) {
		return registry.Errorf(registry.ENotFound, "Subscription/%s is not known", id)
	}
	if err != nil {
		return registry.Internal(err)
	}
	return nil
}

func (s *Service) parse(res map[string]any, mayRead func(string) bool) (*sub, error) {
	p, err := parseSub(res, s.cfg.Allow.Check, int64(s.cfg.HeartbeatMin.Seconds()))
	if err != nil {
		return nil, err
	}
	if mayRead != nil && !mayRead(p.topic.Type) {
		return nil, registry.Errorf(registry.EForbidden, "you may not read %s records, so you may not subscribe to them", p.topic.Type)
	}
	return p, nil
}

// fill sets row's columns from the parsed subscription; a changed
// subscription asks for a new handshake.
func (s *Service) fill(row *subRow, res map[string]any, p *sub, now int64) {
	delete(res, "meta")
	delete(res, "text")
	res["id"] = row.ID
	redactHeaders(res) // the values are sealed apart (row.Headers)
	row.Body = fhir.MarshalResource(res)
	row.Topic, row.Endpoint, row.Content = p.topic.Canonical, p.endpoint, p.content
	row.Heartbeat, row.MaxCount, row.Status, row.Updated = p.heartbeat, p.maxCount, p.status, now
	if row.Status != StatusOff {
		row.Status = StatusRequested
	}
}

// render returns the stored Subscription with its live status, and the
// channel headers redacted.
func (s *Service) render(row *subRow) (map[string]any, error) {
	var res map[string]any
	if err := json.Unmarshal(row.Body, &res); err != nil {
		return nil, registry.Internal(err)
	}
	res["id"] = row.ID
	res["status"] = row.Status
	res["meta"] = map[string]any{"versionId": strconv.FormatInt(row.Updated, 10), "lastUpdated": registry.FormatInstant(timeOf(row.Updated)),
		"profile": []any{IG + "backport-subscription"}}
	if row.LastError != "" && row.Status == StatusError {
		res["error"] = row.LastError
	}
	redactHeaders(res)
	return res, nil
}
