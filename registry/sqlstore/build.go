package sqlstore

import (
	"strings"
	"unicode/utf8"

	"idem/registry"
)

// builder turns search clauses into a WHERE condition over resources r.
type builder struct {
	typ   string
	conds []string
	args  []any
}

func newBuilder(typ string) *builder {
	return &builder{typ: typ, conds: []string{"r.type = ?", "r.deleted = ?"}, args: []any{typ, false}}
}

func (b *builder) sql() string { return strings.Join(b.conds, " AND ") }

func (b *builder) add(cond string, args ...any) {
	b.conds = append(b.conds, cond)
	b.args = append(b.args, args...)
}

// where adds the clauses. The clause likely to match fewest rows drives the
// lookup ("r.pk IN (index range)"); the others are checked per candidate
// with correlated EXISTS over the (rid, param) index.
func (b *builder) where(clauses []registry.Clause) error {
	drive := driver(clauses)
	if drive >= 0 {
		// With an index lookup to drive the query, the type test must not
		// be usable as an index: SQLite would otherwise walk every resource
		// of the type and probe the lookup's result for each.
		b.conds[0] = "r.type || '' = ?"
	}
	for i := range clauses {
		if err := b.clause(&clauses[i], i == drive); err != nil {
			return err
		}
	}
	return nil
}

// driver picks the index of the most selective positive clause, or -1.
func driver(clauses []registry.Clause) int {
	best, bestRank := -1, 0
	for i, c := range clauses {
		if r := rank(&c); r > bestRank {
			best, bestRank = i, r
		}
	}
	return best
}

func rank(c *registry.Clause) int {
	if c.Param.Column != "" || c.Modifier == "not" || c.Modifier == "missing" || c.Modifier == "contains" {
		return 0
	}
	switch c.Param.Kind {
	case registry.KindToken, registry.KindURI:
		return 50
	case registry.KindReference:
		return 45
	case registry.KindDate:
		if len(c.Values) == 1 && c.Values[0].Prefix == "eq" {
			return 40
		}
		return 5
	case registry.KindString:
		if c.Modifier == "exact" {
			return 42
		}
		n := 0
		for _, v := range c.Values {
			n = max(n, utf8.RuneCountInString(v.Norm))
		}
		return min(10+4*n, 39)
	}
	return 1
}

func (b *builder) clause(c *registry.Clause, drive bool) error {
	if c.Param.Column != "" {
		return b.column(c)
	}
	table, params := indexTable(c.Param.Kind), inList(len(c.Param.Codes))
	args := make([]any, 0, len(c.Param.Codes)+4*len(c.Values))
	for _, code := range c.Param.Codes {
		args = append(args, code)
	}
	if c.Modifier == "missing" {
		neg := "NOT "
		if len(c.Values) > 0 && !c.Values[0].Missing {
			neg = ""
		}
		b.add(neg+"EXISTS (SELECT 1 FROM "+table+" i WHERE i.rid = r.pk AND i.param IN "+params+")", args...)
		return nil
	}
	var ors []string
	for _, v := range c.Values {
		cond, vargs, err := valueCond(c.Param.Kind, c.Modifier, &v)
		if err != nil {
			return err
		}
		ors = append(ors, cond)
		args = append(args, vargs...)
	}
	match := " i.param IN " + params + " AND (" + strings.Join(ors, " OR ") + ")"
	switch {
	case c.Modifier == "not":
		b.add("NOT EXISTS (SELECT 1 FROM "+table+" i WHERE i.rid = r.pk AND"+match+")", args...)
	case drive:
		b.add("r.pk IN (SELECT i.rid FROM "+table+" i WHERE"+match+")", args...)
	default:
		b.add("EXISTS (SELECT 1 FROM "+table+" i WHERE i.rid = r.pk AND"+match+")", args...)
	}
	return nil
}

func indexTable(k registry.ParamKind) string {
	switch k {
	case registry.KindString:
		return "idx_string"
	case registry.KindToken, registry.KindURI:
		return "idx_token"
	case registry.KindDate:
		return "idx_date"
	default:
		return "idx_ref"
	}
}

func inList(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

func valueCond(kind registry.ParamKind, modifier string, v *registry.Value) (string, []any, error) {
	switch kind {
	case registry.KindString:
		return stringCond(modifier, v)
	case registry.KindToken, registry.KindURI:
		return tokenCond(v)
	case registry.KindDate:
		return dateCond("i.lo", "i.hi", v.Prefix, v.Lo, v.Hi)
	default:
		return "i.target = ?", []any{v.Target}, nil
	}
}

func stringCond(modifier string, v *registry.Value) (string, []any, error) {
	switch modifier {
	case "exact":
		return "(i.norm = ? AND i.exact = ?)", []any{v.Norm, v.Exact}, nil
	case "contains":
		return `i.norm LIKE ? ESCAPE '\'`, []any{"%" + likeEscape(v.Norm) + "%"}, nil
	case "":
		return "(i.norm >= ? AND i.norm < ?)", []any{v.Norm, v.Norm + string(utf8.MaxRune)}, nil
	}
	return "", nil, registry.Errorf(registry.EInvalid, "modifier :%s is not supported on string parameters", modifier)
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func tokenCond(v *registry.Value) (string, []any, error) {
	switch {
	case !v.HasSystem:
		return "i.code = ?", []any{v.Code}, nil
	case v.Code == "":
		return "i.system = ?", []any{v.System}, nil
	default:
		return "(i.code = ? AND i.system = ?)", []any{v.Code, v.System}, nil
	}
}

// dateCond compares a stored range [lo, hi) with the search range [vlo, vhi)
// per the FHIR prefix semantics (search.html#prefix). Where the condition
// implies a bound on lo that it does not state (lo < hi), the bound is added,
// so the (param, lo, ...) index scans a closed range.
func dateCond(lo, hi, prefix string, vlo, vhi int64) (string, []any, error) {
	switch prefix {
	case "", "eq":
		return "(" + lo + " >= ? AND " + lo + " < ? AND " + hi + " <= ?)", []any{vlo, vhi, vhi}, nil
	case "ne":
		return "NOT (" + lo + " >= ? AND " + hi + " <= ?)", []any{vlo, vhi}, nil
	case "gt":
		return hi + " > ?", []any{vhi}, nil
	case "lt":
		return lo + " < ?", []any{vlo}, nil
	case "ge":
		return hi + " > ?", []any{vlo}, nil
	case "le":
		return lo + " < ?", []any{vhi}, nil
	case "sa":
		return lo + " >= ?", []any{vhi}, nil
	case "eb":
		return "(" + lo + " < ? AND " + hi + " <= ?)", []any{vlo, vlo}, nil
	}
	return "", nil, registry.Errorf(registry.EInvalid, "date prefix %q is not supported", prefix)
}

// column handles _id and _lastUpdated, which search resource-table columns.
func (b *builder) column(c *registry.Clause) error {
	if c.Modifier != "" {
		return registry.Errorf(registry.EInvalid, "modifier :%s is not supported on %s", c.Modifier, c.Param.Name)
	}
	var ors []string
	var args []any
	for _, v := range c.Values {
		if c.Param.Column == "id" {
			ors = append(ors, "r.id = ?")
			args = append(args, v.Code)
			continue
		}
		// updated is one instant in µs: the range [u, u+1).
		cond, vargs, err := dateCond("r.updated", "(r.updated + 1)", v.Prefix, v.Lo*1000, v.Hi*1000)
		if err != nil {
			return err
		}
		ors = append(ors, cond)
		args = append(args, vargs...)
	}
	b.add("("+strings.Join(ors, " OR ")+")", args...)
	return nil
}
