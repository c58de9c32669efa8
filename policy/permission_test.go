package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"idem/policy"
)

// The admin UI's rule form goes through Permission: a rule field by field.
func TestPermission(t *testing.T) {
	tests := []struct {
		name, who, typ, domain, action, effect string
		want                                   string // the rule, or a part of the error
		ok                                     bool
	}{
		{"role, any domain", " role:steward ", "Patient", "", "link", "deny", "p, role:steward, Patient, *, link, deny", true},
		{"client, a domain", "client:lab-east", "*", "urn:oid:1.2.*", "*", "allow", "p, client:lab-east, *, urn:oid:1.2.*, *, allow", true},
		{"no kind", "nobody", "Patient", "", "link", "allow", "role:NAME or client:NAME", false},
		{"empty who", "", "Patient", "", "link", "allow", "role:NAME or client:NAME", false},
		{"bad type", "role:reader", "patient", "", "read", "allow", "resource type or *", false},
		{"bad action", "role:reader", "Patient", "", "peek", "allow", "the action must be one of", false},
		{"bad effect", "role:reader", "Patient", "", "read", "maybe", "allow or deny", false},
		{"comma in domain", "role:reader", "Patient", "a,b", "read", "allow", "the domain must be", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := policy.Permission(tc.who, tc.typ, tc.domain, tc.action, tc.effect)
			switch {
			case tc.ok && (err != nil || r.String() != tc.want):
				t.Errorf("got %q, %v; want %q", r.String(), err, tc.want)
			case !tc.ok && (!errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %q, %v; want ErrInvalid containing %q", r.String(), err, tc.want)
			}
		})
	}
}

// The dry run of the admin API and of the admin UI asks about the same
// principal, and decides as for a real one.
func TestDryRunPrincipal(t *testing.T) {
	ctx := context.Background()
	a := mustOpen(t, openSQLite(t), policy.Config{})
	ps := network(t, a)
	tests := []struct {
		who        string
		kind, name string
		err        error
	}{
		{"client:ehr-main", policy.KindClient, "ehr-main", nil},
		{"role:steward", policy.KindUser, "(any steward)", nil},
		{"role:reader", policy.KindClient, "(any reader)", nil},
		{"client:nobody", "", "", policy.ErrNotFound},
		{"role:", "", "", policy.ErrInvalid},
		{"steward", "", "", policy.ErrInvalid},
	}
	for _, tc := range tests {
		p, err := a.DryRunPrincipal(ctx, tc.who)
		if !errors.Is(err, tc.err) || (tc.err == nil && (p.Kind != tc.kind || p.Name != tc.name)) {
			t.Errorf("%s: got %+v, %v; want %s %s, %v", tc.who, p, err, tc.kind, tc.name, tc.err)
		}
	}
	client, _ := a.DryRunPrincipal(ctx, "client:ehr-main")
	for _, q := range []struct{ action, domain string }{{"create", ehrDomain}, {"create", "http://elsewhere.example/ids"}, {"read", ""}} {
		var domains []string
		if q.domain != "" {
			domains = []string{q.domain}
		}
		got, want := a.Decide(client, q.action, "Patient", domains), a.Decide(ps["ehr-main"], q.action, "Patient", domains)
		if got != want {
			t.Errorf("dry run of ehr-main, %s %s: %+v; the client itself: %+v", q.action, q.domain, got, want)
		}
	}
	steward, _ := a.DryRunPrincipal(ctx, "role:steward")
	if got, want := a.Decide(steward, "link", "Patient", nil).Allowed, a.Decide(ps["alice"], "link", "Patient", nil).Allowed; got != want || !got {
		t.Errorf("a steward's dry run: %v, a steward: %v", got, want)
	}
}
