package policy

import (
	"context"
	"encoding/csv"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Rule is one line of Casbin policy: a permission ("p": subject, resource
// type, identifier domain, action, allow|deny) or a role grant ("g": member,
// role).
type Rule struct {
	Type    string // "p" or "g"
	Values  []string
	Builtin bool // from the embedded default policy; cannot be removed (add a deny rule instead)
}

// String returns the rule as a policy line, e.g. "p, role:reader, Patient, *, read, allow".
func (r Rule) String() string { return ruleText(r.Type, r.Values) }

// ParseRule reads a policy line. A permission without an effect allows.
func ParseRule(line string) (Rule, error) {
	cr := csv.NewReader(strings.NewReader(line))
	cr.TrimLeadingSpace = true
	fields, err := cr.Read()
	if err != nil || len(fields) < 2 {
		return Rule{}, errorf(ErrInvalid, "rule %q is not a policy line", line)
	}
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	r := Rule{Type: fields[0], Values: fields[1:]}
	if r.Type == "p" && len(r.Values) == 4 {
		r.Values = append(r.Values, "allow")
	}
	return r, r.check()
}

var (
	subjectRE = regexp.MustCompile(`^(role|client|user):[a-z0-9][a-z0-9._-]{0,63}$`)
	objectRE  = regexp.MustCompile(`^(\*|[A-Z][A-Za-z]{0,63})$`)
)

func (r Rule) check() error {
	bad := func(why string) error { return errorf(ErrInvalid, "rule %q: %s", r.String(), why) }
	switch {
	case r.Type == "g" && len(r.Values) == 2:
		if !subjectRE.MatchString(r.Values[0]) || !subjectRE.MatchString(r.Values[1]) {
			return bad("a role grant is g, SUBJECT, role:NAME (subjects are role:, client: or user: and a name)")
		}
		if !strings.HasPrefix(r.Values[1], "role:") {
			return bad("the second value of a role grant must be a role:NAME")
		}
	case r.Type == "p" && len(r.Values) == 5:
		v := r.Values
		switch {
		case !subjectRE.MatchString(v[0]):
			return bad("the subject must be role:NAME, client:NAME or user:NAME")
		case !objectRE.MatchString(v[1]):
			return bad("the object must be a resource type or *")
		case v[2] == "" || strings.ContainsAny(v[2], " \t\r\n,\""):
			return bad("the domain must be an identifier system, a pattern ending in *, or *")
		case v[3] != "*" && !slices.Contains(Actions, v[3]):
			return bad("the action must be one of " + strings.Join(Actions, ", ") + " or *")
		case v[4] != "allow" && v[4] != "deny":
			return bad("the effect must be allow or deny")
		}
	default:
		return bad("use p, SUBJECT, TYPE, DOMAIN, ACTION[, allow|deny] or g, SUBJECT, role:NAME")
	}
	return nil
}

// builtinRules are the lines of the embedded default policy, by text.
var builtinRules = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(defaultPolicy, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if r, err := ParseRule(line); err == nil {
			m[r.String()] = true
		}
	}
	return m
})

// Rules returns the rules in force: built-in and stored.
func (a *Authorizer) Rules() ([]Rule, error) {
	var out []Rule
	for _, ptype := range []string{"p", "g"} {
		var lines [][]string
		var err error
		if ptype == "p" {
			lines, err = a.enf.GetPolicy()
		} else {
			lines, err = a.enf.GetGroupingPolicy()
		}
		if err != nil {
			return nil, err
		}
		for _, v := range lines {
			r := Rule{Type: ptype, Values: v}
			r.Builtin = builtinRules()[r.String()]
			out = append(out, r)
		}
	}
	return out, nil
}

// AddRule stores a rule in the store and puts it in force on every
// instance (here at once, elsewhere at the next poll).
func (a *Authorizer) AddRule(ctx context.Context, r Rule) error {
	if err := r.check(); err != nil {
		return err
	}
	if builtinRules()[r.String()] {
		return errorf(ErrExists, "rule %q is built in", r.String())
	}
	return a.changed(ctx, a.store.AddRule(ctx, r))
}

// RemoveRule deletes a rule added at run time.
func (a *Authorizer) RemoveRule(ctx context.Context, r Rule) error {
	if builtinRules()[r.String()] {
		return errorf(ErrInvalid, "rule %q is built in and cannot be removed; add a matching deny rule instead", r.String())
	}
	return a.changed(ctx, a.store.RemoveRule(ctx, r))
}

// scanRules records in s the roles and subjects the policy mentions and
// whether any permission names an identifier domain, and returns the
// resource types to warm the memo for.
func (a *Authorizer) scanRules(s *state) (objects []string, err error) {
	rules, err := a.Rules()
	if err != nil {
		return nil, err
	}
	s.roles, s.subjects = map[string]bool{}, map[string]bool{}
	objects = []string{"Patient", "Practitioner", "Location", "Person", "Linkage"}
	for _, r := range rules {
		subjects := r.Values[:1]
		if r.Type == "g" {
			subjects = r.Values
		} else {
			s.domainRules = s.domainRules || r.Values[2] != "*"
			if obj := r.Values[1]; obj != "*" && !slices.Contains(objects, obj) {
				objects = append(objects, obj)
			}
		}
		for _, sub := range subjects {
			s.subjects[sub] = true
			if name, ok := strings.CutPrefix(sub, "role:"); ok {
				s.roles[name] = true
			}
		}
	}
	return objects, nil
}

// warm evaluates every role on every resource type and action, so requests
// after a reload find their answers in the memo: a Casbin evaluation costs
// some 50 µs, a memo hit well under one. (It also compiles the matcher.)
func (a *Authorizer) warm(s *state, objects []string) {
	for role := range s.roles {
		for _, obj := range objects {
			for _, act := range Actions {
				a.verdict(s, "role:"+role, obj, "", act)
			}
		}
	}
}

// Permission is the rule "p, WHO, TYPE, DOMAIN, ACTION, EFFECT" given field
// by field, as the admin UI's rule form gives it: who is role:NAME or
// client:NAME (or user:NAME), an empty domain is *, effect allow or deny.
func Permission(who, typ, domain, action, effect string) (Rule, error) {
	who = strings.TrimSpace(who)
	if !subjectRE.MatchString(who) {
		return Rule{}, errorf(ErrInvalid, "who %q: choose role:NAME or client:NAME", who)
	}
	domain = strings.TrimSpace(domain)
	if domain == "" {
		domain = "*"
	}
	r := Rule{Type: "p", Values: []string{who, strings.TrimSpace(typ), domain, strings.TrimSpace(action), strings.TrimSpace(effect)}}
	return r, r.check()
}
