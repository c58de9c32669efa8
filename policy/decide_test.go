package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"idem/policy"
)

const (
	ehrDomain = "urn:oid:1.2.3"
	labDomain = "urn:oid:9.9.9"
	ssn       = "http://hl7.org/fhir/sid/us-ssn" // owned by no client
)

// network sets up the example: an EHR owning urn:oid:1.2.3, a lab
// source with a domain of its own, a lab that only reads, a steward and an
// admin, and returns their principals by name.
func network(t *testing.T, a *policy.Authorizer) map[string]policy.Principal {
	t.Helper()
	ps := map[string]policy.Principal{
		"ehr-main":  mustAuthenticate(t, a, mustAddClient(t, a, "ehr-main", "source", ehrDomain)),
		"lab-east":  mustAuthenticate(t, a, mustAddClient(t, a, "lab-east", "source", labDomain)),
		"lab-west":  mustAuthenticate(t, a, mustAddClient(t, a, "lab-west", "reader")),
		"ops":       mustAuthenticate(t, a, mustAddClient(t, a, "ops", "admin")),
		"alice":     {Kind: policy.KindUser, Name: "alice", Roles: []string{"steward"}},
		"root":      {Kind: policy.KindUser, Name: "root", Roles: []string{"admin"}},
		"no-roles":  {Kind: policy.KindClient, Name: "no-roles"},
		"anonymous": {},
	}
	return ps
}

func TestDecide(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		a := mustOpen(t, db, policy.Config{})
		ps := network(t, a)
		tests := []struct {
			who, action, typ string
			domains          []string
			allowed          bool
			rule             string
			reason           string // a substring
		}{
			{"ehr-main", "create", "Patient", []string{ehrDomain}, true, "p, role:source, Patient, *, create, allow", "client ehr-main may create Patient"},
			{"ehr-main", "update", "Patient", []string{ehrDomain, ssn}, true, "p, role:source, Patient, *, update, allow", "ehr-main owns or nobody owns"},
			{"ehr-main", "create", "Patient", nil, true, "p, role:source, Patient, *, create, allow", ""},
			{"lab-east", "create", "Patient", []string{ehrDomain}, false, policy.RuleDomain + ": urn:oid:1.2.3 is owned by ehr-main",
				"client lab-east may not assign identifiers in domain urn:oid:1.2.3 (owned by ehr-main)"},
			{"lab-east", "update", "Practitioner", []string{labDomain, ehrDomain}, false, policy.RuleDomain + ": urn:oid:1.2.3 is owned by ehr-main", "owned by ehr-main"},
			{"lab-east", "create", "Location", []string{labDomain}, true, "p, role:source, Location, *, create, allow", ""},
			{"ehr-main", "read", "Patient", nil, true, "p, role:reader, Patient, *, read, allow", "client ehr-main may read Patient"},
			{"ehr-main", "delete", "Patient", nil, false, policy.RuleDefaultDeny, "client ehr-main (roles: source) may not delete Patient"},
			{"ehr-main", "merge", "Patient", nil, false, policy.RuleDefaultDeny, ""},
			{"ehr-main", "read", "AuditEvent", nil, false, policy.RuleDefaultDeny, ""},
			{"lab-west", "read", "Patient", nil, true, "p, role:reader, Patient, *, read, allow", ""},
			{"lab-west", "search", "Practitioner", nil, true, "p, role:reader, Practitioner, *, search, allow", ""},
			{"lab-west", "match", "Patient", nil, true, "p, role:reader, Patient, *, match, allow", ""},
			{"lab-west", "create", "Patient", nil, false, policy.RuleDefaultDeny, "client lab-west (roles: reader) may not create Patient"},
			{"lab-west", "create", "Patient", []string{ssn}, false, policy.RuleDefaultDeny, "client lab-west (roles: reader) may not create Patient: no policy rule allows it"},
			{"alice", "merge", "Patient", nil, true, "p, role:steward, Patient, *, merge, allow", "user alice may merge Patient"},
			{"alice", "link", "Patient", []string{ehrDomain, labDomain}, true, "p, role:steward, Patient, *, link, allow", ""},
			{"alice", "link", "Person", nil, true, "p, role:steward, Person, *, link, allow", ""},
			{"alice", "update", "Person", nil, false, "built-in: default deny (no rule allows it)", "no policy rule allows it"},
			{"alice", "read", "Linkage", nil, true, "p, role:reader, Linkage, *, read, allow", ""},
			{"alice", "create", "Patient", nil, false, policy.RuleDefaultDeny, ""},
			{"alice", "admin", "Client", nil, false, policy.RuleDefaultDeny, ""},
			{"root", "create", "Patient", []string{ehrDomain}, true, "p, role:admin, *, *, *, allow", ""},
			{"root", "admin", "Client", nil, true, "p, role:admin, *, *, *, allow", ""},
			{"ops", "delete", "AuditEvent", nil, true, "p, role:admin, *, *, *, allow", ""},
			{"ops", "update", "Patient", []string{ehrDomain, labDomain}, true, "p, role:admin, *, *, *, allow", ""},
			{"no-roles", "read", "Patient", nil, false, policy.RuleDefaultDeny, "(roles: none)"},
			{"anonymous", "read", "Patient", nil, false, policy.RuleAnonymous, "read Patient needs an authenticated client or user"},
			{"ehr-main", "frobnicate", "Patient", nil, false, policy.RuleUnknownAction, `unknown action "frobnicate"`},
		}
		for _, tt := range tests {
			d := a.Decide(ps[tt.who], tt.action, tt.typ, tt.domains)
			name := tt.who + " " + tt.action + " " + tt.typ + " " + strings.Join(tt.domains, " ")
			if d.Allowed != tt.allowed || d.Rule != tt.rule || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("%s:\n got %+v\nwant allowed=%v rule=%q reason~%q", name, d, tt.allowed, tt.rule, tt.reason)
			}
			if !d.Allowed && d.Reason == "" {
				t.Errorf("%s: a denial without a reason", name)
			}
		}
	})
}

