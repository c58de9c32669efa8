package web

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/policy"
	"idem/registry"
)

// The admin API: client systems and policy rules for operators and
// automation (the admin UI's pages do the same through forms). JSON in and
// out, bearer tokens of principals with the admin role.
func (s *Server) adminRoutes() {
	a := s.app.Group("/admin/api", s.adminOnly, s.readBody)
	a.Get("/clients", s.handleClientList)
	a.Post("/clients", s.handleClientAdd)
	a.Delete("/clients/:name", s.handleClientRevoke)
	a.Get("/rules", s.handleRuleList)
	a.Post("/rules", s.handleRuleAdd)
	a.Delete("/rules", s.handleRuleRemove)
	a.Get("/decide", s.handleDecide)
	s.exchangeAdminRoutes(a)
	s.modelAdminRoutes(a)
}

// adminOnly authenticates a bearer token and requires the admin role.
func (s *Server) adminOnly(c *fiber.Ctx) error {
	if s.auth == nil {
		return registry.Errorf(registry.EMethod, "the admin API needs access control configured")
	}
	p, err := s.bearer(c)
	if err != nil {
		return err
	}
	if !p.HasRole("admin") {
		return deny(p, policy.Decision{Rule: "admin-api", Reason: "the admin API is for admins"})
	}
	return c.Next()
}

type clientJSON struct {
	Name    string     `json:"name"`
	System  string     `json:"system,omitempty"`
	Roles   []string   `json:"roles"`
	Domains []string   `json:"domains,omitempty"`
	Created *time.Time `json:"created,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	Revoked *time.Time `json:"revoked,omitempty"`
	Token   string     `json:"token,omitempty"` // only in the answer to a new client: shown once
	// JWKS is the client's public keys (a JWK Set) for SMART Backend
	// Services; a client registered with them gets no static token.
	JWKS json.RawMessage `json:"jwks,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) handleClientList(c *fiber.Ctx) error {
	cs, err := s.auth.Clients(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]clientJSON, len(cs))
	for i, x := range cs {
		out[i] = clientJSON{Name: x.Name, System: x.System, Roles: x.Roles, Domains: x.Domains,
			Created: timePtr(x.Created), Expires: timePtr(x.Expires), Revoked: timePtr(x.Revoked)}
	}
	return c.JSON(fiber.Map{"clients": out})
}

func (s *Server) handleClientAdd(c *fiber.Ctx) error {
	var in clientJSON
	if err := c.BodyParser(&in); err != nil {
		return registry.Errorf(registry.EInvalid, "the body must be a JSON client: %v", err)
	}
	nc := policy.Client{Name: in.Name, System: in.System, Roles: in.Roles, Domains: in.Domains, JWKS: string(in.JWKS)}
	if in.Expires != nil {
		nc.Expires = *in.Expires
	}
	token, err := s.auth.AddClient(c.UserContext(), nc)
	if err != nil {
		return err
	}
	in.Token, in.Created = token, nil
	return c.Status(fiber.StatusCreated).JSON(in)
}

func (s *Server) handleClientRevoke(c *fiber.Ctx) error {
	if err := s.auth.RevokeClient(c.UserContext(), c.Params("name")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) handleRuleList(c *fiber.Ctx) error {
	rs, err := s.auth.Rules()
	if err != nil {
		return err
	}
	out := make([]fiber.Map, len(rs))
	for i, r := range rs {
		out[i] = fiber.Map{"rule": r.String(), "builtin": r.Builtin}
	}
	return c.JSON(fiber.Map{"rules": out})
}

type ruleJSON struct {
	Rule string `json:"rule"`
}

func (s *Server) ruleBody(c *fiber.Ctx) (policy.Rule, error) {
	var in ruleJSON
	if err := c.BodyParser(&in); err != nil || strings.TrimSpace(in.Rule) == "" {
		return policy.Rule{}, registry.Errorf(registry.EInvalid, `the body must be {"rule": "p, role:..., Patient, *, read, allow"}`)
	}
	return policy.ParseRule(in.Rule)
}

func (s *Server) handleRuleAdd(c *fiber.Ctx) error {
	rule, err := s.ruleBody(c)
	if err != nil {
		return err
	}
	if err := s.auth.AddRule(c.UserContext(), rule); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(ruleJSON{Rule: rule.String()})
}

func (s *Server) handleRuleRemove(c *fiber.Ctx) error {
	rule, err := s.ruleBody(c)
	if err != nil {
		return err
	}
	if err := s.auth.RemoveRule(c.UserContext(), rule); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// handleDecide is the dry run: "may client X (or a principal with role R)
// do ACTION on TYPE with identifiers in DOMAIN, and by which rule?"
func (s *Server) handleDecide(c *fiber.Ctx) error {
	who := "role:" + c.Query("role")
	if client := c.Query("client"); client != "" {
		who = "client:" + client
	}
	p, err := s.auth.DryRunPrincipal(c.UserContext(), who)
	if err != nil {
		return err
	}
	action, typ := c.Query("action"), c.Query("type")
	if action == "" || typ == "" {
		return registry.Errorf(registry.EInvalid, "give action and type (and client or role; domain may repeat)")
	}
	var domains []string
	for _, d := range strings.Split(c.Query("domain"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			domains = append(domains, d)
		}
	}
	d := s.decideAs(c.UserContext(), p, action, typ, domains)
	return c.JSON(fiber.Map{"principal": p.Kind + " " + p.Name, "action": action, "type": typ, "domains": domains,
		"allowed": d.Allowed, "rule": d.Rule, "reason": d.Reason})
}

// decideAs answers like allow, without refusing: the dry run of the admin
// API and of the admin UI's policy page.
func (s *Server) decideAs(ctx context.Context, p registry.Actor, action, typ string, domains []string) policy.Decision {
	d := s.auth.Decide(p, action, typ, domains)
	if err := s.allow(ctx, p, action, typ, domains); err != nil && d.Allowed {
		// refused by a server-managed rule before the policy
		return policy.Decision{Rule: "server-managed", Reason: registry.ErrorMessage(err)}
	}
	return d
}
