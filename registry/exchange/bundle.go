package exchange

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/google/uuid"

	"idem/registry"
)

// statusParams is the backport-subscription-status-r4 Parameters resource
// of a notification: which subscription, topic and status, how many events
// it has had, and one notification-event per event carried.
func (s *Service) statusParams(r *subRow, typ string, evs []eventRow) map[string]any {
	params := []any{
		map[string]any{"name": "subscription", "valueReference": map[string]any{"reference": s.ref("Subscription/" + r.ID)}},
		map[string]any{"name": "topic", "valueCanonical": r.Topic},
		map[string]any{"name": "status", "valueCode": r.Status},
		map[string]any{"name": "type", "valueCode": typ},
		map[string]any{"name": "events-since-subscription-start", "valueString": strconv.FormatInt(r.EventsSinceStart, 10)},
	}
	if r.Status == StatusError && r.LastError != "" {
		params = append(params, map[string]any{"name": "error", "valueCodeableConcept": map[string]any{"text": r.LastError}})
	}
	for _, e := range evs {
		part := []any{
			map[string]any{"name": "event-number", "valueString": strconv.FormatInt(e.Seq, 10)},
			map[string]any{"name": "timestamp", "valueInstant": registry.FormatInstant(timeOf(e.At))},
		}
		if r.Content != ContentEmpty {
			part = append(part, map[string]any{"name": "focus", "valueReference": map[string]any{"reference": s.ref(e.Type + "/" + e.ResID)}})
			if e.Source != "" {
				part = append(part, map[string]any{"name": "additional-context", "valueReference": map[string]any{"reference": s.ref(e.Source)}})
			}
		}
		params = append(params, map[string]any{"name": "notification-event", "part": part})
	}
	return map[string]any{"resourceType": "Parameters", "id": uuid.NewString(),
		"meta": map[string]any{"profile": []any{IG + "backport-subscription-status-r4"}}, "parameter": params}
}

// statusBundle is a notification Bundle (type history) whose only entry
// is the status: a handshake, heartbeat or query-status.
func (s *Service) statusBundle(r *subRow, typ string, evs []eventRow) map[string]any {
	entry := map[string]any{"fullUrl": "urn:uuid:" + uuid.NewString(), "resource": s.statusParams(r, typ, evs),
		"request":  map[string]any{"method": "GET", "url": "Subscription/" + r.ID + "/$status"},
		"response": map[string]any{"status": "200"}}
	return map[string]any{"resourceType": "Bundle", "id": uuid.NewString(), "type": "history",
		"timestamp": registry.FormatInstant(s.cfg.Now()),
		"meta":      map[string]any{"profile": []any{IG + "backport-subscription-notification-r4"}},
		"entry":     []any{entry}}
}

// eventBundle is an event-notification Bundle for evs; with full-resource
// content it carries each focus's version, a deletion as a DELETE entry.
func (s *Service) eventBundle(ctx context.Context, r *subRow, evs []eventRow) (map[string]any, error) {
	return s.notification(ctx, r, "event-notification", evs, r.Content)
}

func (s *Service) notification(ctx context.Context, r *subRow, typ string, evs []eventRow, content string) (map[string]any, error) {
	b := s.statusBundle(r, typ, evs)
	if content != ContentFull {
		return b, nil
	}
	entries := b["entry"].([]any)
	for _, e := range evs {
		ref := e.Type + "/" + e.ResID
		entry := map[string]any{"fullUrl": s.ref(ref)}
		var res *registry.Resource
		var err error
		if e.Version > 0 {
			res, err = s.reg.Store.VRead(ctx, e.Type, e.ResID, e.Version)
		} else {
			res, err = s.reg.Store.Read(ctx, e.Type, e.ResID)
		}
		switch {
		case err != nil && registry.ErrorCode(err) != registry.ENotFound:
			return nil, err
		case err != nil || res.Deleted:
			entry["request"] = map[string]any{"method": "DELETE", "url": ref}
			entry["response"] = map[string]any{"status": "204"}
		default:
			var body map[string]any
			if err := json.Unmarshal(res.Body, &body); err != nil {
				return nil, registry.Internal(err)
			}
			method, status := "PUT", "200"
			if e.Kind == "create" {
				method, status = "POST", "201"
			}
			entry["resource"] = body
			entry["request"] = map[string]any{"method": method, "url": ref}
			entry["response"] = map[string]any{"status": status}
		}
		entries = append(entries, entry)
	}
	b["entry"] = entries
	return b, nil
}

// ref makes a reference absolute when the base URL is known.
func (s *Service) ref(rel string) string {
	if s.base == "" {
		return rel
	}
	return s.base + "/" + rel
}

// Status answers Subscription/{id}/$status: a query-status Bundle.
func (s *Service) Status(ctx context.Context, id string) (map[string]any, error) {
	var row subRow
	if err := s.owned(ctx, s.db.Read().WithContext(ctx), id, &row); err != nil {
		return nil, err
	}
	return s.statusBundle(&row, "query-status", nil), nil
}

// maxEventsQuery bounds the events one $events answer carries.
const maxEventsQuery = 1000

// Events answers Subscription/{id}/$events: the events numbered from
// since to until (0: open), at most maxEventsQuery of them, as a
// query-event Bundle with the subscription's content or content.
func (s *Service) Events(ctx context.Context, id string, since, until int64, content string) (map[string]any, error) {
	var row subRow
	if err := s.owned(ctx, s.db.Read().WithContext(ctx), id, &row); err != nil {
		return nil, err
	}
	if content == "" {
		content = row.Content
	}
	if content != ContentEmpty && content != ContentIDs && content != ContentFull {
		return nil, registry.Invalid(registry.EInvalid, "invalid", "content", "content %q: empty, id-only or full-resource", content)
	}
	// Without eventsSinceNumber the answer starts at the oldest event
	// kept; asked for a pruned one, it says so.
	if since == 0 {
		since = row.Pruned + 1
	} else if since <= row.Pruned {
		return nil, s.prunedError(id, row.Pruned)
	}
	q := s.db.Read().WithContext(ctx).Where("sub_id = ? AND seq >= ?", id, since).Order("seq").Limit(maxEventsQuery)
	if until > 0 {
		q = q.Where("seq <= ?", until)
	}
	var evs []eventRow
	if err := q.Find(&evs).Error; err != nil {
		return nil, registry.Internal(err)
	}
	row.Content = content
	return s.notification(ctx, &row, "query-event", evs, content)
}
