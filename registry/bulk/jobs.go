// Package bulk runs idem's bulk data jobs: $import of NDJSON (and, from
// the command line, Bundles and CSV) through the registry's one write
// pipeline in batches, with a match report per job and source, and the
// HL7 Bulk Data Access $export of a consistent snapshot. Jobs live in
// the database (registry.BulkStore): one worker per job holds its lease,
// and a restart (or another instance) resumes from the last committed
// batch.
package bulk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"idem/registry"
	"idem/registry/fhir"
)

// Jobs submits, runs and reports bulk jobs.
type Jobs struct {
	svc    *registry.Service
	store  registry.BulkStore
	limits fhir.Limits
	log    *slog.Logger
	owner  string        // this process's name on the leases it holds
	wake   chan struct{} // a job was queued here
	// busy are the jobs a goroutine of this process works (or is about
	// to): the lease names the process, so it cannot tell two of its
	// goroutines apart, and the background worker leaves these alone.
	mu   sync.Mutex
	busy map[string]bool
	// runners run the kinds handed in with Handle (kinds.go), in order.
	runners map[string]Runner
	kinds   []string
	// BatchSize is the number of import lines written per transaction.
	BatchSize int
	// Lease is how long a worker holds a job between batches before
	// another instance may take it over.
	Lease time.Duration
	// Poll is how often the worker looks for jobs queued elsewhere.
	Poll time.Duration
	// Now is this instance's clock (nil: time.Now): the jobs' times, and
	// the leases' on SQLite; on PostgreSQL leases follow the database's
	// clock, which the instances sharing it read alike.
	Now func() time.Time
	// Calibration, when set, is told of every finished import, and may
	// have an import store its records unlinked (Unlinked: the same
	// pipeline without its link step), to link them under a model trained
	// on them (the calibrated first load).
	Calibration Calibration
	Unlinked    *registry.Service
}

// Calibration is the matcher's self-calibration as imports use it.
type Calibration interface {
	// DeferLinking reports whether an import of lines records should store
	// them unlinked.
	DeferLinking(ctx context.Context, lines int) (bool, error)
	// Loaded is told that an import of types finished (deferred: its
	// records were stored unlinked, and must be linked before it returns).
	Loaded(ctx context.Context, types []string, deferred bool) error
}

// DefaultBatch is the number of import lines per transaction: large
// enough that a batch's fixed costs (one commit, one fsync, one candidate
// lookup per key) vanish, small enough that a batch's memory is bounded.
const DefaultBatch = 500

// New returns the bulk jobs of svc's registry, kept in store; limits are
// the repeat limits lines are validated with.
func New(svc *registry.Service, store registry.BulkStore, limits fhir.Limits, log *slog.Logger) *Jobs {
	host, _ := os.Hostname()
	return &Jobs{svc: svc, store: store, limits: limits, log: log, owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), newID()[:8]),
		wake: make(chan struct{}, 1), busy: map[string]bool{}, BatchSize: DefaultBatch, Lease: 30 * time.Second, Poll: time.Second}
}

// Store returns the job store.
func (j *Jobs) Store() registry.BulkStore { return j.store }

// Job returns one job.
func (j *Jobs) Job(ctx context.Context, id string) (*registry.BulkJob, error) {
	return j.store.Job(ctx, id)
}

