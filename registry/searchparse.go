package registry

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"idem/registry/fhir"
)

// Page sizes of a search: DefaultCount when _count is absent, and MaxCount,
// the most a page holds whatever _count asks for.
const (
	DefaultCount = 20
	MaxCount     = 1000
)

// resultParams are the search result and paging parameters: they control
// the result, not which resources match. A nil handler is ignored here.
var resultParams = map[string]func(p *queryParser, name, mod, v string) error{
	"_count":      (*queryParser).count,
	"_sort":       (*queryParser).sort,
	"_summary":    (*queryParser).summary,
	"_total":      (*queryParser).total,
	"_include":    (*queryParser).include,
	"_revinclude": (*queryParser).include,
	"_cursor":     func(p *queryParser, _, _, v string) error { p.q.Page = v; return nil },
	"_format":     nil, // the HTTP layer negotiates the format
	"_pretty":     nil,
	"_elements": func(p *queryParser, _, _, _ string) error {
		p.warn("_elements", "not-supported", "_elements is not supported: whole resources are returned")
		return nil
	},
}

// ParseQuery parses the search parameters of a search on typ (FHIR R4
// search.html). Repeated parameters are ANDed clauses, comma-separated values
// (a "\," is a literal comma) are ORed, and parameters with an empty value
// are ignored. Clauses come sorted by parameter name. A reference given as a
// bare id becomes one Value per target type, and a ":Type" modifier is
// resolved into the Values (the Clause keeps Modifier ""). Unknown parameters
// and unsupported modifiers are warnings in Query.Issues and skipped, or an
// EInvalid error when strict (Prefer: handling=strict); malformed values are
// always EInvalid. Ignoring _summary=true|text|data, _elements and
// :iterate only gives more or fewer resources than asked, so those are
// warnings in either mode. A name or value holding a control character FHIR
// strings forbid is EInvalid.
func ParseQuery(typ string, params url.Values, strict bool) (*Query, error) {
	if !IsType(typ) {
		return nil, Invalid(EInvalid, "not-supported", "", "resource type %q is not served here", typ)
	}
	if err := fhir.CheckParams(params); err != nil {
		return nil, asError(err)
	}
	p := queryParser{q: &Query{Type: typ, Count: DefaultCount}, strict: strict}
	for _, key := range sortedKeys(params) {
		for _, v := range params[key] {
			if v == "" {
				continue
			}
			if err := p.param(key, v); err != nil {
				return nil, err
			}
		}
	}
	return p.q, nil
}

// queryParser builds one Query.
type queryParser struct {
	q      *Query
	strict bool
}

// param parses one occurrence of key=v.
func (p *queryParser) param(key, v string) error {
	name, mod, _ := strings.Cut(key, ":")
	if fn, ok := resultParams[name]; ok {
		if mod != "" && name != "_include" && name != "_revinclude" {
			return p.unsupported(name, "unsupported modifier %q on %s", ":"+mod, name)
		}
		if fn == nil {
			return nil
		}
		return fn(p, name, mod, v)
	}
	sp := LookupParam(p.q.Type, name)
	if sp == nil {
		return p.unsupported(name, "unknown search parameter %q for %s", name, p.q.Type)
	}
	if !modifierOK(sp, mod) {
		return p.unsupported(name, "unsupported modifier %q on search parameter %q", ":"+mod, name)
	}
	c, err := parseClause(sp, mod, v)
	if err != nil {
		return Invalid(EInvalid, "value", name, "invalid value %q of search parameter %q: %s", v, key, err.Error())
	}
	if len(c.Values) > 0 {
		p.q.Clauses = append(p.q.Clauses, c)
	}
	return nil
}

// unsupported skips what the server does not support, with a warning, or
// fails when parsing is strict.
func (p *queryParser) unsupported(name, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p.strict {
		return Invalid(EInvalid, "not-supported", name, "%s", msg)
	}
	p.warn(name, "not-supported", msg+": ignored")
	return nil
}

// warn adds a warning issue about parameter name.
// A repeated parameter is warned about once.
func (p *queryParser) warn(name, code, msg string) {
	iss := fhir.Issue{Severity: fhir.SeverityWarning, Code: code, Diagnostics: msg, Expression: []string{name}}
	if !slices.ContainsFunc(p.q.Issues, func(i fhir.Issue) bool { return i.Diagnostics == msg }) {
		p.q.Issues = append(p.q.Issues, iss)
	}
}

// modifierOK reports whether parameter sp supports modifier mod. The
// resource-table columns (_id, _lastUpdated) take none.
func modifierOK(sp *SearchParam, mod string) bool {
	switch {
	case mod == "":
		return true
	case sp.Column != "":
		return false
	case mod == "missing":
		return true
	}
	switch sp.Kind {
	case KindString:
		return mod == "exact" || mod == "contains"
	case KindToken:
		return mod == "not"
	case KindReference:
		return slices.Contains(sp.Targets, mod)
	}
	return false
}

