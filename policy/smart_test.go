package policy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"idem/policy"
)

const tokenURL = "https://idem.example.org/auth/token"

// smartKey is a client's signing key and its kid.
type smartKey struct {
	kid  string
	priv any // *ecdsa.PrivateKey or *rsa.PrivateKey
	alg  jwt.SigningMethod
}

func newECKey(t testing.TB, kid string) smartKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return smartKey{kid: kid, priv: k, alg: jwt.SigningMethodES384}
}

func newRSAKey(t testing.TB, kid string) smartKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return smartKey{kid: kid, priv: k, alg: jwt.SigningMethodRS384}
}

func (k smartKey) public() any {
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		return &p.PublicKey
	case *rsa.PrivateKey:
		return &p.PublicKey
	}
	panic("unknown key")
}

// mustJWKS returns the public JWK Set of keys.
func mustJWKS(t testing.TB, keys ...smartKey) string {
	t.Helper()
	var set jwkset.JWKSMarshal
	for _, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertion is the claims of a client assertion, edited per test case.
type assertion struct {
	iss, sub, aud, jti string
	exp, iat           time.Time
	noExp              bool
}

func goodAssertion(client string, now time.Time, jti string) assertion {
	return assertion{iss: client, sub: client, aud: tokenURL, jti: jti, exp: now.Add(4 * time.Minute), iat: now}
}

func (a assertion) claims() jwt.MapClaims {
	m := jwt.MapClaims{"iss": a.iss, "sub": a.sub, "aud": a.aud, "iat": a.iat.Unix()}
	if !a.noExp {
		m["exp"] = a.exp.Unix()
	}
	if a.jti != "" {
		m["jti"] = a.jti
	}
	return m
}

func mustSign(t testing.TB, k smartKey, a assertion) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.alg, a.claims())
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustAddJWKSClient(t testing.TB, a *policy.Authorizer, name string, keys ...smartKey) {
	t.Helper()
	tok, err := a.AddClient(context.Background(), policy.Client{Name: name, System: "https://" + name + ".example.org",
		Roles: []string{"reader"}, JWKS: mustJWKS(t, keys...)})
	if err != nil {
		t.Fatalf("add client %s: %v", name, err)
	}
	if tok != "" {
		t.Errorf("a JWKS client got a static token %q", tok)
	}
}

func issue(a *policy.Authorizer, assertion, scope string) (policy.AccessToken, error) {
	return a.IssueToken(context.Background(), policy.TokenRequest{Assertion: assertion, Scope: scope,
		Audiences: []string{tokenURL, "http://127.0.0.1:8080/auth/token"}})
}

// wantTokenError checks err is a *TokenError with code.
func wantTokenError(t *testing.T, err error, code, contains string) {
	t.Helper()
	var te *policy.TokenError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want a %s TokenError", err, code)
	}
	if te.Code != code || !strings.Contains(te.Description, contains) {
		t.Errorf("got %s %q, want %s containing %q", te.Code, te.Description, code, contains)
	}
}

func TestSMARTBackendServices(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		clk := newClock()
		a := mustOpen(t, db, policy.Config{Now: clk.Now})
		ec, rsaKey := newECKey(t, "ec-1"), newRSAKey(t, "rsa-1")
		mustAddJWKSClient(t, a, "backend", ec, rsaKey)

		got, err := issue(a, mustSign(t, ec, goodAssertion("backend", clk.Now(), "jti-1")), "system/Patient.read system/*.rs")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.Token, policy.TokenPrefix) || got.Lifetime != policy.AccessTokenTTL ||
			got.Scope != "system/Patient.read system/*.rs" || got.Principal.Name != "backend" {
			t.Errorf("access token %+v", got)
		}
		if p := mustAuthenticate(t, a, got.Token); policy.Subject(p) != "client:backend" || !slices.Contains(p.Roles, "reader") {
			t.Errorf("principal %+v", p)
		}
		// Only the hash is stored.
		var stored []string
		db.read.Raw(`SELECT token_hash || client || scope FROM policy_access_tokens`).Scan(&stored)
		if len(stored) != 1 || strings.Contains(stored[0], got.Token) {
			t.Errorf("stored %q", stored)
		}

		// RS384 with the second key, no scope: system/*.*.
		got2, err := issue(a, mustSign(t, rsaKey, goodAssertion("backend", clk.Now(), "jti-2")), "")
		if err != nil || got2.Scope != "system/*.*" {
			t.Fatalf("RS384: %+v, %v", got2, err)
		}

		// Access tokens expire (the cached one too, and a fresh instance
		// reading the database agrees).
		clk.Advance(policy.AccessTokenTTL - time.Second)
		mustAuthenticate(t, a, got.Token)
		clk.Advance(time.Second)
		if _, err := a.Authenticate(ctx, got.Token); !errors.Is(err, policy.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("expired access token: %v", err)
		}
		other := mustOpen(t, db, policy.Config{Now: clk.Now})
		if _, err := other.Authenticate(ctx, got2.Token); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("expired access token on another instance: %v", err)
		}
	})
}

