package web

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/policy"
	"idem/registry"
)

// Auth authenticates and authorises requests and manages clients and rules:
// *policy.Authorizer, the one place that does (the admin API, the admin
// UI's forms and the `idem client` and `idem user` commands all call it).
// web uses policy's types as they are; the principal policy returns is a
// registry.Actor (policy.Principal has its shape), taken as one at
// authentication. Policy's errors become registry errors in authError.
type Auth interface {
	// Authenticate resolves a bearer token.
	Authenticate(ctx context.Context, token string) (policy.Principal, error)
	// Decide answers one authorisation question.
	Decide(p policy.Principal, action, typ string, domains []string) policy.Decision
	// DecideOwner answers whether p may update or delete (action) a stored
	// record of typ whose meta.source is source (which names its owner).
	DecideOwner(p policy.Principal, action, typ, source string) policy.Decision
	// Allow spends one request of p's rate budget; when it is spent it
	// returns false and how long to wait.
	Allow(name string) (bool, time.Duration)
	// AutoLink reports whether records of typ are linked automatically
	// (false in the "independent" sharing mode).
	AutoLink(typ string) bool
	// Mode returns the sharing architecture of typ.
	Mode(typ string) policy.Mode
	// Intake returns what to do with the typ records client pushes
	// (accept, review or refuse) and the rule that says so.
	Intake(client, typ string) (policy.Intake, string)
	// IssueToken trades a SMART Backend Services client assertion for a
	// short-lived access token that Authenticate accepts; refusals are
	// *policy.TokenError.
	IssueToken(ctx context.Context, req policy.TokenRequest) (policy.AccessToken, error)

	// Login checks a steward's password and starts a session; Session
	// resolves one (and returns its CSRF token); Logout ends it.
	Login(ctx context.Context, user, password string) (session, csrf string, err error)
	Session(ctx context.Context, id string) (policy.Principal, string, error)
	Logout(ctx context.Context, id string) error
	// Throttle returns how long sign-ins (passwords, token requests) for
	// account ("user:NAME", "client:NAME") from address addr must wait;
	// SignInFailed and SignInSucceeded count the outcomes (shared by every
	// instance on the database).
	Throttle(ctx context.Context, account, addr string) (time.Duration, error)
	SignInFailed(ctx context.Context, account, addr string) error
	SignInSucceeded(ctx context.Context, account string) error

	// Clients, AddClient (returns the new token, shown once) and
	// RevokeClient manage client systems.
	Clients(ctx context.Context) ([]policy.Client, error)
	AddClient(ctx context.Context, c policy.Client) (token string, err error)
	RevokeClient(ctx context.Context, name string) error
	// Rules lists the policy rules (the built-in ones marked); AddRule and
	// RemoveRule edit the stored ones; DryRunPrincipal is whom a dry run
	// asks about ("client:NAME" or "role:NAME").
	Rules() ([]policy.Rule, error)
	AddRule(ctx context.Context, r policy.Rule) error
	RemoveRule(ctx context.Context, r policy.Rule) error
	DryRunPrincipal(ctx context.Context, who string) (policy.Principal, error)
}

var _ Auth = (*policy.Authorizer)(nil)

// AsError turns an error into the registry's one error type: Fiber's own
// errors and policy's error kinds become registry errors of the same kind;
// registry errors and anything else (internal) pass as they are.
func AsError(err error) error {
	var fe *fiber.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return fromFiber(fe)
	case registry.ErrorCode(err) != registry.EInternal:
		return err
	case errors.Is(err, policy.ErrUnauthenticated):
		return registry.Errorf(registry.EUnauthorized, "%s", err.Error())
	case errors.Is(err, policy.ErrNotFound):
		return registry.Errorf(registry.ENotFound, "%s", err.Error())
	case errors.Is(err, policy.ErrExists):
		return registry.Errorf(registry.EConflict, "%s", err.Error())
	case errors.Is(err, policy.ErrInvalid):
		return registry.Errorf(registry.EInvalid, "%s", err.Error())
	}
	return err
}

// Authenticated is the registry.Actor of a principal policy authenticated:
// the one place a request's actor comes into being (bearer, session). The
// conversion costs nothing: the two types have one shape.
func Authenticated(p policy.Principal) registry.Actor { return p }
