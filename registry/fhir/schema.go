package fhir

import "strings"

// The validator is driven by element tables written in the notation of the
// FHIR specification's element listings, one string per element:
//
//	"path type card [binding|attr]"
//
// path is the element path below the type ("contact.gender"); type is a FHIR
// type name, "a|b" for a choice element (path ends in "[x]"), "*" for every
// open type, "BackboneElement"/"Element" for an inline type whose elements
// follow with a longer path, "@Type.path" for a content reference, and
// "Resource" for a nested resource; card is "0..1", "1..1", "0..*" or "1..*";
// binding names a required value set in valueSets, and "attr" marks an
// element that JSON writes without a primitive extension (Element.id, Extension.url).

// schemaKind says how the validator checks a value of a type.
type schemaKind uint8

const (
	kindComplex  schemaKind = iota // object with an element table
	kindResource                   // any resource (contained, Bundle.entry.resource)
	kindOpaque                     // complex type we do not define: ele-1 checks only
	kindBoolean
	kindInteger
	kindPositiveInt
	kindUnsignedInt
	kindDecimal
	kindString
	kindMarkdown
	kindCode
	kindID
	kindURI
	kindURL
	kindCanonical
	kindOID
	kindUUID
	kindBase64Binary
	kindDate
	kindDateTime
	kindInstant
	kindTime
	kindXHTML
)

// primitiveKinds maps the FHIR primitive type names to their kinds.
var primitiveKinds = map[string]schemaKind{
	"boolean": kindBoolean, "integer": kindInteger, "positiveInt": kindPositiveInt,
	"unsignedInt": kindUnsignedInt, "decimal": kindDecimal, "string": kindString,
	"markdown": kindMarkdown, "code": kindCode, "id": kindID, "uri": kindURI,
	"url": kindURL, "canonical": kindCanonical, "oid": kindOID, "uuid": kindUUID,
	"base64Binary": kindBase64Binary, "date": kindDate, "dateTime": kindDateTime,
	"instant": kindInstant, "time": kindTime, "xhtml": kindXHTML,
}

// schemaType is a FHIR type: a primitive, a complex datatype, a
// BackboneElement ("Patient.contact") or a resource.
type schemaType struct {
	name     string
	kind     schemaKind
	elems    []*schemaElem
	fields   map[string]schemaField // JSON key → element
	required uint64                 // bit i set: elems[i] has min ≥ 1
	resource bool                   // accepts "resourceType"
	inv      []func(*schemaWalk, map[string]any)
}

func (t *schemaType) primitive() bool { return t.kind >= kindBoolean }

// schemaElem is one element definition.
type schemaElem struct {
	name    string        // without "[x]"
	types   []*schemaType // one, or several for a choice element
	choice  bool
	many    bool
	min     int
	attr    bool     // no "_name" primitive extension in JSON
	codes   []string // required binding, nil when none
	binding string   // value set name, for messages
	idx     int      // position in the owning type's elems
}

// schemaField is what one JSON key of an object means.
type schemaField struct {
	elem *schemaElem // nil for "resourceType"
	typ  *schemaType
	ext  bool   // the "_name" key carrying a primitive's id and extensions
	pair string // the partner key: "_name" for a value key, "name" for "_name"
}

// tableSpec is one type's element table.
type tableSpec struct {
	name  string
	base  string // "DomainResource", "Resource", "Element", "BackboneElement" or ""
	elems []string
}

// baseElems are the inherited elements each base contributes.
var baseElems = map[string][]string{
	"Resource": {"id id 0..1", "meta Meta 0..1", "implicitRules uri 0..1", "language code 0..1"},
	"DomainResource": {"id id 0..1", "meta Meta 0..1", "implicitRules uri 0..1", "language code 0..1",
		"text Narrative 0..1", "contained Resource 0..*", "extension Extension 0..*", "modifierExtension Extension 0..*"},
	"Element":         {"id string 0..1 attr", "extension Extension 0..*"},
	"BackboneElement": {"id string 0..1 attr", "extension Extension 0..*", "modifierExtension Extension 0..*"},
}

// openTypes are the types of Extension.value[x] and Parameters.parameter.value[x].
var openTypes = strings.Fields(`base64Binary boolean canonical code date dateTime decimal id instant
	integer markdown oid positiveInt string time unsignedInt uri url uuid Address Age Annotation
	Attachment CodeableConcept Coding ContactPoint Count Distance Duration HumanName Identifier Money
	Period Quantity Range Ratio Reference SampledData Signature Timing ContactDetail Contributor
	DataRequirement Expression ParameterDefinition RelatedArtifact TriggerDefinition UsageContext
	Dosage Meta`)

// opaqueTypes are the open types we accept without an element table.
var opaqueTypes = strings.Fields(`SampledData ContactDetail Contributor DataRequirement Expression
	ParameterDefinition RelatedArtifact TriggerDefinition UsageContext Dosage`)

