package exchange

import (
	"net/url"
	"slices"
	"strings"

	"idem/registry"
)

// filter is a Subscription's filter criteria ("Patient?identifier=http://x|"),
// evaluated in memory against the focus's index rows.
type filter struct {
	typ     string
	clauses []registry.Clause
}

// parseFilter reads one backport-filter-criteria value for a topic whose
// focus is typ.
func parseFilter(raw, typ string) (*filter, error) {
	const where = "Subscription.criteria.extension"
	t, q, ok := strings.Cut(raw, "?")
	if !ok || t != typ {
		return nil, registry.Invalid(registry.EInvalid, "invalid", where, "filter %q must read %s?param=value", raw, typ)
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return nil, registry.Invalid(registry.EInvalid, "invalid", where, "filter %q is not a query string", raw)
	}
	query, err := registry.ParseQuery(typ, vals, true)
	if err != nil {
		return nil, err
	}
	if len(query.Clauses) == 0 {
		return nil, registry.Invalid(registry.EInvalid, "invalid", where, "filter %q has no criteria", raw)
	}
	for _, c := range query.Clauses {
		if c.Modifier != "" && c.Modifier != "exact" && c.Modifier != "contains" {
			return nil, registry.Invalid(registry.EInvalid, "not-supported", where, "filter modifier :%s is not supported", c.Modifier)
		}
		if c.Param.Kind == registry.KindDate || (c.Param.Column != "" && c.Param.Column != "id") {
			return nil, registry.Invalid(registry.EInvalid, "not-supported", where, "filter parameter %s is not supported (use token, string or reference parameters)", c.Param.Name)
		}
	}
	return &filter{typ: typ, clauses: query.Clauses}, nil
}

// matches reports whether the resource id with index ix satisfies every clause.
func (f *filter) matches(id string, ix *registry.Index) bool {
	for _, c := range f.clauses {
		if !slices.ContainsFunc(c.Values, func(v registry.Value) bool { return valueMatches(c, v, id, ix) }) {
			return false
		}
	}
	return true
}

func valueMatches(c registry.Clause, v registry.Value, id string, ix *registry.Index) bool {
	p := c.Param
	if p.Column == "id" {
		return v.Code == id || v.Raw == id
	}
	switch p.Kind {
	case registry.KindString:
		return slices.ContainsFunc(ix.Strings, func(k registry.StringKey) bool {
			if !slices.Contains(p.Codes, k.Param) {
				return false
			}
			switch c.Modifier {
			case "exact":
				return k.Exact == v.Exact
			case "contains":
				return strings.Contains(k.Norm, v.Norm)
			}
			return strings.HasPrefix(k.Norm, v.Norm)
		})
	case registry.KindToken, registry.KindURI:
		return slices.ContainsFunc(ix.Tokens, func(k registry.TokenKey) bool {
			if !slices.Contains(p.Codes, k.Param) {
				return false
			}
			if v.HasSystem {
				return k.System == v.System && (v.Code == "" || k.Code == v.Code)
			}
			return k.Code == v.Code
		})
	case registry.KindReference:
		return slices.ContainsFunc(ix.Refs, func(k registry.RefKey) bool {
			return slices.Contains(p.Codes, k.Param) && k.Target == v.Target
		})
	}
	return false
}
