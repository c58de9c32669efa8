package web

import (
	"context"
	"net/url"
	"slices"

	"idem/registry"
)

// A search reaches more than its own type: _include and _revinclude pull in
// resources of the types they name. Authorisation decides on the parsed,
// decoded search (the same registry.ParseQuery the store runs), never on the
// text of the request: every type a search can reach needs the same search
// permission as searching it directly.

// allowSearch checks that p may search typ and every type the search's
// _include and _revinclude parameters reach. params are the decoded
// parameters the search will run with (query string and form body alike).
// A search that does not parse is left to the search itself (400).
func (s *Server) allowSearch(ctx context.Context, typ string, params url.Values) error {
	p, ok := registry.ActorIn(ctx)
	if !ok || s.auth == nil {
		return nil
	}
	for _, t := range reachedTypes(typ, params) {
		if err := s.allow(ctx, p, "search", t, nil); err != nil {
			return err
		}
	}
	return nil
}

// reachedTypes returns typ and the types its search's includes name: for
// _include the target types of the reference parameter (or the one it
// names), for _revinclude the source type; both, to be safe, for either.
func reachedTypes(typ string, params url.Values) []string {
	out := []string{typ}
	add := func(ts ...string) {
		for _, t := range ts {
			if t != "" && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	q, err := registry.ParseQuery(typ, params, false)
	if err != nil {
		return out
	}
	for _, inc := range append(slices.Clone(q.Include), q.RevInclude...) {
		add(inc.Source, inc.Target)
		if inc.Target == "" && inc.Param != nil {
			add(inc.Param.Targets...)
		}
	}
	return out
}

// permittedIncludes drops included resources of a type the request's
// principal may not search. The parsed includes were authorised before the
// search; this keeps a reference that points somewhere unexpected (a
// Location whose partOf names an AuditEvent) from carrying anything past it.
func (s *Server) permittedIncludes(ctx context.Context, included []*registry.Resource) []*registry.Resource {
	p, ok := registry.ActorIn(ctx)
	if !ok || s.auth == nil {
		return included
	}
	allowed := map[string]bool{}
	return slices.DeleteFunc(included, func(r *registry.Resource) bool {
		ok, seen := allowed[r.Type]
		if !seen {
			ok = s.allow(ctx, p, "search", r.Type, nil) == nil
			allowed[r.Type] = ok
		}
		return !ok
	})
}
