package policy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	// jwkset turns JWKs into crypto public keys (and validates them: points
	// on the curve, well-formed base64url). Its author's keyfunc/v3 wraps it
	// for remote key sets, which idem does not fetch; the version keyfunc
	// needs is not served here, and its in-memory path is a few lines.
	"github.com/MicahParks/jwkset"
	// golang-jwt/jwt is the maintained, dependency-free JWT library the Go
	// ecosystem settled on: it verifies RS*/ES* signatures with an algorithm
	// allow-list (so "none" and HMAC-with-a-public-key confusion are refused)
	// and leaves claim checks to us where we need OAuth-specific errors.
	"github.com/golang-jwt/jwt/v5"
)

// SMART Backend Services (HL7 SMART App Launch 2.x, client-confidential-
// asymmetric): a client registers its public keys (a JWK Set), signs a
// short-lived JWT naming itself and idem's token endpoint, and trades it
// for an access token that Authenticate accepts for AccessTokenTTL.

// AssertionType is the client_assertion_type of a signed JWT (RFC 7523).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

const (
	// AccessTokenTTL is how long an issued access token is accepted.
	AccessTokenTTL = 5 * time.Minute
	// MaxAssertionTTL is how far ahead an assertion's exp may be (SMART:
	// "no more than five minutes in the future").
	MaxAssertionTTL = 5 * time.Minute
	// clockSkew forgives a client clock slightly ahead of ours on the upper
	// bounds (exp, nbf, iat); an expired assertion gets no grace.
	clockSkew = 30 * time.Second
	maxKeySet = 64 << 10
	maxKeys   = 20
	maxJTI    = 255
)

// SigningAlgs are the assertion signature algorithms accepted: the two
// SMART requires servers to support, and their SHA-256 variants.
var SigningAlgs = []string{"RS384", "ES384", "RS256", "ES256"}

// The OAuth 2.0 error codes of the token endpoint (RFC 6749 §5.2).
const (
	InvalidRequest       = "invalid_request"
	InvalidClient        = "invalid_client"
	InvalidGrant         = "invalid_grant"
	InvalidScope         = "invalid_scope"
	UnsupportedGrantType = "unsupported_grant_type"
)

// TokenError is a refused token request. Code is an OAuth 2.0 error code:
// invalid_client when the assertion does not authenticate a client (unknown,
// revoked or expired client, unknown kid, bad signature, refused alg);
// invalid_grant when a correctly signed assertion is unacceptable (aud, exp,
// jti); invalid_request when it is no JWT; invalid_scope for a scope that is
// not a SMART system scope. Client is the client the assertion names
// (unverified unless Code is invalid_grant), for the audit trail.
type TokenError struct {
	Code        string
	Client      string
	Description string
}

func (e *TokenError) Error() string { return e.Code + ": " + e.Description }

// Unwrap lets errors.Is match the policy error kinds as well.
func (e *TokenError) Unwrap() error {
	if e.Code == InvalidClient || e.Code == InvalidGrant {
		return ErrUnauthenticated
	}
	return ErrInvalid
}

func tokenErrorf(code, client, format string, args ...any) *TokenError {
	return &TokenError{Code: code, Client: client, Description: fmt.Sprintf(format, args...)}
}

// TokenRequest is a client_credentials grant with a JWT client assertion.
// Audiences are the token endpoint URLs the assertion's aud may name (the
// configured public one and the one the request reached).
type TokenRequest struct {
	Assertion string
	Scope     string
	Audiences []string
}

// AccessToken is an issued access token, shown once and stored as a hash.
type AccessToken struct {
	Token     string
	Scope     string // the scope granted: the one asked for, or system/*.*
	Expires   time.Time
	Lifetime  time.Duration
	Principal Principal
}

// assertionKey is one registered public key.
type assertionKey struct {
	key any    // *rsa.PublicKey or *ecdsa.PublicKey
	alg string // the key's alg, if the JWK names one
}

