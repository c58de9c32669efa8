package web

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"idem/registry"
	"idem/registry/fhir"
)

// The parameters of the MDM operations: read from the query string (GET)
// or a Parameters body (POST) alike, each checked by name and type, with a
// 400 naming the parameter for anything off; and the Parameters answers.

// parameters builds a Parameters resource.
func parameters(params []any) map[string]any {
	out := map[string]any{"resourceType": "Parameters"}
	if len(params) > 0 {
		out["parameter"] = params
	}
	return out
}

// param is one parameter (or part) with a value of the type valueX names.
func param(name, valueX string, v any) map[string]any {
	return map[string]any{"name": name, valueX: v}
}

func part(name string, parts []any) map[string]any {
	return map[string]any{"name": name, "part": parts}
}

// appendString appends a valueString part unless v is empty (FHIR has no
// empty strings).
func appendString(parts []any, name, v string) []any {
	if v == "" {
		return parts
	}
	return append(parts, param(name, "valueString", v))
}

// refSet holds "Type/id" or bare ids ("" type: any) given to an operation.
type refSet map[[2]string]bool

func (r refSet) has(typ, id string) bool { return r[[2]string{typ, id}] || r[[2]string{"", id}] }

func ids(r refSet) []string {
	var out []string
	for k := range r {
		out = append(out, k[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// opParams holds an operation's input: the query string, and for a POST
// the parameters of its Parameters body, every value as text.
type opParams struct {
	op   string
	vals map[string][]string
}

// operationParams reads the input of operation op, refusing any parameter
// not in allowed.
func operationParams(c *fiber.Ctx, op string, allowed ...string) (*opParams, error) {
	q, err := queryValues(c)
	if err != nil {
		return nil, err
	}
	p := &opParams{op: op, vals: withoutControl(q)}
	if c.Method() == fiber.MethodPost && len(c.Body()) > 0 {
		if err := p.readBody(c.Body()); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(p.vals))
	for name := range p.vals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			expect := "none"
			if len(allowed) > 0 {
				expect = strings.Join(allowed, ", ")
			}
			return nil, registry.Invalid(registry.EInvalid, "not-supported", name, "unknown %s parameter %q (expected: %s)", op, name, expect)
		}
	}
	return p, nil
}

// readBody adds the parameters of a Parameters body. A value may be of any
// primitive type, or a Reference for the resource ids.
func (p *opParams) readBody(body []byte) error {
	in, err := fhir.ParseResource(body, "Parameters")
	if err != nil {
		return err
	}
	params, _ := in["parameter"].([]any)
	for i, e := range params {
		pm, _ := e.(map[string]any)
		name, _ := pm["name"].(string)
		v, ok := paramText(pm)
		if !ok {
			return registry.Invalid(registry.EInvalid, "invalid", "Parameters.parameter["+strconv.Itoa(i)+"]",
				"%s parameter %q needs a primitive value (valueString, valueInteger, valueBoolean, …)", p.op, name)
		}
		p.vals[name] = append(p.vals[name], v)
	}
	return nil
}

func paramText(pm map[string]any) (string, bool) {
	for k, v := range pm {
		if !strings.HasPrefix(k, "value") {
			continue
		}
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		case bool:
			return strconv.FormatBool(x), true
		case map[string]any:
			ref, ok := x["reference"].(string)
			return ref, ok && k == "valueReference"
		}
	}
	return "", false
}

func (p *opParams) invalid(name, format string, args ...any) error {
	return registry.Invalid(registry.EInvalid, "invalid", name, format, args...)
}

func (p *opParams) missing(name string) error {
	return registry.Invalid(registry.EInvalid, "required", name, "%s needs parameter %s", p.op, name)
}

// one returns the value of a parameter given at most once ("" if absent).
func (p *opParams) one(name string) (string, error) {
	vs := p.vals[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vs[0]), nil
	}
	return "", p.invalid(name, "%s parameter %s is given %d times: at most once", p.op, name, len(vs))
}

func (p *opParams) required(name string) (string, error) {
	v, err := p.one(name)
	if err == nil && v == "" {
		err = p.missing(name)
	}
	return v, err
}