func TestSMARTAssertionRefusals(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		clk := newClock()
		a := mustOpen(t, db, policy.Config{Now: clk.Now})
		ec := newECKey(t, "ec-1")
		mustAddJWKSClient(t, a, "backend", ec)
		mustAddClient(t, a, "static", "reader")
		stranger := newECKey(t, "ec-1") // same kid, another key
		now := clk.Now()
		good := func(jti string) assertion { return goodAssertion("backend", now, jti) }
		edit := func(jti string, f func(*assertion)) assertion { x := good(jti); f(&x); return x }

		hs := jwt.NewWithClaims(jwt.SigningMethodHS256, good("hs").claims())
		hs.Header["kid"] = "ec-1"
		hsSigned, _ := hs.SignedString([]byte("a shared secret nobody registered"))
		none := jwt.NewWithClaims(jwt.SigningMethodNone, good("none").claims())
		none.Header["kid"] = "ec-1"
		noneSigned, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
		unknownKid := ec
		unknownKid.kid = "ec-2"

		tests := []struct {
			name, assertion, scope, code, contains string
		}{
			{"wrong aud", mustSign(t, ec, edit("a", func(x *assertion) { x.aud = "https://elsewhere.example.org/token" })), "", policy.InvalidGrant, "aud must be"},
			{"expired", mustSign(t, ec, edit("b", func(x *assertion) { x.exp = now.Add(-time.Second) })), "", policy.InvalidGrant, "expired"},
			{"exp too far", mustSign(t, ec, edit("c", func(x *assertion) { x.exp = now.Add(10 * time.Minute) })), "", policy.InvalidGrant, "more than 5m0s ahead"},
			{"no exp", mustSign(t, ec, edit("d", func(x *assertion) { x.noExp = true })), "", policy.InvalidGrant, "no exp"},
			{"issued in the future", mustSign(t, ec, edit("e", func(x *assertion) { x.iat = now.Add(time.Hour) })), "", policy.InvalidGrant, "future"},
			{"no jti", mustSign(t, ec, good("")), "", policy.InvalidGrant, "no jti"},
			{"unknown kid", mustSign(t, unknownKid, good("f")), "", policy.InvalidClient, `no registered key with kid "ec-2"`},
			{"wrong signature", mustSign(t, stranger, good("g")), "", policy.InvalidClient, "signature"},
			{"alg none", noneSigned, "", policy.InvalidClient, "signing method none is invalid"},
			{"alg HS256", hsSigned, "", policy.InvalidClient, "signing method HS256 is invalid"},
			{"iss is not sub", mustSign(t, ec, edit("h", func(x *assertion) { x.sub = "someone" })), "", policy.InvalidClient, "iss and sub"},
			{"unknown client", mustSign(t, ec, edit("i", func(x *assertion) { x.iss, x.sub = "nobody", "nobody" })), "", policy.InvalidClient, "unknown client"},
			{"client without keys", mustSign(t, ec, edit("j", func(x *assertion) { x.iss, x.sub = "static", "static" })), "", policy.InvalidClient, "no registered public keys"},
			{"not a JWT", "not.a-jwt", "", policy.InvalidRequest, "not a JWT"},
			{"patient scope", mustSign(t, ec, good("k")), "patient/*.read", policy.InvalidScope, "not a SMART system scope"},
			{"empty permission", mustSign(t, ec, good("l")), "system/Patient.", policy.InvalidScope, "not a SMART system scope"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := issue(a, tc.assertion, tc.scope)
				wantTokenError(t, err, tc.code, tc.contains)
			})
		}

		// A replay is refused, also by another instance on the database.
		once := mustSign(t, ec, good("once"))
		if _, err := issue(a, once, ""); err != nil {
			t.Fatal(err)
		}
		_, err := issue(a, once, "")
		wantTokenError(t, err, policy.InvalidGrant, "already used")
		other := mustOpen(t, db, policy.Config{Now: clk.Now})
		_, err = issue(other, mustSign(t, ec, good("once")), "")
		wantTokenError(t, err, policy.InvalidGrant, "already used")

		// Revocation refuses new assertions and ends issued tokens at once.
		tok, err := issue(a, mustSign(t, ec, good("before-revoke")), "")
		if err != nil {
			t.Fatal(err)
		}
		mustAuthenticate(t, a, tok.Token)
		if err := a.RevokeClient(context.Background(), "backend"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(context.Background(), tok.Token); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("access token of a revoked client: %v", err)
		}
		_, err = issue(a, mustSign(t, ec, good("after-revoke")), "")
		wantTokenError(t, err, policy.InvalidClient, "revoked")
	})
}

