package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

var _ registry.HeldStore = (*Store)(nil)

// heldRow is a row of held_writes.
type heldRow struct {
	ID         string `gorm:"primaryKey"`
	Kind       string
	Status     string
	Client     string
	Actor      []byte
	Action     string
	Type       string
	ResourceID string
	IfMatch    int64
	Body       []byte
	Waiting    []byte
	Reason     string
	Result     string
	DecidedBy  string
	Tries      int64
	NextTry    int64
	Created    int64
	Updated    int64
}

func (heldRow) TableName() string { return "held_writes" }

// PutHeld inserts h or replaces the held write with its id.
func (s *Store) PutHeld(ctx context.Context, h *registry.Held) error {
	actor, err := json.Marshal(h.Actor)
	if err != nil {
		return registry.Internal(err)
	}
	waiting, err := json.Marshal(h.Waiting)
	if err != nil {
		return registry.Internal(err)
	}
	row := heldRow{ID: h.ID, Kind: h.Kind, Status: h.Status, Client: h.Actor.Name, Actor: actor, Action: h.Action,
		Type: h.Type, ResourceID: h.ResourceID, IfMatch: h.IfMatch, Body: h.Body, Waiting: waiting, Reason: h.Reason,
		Result: h.Result, DecidedBy: h.DecidedBy, Tries: int64(h.Tries), NextTry: heldMicros(h.NextTry),
		Created: heldMicros(h.Created), Updated: heldMicros(h.Updated)}
	err = s.WriteDB(ctx, func(db *gorm.DB) error { return db.Save(&row).Error })
	if err != nil {
		return registry.Internal(err)
	}
	return nil
}

// Held returns held write id, or an ENotFound error.
func (s *Store) Held(ctx context.Context, id string) (*registry.Held, error) {
	var row heldRow
	err := s.read.WithContext(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, registry.Errorf(registry.ENotFound, "no held write %s", id)
	}
	if err != nil {
		return nil, registry.Internal(err)
	}
	return row.held()
}

// HeldList returns the held writes f selects, oldest first.
func (s *Store) HeldList(ctx context.Context, f registry.HeldFilter) ([]*registry.Held, error) {
	q := s.read.WithContext(ctx).Order("created, id")
	for col, v := range map[string]string{"kind": f.Kind, "status": f.Status, "client": f.Client, "type": f.Type} {
		if v != "" {
			q = q.Where(col+" = ?", v)
		}
	}
	if !f.DueBy.IsZero() {
		q = q.Where("next_try <= ?", heldMicros(f.DueBy))
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var rows []heldRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, registry.Internal(err)
	}
	out := make([]*registry.Held, 0, len(rows))
	for i := range rows {
		h, err := rows[i].held()
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func (r *heldRow) held() (*registry.Held, error) {
	h := &registry.Held{ID: r.ID, Kind: r.Kind, Status: r.Status, Action: r.Action, Type: r.Type, ResourceID: r.ResourceID,
		IfMatch: r.IfMatch, Body: r.Body, Reason: r.Reason, Result: r.Result, DecidedBy: r.DecidedBy, Tries: int(r.Tries),
		NextTry: heldTime(r.NextTry), Created: heldTime(r.Created), Updated: heldTime(r.Updated)}
	if err := json.Unmarshal(r.Actor, &h.Actor); err != nil {
		return nil, registry.Internal(err)
	}
	if len(r.Waiting) > 0 {
		if err := json.Unmarshal(r.Waiting, &h.Waiting); err != nil {
			return nil, registry.Internal(err)
		}
	}
	return h, nil
}

func heldMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func heldTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
