package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"idem/registry"
)

// TestReadInSeesItsTransaction checks that ReadIn finds a version in the
// transaction that wrote it, before its commit, which the store's readers
// do not see yet. The exchange's dispatch reads an event's record so: on
// SQLite it may run in the group commit of the write that emitted the
// event, and reading through the readers it lost that event to every
// filtered subscription (TestSubscriptionDelivers, about once in a
// hundred runs).
func TestReadInSeesItsTransaction(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "idem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := &registry.Writer{}
	err = s.Write(ctx, func(rtx registry.Tx) error {
		if _, err := w.Create(ctx, rtx, registry.TypePatient, "p1", map[string]any{"resourceType": "Patient", "gender": "female"}); err != nil {
			return err
		}
		t := rtx.(*tx)
		if err := t.flush(ctx); err != nil {
			return err
		}
		for _, v := range []int64{1, 0} {
			r, err := s.ReadIn(t.db, registry.TypePatient, "p1", v)
			if err != nil || r.VersionID != 1 {
				return registry.Internal(err)
			}
		}
		if _, err := s.VRead(ctx, registry.TypePatient, "p1", 1); registry.ErrorCode(err) != registry.ENotFound {
			return registry.Errorf(registry.EInternal, "a reader found the uncommitted version (%v): the test shows nothing", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
