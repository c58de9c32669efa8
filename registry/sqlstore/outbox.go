package sqlstore

import (
	"context"

	"idem/registry"
)

// Emit buffers events for the outbox; they are written with the rest of
// the transaction's rows when it ends, in multi-row INSERTs.
func (t *tx) Emit(ctx context.Context, evs ...registry.Event) error {
	for _, e := range evs {
		t.events = append(t.events, e.Kind, e.Type, e.ID, e.Version, e.Source, e.At.UnixMicro())
	}
	return nil
}

// flushEvents writes the buffered events.
func (t *tx) flushEvents(ctx context.Context) error {
	if len(t.events) == 0 {
		return nil
	}
	vals := t.events
	t.events = nil
	return t.insertRows(ctx, "outbox (kind, type, res_id, version, source, at)", 6, vals, false)
}
