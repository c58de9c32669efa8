package bulk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"idem/registry"
)

// Importable are the resource types an import may hold.
var Importable = []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation}

// ImportOptions are the settings of one import.
type ImportOptions struct {
	Strict  bool   // a malformed line fails the whole import instead of being reported and skipped
	Request string // what is imported, for the job's record ("POST /fhir/$import", file names)
	// Local: the caller works the job itself (Work) right after Submit;
	// the background worker of this process leaves it alone.
	Local bool
}

// importParams are an import job's stored settings.
type importParams struct {
	Strict bool `json:"strict"`
	// Deferred: the records are stored unlinked and linked when the import
	// ends, under a model trained on them (decided when the job starts).
	Deferred *bool `json:"deferred,omitempty"`
	// Local: worked by the process that submitted it (idem import), which
	// waits for no other job.
	Local bool `json:"local,omitempty"`
	// Stored: a deferred import whose lines are all written, its linking
	// left to the load of the imports that were still storing (awaiting).
	Stored bool `json:"stored,omitempty"`
}

// spoolChunk is the number of lines spooled per transaction.
const spoolChunk = 1000

// Submit reads NDJSON lines from r, validates each, spools them to the
// database as a new import job of actor and queues it: once Submit
// returns, the job survives a restart. A malformed line is kept with its
// OperationOutcome (reported rejected, by line number); with
// opts.Strict it refuses the whole import instead. An error reading r
// (over the body limit, a broken upload) removes what was spooled.
func (j *Jobs) Submit(ctx context.Context, actor registry.Actor, r io.Reader, opts ImportOptions) (*registry.BulkJob, error) {
	params, _ := json.Marshal(importParams{Strict: opts.Strict, Local: opts.Local})
	now := j.now()
	job := &registry.BulkJob{ID: newID(), Kind: registry.JobImport, Status: registry.JobReceiving, Actor: actor,
		Request: opts.Request, Params: params, Created: now, Updated: now}
	if err := j.store.CreateJob(ctx, job); err != nil {
		return nil, err
	}
	n, err := j.spool(ctx, job.ID, r, opts.Strict)
	if err == nil && n == 0 {
		err = registry.Invalid(registry.EInvalid, "required", "", "the import holds no resources: send one %s resource per line (application/fhir+ndjson)", strings.Join(Importable, ", "))
	}
	if err != nil {
		if derr := j.store.DeleteJob(context.WithoutCancel(ctx), job.ID); derr != nil {
			j.log.Warn("bulk import: cannot remove a refused upload", "job", job.ID, "err", derr)
		}
		return nil, err
	}
	job.Status, job.Total, job.Updated = registry.JobQueued, n, j.now()
	if opts.Local {
		j.reserve(job.ID) // until the caller's Work ends
	}
	if err := j.store.UpdateJob(ctx, job); err != nil {
		j.release(job.ID)
		return nil, err
	}
	if !opts.Local {
		j.notify()
	}
	return job, nil
}

// spool reads and stores the lines of r; it returns the number of
// resources (non-blank lines).
func (j *Jobs) spool(ctx context.Context, job string, r io.Reader, strict bool) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var chunk []registry.ImportLine
	n, lineNo := 0, 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			if body := bytes.TrimSpace(line); len(body) > 0 {
				n++
				l := registry.ImportLine{Line: lineNo, Body: body}
				if _, _, perr := j.parseLine(lineNo, body); perr != nil {
					if strict {
						return 0, perr
					}
					l.Problem, _ = json.Marshal(registry.ErrorOutcome(perr))
				}
				chunk = append(chunk, l)
			}
		}
		if len(chunk) >= spoolChunk || (err != nil && len(chunk) > 0) {
			if serr := j.store.AppendLines(ctx, job, chunk); serr != nil {
				return 0, serr
			}
			chunk = chunk[:0]
		}
		switch {
		case errors.Is(err, io.EOF):
			return n, nil
		case err != nil && registry.ErrorCode(err) != registry.EInternal:
			return 0, err // the body limit (413), a bad encoding (400)
		case err != nil:
			return 0, registry.Errorf(registry.EInvalid, "the import could not be read after line %d: %v", lineNo, err)
		}
	}
}

