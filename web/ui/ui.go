// Package ui is idem's admin UI: server-rendered pages for data stewards
// (review queue, comparison with match evidence, Person and Linkage views,
// search, the reconciliation queue of held submissions) and admins
// (clients, policy, jobs, exchange). Templates and static files are
// embedded and parsed once at start-up; forms post and redirect; every
// POST carries the session's CSRF token. It is mounted on a web.Server,
// whose one error handler renders its errors as its error page; its
// handlers only call the registry, the link store, the linker and
// web.Auth (policy.Authorizer, the one place that manages clients and
// rules). It never reaches the store or GORM.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
	"idem/registry/bulk"
	"idem/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Config holds the UI's dependencies: the services its pages call. The
// UI adds no logic of its own.
type Config struct {
	Registry *registry.Service
	Matcher  *linkage.Matcher // nil: no match evidence
	Linker   *linkage.Linker  // nil: no review queue, links or merges
	// Auth signs stewards in and decides what they may do; nil: the UI is
	// closed.
	Auth     web.Auth
	Bulk     *bulk.Jobs   // nil: no job pages
	Exchange web.Exchange // nil: no subscription and peer pages
	// Calibrator is the matcher's self-calibration; nil: no Models page.
	Calibrator *linkage.Calibrator
	Log        *slog.Logger
}

// Server serves the admin UI's pages on a web.Server (its host, which
// owns the error path, body limits, sign-in throttling and audit).
type Server struct {
	host     *web.Server
	registry *registry.Service
	matcher  *linkage.Matcher
	linker   *linkage.Linker
	auth     web.Auth
	bulk     *bulk.Jobs
	exchange web.Exchange
	calib    *linkage.Calibrator
	log      *slog.Logger
	ui       *ui
}

// Mount builds the admin UI and mounts it on host.
func Mount(host *web.Server, cfg Config) *Server {
	s := &Server{host: host, registry: cfg.Registry, matcher: cfg.Matcher, linker: cfg.Linker, auth: cfg.Auth,
		bulk: cfg.Bulk, exchange: cfg.Exchange, calib: cfg.Calibrator, log: cfg.Log, ui: newUI()}
	host.Mount(s)
	return s
}

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

// Routes adds the admin UI's pages to r. Each page states its guards:
// page marks it as a page (its errors become the error page) and refuses
// to serve without Auth; session requires a steward or admin session (and
// the CSRF token on POST); adminOnly the admin role.
func (s *Server) Routes(r fiber.Router) {
	r.Get("/static/:name", s.handleStatic)
	r.Get("/login", s.page, s.handleLoginForm)
	r.Post("/login", s.page, s.handleLogin)
	steward := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{s.page, s.session, h} }
	admin := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{s.page, s.session, s.adminOnly, h} }
	r.Post("/logout", steward(s.handleLogout)...)
	r.Get("/", steward(s.handleDashboard)...)
	r.Get("/review", steward(s.handleReviewList)...)
	r.Get("/review/next", steward(s.handleReviewNext)...)
	r.Get("/review/compare", steward(s.handleCompare)...)
	r.Post("/review/decide", steward(s.handleReviewDecide)...)
	r.Get("/person/:id", steward(s.handlePersonPage)...)
	r.Get("/linkage/:id", steward(s.handleLinkagePage)...)
	r.Post("/unlink", steward(s.handleUnlink)...)
	r.Post("/undo", steward(s.handleUndo)...)
	r.Get("/search", steward(s.handleSearchPage)...)
	r.Get("/reconcile", steward(s.handleReconcileList)...)
	r.Get("/reconcile/:id", steward(s.handleReconcileItem)...)
	r.Post("/reconcile/:id/accept", steward(s.handleReconcileAccept)...)
	r.Post("/reconcile/:id/reject", steward(s.handleReconcileReject)...)
	r.Get("/audit", admin(s.handleAuditPage)...)
	r.Get("/admin/clients", admin(s.handleClientsPage)...)
	r.Post("/admin/clients", admin(s.handleUIClientAdd)...)
	r.Post("/admin/clients/revoke", admin(s.handleUIClientRevoke)...)
	r.Get("/admin/policy", admin(s.handlePolicyPage)...)
	r.Post("/admin/policy/add", admin(s.handleUIRuleAdd)...)
	r.Post("/admin/policy/remove", admin(s.handleUIRuleRemove)...)
	r.Get("/admin/jobs", admin(s.handleJobsPage)...)
	r.Get("/admin/jobs/:id", admin(s.handleJobPage)...)
	r.Get("/admin/jobs/:id/:file", admin(s.handleJobFile)...)
	s.exchangeRoutes(r, admin)
	s.modelRoutes(r, admin)
}

// contentPolicy allows only our own scripts, styles and forms: record
// content is escaped by html/template, and even markup that slipped through
// could run no script.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// page sets the UI's security headers and marks the request as a page:
// the server's one error handler turns its errors into the error page
// (ErrorPage). Without Auth the UI is closed.
func (s *Server) page(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", contentPolicy)
	c.Set("X-Frame-Options", "DENY")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
	web.AsPage(c)
	if s.auth == nil {
		return s.ErrorPage(c, fiber.StatusServiceUnavailable, "admin UI needs authentication configured")
	}
	return c.Next()
}

// errorPage is the data of the error page.
type errorPage struct {
	view
	Status  int
	Message string
}

// ErrorPage renders the error page: the server's error handler calls it
// for the errors of pages (web.Pages).
func (s *Server) ErrorPage(c *fiber.Ctx, status int, msg string) error {
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
