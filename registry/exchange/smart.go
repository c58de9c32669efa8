package exchange

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"idem/registry"
)

// SMART Backend Services credentials for pulling: instead of a bearer
// token an Endpoint may name a SMART client registered at the peer — its
// client id, the peer's token URL, the key id and algorithm (RS384 or
// ES384) — and hold the client's private key (PEM). Like the bearer token
// the key is taken out of the body, stored apart (endpoint_state.smart_key)
// and returned only as "***". A pull signs a client assertion
// (private_key_jwt, RFC 7523) and trades it at the token URL for an access
// token (client_credentials), which it reuses until shortly before it
// expires. The token URL is called through the outbound gate like every
// other call, so it must be on IDEM_OUTBOUND_ALLOW.

// ExtSMART is the Endpoint extension holding SMART Backend Services
// credentials: sub-extensions clientId, tokenUrl, keyId, alg, scope
// (optional, default system/*.rs) and privateKey (write-only).
const ExtSMART = Ext + "endpoint-smart-backend"

// smartAlgs are the assertion algorithms a pull signs with (the two SMART
// requires of servers).
var smartAlgs = map[string]jwt.SigningMethod{"RS384": jwt.SigningMethodRS384, "ES384": jwt.SigningMethodES384}

// smartCred is an Endpoint's SMART client, the key parsed.
type smartCred struct {
	clientID, tokenURL, keyID, alg, scope string
	key                                   crypto.Signer
	keySum                                string // identifies the key in the token cache
}

// smartSettings reads the SMART extension's public settings; keyPEM is its
// privateKey value ("" when absent, redacted when "***" was sent back).
func smartSettings(res map[string]any) (c *smartCred, keyPEM string, found bool) {
	exts, _ := res["extension"].([]any)
	for _, e := range exts {
		em, _ := e.(map[string]any)
		if em["url"] != ExtSMART {
			continue
		}
		c = &smartCred{scope: "system/*.rs"}
		subs, _ := em["extension"].([]any)
		for _, s := range subs {
			sm, _ := s.(map[string]any)
			v := firstString(sm, "valueString", "valueUrl", "valueUri", "valueCode")
			switch sm["url"] {
			case "clientId":
				c.clientID = v
			case "tokenUrl":
				c.tokenURL = v
			case "keyId":
				c.keyID = v
			case "alg":
				c.alg = v
			case "scope":
				c.scope = v
			case "privateKey":
				keyPEM = v
			}
		}
		return c, keyPEM, true
	}
	return nil, "", false
}

func firstString(m map[string]any, fields ...string) string {
	for _, f := range fields {
		if v, ok := m[f].(string); ok {
			return v
		}
	}
	return ""
}

// parseSMART checks an Endpoint's SMART extension and takes its private
// key out of the body: key is nil when none was sent (or "***", the
// stored one kept).
func parseSMART(res map[string]any) (key *string, err error) {
	c, keyPEM, found := smartSettings(res)
	if !found {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return registry.Invalid(registry.EUnprocessable, "invalid", "Endpoint.extension", "SMART Backend Services: "+format, args...)
	}
	switch {
	case c.clientID == "":
		return nil, bad("clientId is required")
	case c.keyID == "":
		return nil, bad("keyId is required (the kid of the key registered at the peer)")
	case smartAlgs[c.alg] == nil:
		return nil, bad("alg %q: RS384 or ES384", c.alg)
	}
	if u, err := url.Parse(c.tokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, bad("tokenUrl must be an absolute http or https URL")
	}
	if keyPEM != "" && keyPEM != redacted {
		signer, err := parsePrivateKey(keyPEM)
		if err != nil {
			return nil, bad("privateKey: %v", err)
		}
		if !keyFits(c.alg, signer) {
			return nil, bad("privateKey does not fit alg %s (RS384: RSA of 2048 bits or more; ES384: EC P-384)", c.alg)
		}
		key = &keyPEM
	}
	// The key leaves the body: it is stored apart.
	exts, _ := res["extension"].([]any)
	for _, e := range exts {
		em, _ := e.(map[string]any)
		if em["url"] != ExtSMART {
			continue
		}
		subs, _ := em["extension"].([]any)
		kept := subs[:0:0]
		for _, s := range subs {
			if sm, _ := s.(map[string]any); sm["url"] != "privateKey" {
				kept = append(kept, s)
			}
		}
		em["extension"] = kept
	}
	return key, nil
}