// parseLine parses and validates one line: a Patient, Practitioner or
// Location. Its problems name the line.
func (j *Jobs) parseLine(lineNo int, body []byte) (string, map[string]any, error) {
	res, err := j.limits.ParseResource(body, "")
	if err == nil {
		if typ, _ := res["resourceType"].(string); !slices.Contains(Importable, typ) {
			err = registry.Invalid(registry.EInvalid, "not-supported", "resourceType",
				"resourceType %q cannot be imported (only %s)", typ, strings.Join(Importable, ", "))
		}
	}
	if err != nil {
		return "", nil, atLine(lineNo, err)
	}
	return res["resourceType"].(string), res, nil
}

// atLine prefixes err's messages with the line number, keeping its code.
func atLine(lineNo int, err error) error {
	code := registry.ErrorCode(err)
	if code == registry.EInternal {
		return err
	}
	out := &registry.Error{Code: code, Message: fmt.Sprintf("line %d: %s", lineNo, registry.ErrorMessage(err))}
	for _, is := range registry.ErrorIssues(err) {
		is.Diagnostics = fmt.Sprintf("line %d: %s", lineNo, is.Diagnostics)
		out.Issues = append(out.Issues, is)
	}
	return out
}

// runImport writes the job's spooled lines in batches, each batch one
// transaction with its results and the job's cursor, from the cursor on.
func (j *Jobs) runImport(ctx context.Context, job *registry.BulkJob, progress func(*registry.BulkJob)) error {
	var params importParams
	_ = json.Unmarshal(job.Params, &params)
	ctx = registry.WithActor(ctx, job.Actor)
	svc, err := j.importService(ctx, job, &params)
	if err != nil {
		return err
	}
	commit := func(ctx context.Context, tx registry.Tx, upTo int, results []*registry.ImportResult) error {
		return j.store.SaveResults(ctx, tx, job.ID, upTo, results)
	}
	if params.Strict {
		if err := j.importAll(ctx, svc, job, commit, progress); err != nil {
			return err
		}
		// the lease may have run out during the one transaction: whoever
		// holds it now ends the job
		if err := j.renew(ctx, job); err != nil {
			return err
		}
		return j.imported(ctx, job, &params)
	}
	for {
		recs, err := j.batch(ctx, job, job.Done)
		if err != nil || len(recs) == 0 {
			if err != nil {
				return err
			}
			break
		}
		if _, err := svc.ImportBatch(ctx, recs, commit); err != nil {
			return err
		}
		job.Done, job.Status = recs[len(recs)-1].Line, registry.JobRunning
		if progress != nil {
			progress(job)
		}
		if err := j.renew(ctx, job); err != nil {
			return err
		}
	}
	return j.imported(ctx, job, &params)
}

// batch reads and parses the next BatchSize spooled lines of job after
// line number after.
func (j *Jobs) batch(ctx context.Context, job *registry.BulkJob, after int) ([]*registry.ImportRecord, error) {
	lines, err := j.store.Lines(ctx, job.ID, after, j.BatchSize)
	if err != nil {
		return nil, err
	}
	recs := make([]*registry.ImportRecord, len(lines))
	for i, l := range lines {
		recs[i] = &registry.ImportRecord{Line: l.Line}
		recs[i].Type, recs[i].Resource, recs[i].Err = j.parseLine(l.Line, l.Body)
	}
	return recs, nil
}

