package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"idem/policy"
	"idem/registry"
	"idem/registry/sqlstore"
	"idem/web"
)

// storeDB gives policy its tables in the registry's database, through the
// store's writer (SQLite has one).
type storeDB struct{ s *sqlstore.Store }

func (d storeDB) Read() *gorm.DB { return d.s.ReadDB() }
func (d storeDB) Write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return d.s.WriteDB(ctx, fn)
}

// policyAuth is the web layer's Auth over the policy package: it converts
// types and maps policy errors to registry errors (web imports neither
// policy nor GORM).
type policyAuth struct{ a *policy.Authorizer }

var _ web.Auth = policyAuth{}

func toWeb(p policy.Principal) registry.Actor {
	return registry.Actor{Kind: string(p.Kind), Name: p.Name, System: p.System, Roles: p.Roles, Domains: p.Domains}
}

func fromWeb(p registry.Actor) policy.Principal {
	return policy.Principal{Kind: policy.Kind(p.Kind), Name: p.Name, System: p.System, Roles: p.Roles, Domains: p.Domains}
}

// policyError maps a policy error to the registry error of the same kind.
func policyError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, policy.ErrUnauthenticated):
		return registry.Errorf(registry.EUnauthorized, "%s", err.Error())
	case errors.Is(err, policy.ErrNotFound):
		return registry.Errorf(registry.ENotFound, "%s", err.Error())
	case errors.Is(err, policy.ErrExists):
		return registry.Errorf(registry.EConflict, "%s", err.Error())
	case errors.Is(err, policy.ErrInvalid):
		return registry.Errorf(registry.EInvalid, "%s", err.Error())
	}
	return registry.Internal(err)
}

func (p policyAuth) Authenticate(ctx context.Context, token string) (registry.Actor, error) {
	pr, err := p.a.Authenticate(ctx, token)
	if errors.Is(err, policy.ErrUnauthenticated) {
		return registry.Actor{}, registry.Errorf(registry.EUnauthorized, "the bearer token is not valid: unknown, revoked or expired")
	}
	return toWeb(pr), policyError(err)
}

func (p policyAuth) Decide(pr registry.Actor, action, typ string, domains []string) web.Decision {
	d := p.a.Decide(fromWeb(pr), action, typ, domains)
	return web.Decision{Allowed: d.Allowed, Rule: d.Rule, Reason: d.Reason}
}

func (p policyAuth) DecideOwner(pr registry.Actor, action, typ, source string) web.Decision {
	d := p.a.DecideOwner(fromWeb(pr), action, typ, source)
	return web.Decision{Allowed: d.Allowed, Rule: d.Rule, Reason: d.Reason}
}

func (p policyAuth) Allow(name string) (bool, time.Duration) { return p.a.Allow(name) }
func (p policyAuth) AutoLink(typ string) bool                { return p.a.AutoLink(typ) }
func (p policyAuth) Mode(typ string) string                  { return string(p.a.Mode(typ)) }
func (p policyAuth) Intake(pr registry.Actor, typ string) (string, string) {
	in, rule := p.a.Intake(pr.Name, typ)
	return string(in), rule
}

// IssueToken is SMART Backend Services' token exchange; policy's
// TokenErrors become the web layer's OAuth errors.
func (p policyAuth) IssueToken(ctx context.Context, req web.TokenRequest) (web.AccessToken, error) {
	tok, err := p.a.IssueToken(ctx, policy.TokenRequest{Assertion: req.Assertion, Scope: req.Scope, Audiences: req.Audiences})
	var te *policy.TokenError
	switch {
	case errors.As(err, &te):
		return web.AccessToken{}, &web.OAuthError{Code: te.Code, Description: te.Description, Client: te.Client}
	case err != nil:
		return web.AccessToken{}, policyError(err)
	}
	return web.AccessToken{Token: tok.Token, Scope: tok.Scope, Lifetime: tok.Lifetime, Principal: toWeb(tok.Principal)}, nil
}

