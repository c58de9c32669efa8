package web

import (
	"crypto/subtle"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"idem/registry"
	"idem/registry/fhir"
	"idem/web/metrics"
)

// Operations: the access log, request metrics, /metrics and the loading
// state that /readyz and the admin UI report.

// observe writes the access log line of a finished request and counts it.
func (s *Server) observe(c *fiber.Ctx, took time.Duration) {
	route := routeLabel(c)
	status := c.Response().StatusCode()
	s.log.Info("request", "id", RequestID(c), "principal", principalLabel(c), "method", c.Method(),
		"route", route, "path", c.Path(), "status", status, "ms", float64(took.Microseconds())/1000)
	typ := ""
	if strings.HasPrefix(route, "/fhir/:type") {
		if t := c.Params("type"); registry.IsType(t) { // a label only for real types: bounded
			typ = t
		}
	}
	s.cfg.Metrics.ObserveRequest(metrics.Request{Method: c.Method(), Route: route, Type: typ, Status: status, Duration: took})
}

// routeLabel is the pattern of the route that answered (/fhir/:type/:id),
// never the raw path, so metrics have a bounded set of labels. A request
// no route took ends in the app-wide middleware, whose pattern is "/".
func routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || (r.Path == "/" && c.Path() != "/") {
		return "unmatched"
	}
	return r.Path
}

// principalLabel names who made the request for the access log:
// "client:NAME" (bearer token), "user:NAME" (admin UI session) or "-".
func principalLabel(c *fiber.Ctx) string {
	if p, ok := registry.ActorIn(c.UserContext()); ok {
		return p.Kind + ":" + p.Name
	}
	return "-"
}

// handleMetrics serves the Prometheus metrics to an admin client or to
// the holder of the metrics token (IDEM_METRICS_TOKEN).
func (s *Server) handleMetrics(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	token = strings.TrimSpace(token)
	switch {
	case ok && s.cfg.MetricsToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.MetricsToken)) == 1:
	case s.auth == nil:
		// No authentication configured (unit tests of the web layer).
	default:
		p, err := s.bearer(c)
		if err != nil {
			return err
		}
		if !p.HasRole("admin") {
			return registry.Errorf(registry.EForbidden, "/metrics is for admin clients and the metrics token (IDEM_METRICS_TOKEN)")
		}
	}
	return adaptor.HTTPHandler(s.cfg.Metrics.Handler())(c)
}

// Loading returns what keeps the server from being ready, or "".
func (s *Server) Loading() string {
	if s.cfg.Loading == nil {
		return ""
	}
	return s.cfg.Loading()
}

// loadingOutcome is /readyz's answer while the server is loading.
func loadingOutcome(msg string) map[string]any {
	return fhir.OperationOutcome([]fhir.Issue{{Severity: fhir.SeverityError, Code: "transient", Diagnostics: msg}})
}