// imported ends an import whose lines are all written: the records stored
// unlinked are linked, and the job is done with its summary. A deferred
// import that ends while other imports are queued or still storing theirs
// unlinked leaves its linking to the last of them (errAwaiting): sources
// imported together into a fresh registry make one first load, trained
// and linked once, not one re-match of everything per source.
func (j *Jobs) imported(ctx context.Context, job *registry.BulkJob, params *importParams) error {
	deferred := params.Deferred != nil && *params.Deferred
	if deferred && !params.Local {
		storing, err := j.storing(ctx, job.ID)
		if err != nil {
			return err
		}
		if storing != "" {
			if !params.Stored {
				params.Stored = true
				job.Params, _ = json.Marshal(params)
				if err := j.store.UpdateJob(ctx, job); err != nil {
					return err
				}
				j.log.Info("bulk import: records stored; they are linked with those of the imports still storing", "job", job.ID, "waits for", storing)
			}
			return errAwaiting
		}
	}
	if j.Calibration != nil {
		if err := j.Calibration.Loaded(ctx, Importable, deferred); err != nil {
			return registry.Internal(fmt.Errorf("linking after the import: %w", err))
		}
	}
	if deferred { // the report says what linking did, as a linked import's does
		if err := j.store.LinkResults(ctx, job.ID); err != nil {
			return err
		}
	}
	sum, err := j.Summary(ctx, job)
	if err != nil {
		return err
	}
	job.Summary, _ = json.Marshal(sum)
	return j.finish(ctx, job)
}

// Phase says what an active import is doing, for its status: "queued",
// "writing" its lines (linking them as it goes unless deferred),
// "stored" (its linking waits for other imports, see imported) or
// "linking" the records it stored unlinked.
func Phase(job *registry.BulkJob) string {
	var p importParams
	_ = json.Unmarshal(job.Params, &p)
	switch {
	case job.Status != registry.JobRunning:
		return job.Status
	case job.Done < job.Total:
		return "writing"
	case p.Stored:
		return "stored"
	case p.Deferred != nil && *p.Deferred:
		return "linking"
	}
	return job.Status
}

// errAwaiting ends a worker's turn at an import whose records are stored
// and whose linking waits for other imports (imported): the job stays
// running, and is looked at again at the worker's next poll.
var errAwaiting = errors.New("bulk import: linking waits for other imports")

// storing returns the id of an import other than job that is queued, or
// storing its records unlinked, and so will link them (and job's) when it
// ends; "" when there is none. An import linking as it writes, or whose
// records are stored, is not waited for.
func (j *Jobs) storing(ctx context.Context, job string) (string, error) {
	jobs, err := j.store.Jobs(ctx, registry.JobImport, 1000)
	if err != nil {
		return "", err
	}
	for _, o := range jobs {
		if o.ID == job || !o.Active() {
			continue
		}
		var p importParams
		_ = json.Unmarshal(o.Params, &p)
		if p.Deferred == nil || (*p.Deferred && !p.Stored) {
			return o.ID, nil
		}
	}
	return "", nil
}

// importService decides, when the job starts, whether its records are
// stored unlinked (the calibration's call), keeps the decision with the
// job so a resumed job holds to it, and returns the service to write with.
func (j *Jobs) importService(ctx context.Context, job *registry.BulkJob, params *importParams) (*registry.Service, error) {
	if params.Deferred == nil {
		deferred := false
		if j.Calibration != nil && j.Unlinked != nil {
			var err error
			if deferred, err = j.Calibration.DeferLinking(ctx, job.Total); err != nil {
				return nil, err
			}
		}
		params.Deferred = &deferred
		job.Params, _ = json.Marshal(params)
		if err := j.store.UpdateJob(ctx, job); err != nil {
			return nil, err
		}
		if deferred {
			j.log.Info("bulk import: records stored unlinked, linked under a model trained on them at the end", "job", job.ID, "records", job.Total)
		}
	}
	if *params.Deferred {
		return j.Unlinked, nil
	}
	return j.svc, nil
}

// problemText returns the diagnostics of an OperationOutcome (JSON).
func problemText(problem []byte) string {
	var oo struct {
		Issue []struct {
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	_ = json.Unmarshal(problem, &oo)
	var out []string
	for _, is := range oo.Issue {
		out = append(out, is.Diagnostics)
	}
	return strings.Join(out, "; ")
}
