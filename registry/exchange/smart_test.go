package exchange

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"idem/registry/outbound"
)

// A pull's access token is obtained once with a signed assertion and
// reused until shortly before it expires; a refused one is dropped; a
// token URL outside the allow-list is never called.
func TestAccessTokenCache(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	var calls atomic.Int64
	var expiresIn atomic.Int64
	expiresIn.Store(300)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		r.ParseForm()
		tok, err := jwt.Parse(r.PostForm.Get("client_assertion"), func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
			jwt.WithValidMethods([]string{"ES384"}), jwt.WithAudience("http://"+r.Host+"/token"))
		if err != nil || tok.Header["kid"] != "k1" || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"tok-` + strings.Repeat("x", int(calls.Load())) + `","token_type":"bearer","expires_in":` + strconv.FormatInt(expiresIn.Load(), 10) + `}`))
	}))
	defer srv.Close()
	allow, err := outbound.Parse("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{client: allow.Client(5 * time.Second)}
	cred, err := smartOf(map[string]any{"extension": []any{map[string]any{"url": ExtSMART, "extension": []any{
		map[string]any{"url": "clientId", "valueString": "puller"}, map[string]any{"url": "tokenUrl", "valueUrl": srv.URL + "/token"},
		map[string]any{"url": "keyId", "valueString": "k1"}, map[string]any{"url": "alg", "valueCode": "ES384"}}}}}, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pr := &peer{id: "ep1", smart: cred}
	ctx := context.Background()
	first, err := s.accessToken(ctx, pr)
	if err != nil || first != "tok-x" {
		t.Fatalf("first token: %q %v", first, err)
	}
	if again, _ := s.accessToken(ctx, pr); again != first || calls.Load() != 1 {
		t.Fatalf("second call: %q after %d token requests, want the cached token after 1", again, calls.Load())
	}
	s.forgetToken(pr)
	if renewed, _ := s.accessToken(ctx, pr); renewed != "tok-xx" || calls.Load() != 2 {
		t.Fatalf("after a refusal: %q after %d token requests", renewed, calls.Load())
	}
	// A token about to expire is not reused.
	s.forgetToken(pr)
	expiresIn.Store(10)
	s.accessToken(ctx, pr)
	s.accessToken(ctx, pr)
	if calls.Load() != 4 {
		t.Fatalf("%d token requests, want 4: a token within %s of its expiry is renewed", calls.Load(), tokenMargin)
	}
	// A token URL outside the allow-list is refused before any connection.
	cred.tokenURL = "http://elsewhere.example/token"
	s.forgetToken(pr)
	if _, err := s.accessToken(ctx, pr); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("token URL outside the allow-list: %v", err)
	}
}
