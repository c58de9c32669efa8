package sqlstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"idem/registry"
)

func TestCreateReadUpdateDelete(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		ctx := context.Background()
		r := mustCreate(t, svc, patientJSON("Müller", "Anna", "1980-05-03", "1"))
		if r.VersionID != 1 || r.ID == "" {
			t.Fatalf("created %+v", r)
		}
		got, err := svc.Read(ctx, "Patient", r.ID)
		if err != nil || !strings.Contains(string(got.Body), `"versionId":"1"`) {
			t.Fatalf("read: %v %s", err, got.Body)
		}
		m := mustDecode(t, string(got.Body))
		m["gender"] = "male"
		out, err := svc.Update(ctx, "Patient", r.ID, m, 1)
		if err != nil || out.Resource.VersionID != 2 || out.Created {
			t.Fatalf("update: %v %+v", err, out)
		}
		_, err = svc.Update(ctx, "Patient", r.ID, m, 1)
		wantCode(t, err, registry.EPrecondition)
		v1, err := svc.VRead(ctx, "Patient", r.ID, 1)
		if err != nil || !strings.Contains(string(v1.Body), `"female"`) {
			t.Fatalf("vread 1: %v", err)
		}
		if _, err := svc.Delete(ctx, "Patient", r.ID); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Read(ctx, "Patient", r.ID)
		wantCode(t, err, registry.EGone)
		again, err := svc.Delete(ctx, "Patient", r.ID)
		if err != nil || !again.NoChange {
			t.Fatalf("second delete: %v %+v", err, again)
		}
		_, err = svc.Read(ctx, "Patient", "nope")
		wantCode(t, err, registry.ENotFound)
		if res := search(t, svc, "Patient", "family=muller"); res.Total != 0 {
			t.Fatalf("deleted resource still found: %d", res.Total)
		}
		// Update after delete re-creates with the next version.
		m["id"] = r.ID
		out, err = svc.Update(ctx, "Patient", r.ID, m, 0)
		if err != nil || out.Resource.VersionID != 4 || !out.Created {
			t.Fatalf("re-create: %v %+v", err, out)
		}
	})
}

func TestUpdateAsCreateAndIDRules(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		ctx := context.Background()
		m := mustDecode(t, `{"resourceType":"Location","id":"loc-1","name":"Ward 1","status":"active"}`)
		out, err := svc.Update(ctx, "Location", "loc-1", m, 0)
		if err != nil || !out.Created || out.Resource.VersionID != 1 {
			t.Fatalf("update as create: %v %+v", err, out)
		}
		_, err = svc.Update(ctx, "Location", "loc-2", mustDecode(t, `{"resourceType":"Location","id":"loc-1"}`), 0)
		wantCode(t, err, registry.EInvalid)
		_, err = svc.Update(ctx, "Location", "loc-2", mustDecode(t, `{"resourceType":"Location","name":"x"}`), 0)
		wantCode(t, err, registry.EInvalid)
		_, err = svc.Update(ctx, "Location", "missing", mustDecode(t, `{"resourceType":"Location","id":"missing"}`), 3)
		wantCode(t, err, registry.EPrecondition)
	})
}

// 50 parallel updates with the same If-Match: exactly one wins.
func TestConcurrentIfMatch(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		r := mustCreate(t, svc, patientJSON("Race", "Ifmatch", "1970-01-01", "im"))
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := mustDecode(t, string(r.Body))
				_, err := svc.Update(context.Background(), "Patient", r.ID, m, 1)
				mu.Lock()
				codes[registry.ErrorCode(err)]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[""] != 1 || codes[registry.EPrecondition] != 49 {
			t.Fatalf("outcomes = %v, want one success and 49 precondition failures", codes)
		}
		cur, _ := svc.Read(context.Background(), "Patient", r.ID)
		if cur.VersionID != 2 {
			t.Fatalf("version = %d, want 2", cur.VersionID)
		}
	})
}

// 32 parallel identical conditional creates: one resource.
func TestConcurrentConditionalCreate(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, existing := 0, 0
		seen := map[string]bool{}
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := mustDecode(t, patientJSON("Cond", "Create", "1990-01-01", "cc-1"))
				out, err := svc.Create(context.Background(), "Patient", m, "identifier=urn:test|cc-1")
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("conditional create: %v", err)
					return
				}
				seen[out.Resource.ID] = true
				if out.Created {
					created++
				} else if out.Existing {
					existing++
				}
			}()
		}
		wg.Wait()
		if created != 1 || existing != 31 || len(seen) != 1 {
			t.Fatalf("created=%d existing=%d ids=%v", created, existing, seen)
		}
		if res := search(t, svc, "Patient", "identifier=urn:test|cc-1"); res.Total != 1 {
			t.Fatalf("stored %d resources", res.Total)
		}
		// Two matches: 412.
		mustCreate(t, svc, patientJSON("Cond", "Other", "1990-01-01", "cc-2"))
		_, err := svc.Create(context.Background(), "Patient", mustDecode(t, patientJSON("x", "y", "2000-01-01", "z")), "family=cond")
		wantCode(t, err, registry.EPrecondition)
	})
}

func TestConditionalUpdateAndDelete(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		ctx := context.Background()
		crit := map[string][]string{"identifier": {"urn:test|cu"}}
		out, err := svc.ConditionalUpdate(ctx, "Patient", crit, mustDecode(t, patientJSON("Cu", "A", "1999-09-09", "cu")), 0)
		if err != nil || !out.Created {
			t.Fatalf("conditional update (create): %v %+v", err, out)
		}
		out2, err := svc.ConditionalUpdate(ctx, "Patient", crit, mustDecode(t, patientJSON("Cu", "B", "1999-09-09", "cu")), 0)
		if err != nil || out2.Created || out2.Resource.ID != out.Resource.ID || out2.Resource.VersionID != 2 {
			t.Fatalf("conditional update (update): %v %+v", err, out2)
		}
		if _, err := svc.ConditionalDelete(ctx, "Patient", crit); err != nil {
			t.Fatal(err)
		}
		_, err = svc.ConditionalDelete(ctx, "Patient", crit)
		wantCode(t, err, registry.ENotFound)
	})
}

// A failing write must not disturb the writes committed beside it.
func TestFailedWriteIsolated(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				m := mustDecode(t, patientJSON("Iso", "X", "1990-01-01", "iso"))
				if i%2 == 0 {
					m["id"] = "no-such"
					_, err := svc.Update(context.Background(), "Patient", "no-such", m, 7)
					wantCode(t, err, registry.EPrecondition)
					return
				}
				if _, err := svc.Create(context.Background(), "Patient", m, ""); err != nil {
					t.Errorf("create: %v", err)
				}
			}(i)
		}
		wg.Wait()
		if res := search(t, svc, "Patient", "family=iso"); res.Total != 20 {
			t.Fatalf("total = %d, want 20", res.Total)
		}
	})
}
