package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// Client is a system that calls idem's FHIR API with a bearer token. It has
// one static token at a time: RotateToken replaces it, RevokeClient ends it.
// A client registered with public keys (JWKS) has no static token: it gets
// short-lived access tokens from IssueToken instead (SMART Backend Services).
type Client struct {
	Name    string
	System  string   // its system URI: identifier namespace or base URL
	Roles   []string // e.g. source, reader
	Domains []string // identifier systems it owns (no other client may assign them)
	Created time.Time
	Expires time.Time // zero: never
	Revoked time.Time // zero: not revoked
	JWKS    string    // its public keys, a JWK Set (JSON), for SMART Backend Services; empty: none
}

// Active reports whether the client's token is accepted at now.
func (c Client) Active(now time.Time) bool {
	return c.Revoked.IsZero() && (c.Expires.IsZero() || now.Before(c.Expires))
}

// Principal returns the client as a principal.
func (c Client) Principal() Principal {
	return Principal{Kind: KindClient, Name: c.Name, System: c.System, Roles: c.Roles, Domains: c.Domains}
}

// noToken starts the stored token hash of a client without a static token
// (a JWKS client): hashes are hex, so no token ever matches it.
const noToken = "none:"

// AddClient registers c (Created is set to now) and returns its bearer
// token, which is stored only as a hash: the caller shows it once. A client
// with JWKS gets no static token (token is ""): its private key is its
// credential. It fails with ErrExists if the name is taken or one of the
// domains is owned by another client.
func (a *Authorizer) AddClient(ctx context.Context, c Client) (token string, err error) {
	if err := a.checkClient(c); err != nil {
		return "", err
	}
	if c.JWKS != "" {
		if _, err := parseKeySet(c.JWKS); err != nil {
			return "", err
		}
		var compact bytes.Buffer
		json.Compact(&compact, []byte(c.JWKS)) // valid JSON: parseKeySet read it
		c.JWKS = compact.String()
		return "", a.insertClient(ctx, c, noToken+c.Name)
	}
	token = newToken()
	return token, a.insertClient(ctx, c, hashSecret(token))
}

// insertClient stores c as created now, owning its domains in canonical
// form, so that a domain owned under one spelling cannot be claimed under
// another.
func (a *Authorizer) insertClient(ctx context.Context, c Client, tokenHash string) error {
	c.Created, c.Revoked = a.now(), time.Time{}
	return a.changed(ctx, a.store.AddClient(ctx, NewClient{Client: c, TokenHash: tokenHash, Owned: canonicalDomains(c.Domains)}))
}

func (a *Authorizer) checkClient(c Client) error {
	if err := checkName("client", c.Name); err != nil {
		return err
	}
	if err := checkURI("system", c.System); err != nil {
		return err
	}
	if len(c.Roles) == 0 {
		return errorf(ErrInvalid, "client %s needs at least one role", c.Name)
	}
	if err := a.checkRoles(c.Roles); err != nil {
		return err
	}
	for i, d := range c.Domains {
		if err := checkURI("identifier domain", d); err != nil {
			return err
		}
		if slices.Contains(canonicalDomains(c.Domains[:i]), CanonicalDomain(d)) {
			return errorf(ErrInvalid, "identifier domain %s given twice", d)
		}
	}
	if !c.Expires.IsZero() && !c.Expires.After(a.now()) {
		return errorf(ErrInvalid, "expiry %s is in the past", c.Expires.Format(time.RFC3339))
	}
	return nil
}

// checkRoles accepts roles the policy mentions (built-in or added by rules).
func (a *Authorizer) checkRoles(roles []string) error {
	known := a.state.Load().roles
	for _, r := range roles {
		if !known[r] {
			return errorf(ErrInvalid, "unknown role %q (known: %s)", r, list(sortedKeys(known)))
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Clients lists every client, revoked ones included, by name.
func (a *Authorizer) Clients(ctx context.Context) ([]Client, error) {
	return a.store.Clients(ctx)
}

// Client returns the named client, or ErrNotFound.
func (a *Authorizer) Client(ctx context.Context, name string) (Client, error) {
	return a.store.Client(ctx, name)
}

// RevokeClient ends the client's token for good and releases its
// identifier domains (so a successor client can own them). The client stays
// listed, for the audit trail; its name is not reused.
func (a *Authorizer) RevokeClient(ctx context.Context, name string) error {
	return a.changed(ctx, a.store.RevokeClient(ctx, name, a.now()))
}

// RotateToken gives an active client a new token, valid until expires (zero:
// never), and returns it; the old token stops working at once.
func (a *Authorizer) RotateToken(ctx context.Context, name string, expires time.Time) (string, error) {
	if !expires.IsZero() && !expires.After(a.now()) {
		return "", errorf(ErrInvalid, "expiry %s is in the past", expires.Format(time.RFC3339))
	}
	token := newToken()
	return token, a.changed(ctx, a.store.SetClientToken(ctx, name, hashSecret(token), expires))
}

// EnsureAdminClient makes sure a client "admin" with role admin accepts
// token (IDEM_ADMIN_TOKEN: operators and automation bring their own). It
// creates the client, or replaces its token if it changed.
func (a *Authorizer) EnsureAdminClient(ctx context.Context, token string) error {
	if len(token) < 20 {
		return errorf(ErrInvalid, "an admin token needs at least 20 characters")
	}
	c, err := a.Client(ctx, "admin")
	switch {
	case errors.Is(err, ErrNotFound):
		return a.insertClient(ctx, Client{Name: "admin", System: "urn:idem:admin", Roles: []string{RoleAdmin}}, hashSecret(token))
	case err != nil:
		return err
	case !c.Revoked.IsZero():
		return errorf(ErrInvalid, "client admin is revoked")
	}
	return a.changed(ctx, a.store.SetClientToken(ctx, "admin", hashSecret(token), c.Expires))
}

// tokenEntry is an authenticated token, cached until the next reload.
type tokenEntry struct {
	p       Principal
	expires time.Time
}

// Authenticate returns the client a bearer token belongs to (a static token
// or an access token from IssueToken), or ErrUnauthenticated. Tokens found
// are cached until the policy changes; the policy version is checked first,
// so a revocation anywhere takes effect on the next request everywhere.
func (a *Authorizer) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthenticated
	}
	if err := a.refresh(ctx); err != nil {
		return Principal{}, err
	}
	h := hashSecret(token)
	s := a.state.Load()
	now := a.now()
	if v, ok := s.tokens.Load(h); ok {
		e := v.(tokenEntry)
		if !e.expires.IsZero() && !now.Before(e.expires) {
			return Principal{}, errorf(ErrUnauthenticated, "token expired")
		}
		return e.p, nil
	}
	// The lookup is by hash, which an attacker cannot steer byte by byte.
	c, err := a.store.ClientByToken(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return a.authenticateAccessToken(ctx, s, h, now)
	}
	if err != nil {
		return Principal{}, err
	}
	if !c.Revoked.IsZero() {
		return Principal{}, ErrUnauthenticated
	}
	if !c.Active(now) {
		return Principal{}, errorf(ErrUnauthenticated, "token expired")
	}
	p := c.Principal()
	s.tokens.Store(h, tokenEntry{p: p, expires: c.Expires})
	return p, nil
}
