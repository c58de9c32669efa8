package web

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// The matching models of self-calibration in the admin API: the history
// with each model's state, training report and last dry run; training on
// demand; a candidate's dry run; apply and roll back. Training, dry runs,
// applies and rollbacks are jobs on the durable job queue: the request
// answers 202 with the job's URL, which answers 202 with X-Progress while
// it runs and 200 with its result when done. Every decision goes through
// the Calibrator, which audits applies and rollbacks.

func (s *Server) modelAdminRoutes(a fiber.Router) {
	a.Get("/models", s.handleModelList)
	a.Post("/models/train", s.handleModelTrain)
	a.Post("/models/rollback", s.handleModelRollback)
	a.Get("/models/:version", s.handleModelGet)
	a.Get("/models/jobs/:id", s.handleModelJob)
	a.Post("/models/:version/dry-run", s.handleModelJobOp(linkage.OpDryRun))
	a.Post("/models/:version/apply", s.handleModelJobOp(linkage.OpApply))
}

// modelJSON is one stored model as the admin API shows it.
type modelJSON struct {
	Version int64                `json:"version"`
	Created time.Time            `json:"created"`
	State   string               `json:"state"`
	Type    string               `json:"type,omitempty"`
	Records int                  `json:"records"`
	Note    string               `json:"note,omitempty"`
	Applied *time.Time           `json:"applied,omitempty"`
	Report  *linkage.ModelReport `json:"report,omitempty"`
}

func newModelJSON(sm *registry.StoredModel, rep *linkage.ModelReport) modelJSON {
	return modelJSON{Version: sm.Version, Created: sm.Created, State: sm.State, Type: sm.Type, Records: sm.Records,
		Note: sm.Note, Applied: timePtr(sm.Applied), Report: rep}
}

// calibration returns the Calibrator, or EMethod when this server has none.
func (s *Server) calibration() (*linkage.Calibrator, error) {
	if s.cfg.Calibrator == nil {
		return nil, registry.Errorf(registry.EMethod, "self-calibration is not available on this server")
	}
	return s.cfg.Calibrator, nil
}

// modelVersion parses the :version route parameter.
func modelVersion(c *fiber.Ctx) (int64, error) {
	v, err := strconv.ParseInt(c.Params("version"), 10, 64)
	if err != nil || v <= 0 {
		return 0, registry.Errorf(registry.EInvalid, "model version %q: want a positive number", c.Params("version"))
	}
	return v, nil
}

func (s *Server) handleModelList(c *fiber.Ctx) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	list, err := cal.History(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]modelJSON, 0, len(list))
	for _, sm := range list {
		_, rep, err := cal.Model(c.UserContext(), sm.Version)
		if err != nil {
			return err
		}
		out = append(out, newModelJSON(sm, &rep))
	}
	return c.JSON(fiber.Map{"models": out})
}

func (s *Server) handleModelGet(c *fiber.Ctx) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	v, err := modelVersion(c)
	if err != nil {
		return err
	}
	sm, rep, err := cal.Model(c.UserContext(), v)
	if err != nil {
		return err
	}
	return c.JSON(newModelJSON(sm, &rep))
}

// trainJSON is the body of a training request.
type trainJSON struct {
	Type string `json:"type"`
	Note string `json:"note,omitempty"`
}

// enqueueModelJob queues a model job (train, dry run, apply, rollback)
// on the durable job queue as the requester: checked now (a bad type, an
// unknown or failed model, nothing to roll back to are refused at once),
// carried out by the job worker.
func (s *Server) enqueueModelJob(ctx context.Context, op, typ string, version int64, note string) (*registry.BulkJob, error) {
	cal, err := s.calibration()
	if err != nil {
		return nil, err
	}
	if s.bulk == nil {
		return nil, registry.Errorf(registry.EMethod, "model jobs need the job queue, which this server does not run")
	}
	job, err := cal.NewJob(ctx, op, typ, version, note)
	if err != nil {
		return nil, err
	}
	return job, s.bulk.Enqueue(ctx, job)
}

// modelJobAccepted answers a queued model job: 202 with the job's URL in
// Content-Location (the FHIR asynchronous request pattern).
func (s *Server) modelJobAccepted(c *fiber.Ctx, job *registry.BulkJob) error {
	c.Set(fiber.HeaderContentLocation, s.root(c)+"/admin/api/models/jobs/"+job.ID)
	st, err := linkage.ModelJob(job)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(st)
}

// handleModelTrain queues the training of a candidate for one type.
func (s *Server) handleModelTrain(c *fiber.Ctx) error {
	var in trainJSON
	if err := json.Unmarshal(c.Body(), &in); err != nil || in.Type == "" {
		return registry.Errorf(registry.EInvalid, `the body must be {"type": "Patient"} (Patient, Practitioner or Location)`)
	}
	note := in.Note
	if note == "" {
		note = "admin API: trained by " + registry.ActorFrom(c.UserContext()).Name
	}
	job, err := s.enqueueModelJob(c.UserContext(), linkage.OpTrain, in.Type, 0, note)
	if err != nil {
		return err
	}
	return s.modelJobAccepted(c, job)
}

// handleModelJobOp queues a dry run or an apply of the model in the path.
func (s *Server) handleModelJobOp(op string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := modelVersion(c)
		if err != nil {
			return err
		}
		job, err := s.enqueueModelJob(c.UserContext(), op, "", v, "")
		if err != nil {
			return err
		}
		return s.modelJobAccepted(c, job)
	}
}

func (s *Server) handleModelRollback(c *fiber.Ctx) error {
	job, err := s.enqueueModelJob(c.UserContext(), linkage.OpRollback, "", 0, "")
	if err != nil {
		return err
	}
	return s.modelJobAccepted(c, job)
}

// handleModelJob is GET /admin/api/models/jobs/{id}: 202 with X-Progress
// while the job is queued or runs, 200 with its result when done, an
// OperationOutcome (422) saying why when it failed.
func (s *Server) handleModelJob(c *fiber.Ctx) error {
	if s.bulk == nil {
		return registry.Errorf(registry.ENotFound, "no model job %q", c.Params("id"))
	}
	id := strings.Clone(c.Params("id"))
	job, err := s.bulk.Job(c.UserContext(), id)
	if registry.ErrorCode(err) == registry.ENotFound || (err == nil && job.Kind != linkage.JobModel) {
		return registry.Errorf(registry.ENotFound, "no model job %q", id)
	}
	if err != nil {
		return err
	}
	st, err := linkage.ModelJob(job)
	if err != nil {
		return err
	}
	switch {
	case job.Status == registry.JobFailed:
		return registry.Errorf(registry.EUnprocessable, "model job %s (%s) failed: %s", job.ID, job.Request, job.Error)
	case job.Status != registry.JobDone:
		c.Set("X-Progress", modelProgress(st))
		c.Set(fiber.HeaderRetryAfter, "1")
		return c.Status(fiber.StatusAccepted).JSON(st)
	}
	return c.JSON(st)
}

// modelProgress says what a model job does, for X-Progress.
func modelProgress(st linkage.ModelJobStatus) string {
	if st.Stage == "" {
		return st.Status
	}
	if st.Total > 0 {
		return st.Stage + ": " + strconv.Itoa(st.Done) + " of " + strconv.Itoa(st.Total) + " records"
	}
	return st.Stage
}
