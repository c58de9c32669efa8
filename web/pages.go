package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// The admin UI (package web/ui) is mounted on this server. Its pages are
// routes of the same Fiber app, and their errors take the same error path
// as the API's (handleError): the UI only supplies the HTML page an error
// becomes. What else it shares of the server (sign-in throttling, body
// limits, dry-run decisions, audit) is exported here and in signin.go,
// body.go and admin_api.go; web never imports web/ui.

// Pages is the admin UI as the server sees it.
type Pages interface {
	// Routes adds the UI's routes to r.
	Routes(r fiber.Router)
	// ErrorPage renders the HTML page of an error: its status and a message
	// that is safe to show.
	ErrorPage(c *fiber.Ctx, status int, msg string) error
}

// localPage marks a request that an admin UI page answers (AsPage).
const localPage = "web.page"

// Mount adds the admin UI's routes; errors of its pages (AsPage) become
// its error page. Call it once, before the server listens.
func (s *Server) Mount(p Pages) {
	s.pages = p
	p.Routes(s.app)
}

// AsPage marks c as a request for an admin UI page: an error it returns
// becomes the UI's HTML error page rather than an OperationOutcome.
func AsPage(c *fiber.Ctx) { c.Locals(localPage, true) }

func (s *Server) isPage(c *fiber.Ctx) bool {
	page, _ := c.Locals(localPage).(bool)
	return page && s.pages != nil
}

// AuditUI records an admin UI event that is not a write (sign-in,
// sign-out, a refused action); a failure to record is logged.
func (s *Server) AuditUI(c *fiber.Ctx, rec registry.AuditRecord) {
	if s.cfg.Audit == nil {
		return
	}
	if rec.Detail == nil {
		rec.Detail = map[string]string{}
	}
	rec.Detail["interaction"] = c.Method() + " " + c.Path() + " (admin UI)"
	if _, err := s.cfg.Audit.Record(context.WithoutCancel(c.UserContext()), rec); err != nil {
		s.log.Error("audit of an admin UI event failed", "id", RequestID(c), "err", err)
	}
}

// AuditSearch queues the read audit of a search the admin UI ran (query
// as "Patient?name=…", the records shown, total matches).
func (s *Server) AuditSearch(c *fiber.Ctx, query string, shown []*registry.Resource, total int) {
	s.auditRead(c, readAudit{action: "E", subtype: "search-type", query: query, records: versionRefs(shown), total: total})
}

// ParseResource reads a resource of typ sent through the admin UI (a
// steward's edited version of a held write) with the limits the API
// applies to the same resource.
func (s *Server) ParseResource(data []byte, typ string) (map[string]any, error) {
	return s.cfg.Limits.ParseResource(data, typ)
}
