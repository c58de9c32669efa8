package web

import (
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// The Models page (admins): the matching models of self-calibration — the
// history with each model's state, one model's training report and the
// counts and sample pairs (with evidence) of its last dry run or apply —
// and the forms that train a candidate, dry-run it, apply it and roll back.
// Every form posts and redirects back (post/redirect/get) with a message;
// the decisions go through the Calibrator, which audits them.

func (s *Server) modelUIRoutes(admin func(fiber.Handler) []fiber.Handler) {
	s.app.Get("/admin/models", admin(s.handleModelsPage)...)
	s.app.Post("/admin/models/train", admin(s.handleUIModelTrain)...)
	s.app.Post("/admin/models/dry-run", admin(s.handleUIModelDryRun)...)
	s.app.Post("/admin/models/apply", admin(s.handleUIModelApply)...)
	s.app.Post("/admin/models/rollback", admin(s.handleUIModelRollback)...)
}

type modelsPage struct {
	view
	Models   []*registry.StoredModel
	Selected *registry.StoredModel
	Report   linkage.ModelReport
	Current  int64 // the model applied last (0: the configured rules)
	Types    []string
	Kinds    []string // the change kinds, in the order the counts show
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

// modelAction runs one form's decision and redirects to the page of the
// model it concerns, with its outcome as a message: a refused decision
// (bad input, a conflict, a failed training) is shown, an internal error
// is the error page's.
func (s *Server) modelAction(c *fiber.Ctx, do func(*linkage.Calibrator) (int64, string, error)) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	v, msg, err := do(cal)
	if code := registry.ErrorCode(err); code != "" && code != registry.EInternal {
		s.setFlash(c, flash{Kind: "error", Msg: registry.ErrorMessage(err)})
	} else if err != nil {
		return err
	} else {
		s.setFlash(c, flash{Kind: "ok", Msg: msg})
	}
	if v > 0 {
		return redirect(c, "/admin/models?version="+strconv.FormatInt(v, 10))
	}
	return redirect(c, "/admin/models")
}

func (s *Server) handleUIModelTrain(c *fiber.Ctx) error {
	typ := c.FormValue("type")
	return s.modelAction(c, func(cal *linkage.Calibrator) (int64, string, error) {
		sm, err := cal.Train(c.UserContext(), typ, "admin UI: trained by "+registry.ActorFrom(c.UserContext()).Name)
		if sm != nil && err != nil {
			return sm.Version, "", err // stored as failed: show it
		}
		if err != nil {
			return 0, "", err
		}
		return sm.Version, "Model " + strconv.FormatInt(sm.Version, 10) + " trained on " + strconv.Itoa(sm.Records) + " " + typ + " records: a candidate. Dry-run it to see what it would change.", nil
	})
}

func (s *Server) handleUIModelDryRun(c *fiber.Ctx) error {
	return s.modelAction(c, func(cal *linkage.Calibrator) (int64, string, error) {
		v, err := formVersion(c)
		if err != nil {
			return 0, "", err
		}
		rs, err := cal.DryRun(c.UserContext(), v)
		return v, "Dry run of model " + strconv.FormatInt(v, 10) + ": " + changedText(rs) + " would change. Nothing was applied.", err
	})
}

func (s *Server) handleUIModelApply(c *fiber.Ctx) error {
	return s.modelAction(c, func(cal *linkage.Calibrator) (int64, string, error) {
		v, err := formVersion(c)
		if err != nil {
			return 0, "", err
		}
		rs, err := cal.Apply(c.UserContext(), v)
		return v, "Model " + strconv.FormatInt(v, 10) + " applied: " + changedText(rs) + " re-matched.", err
	})
}

func (s *Server) handleUIModelRollback(c *fiber.Ctx) error {
	return s.modelAction(c, func(cal *linkage.Calibrator) (int64, string, error) {
		v, rs, err := cal.Rollback(c.UserContext())
		return v, "Rolled back to model " + strconv.FormatInt(v, 10) + ": " + changedText(rs) + " re-matched.", err
	})
}

// changedText says how many records a re-match changes.
func changedText(rs []*linkage.Rematch) string {
	n := 0
	for _, r := range rs {
		n += r.Changed()
	}
	if n == 1 {
		return "1 record"
	}
	return strconv.Itoa(n) + " records"
}
