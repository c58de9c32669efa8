package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// The admin UI: server-rendered pages for data stewards (review queue,
// comparison with match evidence, Person and Linkage views, search, audit)
// and admins (clients and policy). Templates and static files are embedded
// and parsed once at start-up; forms post and redirect; every POST carries
// the session's CSRF token. Its handlers only call the registry, the link
// store, the linker and Auth: the UI adds no logic of its own.

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// ui holds the parsed page templates and the static files with their
// checksums (for cache-busting URLs).
type ui struct {
	pages  map[string]*template.Template
	static map[string]staticFile

	mu     sync.Mutex
	counts map[string]cachedCount // the dashboard's records by source system, per type
}

// cachedCount is a type's records by source system, counted at a time:
// counting reads every record, so the dashboard reuses it for a while.
type cachedCount struct {
	at time.Time
	tc typeCount
}

type staticFile struct {
	body  []byte
	ctype string
	sum   string
}

// newUI parses every page template with the layout, and reads the static
// files. The files are embedded, so an error is a bug: it panics at start-up
// rather than on the first request to a broken page.
func newUI() *ui {
	u := &ui{pages: map[string]*template.Template{}, static: map[string]staticFile{}, counts: map[string]cachedCount{}}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(p)
		sum := sha256.Sum256(body)
		u.static[strings.TrimPrefix(p, "static/")] = staticFile{body: body, ctype: mime.TypeByExtension(path.Ext(p)), sum: hex.EncodeToString(sum[:6])}
		return err
	})
	if err != nil {
		panic(err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".html")
		if base == "layout" {
			continue
		}
		t := template.New(base).Funcs(u.funcs())
		u.pages[base] = template.Must(t.ParseFS(templateFiles, "templates/layout.html", name))
	}
	return u
}

// uiRoutes adds the admin UI. Each page states its guards: uiPage renders
// errors as HTML and refuses to serve without Auth; uiSession requires a
// steward or admin session (and the CSRF token on POST); uiAdmin the admin
// role.
func (s *Server) uiRoutes() {
	s.ui = newUI()
	s.app.Get("/static/:name", s.handleStatic)
	s.app.Get("/login", s.uiPage, s.handleLoginForm)
	s.app.Post("/login", s.uiPage, s.handleLogin)
	steward := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{s.uiPage, s.uiSession, h} }
	admin := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{s.uiPage, s.uiSession, s.uiAdmin, h} }
	s.app.Post("/logout", steward(s.handleLogout)...)
	s.app.Get("/", steward(s.handleDashboard)...)
	s.app.Get("/review", steward(s.handleReviewList)...)
	s.app.Get("/review/next", steward(s.handleReviewNext)...)
	s.app.Get("/review/compare", steward(s.handleCompare)...)
	s.app.Post("/review/decide", steward(s.handleReviewDecide)...)
	s.app.Get("/person/:id", steward(s.handlePersonPage)...)
	s.app.Get("/linkage/:id", steward(s.handleLinkagePage)...)
	s.app.Post("/unlink", steward(s.handleUnlink)...)
	s.app.Post("/undo", steward(s.handleUndo)...)
	s.app.Get("/search", steward(s.handleSearchPage)...)
	s.app.Get("/audit", admin(s.handleAuditPage)...)
	s.app.Get("/admin/clients", admin(s.handleClientsPage)...)
	s.app.Post("/admin/clients", admin(s.handleUIClientAdd)...)
	s.app.Post("/admin/clients/revoke", admin(s.handleUIClientRevoke)...)
	s.app.Get("/admin/policy", admin(s.handlePolicyPage)...)
	s.app.Post("/admin/policy/add", admin(s.handleUIRuleAdd)...)
	s.app.Post("/admin/policy/remove", admin(s.handleUIRuleRemove)...)
	s.app.Get("/admin/jobs", admin(s.handleJobsPage)...)
	s.app.Get("/admin/jobs/:id", admin(s.handleJobPage)...)
	s.app.Get("/admin/jobs/:id/:file", admin(s.handleJobFile)...)
	s.exchangeUIRoutes(admin)
	s.modelUIRoutes(admin)
}

// contentPolicy allows only our own scripts, styles and forms: record
// content is escaped by html/template, and even markup that slipped through
// could run no script.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// uiPage sets the UI's security headers and turns errors of the handlers
// after it into HTML error pages. Without Auth the UI is closed.
func (s *Server) uiPage(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", contentPolicy)
	c.Set("X-Frame-Options", "DENY")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
	if s.auth == nil {
		return s.renderError(c, fiber.StatusServiceUnavailable, "admin UI needs authentication configured")
	}
	err := c.Next()
	if err == nil {
		return nil
	}
	err = authError(err) // Fiber's and policy's errors, as registry errors
	status := registry.Status(err)
	msg := registry.ErrorMessage(err)
	if _, signedIn := c.Locals(localUser).(registry.Actor); signedIn && status == fiber.StatusForbidden {
		s.auditUI(c, registry.AuditRecord{Action: "E", Subtype: "denied", Outcome: registry.AuditMinorFailure, OutcomeDesc: msg})
	}
	if status >= 500 {
		s.log.Error("admin UI request failed", "id", requestID(c), "method", c.Method(), "path", c.Path(), "err", err)
		msg = "internal error (request " + requestID(c) + ")"
	}
	return s.renderError(c, status, msg)
}

// errorPage is the data of the error page.
type errorPage struct {
	view
	Status  int
	Message string
}

func (s *Server) renderError(c *fiber.Ctx, status int, msg string) error {
	v := s.baseView(c, fmt.Sprintf("Error %d", status), "")
	return s.render(c, status, "error", errorPage{view: v, Status: status, Message: msg})
}

// render executes a page template into a buffer first, so a template error
// becomes an error page rather than half a page.
func (s *Server) render(c *fiber.Ctx, status int, name string, data any) error {
	t := s.ui.pages[name]
	if t == nil {
		return registry.Internal(fmt.Errorf("no template %q", name))
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("template failed", "template", name, "err", err)
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(fiber.StatusInternalServerError).SendString("internal error")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// handleStatic serves an embedded static file; a URL with the file's
// checksum may be cached for good.
func (s *Server) handleStatic(c *fiber.Ctx) error {
	f, ok := s.ui.static[c.Params("name")]
	if !ok {
		return registry.Errorf(registry.ENotFound, "no static file %q", c.Params("name"))
	}
	c.Set(fiber.HeaderContentType, f.ctype)
	c.Set("X-Content-Type-Options", "nosniff")
	if c.Query("v") == f.sum {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	return c.Send(f.body)
}

// staticURL is a static file's URL with its checksum.
func (u *ui) staticURL(name string) string {
	f, ok := u.static[name]
	if !ok {
		panic("no static file " + name) // templates name fixed files: a bug, caught at start-up by the tests
	}
	return "/static/" + name + "?v=" + f.sum
}