// list returns every value of a repeatable parameter; commas separate
// values too.
func (p *opParams) list(name string) []string {
	var out []string
	for _, v := range p.vals[name] {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// integer returns a whole-number parameter from lo to hi.
func (p *opParams) integer(name string, def, lo, hi int) (int, error) {
	v, err := p.one(name)
	if err != nil || v == "" {
		return def, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, p.invalid(name, "invalid value %q of %s: a whole number from %d to %d is needed", v, name, lo, hi)
	}
	return n, nil
}

func (p *opParams) boolean(name string) (bool, error) {
	switch v, err := p.one(name); {
	case err != nil:
		return false, err
	case v == "" || v == "false":
		return false, nil
	case v == "true":
		return true, nil
	default:
		return false, p.invalid(name, "invalid value %q of %s: true or false is needed", v, name)
	}
}

// choice returns a parameter that must be one of want ("" if absent).
func (p *opParams) choice(name string, want ...string) (string, error) {
	v, err := p.one(name)
	if err != nil || v == "" || slices.Contains(want, v) {
		return v, err
	}
	return "", p.invalid(name, "invalid value %q of %s: want %s", v, name, strings.Join(want, ", "))
}

// choices returns a repeatable parameter whose values must be in want.
func (p *opParams) choices(name string, want ...string) ([]string, error) {
	vs := p.list(name)
	for _, v := range vs {
		if !slices.Contains(want, v) {
			return nil, p.invalid(name, "invalid value %q of %s: want %s", v, name, strings.Join(want, ", "))
		}
	}
	return vs, nil
}

// ref returns a parameter naming a resource as "Type/id" (Type one of
// types) or a bare id.
func (p *opParams) ref(name string, types ...string) (string, string, error) {
	v, err := p.one(name)
	if err != nil || v == "" {
		return "", "", err
	}
	return p.splitRef(name, v, types)
}

func (p *opParams) splitRef(name, v string, types []string) (string, string, error) {
	if v != "" && !strings.Contains(v, "/") {
		return "", v, nil // a bare id
	}
	r, err := registry.ParseRef(v)
	if err != nil || !slices.Contains(types, r.Type) {
		return "", "", p.invalid(name, "invalid value %q of %s: want Type/id with Type one of %s, or an id", v, name, strings.Join(types, ", "))
	}
	return r.Type, r.ID, nil
}

// refs returns every resource a repeatable parameter names.
func (p *opParams) refs(name string, types ...string) (refSet, error) {
	out := refSet{}
	for _, v := range p.list(name) {
		t, id, err := p.splitRef(name, v, types)
		if err != nil {
			return nil, err
		}
		out[[2]string{t, id}] = true
	}
	return out, nil
}

// sortByScore reads _sort: score (best first, either sign, HAPI's myScore
// too) or creation (newest first, the default).
func (p *opParams) sortByScore() (bool, error) {
	v, err := p.one("_sort")
	switch strings.TrimPrefix(v, "-") {
	case "score", "myScore":
		return true, err
	case "", "created", "myCreatedDate":
		return false, err
	}
	return false, p.invalid("_sort", "invalid value %q of _sort: want -score (best first) or -myCreatedDate (newest first)", v)
}

// scores reads minScore and maxScore, probabilities from 0 to 1, as a
// LinkFilter's bounds (whose MaxScore 0 means none).
func (p *opParams) scores() (lo, hi float64, err error) {
	if lo, err = p.probability("minScore"); err != nil {
		return 0, 0, err
	}
	if hi, err = p.probability("maxScore"); err != nil {
		return 0, 0, err
	}
	switch {
	case hi < 0:
		hi = 0
	case hi == 0:
		hi = math.SmallestNonzeroFloat64 // only unscored links
	case lo > hi:
		return 0, 0, p.invalid("minScore", "minScore %g is above maxScore %g", lo, hi)
	}
	return max(lo, 0), hi, nil
}

// probability reads a decimal from 0 to 1; -1 when absent.
func (p *opParams) probability(name string) (float64, error) {
	v, err := p.one(name)
	if err != nil || v == "" {
		return -1, err
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, p.invalid(name, "invalid value %q of %s: a decimal from 0 to 1 is needed", v, name)
	}
	return f, nil
}

// before reads a date or instant; links created before its start qualify.
func (p *opParams) before(name string) (time.Time, error) {
	v, err := p.one(name)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	lo, _, err := fhir.DateRange(strings.ReplaceAll(v, " ", "+")) // an unencoded "+" of a zone arrives as a space
	if err != nil {
		return time.Time{}, p.invalid(name, "invalid value %q of %s: %s", v, name, registry.ErrorMessage(err))
	}
	return time.UnixMilli(lo).UTC(), nil
}
