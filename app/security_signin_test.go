package app

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"testing"

	"idem/registry/sqlstore/sqltest"
)

// Finding 7 (with security_http_test.go's scenarios): sign-ins are
// throttled per account and per address, on every instance sharing the
// database, and a flood of refusals is aggregated in the audit trail.

// auditCount is the number of AuditEvents stored.
func (s *testServer) auditCount(t *testing.T) int {
	t.Helper()
	return total(t, s.do("GET", "/AuditEvent?_summary=count", ""))
}

// signIn posts the sign-in form (with a fresh form token) and returns the response.
func (s *testServer) signIn(t *testing.T, user, password string) *response {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := noRedirects(jar)
	token := s.loginToken(t, c)
	return s.send(c, attack{name: "sign in " + user, method: "POST", url: "/login", ctype: formType,
		body: url.Values{"csrf": {token}, "user": {user}, "password": {password}}.Encode()})
}

func TestSecuritySignInThrottle(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		before := s.auditCount(t)
		for i := 0; i < 5; i++ {
			if r := s.signIn(t, "admin", "guess-"+strconv.Itoa(i)); r.status != 401 {
				t.Fatalf("wrong password %d: %d", i, r.status)
			}
		}
		// Now even the right password waits.
		for i := 0; i < 20; i++ {
			r := s.signIn(t, "admin", testAdminPassword)
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Fatalf("right password after 5 wrong ones: %d %q, want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
			}
		}
		// 25 refusals: one AuditEvent for the wrong passwords, one for the
		// throttled attempts (their counts follow when the window closes).
		if n := s.auditCount(t) - before; n < 2 || n > 3 {
			t.Errorf("25 refused sign-ins wrote %d AuditEvents", n)
		}
	})
}

func TestSecurityTokenThrottle(t *testing.T) {
	s := startServer(t, "sqlite")
	backend := newSMARTClient(t, "backend")
	if status, out := s.admin("POST", "/clients", `{"name":"backend","system":"https://backend.example.org","roles":["reader"],"jwks":`+backend.jwks+`}`); status != 201 {
		t.Fatalf("add client: %d %v", status, out)
	}
	tokenURL := s.URL() + "/auth/token"
	stranger := newSMARTClient(t, "backend")
	for i := 0; i < 5; i++ {
		if status, out := s.raw("POST", "/auth/token", formType, tokenForm(stranger.assertion(t, tokenURL, "s"+strconv.Itoa(i)), "")); status != 401 {
			t.Fatalf("forged assertion %d: %d %v", i, status, out)
		}
	}
	if status, out := s.raw("POST", "/auth/token", formType, tokenForm(backend.assertion(t, tokenURL, "good"), "")); status != 429 {
		t.Errorf("a good assertion after 5 forged ones: %d %v, want 429", status, out)
	}
}

// Failures from one address lock it for every account name.
func TestSecurityAddressThrottle(t *testing.T) {
	s := startServer(t, "sqlite")
	for i := 0; i < 20; i++ {
		if r := s.signIn(t, "nobody-"+strconv.Itoa(i), "x"); r.status != 401 {
			t.Fatalf("unknown user %d: %d", i, r.status)
		}
	}
	if r := s.signIn(t, "admin", testAdminPassword); r.status != 429 {
		t.Errorf("admin from an address with 20 failures: %d, want 429", r.status)
	}
}

// A flood of 403s writes one AuditEvent (and a count later), not one each.
func TestSecurityDenialFlood(t *testing.T) {
	s := startServer(t, "sqlite")
	lab := s.addClient(`{"name":"lab-east","system":"http://lab.example/fhir","roles":["reader"]}`)
	before := s.auditCount(t)
	for i := 0; i < 100; i++ {
		if r := s.do("GET", "/AuditEvent", "", bearer(lab)...); r.status != 403 {
			t.Fatalf("denial %d: %d", i, r.status)
		}
	}
	if n := s.auditCount(t) - before; n < 1 || n > 2 {
		t.Errorf("100 denials wrote %d AuditEvents", n)
	}
}

// A locked account is locked on every instance sharing the database.
func TestSecurityThrottleTwoInstances(t *testing.T) {
	if os.Getenv(sqltest.PostgresEnv) == "" {
		t.Skip(sqltest.PostgresEnv + " is not set")
	}
	dsn := sqltest.DSN(t, "postgres")
	a, b := startOn(t, dsn), startOn(t, dsn)
	for i := 0; i < 5; i++ {
		a.signIn(t, "admin", "guess")
	}
	if r := b.signIn(t, "admin", testAdminPassword); r.status != 429 {
		t.Errorf("the other instance: %d, want 429", r.status)
	}
}
