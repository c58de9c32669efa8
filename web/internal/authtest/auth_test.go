package authtest

import (
	"context"
	"testing"

	"idem/policy"
	"idem/registry"
)

// The double keeps the contract the web and UI tests rely on: sessions
// live until logout, a user's password is its bearer token, built-in rules
// cannot be removed, client names are unique, and decisions follow roles.
func TestAuthDouble(t *testing.T) {
	ctx := context.Background()
	a := New()
	if _, _, err := a.Login(ctx, "ann", "wrong"); registry.ErrorCode(err) != registry.EUnauthorized {
		t.Fatalf("wrong password: %v", err)
	}
	id, csrf, err := a.Login(ctx, "ann", "ann-pw")
	if err != nil || id == "" || csrf == "" {
		t.Fatalf("login: %q %q %v", id, csrf, err)
	}
	p, got, err := a.Session(ctx, id)
	if err != nil || p.Name != "ann" || got != csrf {
		t.Fatalf("session: %+v %q %v", p, got, err)
	}
	if err := a.Logout(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Session(ctx, id); registry.ErrorCode(err) != registry.EUnauthorized {
		t.Fatalf("session after logout: %v", err)
	}
	root, err := a.Authenticate(ctx, "root-pw")
	if err != nil || root.Name != "root" || !a.Decide(root, "admin", "Patient", nil).Allowed {
		t.Fatalf("root by token: %+v %v", root, err)
	}
	rita, _ := a.Authenticate(ctx, "rita-pw")
	if a.Decide(rita, "link", "Patient", nil).Allowed || !a.Decide(rita, "read", "Patient", nil).Allowed {
		t.Error("a reader reads and does not link")
	}
	nosey, _ := a.Authenticate(ctx, "nosey-pw")
	if a.Decide(nosey, "link", "Patient", nil).Allowed {
		t.Error("nosey's deny rule does not hold")
	}
	rules, _ := a.Rules()
	if err := a.RemoveRule(ctx, rules[0]); registry.ErrorCode(err) != registry.ENotFound {
		t.Errorf("removing a built-in rule: %v", err)
	}
	c := policy.Client{Name: "ehr", Roles: []string{"source"}}
	if _, err := a.AddClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddClient(ctx, c); registry.ErrorCode(err) != registry.EConflict {
		t.Errorf("second client of one name: %v", err)
	}
	if p, err := a.DryRunPrincipal(ctx, "client:ehr"); err != nil || p.Name != "ehr" {
		t.Errorf("dry-run principal: %+v %v", p, err)
	}
}
