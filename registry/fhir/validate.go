package fhir

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const (
	maxIssues    = 100   // issues reported by ValidateResource
	maxCollected = 10000 // issues collected before sorting; bounds the work on hostile input
)

// Issue codes used by the validator (FHIR IssueType).
const (
	issueTypeStructure   = "structure"
	issueTypeValue       = "value"
	issueTypeRequired    = "required"
	issueTypeInvariant   = "invariant"
	issueTypeCodeInvalid = "code-invalid"
	issueTypeTooCostly   = "too-costly"
)

// ValidateResource checks res against the FHIR R4 definition of its resourceType and
// returns nil or an *Error whose Issues (all found, capped at 100) each name the element by
// FHIRPath-style expression: "Patient.birthDate", "Patient.name[1].given[0]",
// "Bundle.entry[2].resource.gender". The error is Malformed (a 400) if any issue is structural
// (unknown element, wrong JSON type, array where single value expected or vice versa,
// unknown/missing resourceType, null outside arrays); otherwise it is not (a 422), for
// value-level issues (bad primitive format, impossible date like 1990-02-30, code outside a
// required value set, missing required element, empty string/object/array, invariant).
//
// Patient, Practitioner, Location, Person, Linkage, AuditEvent, Bundle,
// Parameters and OperationOutcome are checked element by element; any other R4 resource
// type (at the top or nested) is only checked for a string resourceType,
// nulls and empty values. Primitive extensions are written with their JSON
// key, e.g. "Patient._birthDate.extension[0].url".
func ValidateResource(res map[string]any) error { return Limits{}.Validate(res) }

// ParseResource = DecodeJSON + (want != "" && resourceType != want → a Malformed *Error with a clear
// message, e.g. `resourceType "Practitioner" does not match the endpoint Patient`) + ValidateResource:
// Limits.ParseResource under the default limits.
func ParseResource(body []byte, want string) (map[string]any, error) {
	return Limits{}.ParseResource(body, want)
}

// schemaWalk walks one resource. path is the FHIRPath of the element being
// checked, grown and shrunk in place so that only issues cost a string.
type schemaWalk struct {
	path       []byte
	issues     []pathIssue
	structural bool
	local      []string // ids of the current resource's contained resources (ref-1)
	limits     Limits
}

type pathIssue struct {
	path, code, msg string
}

func (v *schemaWalk) add(code, msg string) {
	if code == issueTypeStructure {
		v.structural = true
	}
	if len(v.issues) < maxCollected {
		v.issues = append(v.issues, pathIssue{path: string(v.path), code: code, msg: msg})
	}
}

func (v *schemaWalk) structure(format string, args ...any) {
	v.add(issueTypeStructure, fmt.Sprintf(format, args...))
}

func (v *schemaWalk) push(key string) int {
	n := len(v.path)
	v.path = append(append(v.path, '.'), key...)
	return n
}

func (v *schemaWalk) pushIndex(i int) int {
	n := len(v.path)
	v.path = append(strconv.AppendInt(append(v.path, '['), int64(i), 10), ']')
	return n
}

func (v *schemaWalk) pop(n int) { v.path = v.path[:n] }

// invariant reports a broken constraint on the element key below the current one ("" for itself).
func (v *schemaWalk) invariant(key, id, msg string) {
	n := len(v.path)
	if key != "" {
		n = v.push(key)
	}
	v.add(issueTypeInvariant, id+": "+msg)
	v.pop(n)
}

func (v *schemaWalk) root(res map[string]any) {
	rt, problem := resourceTypeOf(res)
	if problem != "" {
		v.structure("%s", problem)
		return
	}
	v.path = append(v.path, rt...)
	v.resource(res, rt, false)
}

// nested checks a resource inside another (contained, entry.resource, ...).
func (v *schemaWalk) nested(m map[string]any, contained bool) {
	rt, problem := resourceTypeOf(m)
	if problem != "" {
		n := v.push("resourceType")
		v.structure("%s", problem)
		v.pop(n)
		return
	}
	v.resource(m, rt, contained)
}

// resourceTypeOf returns the resourceType of m, or what is wrong with it.
func resourceTypeOf(m map[string]any) (rt, problem string) {
	rt, ok := m["resourceType"].(string)
	switch {
	case m["resourceType"] == nil:
		return "", "missing resourceType"
	case !ok:
		return "", "resourceType must be a string"
	case !r4Types[rt]:
		return "", fmt.Sprintf("unknown resource type %s", quoteShort(rt))
	}
	return rt, ""
}

func (v *schemaWalk) resource(m map[string]any, rt string, contained bool) {
	t := resourceDefs[rt]
	if t == nil {
		v.opaque(m)
		return
	}
	if contained {
		v.object(m, t)
		return
	}
	saved := v.local
	v.local = containedIDs(m)
	v.object(m, t)
	v.local = saved
}

