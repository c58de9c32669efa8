package ui

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/policy"
	"idem/registry"
	"idem/web"
)

// The admin pages: client systems (add with a token shown once, revoke)
// and the policy (rules, add and remove, and the dry-run question "may X
// do Y?").

var (
	uiRoles   = []string{policy.RoleSource, policy.RoleReader, policy.RoleSteward, policy.RoleAdmin}
	uiActions = policy.Actions
	uiTypes   = []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation, registry.TypePerson, registry.TypeLinkage, auditType}
)

// clientForm is the add-client form as typed.
type clientForm struct {
	Name, System, Domains, Expires string
	Roles                          []string
}

type clientsPage struct {
	view
	Clients  []policy.Client
	Now      time.Time
	Form     clientForm
	Roles    []string
	Token    string // the new client's token, shown once
	TokenFor string
	Error    string
}

func (s *Server) clientsPage(c *fiber.Ctx, status int, p clientsPage) error {
	clients, err := s.auth.Clients(c.UserContext())
	if err != nil {
		return err
	}
	p.view, p.Clients, p.Now, p.Roles = s.baseView(c, "Clients", "clients"), clients, s.now(), uiRoles
	return s.render(c, status, "clients", p)
}

func (s *Server) handleClientsPage(c *fiber.Ctx) error {
	return s.clientsPage(c, fiber.StatusOK, clientsPage{})
}

// handleUIClientAdd adds a client and answers the page with its token
// directly (no redirect): the token is shown this once and never stored
// in a cookie or URL.
func (s *Server) handleUIClientAdd(c *fiber.Ctx) error {
	f := clientForm{Name: strings.TrimSpace(c.FormValue("name")), System: strings.TrimSpace(c.FormValue("system")),
		Domains: c.FormValue("domains"), Expires: strings.TrimSpace(c.FormValue("expires"))}
	for _, r := range c.Request().PostArgs().PeekMulti("role") {
		f.Roles = append(f.Roles, string(r))
	}
	cl := policy.Client{Name: f.Name, System: f.System, Roles: f.Roles, Domains: strings.FieldsFunc(f.Domains, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' })}
	if f.Expires != "" {
		t, err := time.Parse(time.DateOnly, f.Expires)
		if err != nil {
			return s.clientsPage(c, fiber.StatusBadRequest, clientsPage{Form: f, Error: "Expires: want a date as YYYY-MM-DD."})
		}
		cl.Expires = t.Add(24*time.Hour - time.Second)
	}
	token, err := s.auth.AddClient(c.UserContext(), cl)
	err = web.AsError(err)
	if code := registry.ErrorCode(err); code != "" && code != registry.EInternal {
		return s.clientsPage(c, registry.Status(err), clientsPage{Form: f, Error: registry.ErrorMessage(err)})
	} else if err != nil {
		return err
	}
	s.log.Info("client added in the admin UI", "client", cl.Name, "by", user(c).Name)
	return s.clientsPage(c, fiber.StatusOK, clientsPage{Token: token, TokenFor: cl.Name})
}

func (s *Server) handleUIClientRevoke(c *fiber.Ctx) error {
	name := c.FormValue("name")
	err := web.AsError(s.auth.RevokeClient(c.UserContext(), name))
	if code := registry.ErrorCode(err); code != "" && code != registry.EInternal {
		s.setFlash(c, flash{Kind: "error", Msg: registry.ErrorMessage(err)})
	} else if err != nil {
		return err
	} else {
		s.setFlash(c, flash{Kind: "ok", Msg: "Client " + name + " revoked: its token no longer works."})
	}
	return redirect(c, "/admin/clients")
}

// checkForm is the dry-run question.
type checkForm struct {
	Who, Action, Type, Domain string
}

type policyPage struct {
	view
	Rules    []policy.Rule
	Check    checkForm
	Decision *policy.Decision
	Subjects []string
	Actions  []string
	Types    []string
	Error    string
}

func (s *Server) handlePolicyPage(c *fiber.Ctx) error {
	ctx := c.UserContext()
	rules, err := s.auth.Rules()
	if err != nil {
		return err
	}
	clients, err := s.auth.Clients(ctx)
	if err != nil {
		return err
	}
	p := policyPage{view: s.baseView(c, "Policy", "policy"), Rules: rules, Actions: uiActions, Types: uiTypes,
		Check: checkForm{Who: c.Query("who"), Action: c.Query("action"), Type: c.Query("type"), Domain: strings.TrimSpace(c.Query("domain"))}}
	for _, r := range uiRoles {
		p.Subjects = append(p.Subjects, "role:"+r)
	}
	for _, cl := range clients {
		p.Subjects = append(p.Subjects, "client:"+cl.Name)
	}
	if p.Check.Who == "" {
		return s.render(c, fiber.StatusOK, "policy", p)
	}
	who, err := s.auth.DryRunPrincipal(ctx, p.Check.Who)
	switch {
	case err != nil:
		p.Error = "Ask about role:NAME or client:NAME (an existing client)."
	case !slices.Contains(uiActions, p.Check.Action):
		p.Error = "Choose an action."
	case p.Check.Type == "":
		p.Error = "Choose a resource type."
	default:
		var domains []string
		if p.Check.Domain != "" {
			domains = []string{p.Check.Domain}
		}
		d := s.host.DecideAs(ctx, who, p.Check.Action, p.Check.Type, domains)
		p.Decision = &d
	}
	status := fiber.StatusOK
	if p.Error != "" {
		status = fiber.StatusBadRequest
	}
	return s.render(c, status, "policy", p)
}

// handleUIRuleAdd adds the rule of the form's fields (who, type, action,
// allow or deny), or its raw policy line (the advanced field) when given.
func (s *Server) handleUIRuleAdd(c *fiber.Ctx) error {
	if line := strings.TrimSpace(c.FormValue("line")); line != "" {
		r, err := policy.ParseRule(line)
		return s.editRule(c, r, err, "added", s.auth.AddRule)
	}
	r, err := policy.Permission(c.FormValue("who"), c.FormValue("type"), c.FormValue("domain"), c.FormValue("action"), c.FormValue("effect"))
	return s.editRule(c, r, err, "added", s.auth.AddRule)
}

func (s *Server) handleUIRuleRemove(c *fiber.Ctx) error {
	r, err := policy.ParseRule(strings.TrimSpace(c.FormValue("line")))
	return s.editRule(c, r, err, "removed", s.auth.RemoveRule)
}

// editRule adds or removes rule r (unless reading it failed with err); a
// bad rule is reported on the page.
func (s *Server) editRule(c *fiber.Ctx, r policy.Rule, err error, done string, edit func(ctx context.Context, r policy.Rule) error) error {
	if err == nil {
		err = edit(c.UserContext(), r)
	}
	err = web.AsError(err)
	line := r.String()
	if code := registry.ErrorCode(err); code != "" && code != registry.EInternal {
		s.setFlash(c, flash{Kind: "error", Msg: registry.ErrorMessage(err)})
	} else if err != nil {
		return err
	} else {
		s.log.Info("policy rule "+done+" in the admin UI", "rule", line, "by", user(c).Name)
		s.setFlash(c, flash{Kind: "ok", Msg: "Rule " + done + ": " + line})
	}
	return redirect(c, "/admin/policy")
}
