package ui

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// The Models page (admins): the matching models of self-calibration — the
// history with each model's state, one model's training report and the
// counts and sample pairs (with evidence) of its last dry run or apply —
// and the forms that train a candidate, dry-run it, apply it and roll back.
// Every form queues a job on the durable job queue and redirects to the
// job's page (post/redirect/get), which refreshes itself until the job is
// done and then shows its result; the decisions go through the
// Calibrator, which audits them.

func (s *Server) modelRoutes(r fiber.Router, admin func(fiber.Handler) []fiber.Handler) {
	r.Get("/admin/models", admin(s.handleModelsPage)...)
	r.Post("/admin/models/train", admin(s.handleUIModelTrain)...)
	r.Post("/admin/models/dry-run", admin(s.handleUIModelDryRun)...)
	r.Post("/admin/models/apply", admin(s.handleUIModelApply)...)
	r.Post("/admin/models/rollback", admin(s.handleUIModelRollback)...)
	r.Get("/admin/models/jobs/:id", admin(s.handleModelJobPage)...)
}

type modelsPage struct {
	view
	Models   []*registry.StoredModel
	Selected *registry.StoredModel
	Report   linkage.ModelReport
	Current  int64 // the model applied last (0: the configured rules)
	Types    []string
	Kinds    []string // the change kinds, in the order the counts show
	Jobs     []linkage.ModelJobStatus
}

// calibration returns the self-calibration, or EMethod when this server
// has none.
func (s *Server) calibration() (*linkage.Calibrator, error) {
	if s.calib == nil {
		return nil, registry.Errorf(registry.EMethod, "self-calibration is not available on this server")
	}
	return s.calib, nil
}

// changeKinds are the kinds of change a re-match counts.
var changeKinds = []string{linkage.ChangeNewLink, linkage.ChangeMoved, linkage.ChangeUnlinked, linkage.ChangeToReview, linkage.ChangeFromReview}

func (s *Server) handleModelsPage(c *fiber.Ctx) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	list, err := cal.History(ctx)
	if err != nil {
		return err
	}
	p := modelsPage{view: s.baseView(c, "Models", "models"), Models: list, Kinds: changeKinds,
		Types: []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation}}
	var last time.Time
	for _, m := range list {
		if m.Applied.After(last) {
			last, p.Current = m.Applied, m.Version
		}
	}
	if p.Jobs, err = s.modelJobs(c); err != nil {
		return err
	}
	want, _ := strconv.ParseInt(c.Query("version"), 10, 64)
	if i := slices.IndexFunc(list, func(m *registry.StoredModel) bool { return m.Version == want }); i >= 0 {
		p.Selected = list[i]
	} else if len(list) > 0 {
		p.Selected = list[0]
	}
	if p.Selected != nil {
		if _, p.Report, err = cal.Model(ctx, p.Selected.Version); err != nil {
			return err
		}
	}
	return s.render(c, fiber.StatusOK, "models", p)
}

// formVersion reads the version field of a posted form.
func formVersion(c *fiber.Ctx) (int64, error) {
	v, err := strconv.ParseInt(c.FormValue("version"), 10, 64)
	if err != nil || v <= 0 {
		return 0, registry.Errorf(registry.EInvalid, "model version %q: want a positive number", c.FormValue("version"))
	}
	return v, nil
}

// modelAction queues one form's job (train, dry run, apply, roll back) on
// the durable job queue and redirects to its page, which refreshes itself
// until the job is done (post/redirect/get). A request refused at once (a
// bad type, an unknown or failed model, nothing to roll back to) is shown
// as a message on the Models page; an internal error is the error page's.
func (s *Server) modelAction(c *fiber.Ctx, op, typ string, version int64, note string) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	if s.bulk == nil {
		return registry.Errorf(registry.EMethod, "model jobs need the job queue, which this server does not run")
	}
	job, err := cal.NewJob(c.UserContext(), op, typ, version, note)
	if err == nil {
		err = s.bulk.Enqueue(c.UserContext(), job)
	}
	if code := registry.ErrorCode(err); code != "" && code != registry.EInternal {
		s.setFlash(c, flash{Kind: "error", Msg: registry.ErrorMessage(err)})
		if version > 0 {
			return redirect(c, "/admin/models?version="+strconv.FormatInt(version, 10))
		}
		return redirect(c, "/admin/models")
	} else if err != nil {
		return err
	}
	return redirect(c, "/admin/models/jobs/"+job.ID)
}

func (s *Server) handleUIModelTrain(c *fiber.Ctx) error {
	return s.modelAction(c, linkage.OpTrain, c.FormValue("type"), 0, "admin UI: trained by "+registry.ActorFrom(c.UserContext()).Name)
}

func (s *Server) handleUIModelDryRun(c *fiber.Ctx) error {
	v, err := formVersion(c)
	if err != nil {
		return err
	}
	return s.modelAction(c, linkage.OpDryRun, "", v, "")
}

func (s *Server) handleUIModelApply(c *fiber.Ctx) error {
	v, err := formVersion(c)
	if err != nil {
		return err
	}
	return s.modelAction(c, linkage.OpApply, "", v, "")
}

func (s *Server) handleUIModelRollback(c *fiber.Ctx) error {
	return s.modelAction(c, linkage.OpRollback, "", 0, "")
}

// modelJobs returns the newest model jobs, for the Models page.
func (s *Server) modelJobs(c *fiber.Ctx) ([]linkage.ModelJobStatus, error) {
	if s.bulk == nil {
		return nil, nil
	}
	jobs, err := s.bulk.Store().Jobs(c.UserContext(), linkage.JobModel, 10)
	if err != nil {
		return nil, err
	}
	var out []linkage.ModelJobStatus
	for _, j := range jobs {
		st, err := linkage.ModelJob(j)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

type modelJobPage struct {
	view
	Job     *registry.BulkJob
	Status  linkage.ModelJobStatus
	Kinds   []string
	Changed int // records the dry run or apply changes, over its types
	Elapsed time.Duration
}

// handleModelJobPage shows one model job: its stage and progress while it
// runs (the page refreshes itself), then its result — the model trained,
// or what the dry run, apply or rollback changes per type — or why it
// failed.
func (s *Server) handleModelJobPage(c *fiber.Ctx) error {
	if s.bulk == nil {
		return registry.Errorf(registry.ENotFound, "model jobs are not offered by this server")
	}
	id := strings.Clone(c.Params("id"))
	job, err := s.bulk.Job(c.UserContext(), id)
	if err == nil && job.Kind != linkage.JobModel {
		err = registry.Errorf(registry.ENotFound, "no model job %q", id)
	}
	if err != nil {
		return err
	}
	st, err := linkage.ModelJob(job)
	if err != nil {
		return err
	}
	p := modelJobPage{view: s.baseView(c, "Model job", "models"), Job: job, Status: st, Kinds: changeKinds}
	if st.Result != nil {
		for _, r := range st.Result.Rematch {
			p.Changed += r.Changed
		}
	}
	end := job.Finished
	if end.IsZero() {
		end = time.Now()
	}
	p.Elapsed = end.Sub(job.Created).Round(time.Second)
	if job.Active() {
		p.Refresh = 1
	}
	return s.render(c, fiber.StatusOK, "model_job", p)
}
