// Package web serves idem over HTTP with Fiber: the FHIR REST API under
// /fhir, health endpoints, and (later) the admin UI. Handlers are thin: they
// translate HTTP to calls on the registry and back, and report every error
// through one error handler.
package web

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"idem/linkage"
	"idem/registry"
	"idem/registry/bulk"
	"idem/registry/fhir"
	"idem/web/metrics"
)

// Config holds what the web layer needs to know about its deployment.
type Config struct {
	BaseURL  string // public FHIR base (e.g. https://idem.example.org/fhir); when empty, the address a connection reached (or a trusted proxy's X-Forwarded-Host)
	MaxBody  int    // request body limit in bytes
	Version  string // software version for the CapabilityStatement
	Started  time.Time
	ReadTime time.Duration // per-request read timeout
	// Auth authenticates and authorises requests; nil leaves the API open
	// and the admin UI closed (unit tests of the web layer).
	Auth Auth
	// TrustedProxies are the peers whose X-Forwarded-For, -Host and -Proto
	// headers count (ParseProxies); from anyone else they are ignored.
	TrustedProxies []netip.Prefix
	// Audit records the AuditEvents that are not writes (denials, logins);
	// nil: not recorded.
	Audit *registry.Auditor
	// ReadAudit queues the AuditEvents of reads, searches and query
	// operations (audit_reads.go); nil: reads are not audited.
	ReadAudit *registry.AuditQueue
	// Limits bounds repeating elements in resources sent to the API (the
	// zero value: fhir.DefaultRepeats).
	Limits fhir.Limits
	// Metrics, when not nil, counts every request; /metrics serves it
	// unless MetricsElsewhere (then app serves it on IDEM_METRICS_ADDR).
	Metrics          *metrics.Metrics
	MetricsElsewhere bool
	// MetricsToken is a bearer token that may read /metrics besides admin
	// clients (IDEM_METRICS_TOKEN; "" : admin clients only).
	MetricsToken string
	// Loading, when not nil, says what keeps the server from being ready
	// ("loading demo data (500 of 9000)"), or "" once nothing does:
	// /readyz answers 503 and the admin UI shows a banner meanwhile.
	Loading func() string
	// Bulk runs $import and $export jobs; nil: not offered.
	Bulk *bulk.Jobs
	// Exchange serves Subscriptions, Endpoints and Organizations; nil:
	// not offered.
	Exchange Exchange
	// Federation searches the linked servers (_federated=true); nil: not
	// offered. FederatedTimeout bounds each peer's answer (default 5 s),
	// FederatedTTL how long a frozen result set pages (default 10 min).
	Federation       Federation
	FederatedTimeout time.Duration
	FederatedTTL     time.Duration
	// Calibrator is the matcher's self-calibration (the Models page, the
	// admin API's models, $mdm-submit with a model); nil: not offered.
	Calibrator *linkage.Calibrator
}

// Server holds the web layer's dependencies.
type Server struct {
	cfg      Config
	registry *registry.Service
	matcher  *linkage.Matcher // nil: $match not offered
	linker   *linkage.Linker  // nil: the MDM operations and $ihe-pix not offered
	auth     Auth             // nil: API open, admin UI closed
	ui       *ui              // the admin UI's templates and static files
	log      *slog.Logger
	proxies  []netip.Prefix // trusted proxies
	refused  *refusals      // audits refusals, a flood of them aggregated
	ready    func(ctx context.Context) error
	app      *fiber.App
	bulk     *bulk.Jobs // nil: no $import, $export
}

// New builds the Fiber app with every route. ready reports whether the
// server can take traffic (database reachable).
func New(cfg Config, svc *registry.Service, matcher *linkage.Matcher, linker *linkage.Linker, log *slog.Logger, ready func(context.Context) error) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 16 << 20
	}
	if cfg.ReadTime <= 0 {
		cfg.ReadTime = 60 * time.Second
	}
	if cfg.FederatedTimeout <= 0 {
		cfg.FederatedTimeout = 5 * time.Second
	}
	if cfg.FederatedTTL <= 0 {
		cfg.FederatedTTL = 10 * time.Minute
	}
	s := &Server{cfg: cfg, registry: svc, matcher: matcher, linker: linker, auth: cfg.Auth, log: log, ready: ready, proxies: cfg.TrustedProxies, bulk: cfg.Bulk}
	s.refused = s.newRefusals()
	proxies := make([]string, len(cfg.TrustedProxies))
	for i, p := range cfg.TrustedProxies {
		proxies[i] = p.String()
	}
	s.app = fiber.New(fiber.Config{
		ErrorHandler: s.handleError,
		// Bodies are streamed: read only after authentication, through
		// the limit (body.go). Multipart forms are not parsed ahead either.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    cfg.MaxBody,
		Immutable:                    true, // strings from the request outlive handlers (goroutines in bundles)
		DisableStartupMessage:        true,
		ReadTimeout:                  cfg.ReadTime,
		WriteTimeout:                 cfg.ReadTime,
		IdleTimeout:                  2 * time.Minute,
		StrictRouting:                false,
		CaseSensitive:                true,
		// X-Forwarded-Proto (c.Protocol, the cookies' Secure flag) counts
		// only from a trusted proxy.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          proxies,
	})
	s.app.Use(requestid.New())
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	s.app.Use(s.logRequest)
	s.app.Use(s.limitBody)
	s.routes()
	return s
}

// App returns the Fiber app (for Listen, Shutdown and tests).
func (s *Server) App() *fiber.App { return s.app }