// parseKeySet reads a JWK Set of public signing keys, keyed by kid. It
// refuses private key material, keys without kid, and key types or sizes
// no accepted algorithm uses, so a registration error shows up at once
// rather than as a refused assertion later.
func parseKeySet(data string) (map[string]assertionKey, error) {
	if len(data) > maxKeySet {
		return nil, errorf(ErrInvalid, "the JWK Set exceeds %d bytes", maxKeySet)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal([]byte(data), &set); err != nil {
		return nil, errorf(ErrInvalid, "the JWK Set is not valid JSON: %v", err)
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxKeys {
		return nil, errorf(ErrInvalid, `a JWK Set needs 1 to %d keys in "keys"`, maxKeys)
	}
	keys := make(map[string]assertionKey, len(set.Keys))
	for i, m := range set.Keys {
		k, err := parseKey(m)
		if err != nil {
			return nil, errorf(ErrInvalid, "JWK Set key %d (kid %q): %s", i, m.KID, err)
		}
		if _, dup := keys[m.KID]; dup {
			return nil, errorf(ErrInvalid, "JWK Set: kid %q given twice", m.KID)
		}
		keys[m.KID] = k
	}
	return keys, nil
}

func parseKey(m jwkset.JWKMarshal) (assertionKey, error) {
	switch {
	case m.D != "" || m.P != "" || m.Q != "" || m.K != "":
		return assertionKey{}, errors.New("holds private key material: register the public keys only")
	case m.KID == "":
		return assertionKey{}, errors.New(`needs a "kid" (assertions name their key by it)`)
	case m.USE != "" && m.USE != jwkset.UseSig:
		return assertionKey{}, fmt.Errorf(`"use" is %q, not "sig"`, m.USE)
	case m.ALG != "" && !slices.Contains(SigningAlgs, string(m.ALG)):
		return assertionKey{}, fmt.Errorf(`"alg" %s is not accepted (use one of %s)`, m.ALG, strings.Join(SigningAlgs, ", "))
	}
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return assertionKey{}, err
	}
	k := assertionKey{key: j.Key(), alg: string(m.ALG)}
	switch pub := k.key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 || pub.E < 3 {
			return assertionKey{}, fmt.Errorf("an RSA key needs at least 2048 bits (this one has %d)", pub.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
			return assertionKey{}, fmt.Errorf("curve %s is not accepted (use P-384 or P-256)", pub.Curve.Params().Name)
		}
	default:
		return assertionKey{}, fmt.Errorf("key type %s is not accepted (use RSA or EC)", m.KTY)
	}
	if k.alg != "" && !algFits(k.alg, k.key) {
		return assertionKey{}, fmt.Errorf(`"alg" %s does not fit a %s key`, k.alg, m.KTY)
	}
	return k, nil
}

// algFits reports whether alg signs with key's type (and, for EC, curve).
func algFits(alg string, key any) bool {
	switch pub := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS")
	case *ecdsa.PublicKey:
		return alg == "ES256" && pub.Curve == elliptic.P256() || alg == "ES384" && pub.Curve == elliptic.P384()
	}
	return false
}

// systemScopeRE is a SMART system scope, v1 (system/Patient.read) or v2
// (system/Patient.rs, with an optional ?param=value restriction).
var systemScopeRE = regexp.MustCompile(`^system/(\*|[A-Z][A-Za-z]{0,63})\.(read|write|\*|c?r?u?d?s?)(\?[^\s]*)?$`)

// checkScope accepts space-separated SMART system scopes; the empty scope
// is granted as system/*.* (what the token may do is the client's policy).
func checkScope(client, scope string) (string, error) {
	fields := strings.Fields(scope)
	if len(fields) == 0 {
		return "system/*.*", nil
	}
	if len(scope) > 1000 {
		return "", tokenErrorf(InvalidScope, client, "the scope is too long")
	}
	for _, f := range fields {
		if m := systemScopeRE.FindStringSubmatch(f); m == nil || m[2] == "" {
			return "", tokenErrorf(InvalidScope, client, "scope %q is not a SMART system scope (such as system/*.read or system/Patient.rs)", f)
		}
	}
	return strings.Join(fields, " "), nil
}

// IssueToken verifies a client assertion and issues an access token: the
// JWT must be signed (RS384, ES384, RS256 or ES256) with the registered key
// its header's kid names; iss and sub must be the client's name, aud one of
// req.Audiences, exp in the future and at most MaxAssertionTTL ahead, and
// jti new for the client. Used jti are stored until their exp, so a replay
// is refused by every instance sharing the database. Refusals are
// *TokenError; the scope is recorded, not enforced: Decide authorises.
func (a *Authorizer) IssueToken(ctx context.Context, req TokenRequest) (AccessToken, error) {
	claims, c, err := a.verifyAssertion(ctx, req.Assertion)
	if err != nil {
		return AccessToken{}, err
	}
	now := a.now()
	if err := checkClaims(claims, c.Name, req.Audiences, now); err != nil {
		return AccessToken{}, err
	}
	scope, err := checkScope(c.Name, req.Scope)
	if err != nil {
		return AccessToken{}, err
	}
	expires := now.Add(AccessTokenTTL)
	if !c.Expires.IsZero() && c.Expires.Before(expires) {
		expires = c.Expires
	}
	token := newToken()
	err = a.store.AddGrant(ctx, Grant{Client: c.Name, JTI: claims.ID, JTIExpires: claims.ExpiresAt.Time.Add(clockSkew),
		TokenHash: hashSecret(token), Scope: scope, Created: now, Expires: expires})
	if errors.Is(err, ErrExists) {
		return AccessToken{}, tokenErrorf(InvalidGrant, c.Name, "the assertion's jti was already used: sign a new assertion for every token request")
	}
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: token, Scope: scope, Expires: expires, Lifetime: expires.Sub(now), Principal: c.Principal()}, nil
}