func containedIDs(m map[string]any) []string {
	list, _ := m["contained"].([]any)
	var ids []string
	for _, c := range list {
		if cm, ok := c.(map[string]any); ok {
			if id, ok := cm["id"].(string); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// object checks the members of obj against type t, then t's required
// elements and invariantTable.
func (v *schemaWalk) object(obj map[string]any, t *schemaType) {
	if len(obj) == 0 {
		v.add(issueTypeValue, "empty object (ele-1: an element must have a value or children)")
		return
	}
	var seen, conflicted uint64
	for key, val := range obj {
		f, ok := t.fields[key]
		if !ok {
			n := v.push(key)
			v.structure("unknown element %q in %s", key, t.name)
			v.pop(n)
			continue
		}
		if f.elem == nil { // resourceType, checked by the caller
			continue
		}
		bit := uint64(1) << f.elem.idx
		if f.elem.choice && seen&bit != 0 && conflicted&bit == 0 && v.choiceConflict(obj, f.elem) {
			conflicted |= bit
		}
		seen |= bit
		n := v.push(key)
		if f.ext {
			v.primitiveExt(obj, val, f)
		} else {
			v.element(obj, val, f)
		}
		v.pop(n)
	}
	v.missing(t, t.required&^seen)
	for _, inv := range t.inv {
		inv(v, obj)
	}
}

// choiceConflict reports a choice element with values of more than one
// type (deceasedBoolean and deceasedDateTime). It is called when a second
// key of the element turns up, which may also be the "_name" of the first.
func (v *schemaWalk) choiceConflict(obj map[string]any, e *schemaElem) bool {
	var keys []string
	for _, t := range e.types {
		key := e.name + strings.ToUpper(t.name[:1]) + t.name[1:]
		if _, ok := obj[key]; ok {
			keys = append(keys, key)
		} else if _, ok := obj["_"+key]; ok {
			keys = append(keys, "_"+key)
		}
	}
	if len(keys) < 2 {
		return false
	}
	n := v.push(e.name)
	v.add(issueTypeValue, fmt.Sprintf("more than one value for the choice element %s: %s",
		e.describe(), strings.Join(keys, ", ")))
	v.pop(n)
	return true
}

// missing reports the required elements whose bits are set in mask.
func (v *schemaWalk) missing(t *schemaType, mask uint64) {
	for i := 0; mask != 0; i, mask = i+1, mask>>1 {
		if mask&1 != 0 {
			n := v.push(t.elems[i].describe())
			v.add(issueTypeRequired, fmt.Sprintf("missing required element %s", t.elems[i].describe()))
			v.pop(n)
		}
	}
}

// element checks the value of a (non-"_") key against its cardinality.
func (v *schemaWalk) element(obj map[string]any, val any, f schemaField) {
	arr, isArr := val.([]any)
	switch {
	case !f.elem.many && isArr:
		v.structure("array where a single value is expected")
	case !f.elem.many:
		v.single(val, f)
	case !isArr:
		v.structure("expected an array (%s repeats), got %s", f.elem.name, jsonTypeName(val))
	case len(arr) == 0:
		v.add(issueTypeValue, "empty array")
	case v.tooMany(f.elem.name, len(arr)):
	default:
		for i, item := range arr {
			n := v.pushIndex(i)
			if item != nil {
				v.single(item, f)
			} else if !alignedExt(obj, f, i) {
				v.structure("null (allowed only where %s has an extension at the same index)", f.pair)
			}
			v.pop(n)
		}
	}
}

// alignedExt reports whether the "_name" array of a repeating primitive
// has a non-null entry at index i.
func alignedExt(obj map[string]any, f schemaField, i int) bool {
	ext, _ := obj[f.pair].([]any)
	return f.typ.primitive() && i < len(ext) && ext[i] != nil
}

// single checks one value of type f.typ.
func (v *schemaWalk) single(val any, f schemaField) {
	t := f.typ
	if val == nil {
		v.structure("null value (null is only allowed in arrays aligned with primitive extensions)")
		return
	}
	if t.primitive() {
		v.primitive(val, f)
		return
	}
	m, ok := val.(map[string]any)
	switch {
	case !ok:
		v.structure("expected a JSON object (%s), got %s", t.name, jsonTypeName(val))
	case t.kind == kindResource:
		v.nested(m, f.elem.name == "contained")
	case t.kind == kindOpaque:
		v.opaque(m)
	default:
		v.object(m, t)
	}
}

func (v *schemaWalk) primitive(val any, f schemaField) {
	if msg, structural := checkPrimitive(f.typ.kind, val); msg != "" {
		if structural {
			v.add(issueTypeStructure, msg)
		} else {
			v.add(issueTypeValue, msg)
		}
		return
	}
	if codes := f.elem.codes; codes != nil && !slices.Contains(codes, val.(string)) {
		v.add(issueTypeCodeInvalid, fmt.Sprintf("code %s is not in the required value set %s (%s)",
			quoteShort(val.(string)), f.elem.binding, strings.Join(codes, " | ")))
	}
}

// primitiveExt checks a "_name" key: the id and extensions of a primitive,
// or for a repeating primitive an array aligned with the values.
func (v *schemaWalk) primitiveExt(obj map[string]any, val any, f schemaField) {
	if !f.elem.many {
		v.extObject(val)
		return
	}
	arr, ok := val.([]any)
	switch {
	case !ok:
		v.structure("expected an array aligned with %s, got %s", f.pair, jsonTypeName(val))
		return
	case len(arr) == 0:
		v.add(issueTypeValue, "empty array")
		return
	case v.tooMany(f.pair, len(arr)):
		return
	}
	values, isArr := obj[f.pair].([]any)
	if isArr && len(values) != len(arr) {
		v.structure("%d entries, but %s has %d: the arrays must align", len(arr), f.pair, len(values))
	}
	for i, item := range arr {
		n := v.pushIndex(i)
		if item != nil {
			v.extObject(item)
		} else if i >= len(values) || values[i] == nil {
			v.structure("null here and in %s: one of them must have content", f.pair)
		}
		v.pop(n)
	}
}

func (v *schemaWalk) extObject(val any) {
	if m, ok := val.(map[string]any); ok {
		v.object(m, elementType)
		return
	}
	v.structure("expected a JSON object (id and extension of a primitive), got %s", jsonTypeName(val))
}

// opaque checks content we have no definition for: no nulls (except in
// arrays aligned with a "_name" array) and no empty strings, arrays or objects.
func (v *schemaWalk) opaque(m map[string]any) {
	if len(m) == 0 {
		v.add(issueTypeValue, "empty object (ele-1: an element must have a value or children)")
		return
	}
	for k, val := range m {
		n := v.push(k)
		v.opaqueValue(m, k, val)
		v.pop(n)
	}
}

func (v *schemaWalk) opaqueValue(parent map[string]any, key string, val any) {
	switch x := val.(type) {
	case nil:
		v.structure("null value (null is only allowed in arrays aligned with primitive extensions)")
	case string:
		if x == "" {
			v.add(issueTypeValue, "empty string (a value must have content)")
		}
	case map[string]any:
		v.opaque(x)
	case []any:
		if len(x) == 0 {
			v.add(issueTypeValue, "empty array")
		}
		if v.tooMany(key, len(x)) {
			return
		}
		for i, item := range x {
			n := v.pushIndex(i)
			if item != nil || !hasPair(parent, key) {
				v.opaqueValue(parent, key, item)
			}
			v.pop(n)
		}
	}
}

// hasPair reports whether parent has the partner of key ("_given" for "given" and back).
func hasPair(parent map[string]any, key string) bool {
	if p, ok := strings.CutPrefix(key, "_"); ok {
		return parent[p] != nil
	}
	return parent["_"+key] != nil
}

// result builds the error: issues sorted by path (array indexes numerically).
func (v *schemaWalk) result() error {
	if len(v.issues) == 0 {
		return nil
	}
	sort.SliceStable(v.issues, func(i, j int) bool { return pathLess(v.issues[i].path, v.issues[j].path) })
	issues := make([]Issue, min(len(v.issues), maxIssues))
	for i := range issues {
		p := v.issues[i]
		issues[i] = Issue{Severity: SeverityError, Code: p.code, Diagnostics: p.msg}
		if p.path != "" {
			issues[i].Diagnostics = p.path + ": " + p.msg
			issues[i].Expression = []string{p.path}
		}
	}
	msg := issues[0].Diagnostics
	if len(v.issues) > 1 {
		msg += fmt.Sprintf(" (and %d more issues)", len(v.issues)-1)
	}
	return &Error{Malformed: v.structural, Message: msg, Issues: issues}
}

// pathLess orders paths as text, except that runs of digits compare as numbers.
func pathLess(a, b string) bool {
	for a != "" && b != "" {
		if isASCIIDigit(a[0]) && isASCIIDigit(b[0]) {
			na, nb := skipDigits([]byte(a), 0), skipDigits([]byte(b), 0)
			if na != nb {
				return na < nb
			}
			if a[:na] != b[:nb] {
				return a[:na] < b[:nb]
			}
			a, b = a[na:], b[nb:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}