func TestDecideSharingModes(t *testing.T) {
	modes, err := policy.ParseModes("Patient=source-of-truth,Practitioner=independent,Location=shared-registry")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := policy.ParseAuthoritative("Patient=ehr-main")
	if err != nil {
		t.Fatal(err)
	}
	a := mustOpen(t, openSQLite(t), policy.Config{Modes: modes, Authoritative: auth})
	ps := network(t, a)
	tests := []struct {
		who, action, typ string
		domains          []string
		allowed          bool
		rule             string
	}{
		// source-of-truth: only the authoritative client (and admins) write.
		{"ehr-main", "create", "Patient", []string{ehrDomain}, true, "p, role:source, Patient, *, create, allow"},
		{"lab-east", "create", "Patient", []string{labDomain}, false, "sharing: Patient=source-of-truth (authoritative: ehr-main)"},
		{"lab-east", "update", "Patient", nil, false, "sharing: Patient=source-of-truth (authoritative: ehr-main)"},
		{"lab-east", "read", "Patient", nil, true, "p, role:reader, Patient, *, read, allow"},
		{"ops", "update", "Patient", nil, true, "p, role:admin, *, *, *, allow"},
		// independent and shared-registry write as linked does.
		{"lab-east", "create", "Practitioner", []string{labDomain}, true, "p, role:source, Practitioner, *, create, allow"},
		{"lab-east", "create", "Practitioner", []string{ehrDomain}, false, policy.RuleDomain + ": urn:oid:1.2.3 is owned by ehr-main"},
		{"lab-east", "create", "Location", []string{labDomain}, true, "p, role:source, Location, *, create, allow"},
		{"lab-west", "create", "Location", nil, false, policy.RuleDefaultDeny},
		{"lab-west", "read", "Location", nil, true, "p, role:reader, Location, *, read, allow"},
	}
	for _, tt := range tests {
		d := a.Decide(ps[tt.who], tt.action, tt.typ, tt.domains)
		if d.Allowed != tt.allowed || d.Rule != tt.rule {
			t.Errorf("%s %s %s: got %+v, want allowed=%v rule=%q", tt.who, tt.action, tt.typ, d, tt.allowed, tt.rule)
		}
	}
	d := a.Decide(ps["lab-east"], "create", "Patient", nil)
	if want := "client lab-east may not create Patient: Patient is source-of-truth and only ehr-main may write it"; !strings.HasPrefix(d.Reason, want) {
		t.Errorf("reason %q, want %q…", d.Reason, want)
	}
	for typ, want := range map[string]bool{"Patient": true, "Practitioner": false, "Location": true, "Person": true} {
		if got := a.AutoLink(typ); got != want {
			t.Errorf("AutoLink(%s) = %v, want %v", typ, got, want)
		}
	}
	if a.Mode("Person") != policy.Linked || a.Mode("Location") != policy.SharedRegistry {
		t.Errorf("modes: Person %s, Location %s", a.Mode("Person"), a.Mode("Location"))
	}
}

func TestStrictDomains(t *testing.T) {
	a := mustOpen(t, openSQLite(t), policy.Config{StrictDomains: true})
	ps := network(t, a)
	if d := a.Decide(ps["ehr-main"], "create", "Patient", []string{ehrDomain}); !d.Allowed {
		t.Errorf("own domain refused: %+v", d)
	}
	d := a.Decide(ps["ehr-main"], "create", "Patient", []string{ehrDomain, ssn})
	if d.Allowed || d.Rule != policy.RuleStrictDomain || !strings.Contains(d.Reason, "(owned by no client)") {
		t.Errorf("unowned domain: %+v", d)
	}
}