// verifyAssertion checks the assertion's signature with the key of the
// client it names, and that the client may authenticate.
func (a *Authorizer) verifyAssertion(ctx context.Context, assertion string) (*jwt.RegisteredClaims, Client, error) {
	claims := &jwt.RegisteredClaims{}
	var c Client
	var keyErr error // the keyfunc's own refusal or a database error, unwrapped
	// Claims are checked by checkClaims, after the signature, so that only
	// an authentic assertion learns what is wrong with its claims.
	p := jwt.NewParser(jwt.WithValidMethods(SigningAlgs), jwt.WithoutClaimsValidation())
	_, err := p.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		var key any
		c, key, keyErr = a.assertionKey(ctx, t, claims)
		return key, keyErr
	})
	switch {
	case err == nil:
		return claims, c, nil
	case keyErr != nil:
		return nil, Client{}, keyErr
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, Client{}, tokenErrorf(InvalidRequest, "", "the client_assertion is not a JWT: %v", err)
	}
	return nil, Client{}, tokenErrorf(InvalidClient, claims.Issuer, "the client_assertion's signature was not verified: %v", err)
}

// assertionKey finds the public key an assertion names: the client is its
// iss (also its sub), the key the header's kid in the client's JWK Set.
func (a *Authorizer) assertionKey(ctx context.Context, t *jwt.Token, claims *jwt.RegisteredClaims) (Client, any, error) {
	iss := claims.Issuer
	if iss == "" || claims.Subject != iss {
		return Client{}, nil, tokenErrorf(InvalidClient, iss, "iss and sub must both be the client_id (the client's name)")
	}
	c, err := a.Client(ctx, iss)
	switch {
	case errors.Is(err, ErrNotFound):
		return Client{}, nil, tokenErrorf(InvalidClient, iss, "unknown client %q", iss)
	case err != nil:
		return Client{}, nil, err
	case !c.Revoked.IsZero():
		return Client{}, nil, tokenErrorf(InvalidClient, iss, "client %s is revoked", iss)
	case !c.Active(a.now()):
		return Client{}, nil, tokenErrorf(InvalidClient, iss, "client %s has expired", iss)
	case c.JWKS == "":
		return Client{}, nil, tokenErrorf(InvalidClient, iss, "client %s has no registered public keys", iss)
	}
	keys, err := parseKeySet(c.JWKS)
	if err != nil {
		return Client{}, nil, err // validated when registered: the stored set is damaged
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := keys[kid]
	if !ok {
		return Client{}, nil, tokenErrorf(InvalidClient, iss, "client %s has no registered key with kid %q", iss, kid)
	}
	alg := t.Method.Alg()
	if (k.alg != "" && k.alg != alg) || !algFits(alg, k.key) {
		return Client{}, nil, tokenErrorf(InvalidClient, iss, "key %q of client %s does not sign with %s", kid, iss, alg)
	}
	return c, k.key, nil
}

// checkClaims checks a verified assertion's aud, exp, nbf, iat and jti.
func checkClaims(claims *jwt.RegisteredClaims, client string, audiences []string, now time.Time) error {
	refuse := func(format string, args ...any) error { return tokenErrorf(InvalidGrant, client, format, args...) }
	if !slices.ContainsFunc(claims.Audience, func(aud string) bool { return slices.Contains(audiences, aud) }) {
		want := "the token endpoint URL"
		if len(audiences) > 0 {
			want = audiences[0]
		}
		return refuse("aud must be the token endpoint URL, %s (got %q)", want, strings.Join(claims.Audience, " "))
	}
	switch {
	case claims.ExpiresAt == nil:
		return refuse("the assertion has no exp")
	case !now.Before(claims.ExpiresAt.Time):
		return refuse("the assertion expired at %s", claims.ExpiresAt.UTC().Format(time.RFC3339))
	case claims.ExpiresAt.After(now.Add(MaxAssertionTTL + clockSkew)):
		return refuse("the assertion's exp is more than %s ahead", MaxAssertionTTL)
	case claims.NotBefore != nil && claims.NotBefore.After(now.Add(clockSkew)):
		return refuse("the assertion is not valid before %s", claims.NotBefore.UTC().Format(time.RFC3339))
	case claims.IssuedAt != nil && claims.IssuedAt.After(now.Add(clockSkew)):
		return refuse("the assertion was issued in the future")
	case claims.ID == "":
		return refuse("the assertion has no jti")
	case len(claims.ID) > maxJTI:
		return refuse("the assertion's jti exceeds %d characters", maxJTI)
	}
	return nil
}

// authenticateAccessToken resolves an access token issued by IssueToken
// (Authenticate's second look, after the clients' static tokens).
func (a *Authorizer) authenticateAccessToken(ctx context.Context, s *state, h string, now time.Time) (Principal, error) {
	g, err := a.store.AccessToken(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	c, err := a.Client(ctx, g.Client)
	if errors.Is(err, ErrNotFound) || (err == nil && !c.Revoked.IsZero()) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if !c.Active(now) || !now.Before(g.Expires) {
		return Principal{}, errorf(ErrUnauthenticated, "token expired")
	}
	p := c.Principal()
	s.tokens.Store(h, tokenEntry{p: p, expires: g.Expires})
	return p, nil
}
