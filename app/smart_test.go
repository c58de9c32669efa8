package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"idem/policy"
)

// smartClient is a backend client's ES384 key and its public JWK Set.
type smartClient struct {
	name string
	key  *ecdsa.PrivateKey
	jwks string
}

func newSMARTClient(t *testing.T, name string) smartClient {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: name + "-1", ALG: jwkset.AlgES384, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	return smartClient{name: name, key: key, jwks: string(set)}
}

// assertion signs a client assertion for the token endpoint at aud.
func (c smartClient) assertion(t *testing.T, aud, jti string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{"iss": c.name, "sub": c.name, "aud": aud,
		"exp": now.Add(4 * time.Minute).Unix(), "iat": now.Unix(), "jti": jti})
	tok.Header["kid"] = c.name + "-1"
	s, err := tok.SignedString(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// raw sends a request to the server's root (not the FHIR base) and
// returns the status and the JSON body; header pairs are optional.
func (s *testServer) raw(method, path, contentType, body string, header ...string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(data) > 0 && json.Unmarshal(data, &m) != nil {
		s.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, truncate(data))
	}
	return resp.StatusCode, m
}

func tokenForm(assertion, scope string) string {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {policy.AssertionType},
		"client_assertion": {assertion}, "scope": {scope}}.Encode()
}

const formType = "application/x-www-form-urlencoded"

func TestSMARTBackendServices(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		// Discovery, without a token, relative to the FHIR base and the root.
		tokenURL := s.URL() + "/auth/token"
		for _, path := range []string{"/fhir/.well-known/smart-configuration", "/.well-known/smart-configuration"} {
			status, conf := s.raw("GET", path, "", "")
			if status != 200 || conf["token_endpoint"] != tokenURL ||
				!cmp.Equal(conf["token_endpoint_auth_signing_alg_values_supported"], anyList(policy.SigningAlgs)) ||
				!cmp.Equal(conf["capabilities"], []any{"client-confidential-asymmetric"}) {
				t.Errorf("%s: %d %v", path, status, conf)
			}
		}

		// An admin registers the client's public keys: no static token.
		backend := newSMARTClient(t, "backend")
		status, added := s.raw("POST", "/admin/api/clients", "application/json",
			`{"name":"backend","system":"https://backend.example.org","roles":["reader"],"jwks":`+backend.jwks+`}`,
			"Authorization", "Bearer "+testAdminToken)
		if status != 201 || added["token"] != nil {
			t.Fatalf("add client: %d %v", status, added)
		}

		// A signed assertion buys a 5-minute token that reads Patients.
		assertion := backend.assertion(t, tokenURL, "jti-1")
		status, tok := s.raw("POST", "/auth/token", formType, tokenForm(assertion, "system/Patient.read"))
		if status != 200 || tok["token_type"] != "bearer" || tok["expires_in"] != 300.0 || tok["scope"] != "system/Patient.read" {
			t.Fatalf("token: %d %v", status, tok)
		}
		access, _ := tok["access_token"].(string)
		if r := s.do("GET", "/Patient", "", "Authorization", "Bearer "+access); r.status != 200 {
			t.Errorf("search with the access token: %d %s", r.status, r.body)
		}
		// Casbin still decides: a reader may not create.
		if r := s.do("POST", "/Patient", `{"resourceType":"Patient"}`, "Authorization", "Bearer "+access); r.status != 403 {
			t.Errorf("create with a reader's access token: %d %s", r.status, r.body)
		}

		// The same assertion again: a replay.
		status, refused := s.raw("POST", "/auth/token", formType, tokenForm(assertion, ""))
		if status != 400 || refused["error"] != "invalid_grant" || !strings.Contains(refused["error_description"].(string), "jti") {
			t.Errorf("replay: %d %v", status, refused)
		}
		// Meant for another server; signed by a stranger.
		status, refused = s.raw("POST", "/auth/token", formType, tokenForm(backend.assertion(t, "https://other.example.org/auth/token", "jti-2"), ""))
		if status != 400 || refused["error"] != "invalid_grant" {
			t.Errorf("wrong aud: %d %v", status, refused)
		}
		stranger := newSMARTClient(t, "backend")
		status, refused = s.raw("POST", "/auth/token", formType, tokenForm(stranger.assertion(t, tokenURL, "jti-3"), ""))
		if status != 401 || refused["error"] != "invalid_client" {
			t.Errorf("stranger's signature: %d %v", status, refused)
		}
		// Over the body limit: the server-wide 413.
		if status, _ := s.raw("POST", "/auth/token", formType, tokenForm(strings.Repeat("x", 2<<20), "")); status != 413 {
			t.Errorf("oversized body: %d", status)
		}

		// Revocation ends the issued token at once.
		if status, _ := s.raw("DELETE", "/admin/api/clients/backend", "", "", "Authorization", "Bearer "+testAdminToken); status != 204 {
			t.Fatalf("revoke: %d", status)
		}
		if r := s.do("GET", "/Patient", "", "Authorization", "Bearer "+access); r.status != 401 {
			t.Errorf("access token of a revoked client: %d", r.status)
		}
	})
}

func anyList(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// idem client add --jwks registers the keys and prints no token.
func TestClientAddJWKS(t *testing.T) {
	db := createdDB(t, "sqlite")
	backend := newSMARTClient(t, "backend")
	file := filepath.Join(t.TempDir(), "backend.jwks.json")
	if err := os.WriteFile(file, []byte(backend.jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, db, "client", "add", "backend", "--system", "https://backend.example.org", "--role", "reader", "--jwks", file)
	if last := lastLine(out); strings.HasPrefix(last, policy.TokenPrefix) || !strings.Contains(out, "keys:    backend-1") {
		t.Errorf("client add --jwks:\n%s", out)
	}
	c, err := openPolicy(t, db).Client(t.Context(), "backend")
	if err != nil || c.JWKS != backend.jwks {
		t.Errorf("stored %q, %v", c.JWKS, err)
	}
	if msg := runFails(t, db, "client", "add", "other", "--system", "urn:x", "--role", "reader", "--jwks", filepath.Join(t.TempDir(), "missing.json")); !strings.Contains(msg, "--jwks") {
		t.Errorf("missing file: %s", msg)
	}
}
