package exchange

import (
	"context"
	"encoding/json"
	"strings"

	"gorm.io/gorm"

	"idem/registry"
)

// outboxRow is one event the write path emitted.
type outboxRow struct {
	ID      int64
	Kind    string
	Type    string
	ResID   string
	Version int64
	Source  string
	At      int64
	Epoch   int64 // cutoff.go
}

// dispatchBatch is the number of outbox rows fanned out per transaction.
const dispatchBatch = 1000

// dispatch fans the outbox out to the subscriptions whose topic and filters
// match each event, numbering each subscription's events in order, and
// removes the rows it handled — all in one transaction, so an event is
// numbered exactly once. On PostgreSQL a row lock on exchange_locks makes
// instances take turns. It returns the number of outbox rows handled.
func (s *Service) dispatch(ctx context.Context) (int, error) {
	n := 0
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		n = 0
		if s.cfg.Postgres {
			if err := tx.Exec(`SELECT name FROM exchange_locks WHERE name = 'dispatch' FOR UPDATE`).Error; err != nil {
				return err
			}
		}
		var evs []outboxRow
		if err := tx.Raw(`SELECT id, kind, type, res_id, version, source, at, epoch FROM outbox ORDER BY id LIMIT ?`, dispatchBatch).Scan(&evs).Error; err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		subs, err := s.activeSubs(tx)
		if err != nil {
			return err
		}
		var rows []map[string]any
		for i := range evs {
			e := &evs[i]
			rows = s.fanOut(tx, e, subs, rows)
		}
		if len(rows) > 0 {
			if err := tx.Table("sub_events").CreateInBatches(rows, 200).Error; err != nil {
				return err
			}
		}
		for _, sb := range subs {
			if sb.added > 0 {
				if err := tx.Exec(`UPDATE subscriptions SET events_since_start = ? WHERE id = ?`, sb.row.EventsSinceStart, sb.row.ID).Error; err != nil {
					return err
				}
			}
		}
		n = len(evs)
		// By id, not by range: on PostgreSQL a row with a smaller id may
		// commit after this transaction read the outbox.
		ids := make([]int64, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		return tx.Exec(`DELETE FROM outbox WHERE id IN ?`, ids).Error
	})
	return n, err
}

// liveSub is a subscription being dispatched to.
type liveSub struct {
	row   subRow
	p     *sub
	added int64
}

// activeSubs loads every subscription that is not off, parsed.
func (s *Service) activeSubs(tx *gorm.DB) ([]*liveSub, error) {
	var rows []subRow
	if err := tx.Where("status <> ?", StatusOff).Find(&rows).Error; err != nil {
		return nil, err
	}
	var out []*liveSub
	for _, r := range rows {
		var res map[string]any
		if err := json.Unmarshal(r.Body, &res); err != nil {
			continue
		}
		p, err := parseSub(res, func(string) error { return nil }, 0)
		if err != nil {
			s.log.Warn("stored subscription no longer parses", "id", r.ID, "err", err)
			continue
		}
		out = append(out, &liveSub{row: r, p: p})
	}
	return out, nil
}

// fanOut appends the sub_events rows of e: one per matching subscription,
// numbered next in that subscription. A filter reads the event's record
// in tx, the dispatch's transaction: on SQLite the write that emitted the
// event may share its commit, and a reader connection would not find the
// version yet (the event was lost to every filtered subscription).
func (s *Service) fanOut(tx *gorm.DB, e *outboxRow, subs []*liveSub, rows []map[string]any) []map[string]any {
	ev := &registry.Event{Kind: e.Kind, Type: e.Type, ID: e.ResID, Version: e.Version, Source: e.Source}
	var ix *registry.Index
	loaded := false
	for _, sb := range subs {
		// A change committed before the subscription was made but
		// dispatched after (the worker was busy pulling) is not its event
		// (cutoff.go: by epoch, not by the instances' clocks).
		if !sb.after(e.Epoch) || !sb.p.topic.carries(ev) {
			continue
		}
		if len(sb.p.filters) > 0 {
			if !loaded {
				ix, loaded = s.indexOf(tx, ev), true
			}
			if !anyFilter(sb.p.filters, ev, ix) {
				continue
			}
		}
		sb.row.EventsSinceStart++
		sb.added++
		rows = append(rows, map[string]any{"sub_id": sb.row.ID, "seq": sb.row.EventsSinceStart, "kind": e.Kind, "type": e.Type,
			"res_id": e.ResID, "version": e.Version, "source": e.Source, "at": e.At, "sent": 0, "attempts": 0})
	}
	return rows
}

// anyFilter reports whether one of the filters (ORed, as the IG reads
// several filter criteria) matches the event's focus.
func anyFilter(fs []*filter, ev *registry.Event, ix *registry.Index) bool {
	if ix == nil {
		return false
	}
	for _, f := range fs {
		if f.typ == ev.Type && f.matches(ev.ID, ix) {
			return true
		}
	}
	return false
}

// indexOf extracts the search index of the event's focus: the version
// written, or for a delete the version before it (a filter on a deleted
// record matches what it was).
func (s *Service) indexOf(tx *gorm.DB, ev *registry.Event) *registry.Index {
	v := ev.Version
	if ev.Kind == "delete" {
		v--
	}
	r, err := s.db.ReadIn(tx, ev.Type, ev.ID, max(v, 0))
	if err != nil || r.Deleted || strings.TrimSpace(string(r.Body)) == "" {
		return nil
	}
	body, err := registry.DecodeStored(r)
	if err != nil {
		return nil
	}
	return registry.Extract(ev.Type, body)
}
