package bulk

import (
	"context"

	"idem/registry"
)

// A strict import (?strict=true, idem import --strict) is all or nothing.
// Malformed lines are refused before the import is acknowledged (spool);
// everything else that can refuse a line — the policy (a record in another
// client's identifier domain), several records matching its identifier, a
// conflict outliving the retries — is found only while writing, and then
// every line written before it is rolled back: the import's batches are
// written in one transaction (registry.Service.ImportAll), and the job
// fails with the refusal, naming its line. Nothing of a strict import is
// visible, linked or audited until all of it is committed, and its status
// shows no progress before then.
//
// The transaction holds the job's row from its first batch on, so the
// lease is not renewed while it runs (a renewal waits for the same row).
// A worker of another instance that finds the lease run out meanwhile
// waits for this commit too; if it wins the lease then, it finds every
// line written and ends the job, and this worker, whose renewal after the
// commit fails, steps aside.

// importAll writes the whole import in one transaction with svc.
func (j *Jobs) importAll(ctx context.Context, svc *registry.Service, job *registry.BulkJob, commit registry.ImportCommit, progress func(*registry.BulkJob)) error {
	next := func(ctx context.Context, after int) ([]*registry.ImportRecord, error) {
		return j.batch(ctx, job, after)
	}
	from := job.Done
	err := svc.ImportAll(ctx, from, next, commit, func(upTo int) {
		job.Done, job.Status = upTo, registry.JobRunning
		if progress != nil {
			progress(job)
		}
	})
	if err != nil {
		job.Done = from
	}
	return err
}