// Built by init from the tables: every named type, the resources we define,
// and the interned strings of DecodeJSON.
var (
	schemaTypes  = map[string]*schemaType{}
	resourceDefs = map[string]*schemaType{}
	elementType  *schemaType           // Element: the "_name" object of a primitive
	jsonKeys     = map[string]string{} // element names, for DecodeJSON's keys
	jsonValues   = map[string]any{}    // codes, pre-boxed for DecodeJSON's values
	r4Types      = map[string]bool{}   // every R4 resource type name
)

func init() {
	for _, n := range strings.Fields(r4ResourceNames) {
		r4Types[n] = true
	}
	for name, k := range primitiveKinds {
		schemaTypes[name] = &schemaType{name: name, kind: k}
	}
	for _, n := range opaqueTypes {
		schemaTypes[n] = &schemaType{name: n, kind: kindOpaque}
	}
	schemaTypes["Resource"] = &schemaType{name: "Resource", kind: kindResource}
	tables := append(append([]tableSpec{}, datatypeTables...), resourceTables...)
	for _, t := range tables {
		schemaTypes[t.name] = &schemaType{name: t.name, resource: strings.HasSuffix(t.base, "Resource")}
	}
	for _, t := range tables {
		buildType(schemaTypes[t.name], append(append([]string{}, baseElems[t.base]...), t.elems...))
		if schemaTypes[t.name].resource {
			resourceDefs[t.name] = schemaTypes[t.name]
		}
	}
	elementType = schemaTypes["Element"]
	attachInvariants()
	internStrings()
}

// buildType parses a table into t, creating inline types for backbone elements.
func buildType(t *schemaType, specs []string) {
	for _, spec := range specs {
		f := strings.Fields(spec)
		if len(f) < 3 {
			panic("fhir: bad element spec " + spec)
		}
		owner, name := t, f[0]
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			owner, name = schemaTypes[t.name+"."+name[:i]], name[i+1:]
		}
		owner.add(newElem(owner.name+"."+name, name, f[1:]))
	}
	finishType(t)
}

// newElem builds one element; path is its full path, used to name inline types.
func newElem(path, name string, f []string) *schemaElem {
	e := &schemaElem{name: strings.TrimSuffix(name, "[x]"), choice: strings.HasSuffix(name, "[x]")}
	e.min, e.many = parseCard(f[1])
	if len(f) > 2 && f[2] == "attr" {
		e.attr = true
	} else if len(f) > 2 {
		e.binding, e.codes = f[2], valueSets[f[2]]
		if e.codes == nil {
			panic("fhir: unknown value set " + f[2])
		}
	}
	e.types = elemTypes(f[0], path)
	return e
}

func parseCard(card string) (minimum int, many bool) {
	switch card {
	case "0..1":
		return 0, false
	case "1..1":
		return 1, false
	case "0..*":
		return 0, true
	case "1..*":
		return 1, true
	}
	panic("fhir: bad cardinality " + card)
}

// elemTypes resolves the type column of a spec.
func elemTypes(col, path string) []*schemaType {
	switch {
	case col == "*":
		col = strings.Join(openTypes, "|")
	case col == "BackboneElement" || col == "Element":
		inline := &schemaType{name: path}
		schemaTypes[path] = inline
		for _, s := range baseElems[col] {
			f := strings.Fields(s)
			inline.add(newElem(path+"."+f[0], f[0], f[1:]))
		}
		return []*schemaType{inline}
	case strings.HasPrefix(col, "@"):
		col = col[1:]
	}
	var out []*schemaType
	for _, n := range strings.Split(col, "|") {
		t := schemaTypes[n]
		if t == nil {
			panic("fhir: unknown type " + n + " at " + path)
		}
		out = append(out, t)
	}
	return out
}

func (t *schemaType) add(e *schemaElem) {
	e.idx = len(t.elems)
	if e.idx >= 64 {
		panic("fhir: more than 64 elements in " + t.name)
	}
	if e.min > 0 {
		t.required |= 1 << e.idx
	}
	t.elems = append(t.elems, e)
}

// finishType builds the JSON key tables of t and of its inline types.
func finishType(t *schemaType) {
	t.fields = make(map[string]schemaField, 2*len(t.elems)+1)
	if t.resource {
		t.fields["resourceType"] = schemaField{}
	}
	for _, e := range t.elems {
		for _, typ := range e.types {
			key := e.name
			if e.choice {
				key += strings.ToUpper(typ.name[:1]) + typ.name[1:]
			}
			t.fields[key] = schemaField{elem: e, typ: typ, pair: "_" + key}
			if typ.primitive() && !e.attr {
				t.fields["_"+key] = schemaField{elem: e, typ: typ, ext: true, pair: key}
			}
			if typ.fields == nil && typ.kind == kindComplex && strings.Contains(typ.name, ".") {
				finishType(typ)
			}
		}
	}
}

// internStrings fills jsonKeys with every element name and bound code.
func internStrings() {
	for _, t := range schemaTypes {
		for k := range t.fields {
			jsonKeys[k] = k
		}
	}
	for _, codes := range valueSets {
		for _, c := range codes {
			jsonValues[c] = c
		}
	}
	for n := range r4Types {
		jsonValues[n] = n
	}
}

// describe names an element for messages.
func (e *schemaElem) describe() string {
	if e.choice {
		return e.name + "[x]"
	}
	return e.name
}
