package web

import (
	"context"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"idem/policy"
	"idem/registry"
)

// SMART Backend Services (HL7 SMART App Launch 2.x): the OAuth 2.0 token
// endpoint and the discovery document. The token endpoint is not a FHIR
// endpoint: it answers OAuth 2.0 errors (RFC 6749 §5.2), never an
// OperationOutcome — except the body-size limit's 413, which every route
// shares.

// oauthStatus is the HTTP status of a refused token request: 401 for a
// client that failed to authenticate, 400 for the rest (RFC 6749 §5.2).
func oauthStatus(e *policy.TokenError) int {
	if e.Code == policy.InvalidClient {
		return fiber.StatusUnauthorized
	}
	return fiber.StatusBadRequest
}

// tokenEndpoints are the URLs a client may name as its assertion's aud:
// the one under the configured public base (IDEM_BASE_URL, without its
// /fhir), or without one the one under the address the connection reached.
// Never one that follows Host or X-Forwarded-Host: an assertion minted for
// another server must not be accepted here.
func (s *Server) tokenEndpoints(c *fiber.Ctx) []string {
	return []string{s.tokenRoot(c) + "/auth/token"}
}

// handleSMARTConfiguration serves /.well-known/smart-configuration (also
// under /fhir, as SMART discovery is relative to the FHIR base), without
// a token.
func (s *Server) handleSMARTConfiguration(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{
		"token_endpoint":                                   s.tokenEndpoints(c)[0],
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": policy.SigningAlgs,
		"grant_types_supported":                            []string{"client_credentials"},
		"scopes_supported":                                 []string{"system/*.read", "system/*.rs", "system/*.write", "system/*.cruds", "system/*.*"},
		"capabilities":                                     []string{"client-confidential-asymmetric"},
	})
}

// handleToken is POST /auth/token: a client_credentials grant authenticated
// by a signed JWT (private_key_jwt) → a bearer access token.
func (s *Server) handleToken(c *fiber.Ctx) error {
	// RFC 6749 §5.1: token responses are never cached.
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderPragma, "no-cache")
	if s.auth == nil {
		return registry.Errorf(registry.ENotFound, "access control is not configured")
	}
	if err := s.LoadBody(c, CredentialBody); err != nil {
		return err // 413 and 415 are the server's, not OAuth errors
	}
	req, err := s.tokenRequest(c)
	account := "client:" + claimedClient(req.Assertion)
	if wait, terr := s.Throttled(c, account, registry.Actor{Name: claimedClient(req.Assertion), Kind: "client"}); terr != nil || wait > 0 {
		if terr != nil {
			return s.sendOAuthError(c, terr)
		}
		return c.Status(fiber.StatusTooManyRequests).JSON(fiber.Map{"error": "invalid_client",
			"error_description": "too many failed token requests: retry in " + WaitText(wait)})
	}
	var tok policy.AccessToken
	if err == nil {
		tok, err = s.auth.IssueToken(c.UserContext(), req)
	}
	if err != nil {
		return s.sendOAuthError(c, err)
	}
	s.SignInSucceeded(c, "client:"+tok.Principal.Name)
	s.auditToken(c, registry.AuditRecord{Agent: registry.Actor{Name: tok.Principal.Name, Kind: tok.Principal.Kind,
		System: tok.Principal.System}, Detail: map[string]string{"scope": tok.Scope}})
	return c.JSON(fiber.Map{"access_token": tok.Token, "token_type": "bearer",
		"expires_in": int(tok.Lifetime.Seconds()), "scope": tok.Scope})
}

// tokenRequest reads the form of a token request.
func (s *Server) tokenRequest(c *fiber.Ctx) (policy.TokenRequest, error) {
	refuse := func(code, msg string) (policy.TokenRequest, error) {
		return policy.TokenRequest{}, &policy.TokenError{Code: code, Description: msg}
	}
	if !strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationForm) {
		return refuse(policy.InvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	form := c.Request().PostArgs()
	for _, k := range []string{"grant_type", "client_assertion_type", "client_assertion", "scope"} {
		if len(form.PeekMulti(k)) > 1 {
			return refuse(policy.InvalidRequest, k+" is given more than once")
		}
	}
	switch grant := string(form.Peek("grant_type")); grant {
	case "":
		return refuse(policy.InvalidRequest, "grant_type is missing")
	case "client_credentials":
	default:
		return refuse(policy.UnsupportedGrantType, "grant_type must be client_credentials (SMART Backend Services)")
	}
	assertion := string(form.Peek("client_assertion"))
	if string(form.Peek("client_assertion_type")) != policy.AssertionType || assertion == "" {
		return refuse(policy.InvalidClient, "authenticate with client_assertion_type="+policy.AssertionType+" and a signed JWT as client_assertion")
	}
	return policy.TokenRequest{Assertion: assertion, Scope: string(form.Peek("scope")), Audiences: s.tokenEndpoints(c)}, nil
}

// sendOAuthError answers a refused token request as RFC 6749 §5.2 says,
// and records refused authentications in the audit trail.
func (s *Server) sendOAuthError(c *fiber.Ctx, err error) error {
	var oe *policy.TokenError
	if !errors.As(err, &oe) {
		err = AsError(err)
		if registry.Status(err) >= 500 {
			s.log.Error("token request failed", "id", RequestID(c), "err", err)
			return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": "server_error", "error_description": "internal error"})
		}
		oe = &policy.TokenError{Code: policy.InvalidRequest, Description: registry.ErrorMessage(err)}
	}
	if oe.Code == policy.InvalidClient || oe.Code == policy.InvalidGrant {
		// Counted for the claimed client (if any) and the address; audited,
		// repeats aggregated.
		s.SignInFailed(c, "client:"+TruncateName(oe.Client), registry.Actor{Name: oe.Client, Kind: "client"}, oe.Error())
	}
	return c.Status(oauthStatus(oe)).JSON(fiber.Map{"error": oe.Code, "error_description": oe.Description})
}

// auditToken records a token request as a login (DICOM User
// Authentication); a failure to record is logged.
func (s *Server) auditToken(c *fiber.Ctx, rec registry.AuditRecord) {
	if s.cfg.Audit == nil {
		return
	}
	rec.Action, rec.Subtype = "E", "login"
	if rec.Detail == nil {
		rec.Detail = map[string]string{}
	}
	rec.Detail["interaction"] = "POST /auth/token (SMART Backend Services)"
	if _, err := s.cfg.Audit.Record(context.WithoutCancel(c.UserContext()), rec); err != nil {
		s.log.Error("audit of a token request failed", "id", RequestID(c), "err", err)
	}
}

// TruncateName bounds a claimed (unverified) client name kept in the audit.
func TruncateName(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}
