package policy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"idem/policy"
)

func TestClientTokens(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		clk := newClock()
		a := mustOpen(t, db, policy.Config{Now: clk.Now})
		tok, err := a.AddClient(ctx, policy.Client{Name: "ehr-main", System: "https://ehr.example.org",
			Roles: []string{"source"}, Domains: []string{ehrDomain}, Expires: clk.Now().Add(90 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, policy.TokenPrefix) || len(tok) != len(policy.TokenPrefix)+43 {
			t.Errorf("token %q: want idem_ and 43 base64url characters", tok)
		}

		p := mustAuthenticate(t, a, tok)
		want := policy.Principal{Kind: policy.KindClient, Name: "ehr-main", System: "https://ehr.example.org",
			Roles: []string{"source"}, Domains: []string{ehrDomain}}
		if policy.Subject(p) != "client:ehr-main" || p.System != want.System || strings.Join(p.Roles, ",") != "source" || strings.Join(p.Domains, ",") != ehrDomain {
			t.Errorf("principal %+v, want %+v", p, want)
		}
		mustAuthenticate(t, a, tok) // from the cache this time

		// Only the hash is stored.
		var stored []string
		db.read.Raw(`SELECT name || system || roles || domains || token_hash FROM policy_clients`).Scan(&stored)
		if len(stored) != 1 || strings.Contains(stored[0], tok) || strings.Contains(stored[0], tok[len(policy.TokenPrefix):]) {
			t.Errorf("stored row %q contains the token", stored)
		}

		for _, bad := range []string{"", "idem_nope", tok + "x", strings.ToUpper(tok)} {
			if _, err := a.Authenticate(ctx, bad); !errors.Is(err, policy.ErrUnauthenticated) {
				t.Errorf("token %q: %v", bad, err)
			}
		}

		// Expiry, with the injected clock (the cache honours it too).
		clk.Advance(89 * 24 * time.Hour)
		mustAuthenticate(t, a, tok)
		clk.Advance(2 * 24 * time.Hour)
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, policy.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("expired token: %v", err)
		}

		// Rotation: a new token with a new expiry; the old one dies.
		tok2, err := a.RotateToken(ctx, "ehr-main", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		mustAuthenticate(t, a, tok2)
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("old token after rotation: %v", err)
		}

		// Revocation ends the token at once (cached or not) and frees the domain.
		if err := a.RevokeClient(ctx, "ehr-main"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, tok2); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("revoked token: %v", err)
		}
		if err := a.RevokeClient(ctx, "ehr-main"); !errors.Is(err, policy.ErrNotFound) {
			t.Errorf("revoking twice: %v", err)
		}
		if _, err := a.RotateToken(ctx, "ehr-main", time.Time{}); !errors.Is(err, policy.ErrNotFound) {
			t.Errorf("rotating a revoked client: %v", err)
		}
		mustAddClient(t, a, "ehr-next", "source", ehrDomain)

		cs, err := a.Clients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 2 || cs[0].Name != "ehr-main" || cs[0].Revoked.IsZero() || cs[0].Active(clk.Now()) || !cs[1].Active(clk.Now()) {
			t.Errorf("clients: %+v", cs)
		}
		if !cs[0].Created.Equal(newClock().Now()) {
			t.Errorf("created %v, want the injected clock's time", cs[0].Created)
		}
	})
}

func TestAddClientRefuses(t *testing.T) {
	ctx := context.Background()
	a := mustOpen(t, openSQLite(t), policy.Config{})
	mustAddClient(t, a, "ehr-main", "source", ehrDomain)
	ok := policy.Client{Name: "x", System: "https://x.example.org", Roles: []string{"reader"}}
	tests := []struct {
		name   string
		edit   func(c *policy.Client)
		err    error
		reason string
	}{
		{"taken name", func(c *policy.Client) { c.Name = "ehr-main" }, policy.ErrExists, "client ehr-main"},
		{"owned domain", func(c *policy.Client) { c.Domains = []string{labDomain, ehrDomain} }, policy.ErrExists, "identifier domain urn:oid:1.2.3 is owned by client ehr-main"},
		{"bad name", func(c *policy.Client) { c.Name = "Lab East" }, policy.ErrInvalid, "client name"},
		{"bad system", func(c *policy.Client) { c.System = "ehr.example.org" }, policy.ErrInvalid, "not an absolute URI"},
		{"bad domain", func(c *policy.Client) { c.Domains = []string{"1.2.3"} }, policy.ErrInvalid, "identifier domain"},
		{"twice the domain", func(c *policy.Client) { c.Domains = []string{labDomain, labDomain} }, policy.ErrInvalid, "given twice"},
		{"no role", func(c *policy.Client) { c.Roles = nil }, policy.ErrInvalid, "at least one role"},
		{"unknown role", func(c *policy.Client) { c.Roles = []string{"sorce"} }, policy.ErrInvalid, `unknown role "sorce" (known: admin reader source steward)`},
		{"past expiry", func(c *policy.Client) { c.Expires = time.Now().Add(-time.Hour) }, policy.ErrInvalid, "in the past"},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		_, err := a.AddClient(ctx, c)
		if !errors.Is(err, tt.err) || err == nil || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: %v, want %v with %q", tt.name, err, tt.err, tt.reason)
		}
	}
	// Nothing of the refused lab domain was kept.
	mustAddClient(t, a, "lab-east", "source", labDomain)
}

func TestEnsureAdminClient(t *testing.T) {
	ctx := context.Background()
	a := mustOpen(t, openSQLite(t), policy.Config{})
	const tok = "operator-chosen-token-0123456789"
	for range 2 { // idempotent
		if err := a.EnsureAdminClient(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if p := mustAuthenticate(t, a, tok); !slices.Contains(p.Roles, "admin") || p.Name != "admin" {
		t.Errorf("admin client: %+v", p)
	}
	if err := a.EnsureAdminClient(ctx, tok+"-new"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, tok); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("replaced admin token still works: %v", err)
	}
	mustAuthenticate(t, a, tok+"-new")
	if err := a.EnsureAdminClient(ctx, "short"); !errors.Is(err, policy.ErrInvalid) {
		t.Errorf("short admin token: %v", err)
	}
}
