package web

import (
	"context"
	"time"

	"idem/registry"
)

// Decision is the answer to "may p do action on type in domains?", with the
// rule that decided it and a reason a person can read.
type Decision struct {
	Allowed bool
	Rule    string
	Reason  string
}

// Client is a client system as the admin API shows it (never its token).
type Client struct {
	Name, System     string
	Roles, Domains   []string
	Created, Expires time.Time
	Revoked          time.Time
	JWKS             string // public keys (a JWK Set, JSON) for SMART Backend Services; a client with them has no static token
}

// User is an admin UI user.
type User struct {
	Name  string
	Roles []string
}

// Auth authenticates and authorises requests; the policy package behind an
// adapter in app implements it (web imports neither policy nor GORM).
// Authentication failures are registry errors (EUnauthorized).
type Auth interface {
	// Authenticate resolves a bearer token.
	Authenticate(ctx context.Context, token string) (registry.Actor, error)
	// Decide answers one authorisation question.
	Decide(p registry.Actor, action, typ string, domains []string) Decision
	// DecideOwner answers whether p may update or delete (action) a stored
	// record of typ whose meta.source is source (which names its owner).
	DecideOwner(p registry.Actor, action, typ, source string) Decision
	// Allow spends one request of p's rate budget; when it is spent it
	// returns false and how long to wait.
	Allow(name string) (bool, time.Duration)
	// AutoLink reports whether records of typ are linked automatically
	// (false in the "independent" sharing mode).
	AutoLink(typ string) bool
	// Mode returns the sharing architecture of typ.
	Mode(typ string) string
	// Intake returns what to do with the typ records client p pushes
	// ("accept", "review" or "refuse") and the rule that says so.
	Intake(p registry.Actor, typ string) (string, string)
	// IssueToken trades a SMART Backend Services client assertion for a
	// short-lived access token that Authenticate accepts; refusals are
	// *OAuthError.
	IssueToken(ctx context.Context, req TokenRequest) (AccessToken, error)

	// Login checks a steward's password and starts a session; Session
	// resolves one (and returns its CSRF token); Logout ends it.
	Login(ctx context.Context, user, password string) (session, csrf string, err error)
	Session(ctx context.Context, id string) (registry.Actor, string, error)
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
	Clients(ctx context.Context) ([]Client, error)
	AddClient(ctx context.Context, c Client) (token string, err error)
	RevokeClient(ctx context.Context, name string) error
	// Rules lists the policy rules ("p, role, object, action" lines, the
	// built-in ones marked); AddRule and RemoveRule edit the stored ones.
	Rules() ([]Rule, error)
	AddRule(ctx context.Context, line string) error
	RemoveRule(ctx context.Context, line string) error
}

// Rule is one policy line.
type Rule struct {
	Line    string
	Builtin bool
}
