package linkage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"idem/registry"
)

// Training, dry runs, applies and rollbacks asked for by a steward (admin
// API, admin UI, $mdm-submit with model) are rows of the durable job table
// (registry/bulk runs them with JobRunner, which app hands it): the
// request answers at once with the job, any instance answers its status,
// and a job whose process died is taken over by the next worker once its
// lease runs out. Each kind is safe to run again: training and dry runs
// only read (a training finds the model it stored before it was
// interrupted by the job's id in its note), and an apply writes only
// differences (applyState fixes its types at the start; its AuditEvent
// has the job's id, written once). Applies and rollbacks take turns, in
// the order they were asked for, across instances.

// JobModel is the kind of self-calibration jobs in the job table.
const JobModel = "model"

// Model job operations.
const (
	OpTrain    = "train"
	OpDryRun   = "dry-run"
	OpApply    = "apply"
	OpRollback = "rollback"
)

// modelJob is a model job's settings and progress, kept in its Params.
type modelJob struct {
	Op      string          `json:"op"`
	Type    string          `json:"type,omitempty"`    // train
	Note    string          `json:"note,omitempty"`    // train
	Version int64           `json:"version,omitempty"` // dry run, apply, rollback (chosen at the request)
	Apply   *applyState     `json:"apply,omitempty"`   // apply, rollback
	Stage   string          `json:"stage,omitempty"`   // what it does now
	Result  *ModelJobResult `json:"result,omitempty"`  // when done
}

// ModelJobResult is what a finished model job did.
type ModelJobResult struct {
	Version int64            `json:"version"`           // the model trained, dry-run, applied or rolled back to
	State   string           `json:"state"`             // the model's state after the job
	Records int              `json:"records,omitempty"` // training: records of the type stored (at most Sample of them trained on)
	DryRun  bool             `json:"dryRun,omitempty"`
	Rematch []RematchSummary `json:"rematch,omitempty"` // dry run, apply, rollback: per type
}

// ModelJobStatus is a model job as stored (the admin API's JSON of it).
type ModelJobStatus struct {
	ID      string          `json:"id"`
	Op      string          `json:"op"`
	Type    string          `json:"type,omitempty"`
	Stage   string          `json:"stage,omitempty"`
	Version int64           `json:"version,omitempty"`
	Status  string          `json:"status"`          // the job's status (registry.Job…)
	Done    int             `json:"done"`            // records of the current stage
	Total   int             `json:"total"`           // of how many
	Error   string          `json:"error,omitempty"` // why it failed
	Result  *ModelJobResult `json:"result,omitempty"`
}

// NewJob checks a model job request (op, the type to train, the model
// version) and returns its job, ready to be queued (bulk.Jobs.Enqueue) as
// the actor of ctx. An unknown or failed model is refused here (404, 409),
// as is a rollback with nothing to roll back to.
func (c *Calibrator) NewJob(ctx context.Context, op, typ string, version int64, note string) (*registry.BulkJob, error) {
	p := modelJob{Op: op}
	var req string
	switch op {
	case OpTrain:
		if !Matchable(typ) {
			return nil, registry.Errorf(registry.EInvalid, "resourceType %q: want Patient, Practitioner or Location", typ)
		}
		p.Type, p.Note, req = typ, note, "train a "+typ+" model"
	case OpDryRun, OpApply:
		if _, _, err := c.load(ctx, version); err != nil {
			return nil, err
		}
		p.Type, p.Version, req = typ, version, op+" model "+strconv.FormatInt(version, 10) // Type: the one $mdm-submit asked about
	case OpRollback:
		v, err := c.previous(ctx)
		if err != nil {
			return nil, err
		}
		p.Version, req = v, "roll back to model "+strconv.FormatInt(v, 10)
	default:
		return nil, registry.Errorf(registry.EInvalid, "model job %q: want train, dry-run, apply or rollback", op)
	}
	params, err := json.Marshal(p)
	if err != nil {
		return nil, registry.Internal(err)
	}
	return &registry.BulkJob{Kind: JobModel, Actor: registry.ActorFrom(ctx), Request: req, Params: params}, nil
}

// progressFunc hears of a job's progress: what it does, how many of how
// many records; nil hears nothing.
type progressFunc func(stage string, done, total int) error