// parseClause parses the comma-separated values of one occurrence.
func parseClause(sp *SearchParam, mod, v string) (Clause, error) {
	c := Clause{Param: sp, Modifier: mod}
	if sp.Kind == KindReference && mod != "missing" {
		c.Modifier = "" // a :Type modifier is resolved into the targets
	}
	for _, raw := range fhir.SplitEscaped(v, ',') {
		if raw == "" {
			continue
		}
		vals, err := parseValue(sp, mod, raw)
		if err != nil {
			return c, err
		}
		c.Values = append(c.Values, vals...)
	}
	return c, nil
}

// parseValue parses one (escaped) value of parameter sp.
func parseValue(sp *SearchParam, mod, raw string) ([]Value, error) {
	if mod == "missing" {
		if raw != "true" && raw != "false" {
			return nil, fmt.Errorf(":missing takes true or false")
		}
		return []Value{{Raw: raw, Missing: raw == "true"}}, nil
	}
	switch sp.Kind {
	case KindString:
		s := fhir.Unescape(raw)
		if norm := fhir.Fold(s); norm != "" { // blank is as good as empty: ignored
			return []Value{{Raw: raw, Norm: norm, Exact: s}}, nil
		}
		return nil, nil
	case KindToken:
		v, err := parseToken(sp, raw)
		return []Value{v}, err
	case KindURI:
		return []Value{{Raw: raw, Code: fhir.Unescape(raw)}}, nil
	case KindDate:
		prefix, lo, hi, err := fhir.ParseDateValue(raw)
		return []Value{{Raw: raw, Prefix: prefix, Lo: lo, Hi: hi}}, err
	}
	return parseReference(sp, mod, raw)
}

// parseToken parses "system|code", "|code", "system|" or "code"; _id takes
// only a bare id.
func parseToken(sp *SearchParam, raw string) (Value, error) {
	v := Value{Raw: raw}
	parts := fhir.SplitEscaped(raw, '|')
	switch {
	case sp.Column == "id":
		if v.Code = fhir.Unescape(raw); len(parts) > 1 || !fhir.IsID(v.Code) {
			return v, fmt.Errorf("not a resource id")
		}
	case len(parts) == 1:
		v.Code = fhir.Unescape(raw)
	case len(parts) > 2:
		return v, fmt.Errorf(`more than one "|" (escape a literal one as "\|")`)
	case parts[0] == "" && parts[1] == "":
		return v, fmt.Errorf("neither system nor code")
	default:
		v.System, v.Code, v.HasSystem = fhir.Unescape(parts[0]), fhir.Unescape(parts[1]), true
	}
	return v, nil
}

// parseReference parses "Type/id", an absolute URL ending in Type/id, or a
// bare id, which stands for that id in each allowed target type (only the
// :Type modifier's type when there is one).
func parseReference(sp *SearchParam, typeMod, raw string) ([]Value, error) {
	s := fhir.Unescape(raw)
	if !strings.Contains(s, "/") {
		if !fhir.IsID(s) {
			return nil, fmt.Errorf("not a reference (Type/id) nor a resource id")
		}
		targets := sp.Targets
		if typeMod != "" {
			targets = []string{typeMod}
		}
		vals := make([]Value, len(targets))
		for i, t := range targets {
			vals[i] = Value{Raw: raw, Target: t + "/" + s}
		}
		return vals, nil
	}
	target, ok := fhir.LiteralRef(s) // an absolute URL is searched by its Type/id
	if !ok {
		return nil, fmt.Errorf("not a reference of the form Type/id")
	}
	ref, err := ParseRef(target)
	if err != nil {
		return nil, err
	}
	if typeMod != "" && ref.Type != typeMod || !slices.Contains(sp.Targets, ref.Type) {
		return nil, fmt.Errorf("%s cannot refer to a %s", sp.Name, ref.Type)
	}
	return []Value{{Raw: raw, Target: target}}, nil
}

// count parses _count, capping it at MaxCount with a warning.
func (p *queryParser) count(_, _, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return Invalid(EInvalid, "value", "_count", "invalid value %q of _count: a whole number of at least 0 is needed", v)
	}
	if n > MaxCount {
		n = MaxCount
		p.warn("_count", "too-costly", fmt.Sprintf("_count=%s is more than the maximum page size: %d are returned", v, MaxCount))
	}
	p.q.Count = n
	return nil
}

// sort parses _sort: a comma list of SortParams of this type, "-" for
// descending.
func (p *queryParser) sort(_, _, v string) error {
	for _, f := range strings.Split(v, ",") {
		name, desc := strings.CutPrefix(f, "-")
		if f == "" {
			continue
		}
		if !slices.Contains(SortParams, name) || name != "_lastUpdated" && LookupParam(p.q.Type, name) == nil {
			return Invalid(EInvalid, "not-supported", "_sort", "cannot sort %s by %q: sort by one of %s",
				p.q.Type, f, strings.Join(p.sortable(), ", "))
		}
		if !slices.ContainsFunc(p.q.Sort, func(s SortField) bool { return s.Name == name }) {
			p.q.Sort = append(p.q.Sort, SortField{Name: name, Desc: desc})
		}
	}
	return nil
}