func TestSMARTClientExpiry(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		clk := newClock()
		a := mustOpen(t, db, policy.Config{Now: clk.Now})
		ec := newECKey(t, "k")
		_, err := a.AddClient(ctx, policy.Client{Name: "short", System: "https://short.example.org", Roles: []string{"reader"},
			JWKS: mustJWKS(t, ec), Expires: clk.Now().Add(2 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		// The access token ends with the client.
		tok, err := issue(a, mustSign(t, ec, goodAssertion("short", clk.Now(), "1")), "")
		if err != nil || tok.Lifetime != 2*time.Minute {
			t.Fatalf("%+v, %v", tok, err)
		}
		clk.Advance(2 * time.Minute)
		_, err = issue(a, mustSign(t, ec, goodAssertion("short", clk.Now(), "2")), "")
		wantTokenError(t, err, policy.InvalidClient, "expired")
		if !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("a TokenError should match its policy kind: %v", err)
		}
	})
}

func TestSMARTKeyRegistration(t *testing.T) {
	db := openSQLite(t)
	a := mustOpen(t, db, policy.Config{})
	ec := newECKey(t, "k")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	private, _ := jwkset.NewJWKFromKey(ec.priv, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k"},
		Marshal: jwkset.JWKMarshalOptions{Private: true}})
	privateSet, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{private.Marshal()}})
	tests := []struct{ name, jwks, contains string }{
		{"not JSON", "{", "not valid JSON"},
		{"no keys", `{"keys":[]}`, "needs 1 to"},
		{"private key", string(privateSet), "private key material"},
		{"no kid", mustJWKS(t, smartKey{kid: "", priv: ec.priv}), `needs a "kid"`},
		{"small RSA", mustJWKS(t, smartKey{kid: "r", priv: small}), "at least 2048 bits"},
		{"duplicate kid", mustJWKS(t, ec, newECKey(t, "k")), "given twice"},
		{"symmetric", `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`, "private key material"},
		{"alg mismatch", strings.Replace(mustJWKS(t, smartKey{kid: "p", priv: p256}), `"kid"`, `"alg":"ES384","kid"`, 1), "does not fit"},
		{"encryption key", strings.Replace(mustJWKS(t, ec), `"kid"`, `"use":"enc","kid"`, 1), `not "sig"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.AddClient(context.Background(), policy.Client{Name: "c", System: "urn:c", Roles: []string{"reader"}, JWKS: tc.jwks})
			if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("got %v, want ErrInvalid containing %q", err, tc.contains)
			}
		})
	}

	// A good set is stored as given and listed.
	jwks := mustJWKS(t, ec, smartKey{kid: "p256", priv: p256})
	mustAddJWKSClient(t, a, "good", ec, smartKey{kid: "p256", priv: p256})
	c, err := a.Client(context.Background(), "good")
	if err != nil || c.JWKS != jwks {
		t.Errorf("stored JWKS %q, %v; want %q", c.JWKS, err, jwks)
	}
	if cs, _ := a.Clients(context.Background()); len(cs) != 1 || cs[0].JWKS != jwks {
		t.Errorf("listed %+v", cs)
	}
}
