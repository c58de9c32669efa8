package web

import (
	"context"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/registry/fhir"
)

// EndpointService is the registry of linked servers: Endpoint and
// Organization resources (admins write, everyone authenticated reads and
// searches; credentials are never returned), and pulls from a peer.
type EndpointService interface {
	CreateDirectory(ctx context.Context, typ string, res map[string]any) (map[string]any, error)
	UpdateDirectory(ctx context.Context, typ, id string, res map[string]any) (map[string]any, error)
	ReadDirectory(ctx context.Context, typ, id string) (map[string]any, error)
	SearchDirectory(ctx context.Context, typ string, params url.Values) ([]map[string]any, error)
	DeleteDirectory(ctx context.Context, typ, id string) error
	// Sync pulls from Endpoint id now and answers its counts (Parameters).
	Sync(ctx context.Context, id string) (map[string]any, error)
	// Notified schedules a pull from Endpoint id at once (a peer's
	// subscription notification arrived).
	Notified(ctx context.Context, id string) error
}

// endpointRoutes registers Endpoint and Organization and $sync.
func (s *Server) endpointRoutes(f fiber.Router) {
	f.Post("/Endpoint/:id/$sync", s.handleEndpointSync)
	f.Post("/Endpoint/:id/$notify", s.handleEndpointNotify)
	for _, typ := range []string{"Endpoint", "Organization"} {
		h := directoryHandlers{s: s, typ: typ}
		f.Post("/"+typ, h.create)
		f.Get("/"+typ, h.search)
		f.Get("/"+typ+"/:id", h.read)
		f.Put("/"+typ+"/:id", h.update)
		f.Delete("/"+typ+"/:id", h.delete)
	}
}

// directoryHandlers serve one directory type.
type directoryHandlers struct {
	s   *Server
	typ string
}

func (h directoryHandlers) body(c *fiber.Ctx) (map[string]any, error) {
	if len(c.Body()) == 0 {
		return nil, registry.Invalid(registry.EInvalid, "required", h.typ, "the request has no body: send a %s as application/fhir+json", h.typ)
	}
	return fhir.DecodeJSON(c.Body())
}

func (h directoryHandlers) create(c *fiber.Ctx) error {
	res, err := h.body(c)
	if err != nil {
		return err
	}
	out, err := h.s.cfg.Exchange.CreateDirectory(c.UserContext(), h.typ, res)
	if err != nil {
		return err
	}
	c.Location(h.s.base(c) + "/" + h.typ + "/" + out["id"].(string))
	return h.s.sendJSON(c, fiber.StatusCreated, out)
}

func (h directoryHandlers) update(c *fiber.Ctx) error {
	res, err := h.body(c)
	if err != nil {
		return err
	}
	out, err := h.s.cfg.Exchange.UpdateDirectory(c.UserContext(), h.typ, c.Params("id"), res)
	if err != nil {
		return err
	}
	return h.s.sendJSON(c, fiber.StatusOK, out)
}

func (h directoryHandlers) read(c *fiber.Ctx) error {
	out, err := h.s.cfg.Exchange.ReadDirectory(c.UserContext(), h.typ, c.Params("id"))
	if err != nil {
		return err
	}
	return h.s.sendJSON(c, fiber.StatusOK, out)
}

func (h directoryHandlers) delete(c *fiber.Ctx) error {
	if err := h.s.cfg.Exchange.DeleteDirectory(c.UserContext(), h.typ, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (h directoryHandlers) search(c *fiber.Ctx) error {
	params, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return registry.Invalid(registry.EInvalid, "invalid", "query", "the query string is malformed")
	}
	out, err := h.s.cfg.Exchange.SearchDirectory(c.UserContext(), h.typ, params)
	if err != nil {
		return err
	}
	return h.s.sendJSON(c, fiber.StatusOK, searchset(h.s.base(c), out))
}

func (s *Server) handleEndpointSync(c *fiber.Ctx) error {
	out, err := s.cfg.Exchange.Sync(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, out)
}

// handleEndpointNotify takes a peer's subscription notification (any
// notification Bundle: the content is not used) and pulls soon.
func (s *Server) handleEndpointNotify(c *fiber.Ctx) error {
	if err := s.cfg.Exchange.Notified(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusOK)
}
