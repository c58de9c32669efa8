package web

import (
	"idem/registry/fhir"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// Held writes over FHIR (registry/held.go). A client whose create or update
// waits gets 202 Accepted with the status URL in Content-Location; GET on
// it answers 202 while the write waits, 200 with the record's Location
// once stored, and the rejection as an OperationOutcome. Stewards and
// admins list the queue and accept (optionally with an edited resource as
// the body) or reject (a Parameters with a reason).
func (s *Server) heldRoutes(f fiber.Router) {
	f.Get("/$held", s.handleHeldList)
	f.Get("/$held/:id", s.handleHeldStatus)
	f.Post("/$held/:id/$accept", s.handleHeldAccept)
	f.Post("/$held/:id/$reject", s.handleHeldReject)
	f.All("/$held*", s.handleNoRoute)
}

// heldURL is the status URL of held write h.
func (s *Server) heldURL(c *fiber.Ctx, h *registry.Held) string {
	return s.base(c) + "/$held/" + h.ID
}

// sendHeld answers a write that was held: 202, the status URL, and why.
func (s *Server) sendHeld(c *fiber.Ctx, h *registry.Held) error {
	c.Set(fiber.HeaderContentLocation, s.heldURL(c, h))
	return s.sendOutcome(c, fiber.StatusAccepted, fhir.OperationOutcome(heldIssues(h, s.heldURL(c, h))))
}

// heldIssues say what h waits for, with its status URL.
func heldIssues(h *registry.Held, statusURL string) []fhir.Issue {
	issues := []fhir.Issue{{Severity: fhir.SeverityInformation, Code: "informational",
		Diagnostics: "accepted for processing, not stored yet: " + h.Reason + "; status: " + statusURL}}
	for _, u := range h.Waiting {
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityWarning, Code: "not-found", Expression: []string{u.Path},
			Diagnostics: u.Path + ": " + u.Reference + " is not in the registry yet; the " + h.Type + " waits for it"})
	}
	return issues
}

func (s *Server) handleHeldStatus(c *fiber.Ctx) error {
	h, err := s.registry.HeldWrite(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return s.sendHeldState(c, h)
}

// sendHeldState answers the state of h: 202 pending, 200 accepted (with
// the record's Location), 422 rejected with the reason.
func (s *Server) sendHeldState(c *fiber.Ctx, h *registry.Held) error {
	switch h.Status {
	case registry.HeldAccepted:
		c.Set(fiber.HeaderLocation, s.base(c)+"/"+h.Result)
		return s.sendOutcome(c, fiber.StatusOK, fhir.Information("accepted: stored as "+h.Result))
	case registry.HeldRejected:
		return registry.Invalid(registry.EUnprocessable, "business-rule", "", "held write %s was rejected: %s", h.ID, h.Reason)
	}
	return s.sendHeld(c, h)
}

func (s *Server) handleHeldList(c *fiber.Ctx) error {
	params, err := queryValues(c)
	if err != nil {
		return err
	}
	f := registry.HeldFilter{Kind: params.Get("kind"), Status: params.Get("status"), Client: params.Get("client"), Type: params.Get("type"), Limit: 500}
	if f.Status == "" {
		f.Status = registry.HeldPending
	}
	list, err := s.registry.HeldWrites(c.UserContext(), f)
	if err != nil {
		return err
	}
	b := newBundle("searchset")
	var entries []any
	for _, h := range list {
		entries = append(entries, heldEntry(h, s.heldURL(c, h)))
	}
	b["total"] = len(entries)
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return s.sendJSON(c, fiber.StatusOK, b)
}

// ExtHeld is the base of the entry extensions describing a held write.
const ExtHeld = "http://idem.dev/fhir/StructureDefinition/held-"

// heldEntry is held write h as a searchset entry: the resource as it will
// be written (with the id it will have), its status URL as fullUrl, and
// what it waits for as entry extensions.
func heldEntry(h *registry.Held, statusURL string) map[string]any {
	str := func(name, v string) map[string]any { return map[string]any{"url": ExtHeld + name, "valueString": v} }
	exts := []any{str("kind", h.Kind), str("status", h.Status), str("client", h.Actor.Name), str("action", h.Action),
		str("record", h.Type+"/"+h.ResourceID), str("reason", h.Reason),
		map[string]any{"url": ExtHeld + "created", "valueInstant": registry.FormatInstant(h.Created)}}
	if h.Result != "" {
		exts = append(exts, str("result", h.Result))
	}
	for _, u := range h.Waiting {
		exts = append(exts, str("waiting", u.Path+" → "+u.Reference))
	}
	e := map[string]any{"fullUrl": statusURL, "extension": exts, "search": map[string]any{"mode": "match"}}
	if res, err := h.Resource(); err == nil {
		res["id"] = h.ResourceID
		delete(res, "meta")
		e["resource"] = res
	}
	return e
}

func (s *Server) handleHeldAccept(c *fiber.Ctx) error {
	var edited map[string]any
	if len(c.Body()) > 0 {
		h, err := s.registry.HeldWrite(c.UserContext(), c.Params("id"))
		if err != nil {
			return err
		}
		if edited, err = s.cfg.Limits.ParseResource(c.Body(), h.Type); err != nil {
			return err
		}
	}
	h, err := s.registry.Accept(c.UserContext(), c.Params("id"), edited)
	if err != nil {
		return err
	}
	return s.sendHeldState(c, h)
}

func (s *Server) handleHeldReject(c *fiber.Ctx) error {
	reason := ""
	if len(c.Body()) > 0 {
		p, err := s.cfg.Limits.ParseResource(c.Body(), "Parameters")
		if err != nil {
			return err
		}
		params, _ := p["parameter"].([]any)
		for _, e := range params {
			if pm, _ := e.(map[string]any); pm["name"] == "reason" {
				reason, _ = pm["valueString"].(string)
			}
		}
	}
	h, err := s.registry.Reject(c.UserContext(), c.Params("id"), reason)
	if err != nil {
		return err
	}
	return s.sendOutcome(c, fiber.StatusOK, fhir.Information("rejected held write "+h.ID+": "+h.Reason))
}
