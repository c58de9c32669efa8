package policy

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Decision is an answer from Decide, with the rule that decided it and a
// reason fit for a 403 message or an audit event.
type Decision struct {
	Allowed bool
	Rule    string // the policy line or built-in rule that decided
	Reason  string // a sentence naming principal, action and resource
}

// Built-in rules named in decisions.
const (
	RuleUnknownAction = "built-in: known actions"
	RuleDefaultDeny   = "built-in: default deny (no rule allows it)"
	RuleDomain        = "built-in: one identity source per identifier domain (IHE ITI-104)"
	RuleStrictDomain  = "built-in: strict domains (identifiers only in owned domains)"
	RulePolicyError   = "built-in: policy evaluation failed"
	RuleAnonymous     = "built-in: authentication required"
)

// Decide answers whether p may perform action on a resource of type typ
// whose identifiers use the given identifier systems (domains; empty for
// reads, searches and operations that assign no identifiers). For an update
// the caller passes the systems of the new version. Systems are compared in
// their canonical form (CanonicalDomain).
//
// Three checks, in order: the Casbin rules for p and each of its roles (a
// deny rule wins); the sharing mode of typ for writes (source-of-truth types
// accept writes from their authoritative clients only); and for create and
// update by anyone but an admin, that no identifier is in a domain another
// client owns.
func (a *Authorizer) Decide(p Principal, action, typ string, domains []string) Decision {
	if !slices.Contains(Actions, action) {
		return Decision{Rule: RuleUnknownAction, Reason: fmt.Sprintf("unknown action %q", action)}
	}
	if p.Name == "" || (p.Kind != KindClient && p.Kind != KindUser) {
		return Decision{Rule: RuleAnonymous, Reason: fmt.Sprintf("%s %s needs an authenticated client or user", action, typ)}
	}
	s := a.state.Load()
	domains = canonicalDomains(domains)
	d := a.enforce(s, p, action, typ, domains)
	if !d.Allowed || !isWrite(action) {
		return d
	}
	if m := a.decideMode(p, action, typ); !m.Allowed {
		return m
	}
	if (action == "create" || action == "update") && !hasRole(p, RoleAdmin) {
		if dd := a.decideDomains(s, p, domains); !dd.Allowed {
			return dd
		}
		if len(domains) > 0 {
			d.Reason += "; identifiers only in domains " + p.Name + " owns or nobody owns"
		}
	}
	return d
}

func isWrite(action string) bool {
	return action == "create" || action == "update" || action == "delete"
}

// enforce asks Casbin, for each identifier domain, whether the principal or
// one of its roles is allowed; a deny rule for any of them wins.
func (a *Authorizer) enforce(s *state, p Principal, action, typ string, domains []string) Decision {
	subjects := make([]string, 0, 1+len(p.Roles))
	subjects = append(subjects, Subject(p))
	for _, r := range p.Roles {
		subjects = append(subjects, "role:"+r)
	}
	doms := domains
	if len(doms) == 0 || !s.domainRules {
		// No rule names a domain: one answer holds for all of them, and
		// domains from request bodies cannot fill the memo.
		doms = []string{""}
	}
	var allowedBy string
	for _, dom := range doms {
		by := ""
		for _, sub := range subjects {
			if !s.subjects[sub] {
				continue // named by no rule, so matched by none
			}
			v := a.verdict(s, sub, typ, dom, action)
			if v.deny {
				return Decision{Rule: v.rule, Reason: fmt.Sprintf("%s may not %s %s%s: denied by %q", describe(p), action, typ, inDomain(dom), v.rule)}
			}
			if v.allow && by == "" {
				by = v.rule
			}
		}
		if by == "" {
			return Decision{Rule: RuleDefaultDeny, Reason: fmt.Sprintf("%s (roles: %s) may not %s %s%s: no policy rule allows it",
				describe(p), rolesText(p.Roles), action, typ, inDomain(dom))}
		}
		if allowedBy == "" {
			allowedBy = by
		}
	}
	return Decision{Allowed: true, Rule: allowedBy, Reason: fmt.Sprintf("%s may %s %s", describe(p), action, typ)}
}

func inDomain(dom string) string {
	if dom == "" {
		return ""
	}
	return " in identifier domain " + dom
}

func rolesText(roles []string) string {
	if len(roles) == 0 {
		return "none"
	}
	return strings.Join(roles, ", ")
}

// decideMode applies the sharing architecture of typ to a write.
func (a *Authorizer) decideMode(p Principal, action, typ string) Decision {
	mode := a.Mode(typ)
	rule := fmt.Sprintf("sharing: %s=%s", typ, mode)
	if mode != SourceOfTruth || hasRole(p, RoleAdmin) {
		return Decision{Allowed: true, Rule: rule}
	}
	auth := a.cfg.Authoritative[typ]
	if p.Kind == KindClient && slices.Contains(auth, p.Name) {
		return Decision{Allowed: true, Rule: rule}
	}
	return Decision{Rule: rule + " (authoritative: " + strings.Join(auth, ", ") + ")",
		Reason: fmt.Sprintf("%s may not %s %s: %s is source-of-truth and only %s may write it; other systems read it",
			describe(p), action, typ, typ, strings.Join(auth, ", "))}
}

// decideDomains refuses identifiers in a domain owned by someone else (and,
// with StrictDomains, in a domain owned by nobody).
func (a *Authorizer) decideDomains(s *state, p Principal, domains []string) Decision {
	for _, dom := range domains {
		owner := s.owners[dom]
		switch {
		case owner == "" && a.cfg.StrictDomains:
			return Decision{Rule: RuleStrictDomain,
				Reason: fmt.Sprintf("%s may not assign identifiers in domain %s (owned by no client)", describe(p), dom)}
		case owner == "" || (owner == p.Name && p.Kind == KindClient):
		default:
			return Decision{Rule: RuleDomain + ": " + dom + " is owned by " + owner,
				Reason: fmt.Sprintf("%s may not assign identifiers in domain %s (owned by %s)", describe(p), dom, owner)}
		}
	}
	return Decision{Allowed: true}
}

// verdict is one Casbin answer for one subject, memoised per policy state.
type verdict struct {
	allow, deny bool
	rule        string
}

type memoKey struct{ sub, obj, dom, act string }

// memo caches Casbin answers together with the rule that decided them (the
// cached enforcer's own cache keeps only the boolean). It lives in a state,
// so a reload starts a fresh one; its size is capped because identifier
// domains come from request bodies.
type memo struct {
	m sync.Map // memoKey → verdict
	n atomic.Int64
}

const memoCap = 100_000

func (a *Authorizer) verdict(s *state, sub, obj, dom, act string) verdict {
	k := memoKey{sub, obj, dom, act}
	if v, ok := s.memo.m.Load(k); ok {
		return v.(verdict)
	}
	ok, explain, err := a.enf.EnforceEx(sub, obj, dom, act)
	var v verdict
	switch {
	case err != nil:
		a.log.Error("policy evaluation failed", "err", err)
		return verdict{deny: true, rule: RulePolicyError}
	case ok:
		v = verdict{allow: true, rule: ruleText("p", explain)}
	case len(explain) > 0:
		v = verdict{deny: true, rule: ruleText("p", explain)}
	}
	if s.memo.n.Add(1) <= memoCap {
		s.memo.m.Store(k, v)
	}
	return v
}

func ruleText(ptype string, values []string) string {
	return ptype + ", " + strings.Join(values, ", ")
}
