package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"idem/registry"
)

// The read audit queue writes every event it took, in batches, with the
// agent of the read; Close writes what is still queued; what a full
// queue refused is counted, never waited for.
func TestAuditQueue(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		a := auditService(svc)
		q := registry.NewAuditQueue(a, registry.AuditQueueOptions{Size: 8, Batch: 4, Every: time.Hour}, nil)
		ctx := registry.WithActor(context.Background(), registry.Actor{Name: "ann", Kind: "user"})
		const n = 200
		start := time.Now()
		taken := 0
		for i := 0; i < n; i++ {
			if q.Add(ctx, registry.AuditRecord{Action: "R", Subtype: "read", Entities: []string{"Patient/p1/_history/1"}}) {
				taken++
			}
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("adding %d events took %v: Add must not wait for the writer", n, d)
		}
		q.Close()
		if got := int(q.Dropped()); got != n-taken {
			t.Errorf("dropped %d, want %d (%d of %d taken)", got, n-taken, taken, n)
		}
		evs := auditEvents(t, svc, "agent-name=ann&subtype=read&_count=1000")
		if len(evs) != min(taken, 100) {
			t.Errorf("%d read events stored, want %d", len(evs), taken)
		}
		if taken == 0 || q.Add(ctx, registry.AuditRecord{Subtype: "read"}) {
			t.Errorf("taken %d; a closed queue must refuse events", taken)
		}
	})
}
