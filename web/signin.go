package web

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
)

// Sign-ins (the admin UI's passwords, SMART token requests) are throttled
// per account and per client address (Auth.Throttle, counted in the
// database so every instance agrees): over the free failures an attempt
// is refused with 429 and Retry-After before its credentials are checked.
// Failed and throttled sign-ins are audited, a flood of them aggregated.

// Throttled reports how long the sign-in of account (with agent as the
// audit names it) must wait; when it must, it sets Retry-After and audits.
func (s *Server) Throttled(c *fiber.Ctx, account string, agent registry.Actor) (time.Duration, error) {
	ip := s.clientIP(c)
	wait, err := s.auth.Throttle(c.UserContext(), account, ip)
	if err != nil || wait <= 0 {
		return 0, err
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	s.refused.add(signInRecord(c, agent, "too many failed sign-ins: throttled", ip), ip)
	return wait, nil
}

// SignInFailed counts a failed sign-in of account and audits it.
func (s *Server) SignInFailed(c *fiber.Ctx, account string, agent registry.Actor, why string) {
	ip := s.clientIP(c)
	if err := s.auth.SignInFailed(c.UserContext(), account, ip); err != nil {
		s.log.Error("counting a failed sign-in failed", "id", RequestID(c), "err", err)
	}
	s.refused.add(signInRecord(c, agent, why, ip), ip)
}

// SignInSucceeded clears account's failures.
func (s *Server) SignInSucceeded(c *fiber.Ctx, account string) {
	if err := s.auth.SignInSucceeded(c.UserContext(), account); err != nil {
		s.log.Error("clearing sign-in failures failed", "id", RequestID(c), "err", err)
	}
}

// signInRecord is the AuditEvent of a refused sign-in (DICOM User
// Authentication, minor failure).
func signInRecord(c *fiber.Ctx, agent registry.Actor, why, ip string) registry.AuditRecord {
	agent.Name = TruncateName(agent.Name)
	return registry.AuditRecord{Action: "E", Subtype: "login", Outcome: registry.AuditMinorFailure, OutcomeDesc: why, Agent: agent,
		Detail: map[string]string{"interaction": c.Method() + " " + c.Path(), "address": ip}}
}

// WaitText says a wait in whole seconds.
func WaitText(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds()))) + " s"
}

// claimedClient is the iss an assertion claims, unverified: only to find
// the account whose sign-ins are throttled before the signature is checked.
func claimedClient(assertion string) string {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return TruncateName(claims.Iss)
}
