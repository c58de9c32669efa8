package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"idem/registry"
	"idem/registry/sqlstore"
	"idem/registry/sqlstore/sqltest"
)

// A batch's results move the job's cursor only from before the batch: a
// second worker writing the same lines again (its lease ran out mid-batch
// and another took the job over) is refused with an internal error, not
// a conflict to retry, and its results are not stored twice.
func TestSaveResultsOnce(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, _ string, s *sqlstore.Store) {
		ctx := context.Background()
		now := time.Now()
		job := &registry.BulkJob{ID: "j1", Kind: registry.JobImport, Status: registry.JobQueued, Total: 4, Created: now, Updated: now}
		if err := s.CreateJob(ctx, job); err != nil {
			t.Fatal(err)
		}
		batch := func(lines ...int) []*registry.ImportResult {
			var out []*registry.ImportResult
			for _, l := range lines {
				out = append(out, &registry.ImportResult{Line: l, Type: registry.TypePatient, Outcome: registry.ImportRejected})
			}
			return out
		}
		save := func(upTo int, results []*registry.ImportResult) error {
			return s.Write(ctx, func(tx registry.Tx) error { return s.SaveResults(ctx, tx, job.ID, upTo, results) })
		}
		if err := save(2, batch(1, 2)); err != nil {
			t.Fatal(err)
		}
		err := save(2, batch(1, 2))
		if err == nil || registry.ErrorCode(err) != registry.EInternal || registry.IsRetry(err) {
			t.Fatalf("the same batch again: %v", err)
		}
		if err := save(4, batch(3, 4)); err != nil {
			t.Fatalf("the next batch: %v", err)
		}
		got, err := s.Results(ctx, job.ID, 0, 10)
		if err != nil || len(got) != 4 {
			t.Fatalf("results: %d %v", len(got), err)
		}
		if j, _ := s.Job(ctx, job.ID); j.Done != 4 {
			t.Fatalf("cursor at %d", j.Done)
		}
	})
}
