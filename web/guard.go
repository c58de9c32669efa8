package web

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/policy"
	"idem/registry"
)

// authenticate resolves the bearer token of a /fhir request (all but the
// CapabilityStatement), spends one request of the principal's rate budget,
// and checks the interaction the route names. Without Auth configured the
// API is open (unit tests of the web layer); app always configures it.
func (s *Server) authenticate(c *fiber.Ctx) error {
	if s.auth == nil || (c.Method() == fiber.MethodGet && strings.TrimSuffix(c.Path(), "/") == "/fhir/metadata") {
		return c.Next()
	}
	p, err := s.bearer(c)
	if err != nil {
		return err
	}
	s.noteOnBehalf(c, p)
	if ok, wait := s.auth.Allow(p.Name); !ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
		return registry.Errorf(registry.ETooManyRequest, "client %s is over its request rate; retry in %s", p.Name, wait.Round(1e6))
	}
	action, typ := routeAction(c.Method(), strings.TrimPrefix(c.Path(), "/fhir"))
	if action != "" && registry.IsType(typ) { // an unknown type is the handler's 404
		if err := s.allow(c.UserContext(), p, action, typ, nil); err != nil {
			return err
		}
	}
	// The types a search reaches through _include and _revinclude are
	// checked on the parsed search by handleSearch (allowSearch).
	return c.Next()
}

// bearer authenticates the request's bearer token (401 with
// WWW-Authenticate without a valid one) and puts the principal, and the
// agent that history and audit name, in the request context.
func (s *Server) bearer(c *fiber.Ctx) (registry.Actor, error) {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="idem"`)
		return registry.Actor{}, registry.Errorf(registry.EUnauthorized, "this server needs a bearer token (Authorization: Bearer <token>; issue one with `idem client add`)")
	}
	pr, err := s.auth.Authenticate(c.UserContext(), strings.TrimSpace(token))
	if errors.Is(err, policy.ErrUnauthenticated) {
		err = registry.Errorf(registry.EUnauthorized, "the bearer token is not valid: unknown, revoked or expired")
	}
	if err != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="idem", error="invalid_token"`)
		return registry.Actor{}, AsError(err)
	}
	p := Authenticated(pr)
	c.SetUserContext(registry.WithActor(c.UserContext(), p))
	return p, nil
}

// routeAction names the policy action and resource type of a /fhir route;
// "" for routes checked elsewhere (Bundles, per entry; creates and updates
// are checked again with their identifier domains by the Guard).
func routeAction(method, path string) (action, typ string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	first := parts[0]
	if strings.HasPrefix(first, "$mdm-") {
		switch first {
		case "$mdm-query-links", "$mdm-duplicate-golden-resources", "$mdm-link-history", "$mdm-review-summary", "$mdm-submit-status":
			return "search", registry.TypePerson
		case "$mdm-merge-golden-resources":
			return "merge", registry.TypePerson
		case "$mdm-clear":
			return "admin", registry.TypePerson
		}
		return "link", registry.TypePerson
	}
	if first == "" {
		return "", "" // a Bundle: each entry is checked
	}
	typ = first
	if len(parts) > 1 {
		switch parts[1] {
		case "$match":
			return "match", typ
		case "$ihe-pix":
			return "read", typ
		case "_search", "_history":
			return "search", typ
		}
	}
	switch method {
	case fiber.MethodGet, fiber.MethodHead:
		if len(parts) == 1 {
			return "search", typ
		}
		return "read", typ
	case fiber.MethodPost:
		return "create", typ
	case fiber.MethodPut:
		return "update", typ
	case fiber.MethodDelete:
		return "delete", typ
	}
	return "", ""
}

// allow answers one authorisation question for p, refusing with 403 and
// the rule.
func (s *Server) allow(ctx context.Context, p registry.Actor, action, typ string, domains []string) error {
	return allowed(s.auth, p, action, typ, domains)
}

// allowed is allow with the Auth given. Golden records and audit events
// are idem's own: no client writes them, and only admins read the audit
// trail.
func allowed(auth Auth, p registry.Actor, action, typ string, domains []string) error {
	switch {
	case isWrite(action) && serverManaged(typ):
		return Deny(p, policy.Decision{Rule: "server-managed", Reason: fmt.Sprintf("%s resources are written by idem only (golden records change through the $mdm operations)", typ)})
	case typ == registry.TypeAuditEvent && !p.HasRole("admin"):
		return Deny(p, policy.Decision{Rule: "audit-admin-only", Reason: "only admins read the audit trail"})
	}
	d := auth.Decide(p, action, typ, domains)
	if !d.Allowed && action == "delete" && auth.Decide(p, "retire", typ, domains).Allowed {
		return nil // a client that may retire its records may delete them (the owner rule still applies)
	}
	if !d.Allowed {
		return Deny(p, d)
	}
	return nil
}

