package exchange

import (
	"context"

	"idem/registry"
)

// Notifier is the write pipeline's notify step: it emits each write's
// event to the outbox inside the write's transaction.
type Notifier struct{}

var _ registry.Notifier = Notifier{}

// NotifyWrite emits the event of w.
func (Notifier) NotifyWrite(ctx context.Context, tx registry.Tx, w *registry.Write, out *registry.Outcome) error {
	if out == nil || out.Resource == nil {
		return nil
	}
	return tx.Emit(ctx, registry.Event{Kind: w.Action, Type: w.Type, ID: w.ID, Version: out.Resource.VersionID, At: out.Resource.LastUpdated})
}
