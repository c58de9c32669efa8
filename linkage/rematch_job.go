package linkage

import (
	"context"
	"encoding/json"
	"net/url"

	"idem/registry"
)

// Re-match jobs ($mdm-submit) are rows of the durable job table
// (registry.BulkStore, run by registry/bulk's worker, which app hands
// RunRematch): a restart, or on PostgreSQL another instance once the
// lease runs out, resumes a job from the search page after its last
// checkpoint, and any instance answers its status. A record is
// re-matched in its own transaction and re-matching is idempotent, so the
// records of a page interrupted by a crash are matched again without
// making anything twice; only the changed count may then miss the changes
// that page had already applied.

// JobRematch is the kind of re-match jobs in the job table.
const JobRematch = "rematch"

// rematchParams are a re-match job's settings and progress, kept in the
// job's Params.
type rematchParams struct {
	Type     string       `json:"type"`
	Criteria string       `json:"criteria,omitempty"` // the search, URL-encoded
	DryRun   bool         `json:"dryRun,omitempty"`
	Cursor   string       `json:"cursor,omitempty"` // the next page to re-match
	Changed  int64        `json:"changed,omitempty"`
	Changes  []LinkChange `json:"changes,omitempty"`
}

// NewRematchJob checks a re-match request and returns its job, ready to
// be queued (bulk.Jobs.Enqueue) as the actor in ctx.
func NewRematchJob(ctx context.Context, typ string, criteria url.Values, dryRun bool) (*registry.BulkJob, error) {
	if !Matchable(typ) {
		return nil, registry.Errorf(registry.EInvalid, "resourceType %q: want Patient, Practitioner or Location", typ)
	}
	if _, err := registry.ParseQuery(typ, criteria, true); err != nil {
		return nil, err
	}
	p := rematchParams{Type: typ, Criteria: criteria.Encode(), DryRun: dryRun}
	params, err := json.Marshal(p)
	if err != nil {
		return nil, registry.Internal(err)
	}
	req := "$mdm-submit " + typ
	if p.Criteria != "" {
		req += "?" + p.Criteria
	}
	if dryRun {
		req += " (dry run)"
	}
	return &registry.BulkJob{Kind: JobRematch, Actor: registry.ActorFrom(ctx), Request: req, Params: params}, nil
}

// RunRematch carries out a re-match job from its last checkpoint, as the
// actor who submitted it; each page of records done is a checkpoint.
func (l *Linker) RunRematch(ctx context.Context, job *registry.BulkJob, checkpoint func() error) error {
	var p rematchParams
	if err := json.Unmarshal(job.Params, &p); err != nil {
		return registry.Errorf(registry.EInvalid, "re-match job %s has unreadable settings: %v", job.ID, err)
	}
	criteria, err := url.ParseQuery(p.Criteria)
	if err != nil {
		return registry.Errorf(registry.EInvalid, "re-match job %s has unreadable criteria: %v", job.ID, err)
	}
	j := &Job{ID: job.ID, Type: p.Type, DryRun: p.DryRun, Started: job.Created, cursor: p.Cursor, changes: p.Changes}
	j.total.Store(int64(job.Total))
	j.done.Store(int64(job.Done))
	j.changed.Store(p.Changed)
	j.page = func(next string) error {
		st := j.Status()
		p.Cursor, p.Changed, p.Changes = next, st.Changed, st.Changes
		params, err := json.Marshal(p)
		if err != nil {
			return registry.Internal(err)
		}
		job.Total, job.Done, job.Params = int(st.Total), int(st.Done), params
		return checkpoint()
	}
	return l.rematch(registry.WithActor(ctx, job.Actor), j, criteria)
}

// RematchStatus describes a re-match job as stored: its progress as of
// its last checkpoint and, for a dry run, the changes it would make.
func RematchStatus(job *registry.BulkJob) (JobStatus, error) {
	if job.Kind != JobRematch {
		return JobStatus{}, registry.Errorf(registry.ENotFound, "job %s is not a re-match", job.ID)
	}
	var p rematchParams
	if err := json.Unmarshal(job.Params, &p); err != nil {
		return JobStatus{}, registry.Internal(err)
	}
	st := JobStatus{ID: job.ID, Type: p.Type, DryRun: p.DryRun, Total: int64(job.Total), Done: int64(job.Done), Changed: p.Changed,
		Started: job.Created, Finished: job.Finished, Changes: p.Changes, Running: job.Active() || job.Status == registry.JobReceiving}
	if job.Status == registry.JobFailed {
		st.Err = registry.Errorf(registry.EInvalid, "%s", job.Error)
	}
	return st, nil
}