func (p policyAuth) Login(ctx context.Context, user, password string) (string, string, error) {
	sess, csrf, err := p.a.Login(ctx, user, password)
	return sess, csrf, policyError(err)
}

func (p policyAuth) Session(ctx context.Context, id string) (registry.Actor, string, error) {
	pr, csrf, err := p.a.Session(ctx, id)
	return toWeb(pr), csrf, policyError(err)
}

func (p policyAuth) Throttle(ctx context.Context, account, addr string) (time.Duration, error) {
	wait, err := p.a.Throttle(ctx, account, addr)
	return wait, policyError(err)
}

func (p policyAuth) SignInFailed(ctx context.Context, account, addr string) error {
	return policyError(p.a.SignInFailed(ctx, account, addr))
}

func (p policyAuth) SignInSucceeded(ctx context.Context, account string) error {
	return policyError(p.a.SignInSucceeded(ctx, account))
}

func (p policyAuth) Logout(ctx context.Context, id string) error {
	return policyError(p.a.Logout(ctx, id))
}

func (p policyAuth) Clients(ctx context.Context) ([]web.Client, error) {
	cs, err := p.a.Clients(ctx)
	if err != nil {
		return nil, policyError(err)
	}
	out := make([]web.Client, len(cs))
	for i, c := range cs {
		out[i] = web.Client{Name: c.Name, System: c.System, Roles: c.Roles, Domains: c.Domains, Created: c.Created, Expires: c.Expires, Revoked: c.Revoked, JWKS: c.JWKS}
	}
	return out, nil
}

func (p policyAuth) AddClient(ctx context.Context, c web.Client) (string, error) {
	token, err := p.a.AddClient(ctx, policy.Client{Name: c.Name, System: c.System, Roles: c.Roles, Domains: c.Domains, Expires: c.Expires, JWKS: c.JWKS})
	return token, policyError(err)
}

func (p policyAuth) RevokeClient(ctx context.Context, name string) error {
	return policyError(p.a.RevokeClient(ctx, name))
}

func (p policyAuth) Rules() ([]web.Rule, error) {
	rs, err := p.a.Rules()
	if err != nil {
		return nil, policyError(err)
	}
	out := make([]web.Rule, len(rs))
	for i, r := range rs {
		out[i] = web.Rule{Line: r.String(), Builtin: r.Builtin}
	}
	return out, nil
}

func (p policyAuth) AddRule(ctx context.Context, line string) error {
	r, err := policy.ParseRule(line)
	if err != nil {
		return registry.Errorf(registry.EInvalid, "%s", err.Error())
	}
	return policyError(p.a.AddRule(ctx, r))
}

func (p policyAuth) RemoveRule(ctx context.Context, line string) error {
	r, err := policy.ParseRule(line)
	if err != nil {
		return registry.Errorf(registry.EInvalid, "%s", err.Error())
	}
	return policyError(p.a.RemoveRule(ctx, r))
}

// bootstrapAccess creates what an operator needs to get in: the admin
// client with IDEM_ADMIN_TOKEN, and the admin UI user, whose password is
// IDEM_ADMIN_PASSWORD or, on first start without one, generated and
// logged once.
func bootstrapAccess(ctx context.Context, cfg Config, o *opened, log *slog.Logger) error {
	if cfg.AdminToken != "" {
		if err := o.authz.EnsureAdminClient(ctx, cfg.AdminToken); err != nil {
			return fmt.Errorf("IDEM_ADMIN_TOKEN: %w", err)
		}
	}
	generated, err := o.authz.EnsureAdmin(ctx, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("admin user: %w", err)
	}
	if generated != "" {
		log.Warn("admin UI user created; this password is shown only once", "user", "admin", "password", generated)
	}
	return nil
}

// auditSource names this instance in AuditEvents: its public base URL, or
// its listen address.
func auditSource(cfg Config) string {
	if cfg.BaseURL != "" {
		return cfg.BaseURL
	}
	return "idem " + cfg.Addr
}
