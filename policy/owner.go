package policy

import (
	"fmt"
	"slices"
	"strings"
)

// RuleOwner is the built-in rule that decides who changes a stored record.
const RuleOwner = "built-in: a record is updated and deleted by its owner (the client whose system wrote it)"

// DecideOwner answers whether p may update or delete (action) a stored
// record of type typ whose meta.source is source. The record's owner is
// the client whose system URI source is, or starts with followed by "/"
// (the longest such system, should one extend another; revoked clients
// keep their records). The owner may; so may an admin, and on a
// source-of-truth type its authoritative clients; nobody else. The caller
// reads source from the stored record inside the write's transaction (for
// a deleted record, from its last version before the deletion), so that
// the answer concerns the version the write replaces.
func (a *Authorizer) DecideOwner(p Principal, action, typ, source string) Decision {
	switch {
	case hasRole(p, RoleAdmin):
		return Decision{Allowed: true, Rule: RuleOwner + "; admins change any record"}
	case a.Mode(typ) == SourceOfTruth && p.Kind == KindClient && slices.Contains(a.cfg.Authoritative[typ], p.Name):
		return Decision{Allowed: true, Rule: fmt.Sprintf("sharing: %s=%s (authoritative: %s)", typ, SourceOfTruth, p.Name)}
	}
	owners := a.state.Load().ownerOf(source)
	if p.Kind == KindClient && slices.Contains(owners, p.Name) {
		return Decision{Allowed: true, Rule: RuleOwner}
	}
	owner := "no client"
	if len(owners) > 0 {
		owner = "client " + strings.Join(owners, ", client ")
	}
	if source == "" {
		source = "none"
	}
	return Decision{Rule: RuleOwner, Reason: fmt.Sprintf("%s may not %s a %s owned by %s (meta.source %s): only its owner, an admin or an authoritative client of a source-of-truth type may",
		describe(p), action, typ, owner, source)}
}

// ownerOf returns the clients whose system wrote a record with meta.source
// source: the longest system URI that source equals or extends by "/…".
func (s *state) ownerOf(source string) []string {
	for key := strings.TrimSuffix(source, "/"); key != ""; {
		if names := s.systems[key]; len(names) > 0 {
			return names
		}
		i := strings.LastIndexByte(key, '/')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return nil
}

// systems maps each client system URI (without a trailing "/") to the
// clients registered with it, revoked ones included: their records stay
// theirs. Clients come by name, so each list is in name order.
func systems(clients []Client) map[string][]string {
	out := make(map[string][]string, len(clients))
	for _, c := range clients {
		key := strings.TrimSuffix(c.System, "/")
		out[key] = append(out[key], c.Name)
	}
	return out
}
