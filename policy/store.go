package policy

import (
	"context"
	"time"
)

// Store is what policy keeps between requests and across instances: the
// clients, users, sessions, stored rules, SMART grants and sign-in counts.
// The store side implements it over the registry's database (package
// registry/sqlstore/policystore, whose tables are created by the store's
// migrations); policy decides, the store only remembers.
//
// Every method is one transaction. The methods that change what decisions
// rest on — clients (their tokens, expiry, revocation and identifier
// domains) and rules — also advance the policy version in that transaction,
// so every instance sharing the store reloads (see Authorizer.refresh).
// A method that finds nothing to read or change returns an error matching
// ErrNotFound, one that would duplicate a name, a rule, an owned domain or
// an assertion id an error matching ErrExists (use Errorf for both).
type Store interface {
	// Version returns the policy version: a counter every policy change
	// advances.
	Version(ctx context.Context) (int64, error)
	// Snapshot reads what decisions rest on. It reads the version first, so
	// that a change committed during the read leaves the snapshot's version
	// behind and the next refresh loads again.
	Snapshot(ctx context.Context) (Snapshot, error)
	ClientStore
	UserStore
	SessionStore
	RuleStore
	GrantStore
	ThrottleStore
}

// Snapshot is the state of the policy at one version.
type Snapshot struct {
	Version int64
	// Rules are the stored rules (the built-in ones are policy's own).
	Rules []Rule
	// Clients are every client, revoked ones included: their systems name
	// the owners of stored records.
	Clients []Client
	// Owners maps each owned identifier domain, in canonical form
	// (CanonicalDomain), to the client that owns it.
	Owners map[string]string
}

// ClientStore keeps the client systems and their credentials.
type ClientStore interface {
	// Clients lists every client, revoked ones included, by name.
	Clients(ctx context.Context) ([]Client, error)
	// Client returns the named client (ErrNotFound).
	Client(ctx context.Context, name string) (Client, error)
	// ClientByToken returns the client whose static token hashes to
	// tokenHash (ErrNotFound).
	ClientByToken(ctx context.Context, tokenHash string) (Client, error)
	// AddClient stores a new client and makes it the owner of its domains;
	// ErrExists when the name is taken or a domain has an owner.
	AddClient(ctx context.Context, c NewClient) error
	// SetClientToken replaces an active client's token hash and expiry
	// (zero: never); ErrNotFound when no active client has that name.
	SetClientToken(ctx context.Context, name, tokenHash string, expires time.Time) error
	// RevokeClient marks an active client revoked at at, drops its access
	// tokens and releases its domains; ErrNotFound when no active client
	// has that name.
	RevokeClient(ctx context.Context, name string, at time.Time) error
}

// NewClient is a client to store: the client (Created set), the hash of its
// static token, and its domains in canonical form, which it comes to own.
type NewClient struct {
	Client
	TokenHash string
	Owned     []string
}

// UserStore keeps the admin UI's users.
type UserStore interface {
	// Users lists the users by name.
	Users(ctx context.Context) ([]User, error)
	// AddUser stores a new user with its password hash (ErrExists).
	AddUser(ctx context.Context, u User, passwordHash string) error
	// PasswordHash returns the named user's password hash (ErrNotFound).
	PasswordHash(ctx context.Context, name string) (string, error)
	// SetPassword replaces a user's password hash and ends the user's
	// sessions (ErrNotFound).
	SetPassword(ctx context.Context, name, passwordHash string) error
	// RemoveUser deletes a user and the user's sessions (ErrNotFound).
	RemoveUser(ctx context.Context, name string) error
}

// Session is a steward's signed-in session as stored: the hash of its id,
// its user (with the user's roles when read), its CSRF token and its times.
type Session struct {
	IDHash  string
	User    string
	Roles   []string
	CSRF    string
	Created time.Time
	Expires time.Time
}

// SessionStore keeps the admin UI's sessions.
type SessionStore interface {
	// AddSession stores a session, first deleting the sessions expired at
	// its creation (logins are rare, sessions few).
	AddSession(ctx context.Context, s Session) error
	// Session returns the session whose id hashes to idHash, with its
	// user's current roles (ErrNotFound, also when the user is gone).
	Session(ctx context.Context, idHash string) (Session, error)
	// ExtendSession sets a session's expiry.
	ExtendSession(ctx context.Context, idHash string, expires time.Time) error
	// RemoveSession deletes a session; an unknown one is not an error.
	RemoveSession(ctx context.Context, idHash string) error
}

// RuleStore keeps the rules added at run time.
type RuleStore interface {
	// AddRule stores a rule (ErrExists when it is stored already).
	AddRule(ctx context.Context, r Rule) error
	// RemoveRule deletes a stored rule (ErrNotFound).
	RemoveRule(ctx context.Context, r Rule) error
}

// Grant is one SMART Backend Services token exchange: the assertion's id
// (kept until JTIExpires, so a replay is refused on every instance) and
// the access token issued for it (its hash, scope and lifetime).
type Grant struct {
	Client     string
	JTI        string
	JTIExpires time.Time
	TokenHash  string
	Scope      string
	Created    time.Time
	Expires    time.Time
}

// GrantStore keeps the assertion ids used and the access tokens issued.
type GrantStore interface {
	// AddGrant records a grant, first dropping the client's assertion ids
	// and access tokens expired at g.Created; ErrExists when the client
	// used g.JTI before.
	AddGrant(ctx context.Context, g Grant) error
	// AccessToken returns the grant whose access token hashes to tokenHash
	// (ErrNotFound).
	AccessToken(ctx context.Context, tokenHash string) (Grant, error)
}

// ThrottleStore keeps the failed sign-in counts, shared by every instance.
type ThrottleStore interface {
	// LockedUntil returns until when each counted key must wait (keys
	// without a count are left out).
	LockedUntil(ctx context.Context, keys []string) ([]time.Time, error)
	// CountFailure forgets the counts whose last failure is before
	// f.Forget, adds one failure at f.At to each of f.Keys, and sets the
	// wait of each key to f.Until(key, its failures) when that is not zero.
	CountFailure(ctx context.Context, f Failure) error
	// ClearFailures deletes key's count.
	ClearFailures(ctx context.Context, key string) error
}

// Failure is one failed sign-in, counted against several keys.
type Failure struct {
	Keys   []string
	At     time.Time
	Forget time.Time
	// Until is the wait a key's failure count earns (zero: none yet).
	Until func(key string, failures int64) time.Time
}
