package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"idem/policy"
	"idem/registry"
	"idem/web/internal/authtest"
)

// smartAuth answers by assertion ("good", "replayed", "boom") and keeps
// the last request. The policy behind it is tested in policy and app.
type smartAuth struct {
	*authtest.Auth
	last policy.TokenRequest
}

func (a *smartAuth) IssueToken(ctx context.Context, req policy.TokenRequest) (policy.AccessToken, error) {
	a.last = req
	switch req.Assertion {
	case "good":
		return policy.AccessToken{Token: "idem_access", Scope: "system/*.read", Lifetime: 300e9, Principal: registry.Actor{Kind: "client", Name: "backend"}}, nil
	case "replayed":
		return policy.AccessToken{}, &policy.TokenError{Code: "invalid_grant", Description: "jti already used", Client: "backend"}
	}
	return policy.AccessToken{}, registry.Internal(io.ErrUnexpectedEOF)
}

// The token endpoint's request handling and OAuth 2.0 error answers.
func TestTokenEndpoint(t *testing.T) {
	auth := &smartAuth{Auth: authtest.New()}
	srv := New(Config{Auth: auth, BaseURL: "https://idem.example.org/fhir/"}, nil, nil, nil, quietLog, nil)
	good := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {policy.AssertionType}, "client_assertion": {"good"}, "scope": {"system/*.read"}}
	with := func(k, v string) string {
		f := url.Values{}
		for key, vs := range good {
			f[key] = vs
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f.Encode()
	}
	tests := []struct {
		name, body, contentType string
		status                  int
		want                    map[string]any
	}{
		{"good", good.Encode(), "", 200, map[string]any{"access_token": "idem_access", "token_type": "bearer", "expires_in": 300.0, "scope": "system/*.read"}},
		{"replayed", with("client_assertion", "replayed"), "", 400, map[string]any{"error": "invalid_grant", "error_description": "jti already used"}},
		{"internal", with("client_assertion", "boom"), "", 500, map[string]any{"error": "server_error", "error_description": "internal error"}},
		{"JSON body", `{"grant_type":"client_credentials"}`, "application/json", 400, map[string]any{"error": "invalid_request", "error_description": "the body must be application/x-www-form-urlencoded"}},
		{"no grant_type", with("grant_type", ""), "", 400, map[string]any{"error": "invalid_request", "error_description": "grant_type is missing"}},
		{"authorization_code", with("grant_type", "authorization_code"), "", 400, map[string]any{"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials (SMART Backend Services)"}},
		{"client secret", with("client_assertion_type", "") + "&client_secret=x", "", 401, map[string]any{"error": "invalid_client",
			"error_description": "authenticate with client_assertion_type=" + policy.AssertionType + " and a signed JWT as client_assertion"}},
		{"scope twice", good.Encode() + "&scope=system/*.*", "", 400, map[string]any{"error": "invalid_request", "error_description": "scope is given more than once"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "http://10.0.0.5:8080/auth/token", strings.NewReader(tc.body))
			ct := tc.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := srv.App().Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("status %d, Cache-Control %q; want %d, no-store", resp.StatusCode, resp.Header.Get("Cache-Control"), tc.status)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
	// With a configured public URL the assertion's aud must be that one:
	// the URL a request reached follows headers its caller controls.
	want := []string{"https://idem.example.org/auth/token"}
	if d := cmp.Diff(want, auth.last.Audiences); d != "" {
		t.Errorf("audiences (-want +got):\n%s", d)
	}
}

// Discovery needs no token, at the root and under the FHIR base; the token
// endpoint is the configured one, whatever Host the request names.
func TestSMARTConfiguration(t *testing.T) {
	srv := New(Config{Auth: authtest.New(), BaseURL: "https://idem.example.org/fhir"}, nil, nil, nil, quietLog, nil)
	for _, path := range []string{"/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"} {
		resp, err := srv.App().Test(httptest.NewRequest(http.MethodGet, "http://idem.test"+path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			TokenEndpoint string   `json:"token_endpoint"`
			Methods       []string `json:"token_endpoint_auth_methods_supported"`
			Capabilities  []string `json:"capabilities"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || got.TokenEndpoint != "https://idem.example.org/auth/token" ||
			!cmp.Equal(got.Methods, []string{"private_key_jwt"}) || !cmp.Equal(got.Capabilities, []string{"client-confidential-asymmetric"}) {
			t.Errorf("%s: %d %+v %v", path, resp.StatusCode, got, err)
		}
	}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))
