// Package authtest is a test double of web.Auth for the web layer's tests
// (web and web/ui): a few users, in-memory sessions, clients and rules, and
// a small fixed policy. The policy package, which implements web.Auth in
// idem, is tested on its own and end to end in app. Only tests import it.
package authtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"idem/policy"
	"idem/registry"
)

// Auth is a test double of web.Auth: a few users, in-memory sessions,
// clients and rules, and a small fixed policy.
type Auth struct {
	mu       sync.Mutex
	sessions map[string]session
	clients  []policy.Client
	rules    []policy.Rule
	n        int
}

type session struct {
	p    registry.Actor
	csrf string
}

// Users are the users Auth knows, with their passwords and roles.
var Users = map[string]struct {
	Password string
	Roles    []string
}{
	"ann":   {"ann-pw", []string{"steward"}},
	"root":  {"root-pw", []string{"admin"}},
	"rita":  {"rita-pw", []string{"reader"}},
	"nosey": {"nosey-pw", []string{"steward"}},
}

// New returns an Auth with the fixed users and one built-in rule.
func New() *Auth {
	return &Auth{sessions: map[string]session{}, rules: []policy.Rule{{Type: "p", Values: []string{"role:reader", "Patient", "*", "read", "allow"}, Builtin: true}}}
}

// Authenticate takes a user's password as a bearer token, so one user
// can reach both the pages and the API.
func (a *Auth) Authenticate(ctx context.Context, token string) (policy.Principal, error) {
	for name, u := range Users {
		if token == u.Password {
			return registry.Actor{Kind: "user", Name: name, Roles: u.Roles}, nil
		}
	}
	return registry.Actor{}, registry.Errorf(registry.EUnauthorized, "no such token")
}

func (a *Auth) Decide(pr policy.Principal, action, typ string, domains []string) policy.Decision {
	p := registry.Actor(pr)
	switch {
	case p.HasRole("admin"):
		return policy.Decision{Allowed: true, Rule: "p, role:admin, *, *, *, allow", Reason: "admins may do anything"}
	case p.Name == "nosey" && action == "link":
		return policy.Decision{Rule: "p, user:nosey, *, *, link, deny", Reason: "nosey may not link"}
	case p.HasRole("steward") && slices.Contains([]string{"read", "search", "link", "merge"}, action):
		return policy.Decision{Allowed: true, Rule: "p, role:steward, " + typ + ", *, " + action + ", allow", Reason: "stewards may"}
	case p.HasRole("reader") && (action == "read" || action == "search"):
		return policy.Decision{Allowed: true, Rule: "p, role:reader, *, *, read, allow", Reason: "readers read"}
	}
	return policy.Decision{Rule: "built-in: default deny", Reason: p.Name + " may not " + action + " " + typ}
}

func (a *Auth) DecideOwner(p policy.Principal, action, typ, source string) policy.Decision {
	return policy.Decision{Allowed: registry.Actor(p).HasRole("admin"), Rule: "built-in: owner"}
}

func (a *Auth) Allow(name string) (bool, time.Duration)       { return true, 0 }
func (a *Auth) AutoLink(typ string) bool                      { return true }
func (a *Auth) Mode(typ string) policy.Mode                   { return policy.SharedRegistry }
func (a *Auth) Intake(string, string) (policy.Intake, string) { return policy.Accept, "" }

func (a *Auth) Throttle(context.Context, string, string) (time.Duration, error) { return 0, nil }
func (a *Auth) SignInFailed(context.Context, string, string) error              { return nil }
func (a *Auth) SignInSucceeded(context.Context, string) error                   { return nil }

func (a *Auth) Login(ctx context.Context, user, password string) (string, string, error) {
	u, ok := Users[user]
	if !ok || u.Password != password {
		return "", "", registry.Errorf(registry.EUnauthorized, "wrong user name or password")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	id := fmt.Sprintf("session-%d", a.n)
	a.sessions[id] = session{p: registry.Actor{Kind: "user", Name: user, Roles: u.Roles}, csrf: fmt.Sprintf("csrf-%d", a.n)}
	return id, a.sessions[id].csrf, nil
}

func (a *Auth) Session(ctx context.Context, id string) (policy.Principal, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[id]
	if !ok {
		return registry.Actor{}, "", registry.Errorf(registry.EUnauthorized, "no such session")
	}
	return s.p, s.csrf, nil
}

func (a *Auth) Logout(ctx context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, id)
	return nil
}

func (a *Auth) Clients(ctx context.Context) ([]policy.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.clients), nil
}

func (a *Auth) AddClient(ctx context.Context, c policy.Client) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.Name == "" || len(c.Roles) == 0 {
		return "", registry.Errorf(registry.EInvalid, "a client needs a name and a role")
	}
	if slices.ContainsFunc(a.clients, func(x policy.Client) bool { return x.Name == c.Name }) {
		return "", registry.Errorf(registry.EConflict, "client %s exists", c.Name)
	}
	c.Created = time.Now()
	a.clients = append(a.clients, c)
	return "idem_secret_" + c.Name, nil
}

func (a *Auth) RevokeClient(ctx context.Context, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.clients {
		if a.clients[i].Name == name {
			a.clients[i].Revoked = time.Now()
			return nil
		}
	}
	return registry.Errorf(registry.ENotFound, "no client %s", name)
}

func (a *Auth) Rules() ([]policy.Rule, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.rules), nil
}

func (a *Auth) AddRule(ctx context.Context, r policy.Rule) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rules = append(a.rules, r)
	return nil
}

func (a *Auth) RemoveRule(ctx context.Context, r policy.Rule) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.rules, func(x policy.Rule) bool { return x.String() == r.String() && !x.Builtin })
	if i < 0 {
		return registry.Errorf(registry.ENotFound, "no stored rule %q", r.String())
	}
	a.rules = slices.Delete(a.rules, i, i+1)
	return nil
}

func (a *Auth) DryRunPrincipal(ctx context.Context, who string) (policy.Principal, error) {
	kind, name, _ := strings.Cut(who, ":")
	a.mu.Lock()
	defer a.mu.Unlock()
	switch i := slices.IndexFunc(a.clients, func(c policy.Client) bool { return c.Name == name }); {
	case kind == "role" && name != "":
		return registry.Actor{Kind: "user", Name: "(any " + name + ")", Roles: []string{name}}, nil
	case kind == "client" && i >= 0:
		return a.clients[i].Principal(), nil
	}
	return registry.Actor{}, registry.Errorf(registry.ENotFound, "no client %q", name)
}

// IssueToken refuses every assertion: the double has no client keys.
func (a *Auth) IssueToken(ctx context.Context, req policy.TokenRequest) (policy.AccessToken, error) {
	return policy.AccessToken{}, &policy.TokenError{Code: "invalid_client", Description: "no keys"}
}