func (s *Server) routes() {
	s.app.Get("/healthz", s.handleHealth)
	s.app.Get("/readyz", s.handleReady)
	if s.cfg.Metrics != nil && !s.cfg.MetricsElsewhere {
		s.app.Get("/metrics", s.handleMetrics)
	}
	s.adminRoutes()
	s.uiRoutes()
	// SMART Backend Services, without a token (registered before the /fhir
	// group, whose middleware would ask for one).
	s.app.Post("/auth/token", s.handleToken)
	s.app.Get("/.well-known/smart-configuration", s.handleSMARTConfiguration)
	s.app.Get("/fhir/.well-known/smart-configuration", s.handleSMARTConfiguration)
	// $import reads its body itself, streamed line by line (fhir_import.go).
	s.app.Post("/fhir/$import", s.authenticate, s.handleImport)
	f := s.app.Group("/fhir", s.negotiate, s.authenticate, s.readBody)
	f.Get("/metadata", s.handleMetadata)
	f.Post("/", s.handleBundle)
	// The MDM operations (HAPI FHIR names) come before /:type, which would
	// take "$mdm-…" for a resource type.
	f.Get("/$mdm-query-links", s.handleMDMQueryLinks)
	f.Post("/$mdm-query-links", s.handleMDMQueryLinks)
	f.Get("/$mdm-duplicate-golden-resources", s.handleMDMDuplicates)
	f.Post("/$mdm-duplicate-golden-resources", s.handleMDMDuplicates)
	f.Get("/$mdm-link-history", s.handleMDMLinkHistory)
	f.Post("/$mdm-link-history", s.handleMDMLinkHistory)
	f.Post("/$mdm-update-link", s.handleMDMUpdateLink)
	f.Post("/$mdm-create-link", s.handleMDMCreateLink)
	f.Post("/$mdm-merge-golden-resources", s.handleMDMMerge)
	f.Post("/$mdm-not-duplicate", s.handleMDMNotDuplicate)
	f.Post("/$mdm-submit", s.handleMDMSubmit)
	f.Get("/$mdm-submit-status/:id", s.handleMDMSubmitStatus)
	f.Post("/$mdm-clear", s.handleMDMClear)
	f.Post("/$mdm-undo", s.handleMDMUndo)
	f.Get("/$mdm-review-summary", s.handleMDMReviewSummary)
	f.All("/$mdm-*", s.handleMDMNoRoute)
	f.Post("/$process-message", s.handleProcessMessage)
	f.Post("/Bundle/$extract", s.handleExtract)
	s.bulkRoutes(f)
	s.heldRoutes(f)
	s.subscriptionRoutes(f)
	f.Get("/:type/_history", s.handleTypeHistory)
	f.Post("/:type/_search", s.handleSearch)
	f.Post("/:type/$match", s.handleMatch)
	f.Get("/:type/$ihe-pix", s.handlePIX)
	f.Get("/:type", s.handleSearch)
	f.Post("/:type", s.handleCreate)
	f.Put("/:type", s.handleConditionalUpdate)
	f.Delete("/:type", s.handleConditionalDelete)
	f.Get("/:type/:id", s.handleRead)
	f.Put("/:type/:id", s.handleUpdate)
	f.Delete("/:type/:id", s.handleDelete)
	f.Get("/:type/:id/_history", s.handleInstanceHistory)
	f.Get("/:type/:id/_history/:vid", s.handleVRead)
	f.Use(s.handleNoRoute)
}

func (s *Server) handleHealth(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (s *Server) handleReady(c *fiber.Ctx) error {
	if msg := s.loading(); msg != "" {
		return s.sendOutcome(c, fiber.StatusServiceUnavailable, loadingOutcome(msg))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable"})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) handleNoRoute(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodDelete:
	default:
		return registry.Errorf(registry.EMethod, "%s is not supported (this server has no %s interaction)", c.Method(), c.Method())
	}
	return registry.Errorf(registry.ENotFound, "no FHIR interaction at %s %s", c.Method(), c.Path())
}

// handleError is the one place errors become responses: an OperationOutcome
// with the status of the error's code. Internal errors are logged with the
// request id and reported without detail.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	err = authError(err) // Fiber's and policy's errors, as registry errors
	status := registry.Status(err)
	if status == fiber.StatusForbidden {
		s.auditDenial(c, err)
	}
	if status >= 500 {
		s.log.Error("request failed", "id", requestID(c), "method", c.Method(), "path", c.Path(), "err", err)
	}
	if !strings.HasPrefix(c.Path(), "/fhir") && !strings.HasPrefix(c.Path(), "/admin/api") && status == 404 {
		return c.Status(status).SendString("not found")
	}
	return s.sendOutcome(c, status, registry.ErrorOutcome(err))
}

// fromFiber maps Fiber's own errors (body too large, method not allowed,
// timeouts) to registry errors.
func fromFiber(fe *fiber.Error) error {
	switch fe.Code {
	case fiber.StatusRequestEntityTooLarge:
		return registry.Errorf(registry.ETooLarge, "request body exceeds the size limit")
	case fiber.StatusMethodNotAllowed:
		return registry.Errorf(registry.EMethod, "method not allowed here")
	case fiber.StatusNotFound:
		return registry.Errorf(registry.ENotFound, "not found")
	case fiber.StatusRequestTimeout:
		return registry.Errorf(registry.EInvalid, "request timed out")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return registry.Errorf(registry.EInvalid, "%s", fe.Message)
	}
	return registry.Internal(fe)
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("requestid").(string)
	return id
}

func (s *Server) logRequest(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			s.log.Error("error handler failed", "err", herr)
		}
	}
	s.observe(c, time.Since(start))
	return nil
}

func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.log.Error("panic", "id", requestID(c), "method", c.Method(), "path", c.Path(), "panic", e)
}
