package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/registry/fhir"
)

// resourceType returns the :type route parameter, or ENotFound when the
// registry does not serve that type.
func resourceType(c *fiber.Ctx) (string, error) {
	typ := c.Params("type")
	if !registry.IsType(typ) {
		return "", registry.Errorf(registry.ENotFound, "resource type %q is not served here (served: %s)", typ, strings.Join(registry.Types, ", "))
	}
	return typ, nil
}

// body parses the request body as a resource of type typ, within the
// configured repeat limits.
func (s *Server) body(c *fiber.Ctx, typ string) (map[string]any, error) {
	if len(c.Body()) == 0 {
		return nil, registry.Invalid(registry.EInvalid, "required", typ, "the request has no body: send a %s resource as application/fhir+json", typ)
	}
	return s.cfg.Limits.ParseResource(c.Body(), typ)
}

func (s *Server) handleRead(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	r, err := s.registry.Read(c.UserContext(), typ, c.Params("id"))
	if err != nil {
		if r != nil && r.Deleted {
			setVersionHeaders(c, r)
		}
		return err
	}
	s.auditRead(c, readAudit{action: "R", subtype: "read", records: []string{versionRef(r)}, total: -1})
	return s.sendStored(c, fiber.StatusOK, r)
}

func (s *Server) handleVRead(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	v, err := parseVersion(c.Params("vid"))
	if err != nil {
		return err
	}
	r, err := s.registry.VRead(c.UserContext(), typ, c.Params("id"), v)
	if err != nil {
		return err
	}
	s.auditRead(c, readAudit{action: "R", subtype: "vread", records: []string{versionRef(r)}, total: -1})
	return s.sendStored(c, fiber.StatusOK, r)
}

func (s *Server) handleCreate(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	res, err := s.body(c, typ)
	if err != nil {
		return err
	}
	out, err := s.registry.Create(c.UserContext(), typ, res, c.Get("If-None-Exist"))
	if err != nil {
		return err
	}
	return s.sendOutcomeOf(c, out)
}

func (s *Server) handleUpdate(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	res, err := s.body(c, typ)
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	out, err := s.registry.Update(c.UserContext(), typ, c.Params("id"), res, match)
	if err != nil {
		return err
	}
	return s.sendOutcomeOf(c, out)
}

func (s *Server) handleConditionalUpdate(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	criteria, err := queryValues(c)
	if err != nil {
		return err
	}
	res, err := s.body(c, typ)
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	out, err := s.registry.ConditionalUpdate(c.UserContext(), typ, withoutControl(criteria), res, match)
	if err != nil {
		return err
	}
	return s.sendOutcomeOf(c, out)
}

func (s *Server) handleDelete(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	out, err := s.registry.Delete(c.UserContext(), typ, c.Params("id"))
	if err != nil {
		return err
	}
	return s.sendDeleted(c, out)
}

func (s *Server) handleConditionalDelete(c *fiber.Ctx) error {
	typ, err := resourceType(c)
	if err != nil {
		return err
	}
	criteria, err := queryValues(c)
	if err != nil {
		return err
	}
	out, err := s.registry.ConditionalDelete(c.UserContext(), typ, withoutControl(criteria))
	if err != nil {
		return err
	}
	return s.sendDeleted(c, out)
}

// withoutControl drops the formatting parameters that are not criteria.
func withoutControl(v map[string][]string) map[string][]string {
	delete(v, "_format")
	delete(v, "_pretty")
	return v
}

func (s *Server) sendDeleted(c *fiber.Ctx, out *registry.Outcome) error {
	if out.Resource != nil && !out.NoChange {
		c.Set(fiber.HeaderETag, registry.ETag(out.Resource.VersionID))
	}
	msg := "deleted"
	if out.NoChange {
		msg = "already deleted"
	}
	return s.sendOutcome(c, fiber.StatusOK, fhir.Information(msg))
}

// sendOutcomeOf answers a create or update per the Prefer return setting.
func (s *Server) sendOutcomeOf(c *fiber.Ctx, out *registry.Outcome) error {
	if out.Held != nil {
		return s.sendHeld(c, out.Held)
	}
	r := out.Resource
	status := out.Status()
	setVersionHeaders(c, r)
	loc := s.base(c) + "/" + r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
	if status == http.StatusCreated || !out.Existing {
		c.Set(fiber.HeaderLocation, loc)
	}
	c.Set(fiber.HeaderContentLocation, loc)
	if out.Golden != "" {
		// The record's golden record (Person or Linkage) as linked in this write.
		c.Set(fiber.HeaderLink, "<"+s.base(c)+"/"+out.Golden+`>; rel="golden-record"`)
	}
	switch preferReturn(c) {
	case "minimal":
		return c.SendStatus(status)
	case "OperationOutcome":
		msg := "updated " + r.Type + "/" + r.ID
		if out.Existing {
			msg = "matched existing " + r.Type + "/" + r.ID
		} else if out.Created {
			msg = "created " + r.Type + "/" + r.ID
		}
		return s.sendOutcome(c, status, fhir.Information(msg))
	}
	return s.sendStored(c, status, r)
}

func (s *Server) handleBundle(c *fiber.Ctx) error {
	b, err := s.cfg.Limits.ParseResource(c.Body(), "Bundle")
	if err != nil {
		return err
	}
	if err := s.allowEntries(c.UserContext(), b); err != nil {
		return err
	}
	opts := registry.BundleOptions{Return: preferReturn(c), Base: s.base(c)}
	out, err := s.registry.Bundle(c.UserContext(), b, opts)
	if err != nil {
		return err
	}
	s.auditBundleReads(c, b, out)
	return s.sendJSON(c, fiber.StatusOK, out)
}