func TestRuntimeRules(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a := mustOpen(t, db, policy.Config{})
		ps := network(t, a)
		deny, err := policy.ParseRule("p, client:lab-west, *, *, match, deny")
		if err != nil {
			t.Fatal(err)
		}
		v0 := a.Version()
		if err := a.AddRule(ctx, deny); err != nil {
			t.Fatal(err)
		}
		if a.Version() <= v0 {
			t.Errorf("version did not move: %d → %d", v0, a.Version())
		}
		d := a.Decide(ps["lab-west"], "match", "Patient", nil)
		if d.Allowed || d.Rule != "p, client:lab-west, *, *, match, deny" || !strings.Contains(d.Reason, "client lab-west may not match Patient: denied by") {
			t.Errorf("after deny rule: %+v", d)
		}
		if d := a.Decide(ps["lab-west"], "read", "Patient", nil); !d.Allowed {
			t.Errorf("deny rule spilled over to read: %+v", d)
		}
		if err := a.AddRule(ctx, deny); !errors.Is(err, policy.ErrExists) {
			t.Errorf("adding twice: %v", err)
		}

		// A new role granted by rules, given to a client.
		for _, line := range []string{"p, role:auditor, AuditEvent, *, read", "g, role:auditor, role:reader"} {
			r, err := policy.ParseRule(line)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.AddRule(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		aud := mustAuthenticate(t, a, mustAddClient(t, a, "audit-svc", "auditor"))
		if d := a.Decide(aud, "read", "AuditEvent", nil); !d.Allowed || d.Rule != "p, role:auditor, AuditEvent, *, read, allow" {
			t.Errorf("auditor: %+v", d)
		}
		if d := a.Decide(aud, "search", "Patient", nil); !d.Allowed {
			t.Errorf("auditor inherits reader: %+v", d)
		}

		// A rule for one identifier domain pattern.
		inDomain, _ := policy.ParseRule("p, client:lab-west, Location, urn:oid:5.*, create")
		if err := a.AddRule(ctx, inDomain); err != nil {
			t.Fatal(err)
		}
		if d := a.Decide(ps["lab-west"], "create", "Location", []string{"urn:oid:5.1"}); !d.Allowed || d.Rule != "p, client:lab-west, Location, urn:oid:5.*, create, allow" {
			t.Errorf("domain rule: %+v", d)
		}
		for _, doms := range [][]string{{"urn:oid:5.1", "urn:oid:6"}, nil} {
			d := a.Decide(ps["lab-west"], "create", "Location", doms)
			if d.Allowed || d.Rule != policy.RuleDefaultDeny {
				t.Errorf("domain rule, domains %v: %+v", doms, d)
			}
		}
		if d := a.Decide(ps["lab-west"], "create", "Location", []string{"urn:oid:6"}); !strings.HasSuffix(d.Reason, "in identifier domain urn:oid:6: no policy rule allows it") {
			t.Errorf("reason %q", d.Reason)
		}
		if err := a.RemoveRule(ctx, inDomain); err != nil {
			t.Fatal(err)
		}

		rules, err := a.Rules()
		if err != nil {
			t.Fatal(err)
		}
		var builtin, stored int
		for _, r := range rules {
			if r.Builtin {
				builtin++
			} else {
				stored++
			}
		}
		if stored != 3 || builtin < 30 {
			t.Errorf("rules: %d built in, %d stored", builtin, stored)
		}

		if err := a.RemoveRule(ctx, deny); err != nil {
			t.Fatal(err)
		}
		if d := a.Decide(ps["lab-west"], "match", "Patient", nil); !d.Allowed {
			t.Errorf("after removing the deny rule: %+v", d)
		}
		if err := a.RemoveRule(ctx, deny); !errors.Is(err, policy.ErrNotFound) {
			t.Errorf("removing twice: %v", err)
		}
		builtinRule, _ := policy.ParseRule("p, role:reader, Patient, *, read, allow")
		if err := a.RemoveRule(ctx, builtinRule); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("removing a built-in rule: %v", err)
		}
	})
}

func TestParseRule(t *testing.T) {
	good := map[string]string{
		"p, role:source, Patient, *, create, allow": "p, role:source, Patient, *, create, allow",
		"p,client:lab-east,*,urn:oid:1.2.*,read":    "p, client:lab-east, *, urn:oid:1.2.*, read, allow",
		"g, user:bob, role:steward":                 "g, user:bob, role:steward",
	}
	for in, want := range good {
		r, err := policy.ParseRule(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRule(%q) = %q, %v; want %q", in, r.String(), err, want)
		}
	}
	for _, bad := range []string{
		"", "p", "x, a, b", "p, source, Patient, *, read", "p, role:source, patient, *, read",
		"p, role:source, Patient, *, fly", "p, role:source, Patient, *, read, maybe",
		"p, role:source, Patient, a b, read", "g, role:a, client:b", "g, role:a", "p, role:Source, Patient, *, read",
	} {
		if _, err := policy.ParseRule(bad); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("ParseRule(%q): %v, want ErrInvalid", bad, err)
		}
	}
}