// sortable lists the _sort keys of the query's type.
func (p *queryParser) sortable() []string {
	var out []string
	for _, name := range SortParams {
		if name == "_lastUpdated" || LookupParam(p.q.Type, name) != nil {
			out = append(out, name)
		}
	}
	return out
}

// summary parses _summary: count is served, false is the default, and the
// element subsets are not supported.
func (p *queryParser) summary(_, _, v string) error {
	switch v {
	case "count":
		p.q.Summary = "count"
	case "false":
	case "true", "text", "data":
		p.warn("_summary", "not-supported", fmt.Sprintf("_summary=%s is not supported: whole resources are returned", v))
	default:
		return Invalid(EInvalid, "value", "_summary", "invalid value %q of _summary: use true, false, text, data or count", v)
	}
	return nil
}

// total parses _total: none skips counting; accurate and estimate both count.
func (p *queryParser) total(_, _, v string) error {
	switch v {
	case "none":
		p.q.NoTotal = true
	case "accurate", "estimate":
	default:
		return Invalid(EInvalid, "value", "_total", "invalid value %q of _total: use none, estimate or accurate", v)
	}
	return nil
}

// include parses one _include or _revinclude. :iterate is not supported:
// the include is done for one level, with a warning.
func (p *queryParser) include(name, mod, v string) error {
	switch mod {
	case "":
	case "iterate", "recurse":
		p.warn(name, "not-supported", fmt.Sprintf("%s:%s is not supported: includes are followed one level", name, mod))
	default:
		return p.unsupported(name, "unsupported modifier %q on %s", ":"+mod, name)
	}
	spec, err := parseInclude(name, v)
	if err != nil {
		return err
	}
	if name == "_include" {
		p.q.Include = append(p.q.Include, spec)
	} else {
		p.q.RevInclude = append(p.q.RevInclude, spec)
	}
	return nil
}

// parseInclude parses "Source:param[:Target]": a served type, one of its
// reference parameters and, optionally, one of that parameter's target types.
func parseInclude(name, v string) (IncludeSpec, error) {
	fail := func(code, why string, args ...any) (IncludeSpec, error) {
		return IncludeSpec{}, Invalid(EInvalid, code, name, "invalid value %q of %s: %s", v, name, fmt.Sprintf(why, args...))
	}
	parts := strings.Split(v, ":")
	switch {
	case len(parts) < 2 || len(parts) > 3:
		return fail("value", "use Source:parameter or Source:parameter:Target")
	case slices.Contains(parts, "*"):
		return fail("not-supported", "the wildcard * is not supported; name the parameter")
	case !IsType(parts[0]):
		return fail("value", "%q is not a resource type served here", parts[0])
	}
	sp := LookupParam(parts[0], parts[1])
	if sp == nil || sp.Kind != KindReference {
		return fail("value", "%s has no reference search parameter %q", parts[0], parts[1])
	}
	spec := IncludeSpec{Source: parts[0], Param: sp}
	if len(parts) == 3 {
		if !slices.Contains(sp.Targets, parts[2]) {
			return fail("value", "%s:%s cannot refer to a %s", parts[0], parts[1], parts[2])
		}
		spec.Target = parts[2]
	}
	return spec, nil
}

// CanonicalQuery returns the canonical text of the criteria of a conditional
// create on typ, its uniqueness key: the type, then the parameters sorted by
// name, each one's values sorted (and the ORed values within each), with
// empty values, repeats and result parameters (_count, _sort, ...) left out.
// "identifier=a|1&family=x" and "family=x&identifier=a|1" give the same text.
func CanonicalQuery(typ string, params url.Values) string {
	var b strings.Builder
	b.WriteString(typ)
	sep := byte('?')
	for _, key := range sortedKeys(params) {
		name, _, _ := strings.Cut(key, ":")
		if _, ok := resultParams[name]; ok {
			continue
		}
		for _, v := range canonicalValues(params[key]) {
			b.WriteByte(sep)
			b.WriteString(url.QueryEscape(key) + "=" + url.QueryEscape(v))
			sep = '&'
		}
	}
	return b.String()
}

// canonicalValues sorts values, and the comma-separated parts of each,
// without empty parts or repeats.
func canonicalValues(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		parts := slices.DeleteFunc(fhir.SplitEscaped(v, ','), func(s string) bool { return s == "" })
		if len(parts) > 0 {
			slices.Sort(parts)
			out = append(out, strings.Join(slices.Compact(parts), ","))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sortedKeys returns the parameter names of params in order.
func sortedKeys(params url.Values) []string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