// serverManaged reports whether idem alone writes resources of typ.
func serverManaged(typ string) bool {
	return typ == registry.TypePerson || typ == registry.TypeLinkage || typ == registry.TypeAuditEvent
}

func isWrite(action string) bool {
	return action == "create" || action == "update" || action == "delete"
}

// Deny is the 403 of a refused request: it names the principal, the reason
// and the rule, so the refused client and an operator both see why.
func Deny(p registry.Actor, d policy.Decision) error {
	reason := d.Reason
	if reason == "" {
		reason = "not allowed"
	}
	return registry.Errorf(registry.EForbidden, "%s %s: %s (rule: %s)", p.Kind, p.Name, reason, d.Rule)
}

// allowEntries checks each entry of a Bundle as if it were a request of its
// own (the Guard checks writes again with their identifier domains). The
// whole Bundle is refused when one entry is: nothing is half-done.
func (s *Server) allowEntries(ctx context.Context, b map[string]any) error {
	p, ok := registry.ActorIn(ctx)
	if !ok || s.auth == nil {
		return nil
	}
	entries, _ := b["entry"].([]any)
	for i, e := range entries {
		if err := s.allowEntry(ctx, p, e); err != nil {
			return registry.Errorf(registry.EForbidden, "Bundle.entry[%d]: %s", i, registry.ErrorMessage(err))
		}
	}
	return nil
}

// allowEntry checks one Bundle entry's request: its interaction, and for a
// search every type its decoded query reaches, as for a search of its own.
func (s *Server) allowEntry(ctx context.Context, p registry.Actor, e any) error {
	entry, _ := e.(map[string]any)
	req, _ := entry["request"].(map[string]any)
	method, _ := req["method"].(string)
	u, _ := req["url"].(string)
	path, rawQuery, _ := strings.Cut(u, "?")
	action, typ := routeAction(method, "/"+strings.TrimPrefix(path, "/"))
	if action == "" || !registry.IsType(typ) {
		return nil // the Bundle's own processing refuses unknown types and methods
	}
	if err := s.allow(ctx, p, action, typ, nil); err != nil {
		return err
	}
	if action != "search" {
		return nil
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil // the Bundle refuses a malformed query (400)
	}
	return s.allowSearch(ctx, typ, query)
}

// auditDenial records a refused request as an AuditEvent (outcome 4,
// minor failure) naming the principal, the interaction, the record and the
// rule; repeats are aggregated (refusals). A failure to record is logged,
// never hides the 403.
func (s *Server) auditDenial(c *fiber.Ctx, err error) {
	if s.cfg.Audit == nil {
		return
	}
	ctx := c.UserContext()
	if _, ok := registry.ActorIn(ctx); !ok {
		return // unauthenticated: the 401s are not an audit trail of anyone
	}
	path := strings.TrimPrefix(c.Path(), "/fhir")
	action, typ := routeAction(c.Method(), path)
	var entities []string
	if parts := strings.Split(strings.Trim(path, "/"), "/"); len(parts) >= 2 && registry.IsType(parts[0]) && !strings.HasPrefix(parts[1], "$") && !strings.HasPrefix(parts[1], "_") {
		entities = []string{parts[0] + "/" + parts[1]}
	}
	rec := registry.AuditRecord{Action: auditAction(action), Subtype: "denied", Outcome: registry.AuditMinorFailure,
		OutcomeDesc: registry.ErrorMessage(err), Entities: entities, Agent: registry.ActorFrom(ctx),
		Detail: map[string]string{"interaction": c.Method() + " " + c.Path(), "action": action, "type": typ, "address": s.clientIP(c)}}
	s.refused.add(rec, s.clientIP(c))
}

// auditAction is the AuditEvent action code of a policy action.
func auditAction(action string) string {
	switch action {
	case "create":
		return "C"
	case "read", "search":
		return "R"
	case "update":
		return "U"
	case "delete":
		return "D"
	}
	return "E"
}
