package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore"
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

// A write that fails after its rows reached the database leaves none of
// them, also when it is alone in its commit (SQLite's writer then runs it
// without a savepoint and rolls back the whole transaction), and the
// writer goes on.
func TestFailedWriteLeavesNothing(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := svc.Store.Write(ctx, func(tx registry.Tx) error {
			if _, err := svc.CreateTx(ctx, tx, registry.TypePatient, "halfway-a", mustDecode(t, patientJSON("Halfway", "A", "1980-01-02", "h1")), ""); err != nil {
				return err
			}
			// A search inside the write puts its buffered rows into the database.
			if found, err := tx.Match(ctx, &registry.Query{Type: registry.TypePatient}, 10); err != nil || len(found) != 1 {
				t.Fatalf("match inside the write: %v, %d found", err, len(found))
			}
			if _, err := svc.CreateTx(ctx, tx, registry.TypePatient, "halfway-b", mustDecode(t, patientJSON("Halfway", "B", "1980-01-02", "h2")), ""); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Write = %v, want %v", err, boom)
		}
		if res := search(t, svc, "Patient", "family=halfway"); res.Total != 0 {
			t.Fatalf("a failed write left %d Patients", res.Total)
		}
		mustCreate(t, svc, patientJSON("After", "C", "1980-01-02", "h3"))
		if res := search(t, svc, "Patient", ""); res.Total != 1 {
			t.Fatalf("%d Patients after one create, want 1", res.Total)
		}
	})
}

// The SQLite writer runs a batch of waiting writes without savepoints;
// when one fails after its rows reached the database, the batch runs again
// with a savepoint for each, so the failing write leaves nothing and the
// others are kept.
func TestBatchWithFailedWrite(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "batch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := service(s)
	boom := errors.New("boom")
	runs := map[string]int{}
	write := func(family string, fail bool) func(registry.Tx) error {
		return func(tx registry.Tx) error {
			runs[family]++
			if _, err := svc.CreateTx(ctx, tx, registry.TypePatient, family, mustDecode(t, patientJSON(family, "A", "1980-01-02", family)), ""); err != nil {
				return err
			}
			if _, err := tx.Match(ctx, &registry.Query{Type: registry.TypePatient}, 1); err != nil { // puts the rows into the database
				return err
			}
			if fail {
				return boom
			}
			return nil
		}
	}
	errs := sqlstore.RunBatch(s, write("first", false), write("second", false))
	if errs[0] != nil || errs[1] != nil || runs["first"] != 1 || runs["second"] != 1 {
		t.Fatalf("a batch without failures: errors %v, runs %v (want each once)", errs, runs)
	}
	errs = sqlstore.RunBatch(s, write("kept", false), write("failed", true), write("after", false))
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
		t.Fatalf("errors %v, want nil, boom, nil", errs)
	}
	if runs["kept"] != 2 || runs["failed"] != 2 || runs["after"] != 1 {
		t.Fatalf("runs %v: want the batch run again after the failure", runs)
	}
	for family, want := range map[string]int{"first": 1, "second": 1, "kept": 1, "failed": 0, "after": 1} {
		if res := search(t, svc, "Patient", "family="+family); res.Total != want {
			t.Errorf("family %s: %d Patients, want %d", family, res.Total, want)
		}
	}
}
