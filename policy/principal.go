package policy

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
)

// The kinds of principal Decide knows: a client system or a user (a
// steward). (registry.Actor has a third, "system", for idem's own work,
// which no rule names.)
const (
	KindClient = "client"
	KindUser   = "user"
)

// Principal is who a request acts for, once authenticated: what
// Authenticate, Session and IssueToken return and Decide takes. It is an
// alias of an unnamed struct of exactly registry.Actor's fields, which
// policy may not import: an Actor is a Principal and a Principal an
// Actor, with no conversion, so the project has one actor type, set once at
// authentication; a field added to one but not the other stops the build.
// Principals returned by Authenticate share their slices with a cache:
// treat them as read-only.
type Principal = struct {
	Kind    string   // KindClient or KindUser
	Name    string   // the client's or user's name
	System  string   // a client's system URI (its identifier namespace or base URL); empty for users
	Roles   []string // role names without the "role:" prefix
	Domains []string // identifier systems the client owns
}

// Subject is p's Casbin subject, e.g. "client:ehr-main".
func Subject(p Principal) string { return p.Kind + ":" + p.Name }

// describe names p for messages, e.g. "client ehr-main".
func describe(p Principal) string { return p.Kind + " " + p.Name }

// hasRole reports whether p has role r.
func hasRole(p Principal, r string) bool { return slices.Contains(p.Roles, r) }

// Actions are the operations Decide knows.
var Actions = []string{"read", "search", "create", "update", "delete", "match", "link", "merge", "admin", "retire", "message", "extract"}

// Built-in role names. Rules may define more; a client's roles must appear
// in the policy.
const (
	RoleSource  = "source"
	RoleReader  = "reader"
	RoleSteward = "steward"
	RoleAdmin   = "admin"
)

// nameRE is what client, user and role names look like: safe in a Casbin
// subject, a CSV rule and a log line.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func checkName(what, name string) error {
	if !nameRE.MatchString(name) {
		return errorf(ErrInvalid, "%s name %q: use 1-64 lower-case letters, digits, '.', '_' or '-'", what, name)
	}
	return nil
}

// checkURI accepts an absolute URI without spaces or commas (a system URI or
// an identifier system such as urn:oid:1.2.3 or https://ehr.example.org/mrn).
func checkURI(what, s string) error {
	i := strings.Index(s, ":")
	if i <= 0 || i == len(s)-1 || strings.ContainsAny(s, " \t\r\n,\"") {
		return errorf(ErrInvalid, "%s %q is not an absolute URI", what, s)
	}
	for _, c := range s[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return errorf(ErrInvalid, "%s %q is not an absolute URI", what, s)
		}
	}
	return nil
}

// list and unlist store name lists in one column.
func list(xs []string) string { return strings.Join(xs, " ") }

func unlist(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// DryRunPrincipal is whom a dry run ("may X do Y?") asks about: who is
// "client:NAME", a stored client as it is, or "role:NAME", anyone holding
// that one role (a user for the user roles, a client for the others; the
// name "(any NAME)" matches no rule of its own).
func (a *Authorizer) DryRunPrincipal(ctx context.Context, who string) (Principal, error) {
	kind, name, _ := strings.Cut(strings.TrimSpace(who), ":")
	switch {
	case name == "":
	case kind == "client":
		c, err := a.Client(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return Principal{}, errorf(ErrNotFound, "no client %q", name)
		}
		return c.Principal(), err
	case kind == "role" && slices.Contains(userRoles, name):
		return Principal{Kind: KindUser, Name: "(any " + name + ")", Roles: []string{name}}, nil
	case kind == "role":
		return Principal{Kind: KindClient, Name: "(any " + name + ")", Roles: []string{name}}, nil
	}
	return Principal{}, errorf(ErrInvalid, "ask about client:NAME (an existing client) or role:NAME, not %q", who)
}
