package policy

import (
	"regexp"
	"slices"
	"strings"
)

// Kind says whether a principal is a client system or a user (a steward).
type Kind string

// The kinds of principal.
const (
	KindClient Kind = "client"
	KindUser   Kind = "user"
)

// Principal is who a request acts for, once authenticated: what the web
// layer passes to Decide and records in audit events. Principals returned by
// Authenticate share their slices with a cache: treat them as read-only.
type Principal struct {
	Kind    Kind
	Name    string
	System  string   // a client's system URI (its identifier namespace or base URL); empty for users
	Roles   []string // role names without the "role:" prefix
	Domains []string // identifier systems the client owns
}

// Subject is the principal's Casbin subject, e.g. "client:ehr-main".
func (p Principal) Subject() string { return string(p.Kind) + ":" + p.Name }

// String names the principal for messages, e.g. "client ehr-main".
func (p Principal) String() string { return string(p.Kind) + " " + p.Name }

// HasRole reports whether the principal has role r.
func (p Principal) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

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
