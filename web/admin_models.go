package web

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// The matching models of self-calibration in the admin API: the history
// with each model's state, training report and last dry run; training on
// demand; a candidate's dry run; apply and roll back. Every decision goes
// through the Calibrator, which audits applies and rollbacks.

func (s *Server) modelAdminRoutes(a fiber.Router) {
	a.Get("/models", s.handleModelList)
	a.Post("/models/train", s.handleModelTrain)
	a.Post("/models/rollback", s.handleModelRollback)
	a.Get("/models/:version", s.handleModelGet)
	a.Post("/models/:version/dry-run", s.handleModelDryRun)
	a.Post("/models/:version/apply", s.handleModelApply)
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

// handleModelTrain trains a candidate for one type; a training that does
// not converge is stored failed and answered 422 with its reason.
func (s *Server) handleModelTrain(c *fiber.Ctx) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	var in trainJSON
	if err := json.Unmarshal(c.Body(), &in); err != nil || in.Type == "" {
		return registry.Errorf(registry.EInvalid, `the body must be {"type": "Patient"} (Patient, Practitioner or Location)`)
	}
	note := in.Note
	if note == "" {
		note = "admin API: trained by " + registry.ActorFrom(c.UserContext()).Name
	}
	sm, err := cal.Train(c.UserContext(), in.Type, note)
	if err != nil {
		return err
	}
	_, rep, err := cal.Model(c.UserContext(), sm.Version)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newModelJSON(sm, &rep))
}

// rematchJSON is the answer of a dry run, apply or rollback: the model
// now applied (0 for a dry run) and what each type's re-match changes.
type rematchJSON struct {
	Applied int64                    `json:"applied,omitempty"`
	DryRun  bool                     `json:"dryRun"`
	Rematch []linkage.RematchSummary `json:"rematch"`
}

func (s *Server) summaries(rs []*linkage.Rematch) []linkage.RematchSummary {
	out := []linkage.RematchSummary{}
	for _, r := range rs {
		out = append(out, linkage.Summarise(r, s.now()))
	}
	return out
}

func (s *Server) handleModelDryRun(c *fiber.Ctx) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	v, err := modelVersion(c)
	if err != nil {
		return err
	}
	rs, err := cal.DryRun(c.UserContext(), v)
	if err != nil {
		return err
	}
	return c.JSON(rematchJSON{DryRun: true, Rematch: s.summaries(rs)})
}

func (s *Server) handleModelApply(c *fiber.Ctx) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	v, err := modelVersion(c)
	if err != nil {
		return err
	}
	rs, err := cal.Apply(c.UserContext(), v)
	if err != nil {
		return err
	}
	return c.JSON(rematchJSON{Applied: v, Rematch: s.summaries(rs)})
}

func (s *Server) handleModelRollback(c *fiber.Ctx) error {
	cal, err := s.calibration()
	if err != nil {
		return err
	}
	v, rs, err := cal.Rollback(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(rematchJSON{Applied: v, Rematch: s.summaries(rs)})
}