// parsePrivateKey reads a PEM private key: PKCS #8, PKCS #1 (RSA) or SEC 1 (EC).
func parsePrivateKey(s string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("unsupported key type")
	}
	return signer, nil
}

func keyFits(alg string, k crypto.Signer) bool {
	switch key := k.(type) {
	case *rsa.PrivateKey:
		return alg == "RS384" && key.N.BitLen() >= 2048
	case *ecdsa.PrivateKey:
		return alg == "ES384" && key.Curve == elliptic.P384()
	}
	return false
}

// smartOf returns the peer's SMART client from its Endpoint body and the
// stored key, or nil when it has none.
func smartOf(res map[string]any, keyPEM string) (*smartCred, error) {
	c, _, found := smartSettings(res)
	if !found {
		return nil, nil
	}
	if keyPEM == "" {
		return nil, errors.New("the Endpoint's SMART Backend Services client has no private key stored")
	}
	k, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the stored SMART private key: %w", err)
	}
	sum := sha256.Sum256([]byte(keyPEM))
	c.key, c.keySum = k, hex.EncodeToString(sum[:8])
	return c, nil
}

// tokenCache holds access tokens per Endpoint and credentials.
type tokenCache struct {
	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	token   string
	expires time.Time
}

func (c *smartCred) cacheKey(endpoint string) string {
	return endpoint + "|" + c.clientID + "|" + c.tokenURL + "|" + c.keyID + "|" + c.scope + "|" + c.keySum
}

// tokenMargin is how long before its expiry a cached token is renewed.
const tokenMargin = 30 * time.Second

// accessToken returns a cached access token for the peer, or obtains one.
func (s *Service) accessToken(ctx context.Context, pr *peer) (string, error) {
	key := pr.smart.cacheKey(pr.id)
	s.tokens.mu.Lock()
	t, ok := s.tokens.tokens[key]
	s.tokens.mu.Unlock()
	if ok && time.Now().Add(tokenMargin).Before(t.expires) {
		return t.token, nil
	}
	t, err := s.requestToken(ctx, pr.smart)
	if err != nil {
		return "", err
	}
	s.tokens.mu.Lock()
	if s.tokens.tokens == nil {
		s.tokens.tokens = map[string]cachedToken{}
	}
	s.tokens.tokens[key] = t
	s.tokens.mu.Unlock()
	return t.token, nil
}

// forgetToken drops the peer's cached token (the peer refused it).
func (s *Service) forgetToken(pr *peer) {
	s.tokens.mu.Lock()
	delete(s.tokens.tokens, pr.smart.cacheKey(pr.id))
	s.tokens.mu.Unlock()
}

// requestToken signs a client assertion and trades it at the token URL.
func (s *Service) requestToken(ctx context.Context, c *smartCred) (cachedToken, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(smartAlgs[c.alg], jwt.RegisteredClaims{Issuer: c.clientID, Subject: c.clientID,
		Audience: jwt.ClaimStrings{c.tokenURL}, ExpiresAt: jwt.NewNumericDate(now.Add(4 * time.Minute)),
		IssuedAt: jwt.NewNumericDate(now), ID: uuid.NewString()})
	tok.Header["kid"] = c.keyID
	assertion, err := tok.SignedString(c.key)
	if err != nil {
		return cachedToken{}, fmt.Errorf("signing the SMART client assertion: %w", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {c.scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return cachedToken{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return cachedToken{}, fmt.Errorf("SMART token request: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &out)
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return cachedToken{}, fmt.Errorf("SMART token request to %s: %s %s %s", c.tokenURL, resp.Status, out.Error, out.Description)
	}
	if out.ExpiresIn <= 0 {
		out.ExpiresIn = 300
	}
	return cachedToken{token: out.AccessToken, expires: now.Add(time.Duration(out.ExpiresIn) * time.Second)}, nil
}

// renderSMART shows a stored private key as "***" in the SMART extension.
func renderSMART(exts []any, hasKey bool) {
	if !hasKey {
		return
	}
	for _, e := range exts {
		em, _ := e.(map[string]any)
		if em["url"] != ExtSMART {
			continue
		}
		subs, _ := em["extension"].([]any)
		em["extension"] = append(subs, map[string]any{"url": "privateKey", "valueString": redacted})
	}
}
