package bulk

import (
	"context"
	"fmt"
	"sync"
	"time"

	"idem/registry"
)

// The job table is idem's one durable job queue: besides imports and
// exports it runs jobs of kinds other packages carry out (a re-match, in
// linkage), handed in by app with Handle. Such a job is a row like the
// others: queued, leased by one worker at a time, its progress stored at
// each checkpoint, so any instance answers its status and a job whose
// worker died is taken over when its lease runs out, from the last
// checkpoint.

// Runner carries out one job of a kind, from the progress stored in job
// (Done, Total, Params): checkpoint stores job as it is now and renews the
// lease (an error there means the job was lost or deleted: stop). A nil
// return marks the job done; a non-internal error marks it failed; an
// internal one leaves it to be resumed.
type Runner func(ctx context.Context, job *registry.BulkJob, checkpoint func() error) error

// Handle makes the worker run jobs of kind with r. It is called while
// wiring, before Run.
func (j *Jobs) Handle(kind string, r Runner) {
	if j.runners == nil {
		j.runners = map[string]Runner{}
	}
	j.runners[kind] = r
	j.kinds = append(j.kinds, kind)
}

// Enqueue stores job (ID, Kind, Actor, Request and Params set by the
// caller) as queued and wakes the worker; once it returns the job
// survives a restart.
func (j *Jobs) Enqueue(ctx context.Context, job *registry.BulkJob) error {
	if _, ok := j.runners[job.Kind]; !ok {
		return registry.Errorf(registry.ENotFound, "jobs of kind %q are not run by this server", job.Kind)
	}
	now := j.now()
	job.ID, job.Status, job.Created, job.Updated = newID(), registry.JobQueued, now, now
	if err := j.store.CreateJob(ctx, job); err != nil {
		return err
	}
	j.notify()
	return nil
}

// runHandled runs a job of a handed-in kind under this worker's lease.
func (j *Jobs) runHandled(ctx context.Context, job *registry.BulkJob) error {
	r, ok := j.runners[job.Kind]
	if !ok {
		return registry.Internal(fmt.Errorf("no runner for jobs of kind %q", job.Kind))
	}
	job.Status = registry.JobRunning
	checkpoint := func() error {
		if err := j.renew(ctx, job); err != nil {
			return err
		}
		job.Updated = j.now()
		return j.store.UpdateJob(ctx, job)
	}
	if err := checkpoint(); err != nil {
		return err
	}
	if err := r(ctx, job, checkpoint); err != nil {
		return err
	}
	return j.finish(ctx, job)
}

// keepLease renews the lease of job id every third of Lease while Work
// carries the job out (one step of a job, like training a model or a
// batch on a loaded machine, may take longer than a lease), so that no
// other worker takes it over meanwhile; a lease that cannot be renewed cancels ctx with why.
// stop ends the renewals.
func (j *Jobs) keepLease(ctx context.Context, cancel context.CancelCauseFunc, id string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(max(j.Lease/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			won, err := j.store.Lease(ctx, id, j.owner, j.now(), j.Lease)
			if err == nil && !won {
				err = fmt.Errorf("lease of job %s lost to another worker", id)
			}
			if err != nil && ctx.Err() == nil {
				cancel(err)
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