// Run works on queued jobs until ctx ends: those queued here at once,
// those of other instances (or of a crashed process) when their lease is
// free, checked every Poll.
func (j *Jobs) Run(ctx context.Context) {
	t := time.NewTicker(j.Poll)
	defer t.Stop()
	for {
		for _, kind := range append([]string{registry.JobImport, registry.JobExport}, j.kinds...) {
			ids, err := j.store.Runnable(ctx, kind, j.now())
			if err != nil && ctx.Err() == nil {
				j.log.Warn("bulk jobs: cannot list runnable jobs", "err", err)
			}
			for _, id := range ids {
				if !j.reserve(id) {
					continue // worked here already (a caller of Work)
				}
				if err := j.Work(ctx, id, nil); err != nil && ctx.Err() == nil {
					j.log.Warn("bulk job interrupted; it resumes later", "job", id, "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-j.wake:
		}
	}
}

// Work takes the lease of job id and carries it out (or on from where it
// stopped); progress, when set, hears of each committed batch. A job
// leased by another worker is left alone.
func (j *Jobs) Work(ctx context.Context, id string, progress func(job *registry.BulkJob)) error {
	j.reserve(id)
	defer j.release(id)
	won, err := j.store.Lease(ctx, id, j.owner, j.now(), j.Lease)
	if err != nil || !won {
		return err
	}
	defer j.unlease(id)
	job, err := j.store.Job(ctx, id)
	if err != nil || !job.Active() {
		return err
	}
	// The lease is renewed in the background as well as at each batch: one
	// step (a batch under load, the linking that ends a calibrated first
	// load, training a model) may take longer than a lease.
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := j.keepLease(jctx, cancel, job.ID)
	switch job.Kind {
	case registry.JobImport:
		err = j.runImport(jctx, job, progress)
	case registry.JobExport:
		err = j.runExport(jctx, job)
	default:
		err = j.runHandled(jctx, job)
	}
	stop()
	if errors.Is(err, errAwaiting) {
		return nil // still running: looked at again at the next poll
	}
	if cause := context.Cause(jctx); err != nil && ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return registry.Internal(cause) // the lease was lost: the job goes on where it is held now
	}
	if err != nil && ctx.Err() == nil && registry.ErrorCode(err) != registry.EInternal {
		return j.fail(ctx, job, err)
	}
	return err
}

// reserve marks job id worked by a goroutine of this process; it reports
// false when one already does.
func (j *Jobs) reserve(id string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.busy[id] {
		return false
	}
	j.busy[id] = true
	return true
}

// release ends reserve.
func (j *Jobs) release(id string) {
	j.mu.Lock()
	delete(j.busy, id)
	j.mu.Unlock()
}

// unlease gives up the lease of job id when Work returns: a job this
// instance stopped working on (it is shutting down, or the job ended in an
// error it resumes from) is free for any worker at once, not only when the
// lease runs out. It runs on a context of its own: the one Work was given
// has often ended.
func (j *Jobs) unlease(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.store.Unlease(ctx, id, j.owner); err != nil {
		j.log.Warn("bulk job: cannot give up its lease; another worker takes it when the lease ends", "job", id, "err", err)
	}
}

// renew extends this worker's lease of job.
func (j *Jobs) renew(ctx context.Context, job *registry.BulkJob) error {
	won, err := j.store.Lease(ctx, job.ID, j.owner, j.now(), j.Lease)
	if err == nil && !won {
		err = registry.Internal(fmt.Errorf("lease of bulk job %s lost to another worker", job.ID))
	}
	return err
}

// finish marks job done.
func (j *Jobs) finish(ctx context.Context, job *registry.BulkJob) error {
	job.Status, job.Updated, job.Finished = registry.JobDone, j.now(), j.now()
	return j.store.UpdateJob(ctx, job)
}

// fail marks job failed with err's message.
func (j *Jobs) fail(ctx context.Context, job *registry.BulkJob, err error) error {
	job.Status, job.Error, job.Updated, job.Finished = registry.JobFailed, registry.ErrorMessage(err), j.now(), j.now()
	return j.store.UpdateJob(ctx, job)
}

// now reads this instance's clock.
func (j *Jobs) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// notify wakes the worker for a job queued here.
func (j *Jobs) notify() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Delete removes a job (cancelling it: its worker stops at its next batch).
func (j *Jobs) Delete(ctx context.Context, id string) error {
	if _, err := j.store.Job(ctx, id); err != nil {
		return err
	}
	return j.store.DeleteJob(ctx, id)
}

// newID returns a random job id (128 bits, hex).
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