// stage returns the progress of one stage, nil when f is.
func (f progressFunc) stage(name string) func(done, total int) error {
	if f == nil {
		return nil
	}
	return func(done, total int) error { return f(name, done, total) }
}

// JobLister lists the jobs of the job table (registry.BulkStore.Jobs).
type JobLister interface {
	Jobs(ctx context.Context, kind string, limit int) ([]*registry.BulkJob, error)
}

// JobRunner returns the runner of model jobs for the job worker: RunJob,
// with applies and rollbacks one at a time across instances — one asked
// for while an older one is active waits for it (it steps aside with a
// retryable error and is run again once the older one is done).
func (c *Calibrator) JobRunner(jobs JobLister) func(ctx context.Context, job *registry.BulkJob, checkpoint func() error) error {
	return func(ctx context.Context, job *registry.BulkJob, checkpoint func() error) error {
		if err := c.awaitTurn(ctx, jobs, job, checkpoint); err != nil {
			return err
		}
		return c.RunJob(ctx, job, checkpoint)
	}
}

// writes reports whether a model job op changes links.
func writes(op string) bool { return op == OpApply || op == OpRollback }

// awaitTurn returns a retryable error, after noting it in the job's
// stage, while an apply or rollback queued before job (an apply or
// rollback itself) is active.
func (c *Calibrator) awaitTurn(ctx context.Context, jobs JobLister, job *registry.BulkJob, checkpoint func() error) error {
	var p modelJob
	if err := json.Unmarshal(job.Params, &p); err != nil || !writes(p.Op) {
		return nil // RunJob says what is wrong with it
	}
	list, err := jobs.Jobs(ctx, JobModel, 1000)
	if err != nil {
		return err
	}
	for _, o := range list {
		var op modelJob
		if o.ID == job.ID || !o.Active() || json.Unmarshal(o.Params, &op) != nil || !writes(op.Op) {
			continue
		}
		if o.Created.Before(job.Created) || (o.Created.Equal(job.Created) && o.ID < job.ID) {
			p.Stage = "waiting for " + o.Request + " (job " + o.ID + ")"
			if params, err := json.Marshal(p); err == nil {
				job.Params = params
				_ = checkpoint()
			}
			return registry.Internal(fmt.Errorf("model job %s waits for job %s (%s)", job.ID, o.ID, o.Request))
		}
	}
	return nil
}

// RunJob carries out a model job, from its stored progress, as the actor
// who asked for it; checkpoint stores the job (and renews its lease).
func (c *Calibrator) RunJob(ctx context.Context, job *registry.BulkJob, checkpoint func() error) error {
	var p modelJob
	if err := json.Unmarshal(job.Params, &p); err != nil {
		return registry.Errorf(registry.EInvalid, "model job %s has unreadable settings: %v", job.ID, err)
	}
	ctx = registry.WithActor(ctx, job.Actor)
	save := func() error {
		params, err := json.Marshal(p)
		if err != nil {
			return registry.Internal(err)
		}
		job.Params = params
		return checkpoint()
	}
	progress := func(stage string, done, total int) error {
		p.Stage, job.Done, job.Total = stage, done, total
		return save()
	}
	res, err := c.runJob(ctx, job.ID, &p, save, progress)
	if err != nil {
		return err
	}
	p.Result, p.Stage = res, "done"
	return save()
}

func (c *Calibrator) runJob(ctx context.Context, id string, p *modelJob, save func() error, progress progressFunc) (*ModelJobResult, error) {
	switch p.Op {
	case OpTrain:
		if err := progress("training "+p.Type, 0, 0); err != nil {
			return nil, err
		}
		sm, err := c.trainOnce(ctx, id, p)
		if err != nil {
			return nil, err
		}
		return &ModelJobResult{Version: sm.Version, State: sm.State, Records: sm.Records}, nil
	case OpDryRun:
		rs, err := c.dryRun(ctx, p.Version, progress)
		if err != nil {
			return nil, err
		}
		var sums []RematchSummary
		for _, r := range rs {
			sums = append(sums, Summarise(r, c.linker.now()))
		}
		return c.result(ctx, p.Version, true, sums)
	case OpApply, OpRollback:
		if p.Apply == nil {
			kind := "model-apply"
			if p.Op == OpRollback {
				kind = "model-rollback"
			}
			p.Apply = &applyState{Version: p.Version, Kind: kind}
		}
		if _, err := c.runApply(ctx, p.Apply, save, progress, "model-job-"+id); err != nil {
			return nil, err
		}
		return c.result(ctx, p.Version, false, p.Apply.Planned)
	}
	return nil, registry.Errorf(registry.EInvalid, "model job %q: want train, dry-run, apply or rollback", p.Op)
}

// result describes a finished dry run or apply: its re-matches per type.
func (c *Calibrator) result(ctx context.Context, version int64, dry bool, rs []RematchSummary) (*ModelJobResult, error) {
	sm, err := c.store.Model(ctx, version)
	if err != nil {
		return nil, err
	}
	return &ModelJobResult{Version: version, State: sm.State, DryRun: dry, Rematch: append([]RematchSummary{}, rs...)}, nil
}

// trainOnce trains the job's model, unless the job stored it before it
// was interrupted (its note names the job): then that model is its
// result. A training that fails is stored failed and fails the job.
func (c *Calibrator) trainOnce(ctx context.Context, id string, p *modelJob) (*registry.StoredModel, error) {
	tag := "[job " + id + "]"
	list, err := c.store.Models(ctx, 100)
	if err != nil {
		return nil, err
	}
	for _, m := range list {
		if strings.HasSuffix(m.Note, tag) {
			if m.State == registry.ModelFailed {
				return nil, registry.Errorf(registry.EUnprocessable, "training %s failed (stored as model %d)", p.Type, m.Version)
			}
			return m, nil
		}
	}
	return c.Train(ctx, p.Type, strings.TrimSpace(p.Note+" "+tag))
}

// previous returns the model applied before the current one (the one a
// rollback applies), or EConflict.
func (c *Calibrator) previous(ctx context.Context) (int64, error) {
	applied, err := c.appliedModels(ctx)
	if err != nil {
		return 0, err
	}
	if len(applied) < 2 {
		return 0, registry.Errorf(registry.EConflict, "no model was applied before the current one")
	}
	return applied[1].Version, nil
}

// catchUp re-matches, one by one under the model in use, the records of
// r's type stored while r was computed and applied (not in its list):
// they were linked on write, against links the apply has changed since.
func (c *Calibrator) catchUp(ctx context.Context, r *Rematch, progress func(done, total int) error) error {
	ids, err := c.linker.storedIDs(ctx, r.Type)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(r.target.order))
	for _, id := range r.target.order {
		known[id] = true
	}
	var fresh []string
	for _, id := range ids {
		if !known[id] {
			fresh = append(fresh, id)
		}
	}
	j := &Job{Type: r.Type}
	for i, id := range fresh {
		res, err := c.store.Read(ctx, r.Type, id)
		if registry.ErrorCode(err) == registry.ENotFound || (err == nil && res.Deleted) {
			continue
		}
		if err != nil {
			return err
		}
		if err := c.linker.rematchOne(ctx, j, res); err != nil {
			return err
		}
		if progress != nil && (i+1)%simulateStep == 0 {
			if err := progress(i+1, len(fresh)); err != nil {
				return err
			}
		}
	}
	if len(fresh) > 0 {
		c.log.Info("re-matched the records stored during an apply", "type", r.Type, "records", len(fresh), "changed", j.changed.Load())
	}
	return nil
}

// ModelJob describes a model job as stored.
func ModelJob(job *registry.BulkJob) (ModelJobStatus, error) {
	if job.Kind != JobModel {
		return ModelJobStatus{}, registry.Errorf(registry.ENotFound, "job %s is not a model job", job.ID)
	}
	var p modelJob
	if err := json.Unmarshal(job.Params, &p); err != nil {
		return ModelJobStatus{}, registry.Internal(fmt.Errorf("model job %s: %w", job.ID, err))
	}
	st := ModelJobStatus{ID: job.ID, Op: p.Op, Type: p.Type, Stage: p.Stage, Version: p.Version, Status: job.Status,
		Done: job.Done, Total: job.Total, Error: job.Error, Result: p.Result}
	if st.Version == 0 && p.Result != nil {
		st.Version = p.Result.Version
	}
	return st, nil
}
