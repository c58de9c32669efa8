package registry

import (
	"idem/registry/fhir"
)

// Token systems the registry puts on coded values that carry none in the
// resource, so that "gender=http://hl7.org/fhir/administrative-gender|male"
// matches as well as "gender=male".
const (
	systemGender         = "http://hl7.org/fhir/administrative-gender"
	systemLocationStatus = "http://hl7.org/fhir/location-status"
	systemAuditAction    = "http://hl7.org/fhir/audit-event-action"
	systemAuditOutcome   = "http://hl7.org/fhir/audit-event-outcome"
)

// Extract returns the search-index rows and sort keys of res, a decoded
// resource of type typ (numbers as json.Number). Every element group is
// indexed whether or not a search parameter uses it yet, so that adding a
// parameter needs no re-index. Extraction never fails: values that are not
// valid (validation reports them elsewhere) are skipped, as are identical
// rows. An unknown type gives an empty Index.
func Extract(typ string, res map[string]any) *Index {
	base, ok := typeBase[typ]
	if !ok {
		return &Index{}
	}
	x := extractor{base: base, ix: &Index{
		Strings: make([]StringKey, 0, 16),
		Tokens:  make([]TokenKey, 0, 8),
	}}
	x.identifiers(res["identifier"])
	x.telecoms(res["telecom"])
	x.addresses(res["address"])
	switch typ {
	case TypeLocation:
		x.location(res)
	case TypeLinkage:
		x.linkageItems(res["item"])
	case TypePerson:
		x.humanNames(res["name"])
		x.personLinks(res["link"])
	case TypeAuditEvent:
		x.auditEvent(res)
	default: // Patient, Practitioner
		x.humanNames(res["name"])
	}
	x.token(codeSource, "", AsString(AsObject(res["meta"])["source"]))
	x.token(codeGender, systemGender, AsString(res["gender"]))
	x.active(res["active"])
	x.birthDate(AsString(res["birthDate"]))
	return x.ix
}

// extractor appends the rows of one resource; base is its type's code offset.
type extractor struct {
	base int16
	ix   *Index
}

func (x *extractor) identifiers(v any) {
	for _, e := range AsList(v) {
		id := AsObject(e)
		x.token(codeIdentifier, AsString(id["system"]), AsString(id["value"]))
	}
}

// humanNames indexes every HumanName and takes the sort keys from the first
// official name, else the first name.
func (x *extractor) humanNames(v any) {
	var family, given string
	sorted, official := false, false
	for _, e := range AsList(v) {
		n := AsObject(e)
		f, g := x.humanName(n)
		if !sorted || !official && AsString(n["use"]) == "official" {
			family, given = f, g
			sorted, official = true, AsString(n["use"]) == "official"
		}
	}
	x.ix.Sort.Family, x.ix.Sort.Given = family, given
	x.ix.Sort.Name = joinSpace(family, given)
}

// humanName indexes one HumanName and returns its folded family and first given.
func (x *extractor) humanName(n map[string]any) (family, given string) {
	family = x.addString(codeFamily, AsString(n["family"]))
	for i, g := range AsList(n["given"]) {
		if fg := x.addString(codeGiven, AsString(g)); i == 0 {
			given = fg
		}
	}
	x.addStrings(codeNameOther, n["prefix"])
	x.addStrings(codeNameOther, n["suffix"])
	x.addString(codeNameOther, AsString(n["text"]))
	return family, given
}

// addresses indexes an Address list, or the single Address of a Location.
func (x *extractor) addresses(v any) {
	if a, ok := v.(map[string]any); ok {
		x.address(a)
		return
	}
	for _, e := range AsList(v) {
		x.address(AsObject(e))
	}
}

func (x *extractor) address(a map[string]any) {
	x.addStrings(codeAddressLine, a["line"])
	x.addString(codeAddressLine, AsString(a["text"]))
	x.addString(codeAddressCity, AsString(a["city"]))
	x.addString(codeAddressPost, AsString(a["postalCode"]))
	x.addString(codeAddressState, AsString(a["state"]))
	x.addString(codeAddressCtry, AsString(a["country"]))
}

// telecoms indexes ContactPoint values; token search on a ContactPoint
// matches its value only, so the system is always "".
func (x *extractor) telecoms(v any) {
	for _, e := range AsList(v) {
		cp := AsObject(e)
		code := int16(codeTelecomOther)
		switch AsString(cp["system"]) {
		case "phone":
			code = codePhone
		case "email":
			code = codeEmail
		}
		x.token(code, "", AsString(cp["value"]))
	}
}

func (x *extractor) active(v any) {
	if b, ok := v.(bool); ok {
		x.token(codeActive, "", boolText(b))
	}
}

func (x *extractor) birthDate(s string) {
	if lo, hi, err := fhir.DateRange(s); err == nil {
		x.date(codeBirthdate, lo, hi)
		x.ix.Sort.Birthdate = s
	}
}

// location indexes the Location-only elements; its name is also its sort name.
func (x *extractor) location(res map[string]any) {
	x.ix.Sort.Name = x.addString(codeLocName, AsString(res["name"]))
	x.addStrings(codeLocName, res["alias"])
	for _, cc := range AsList(res["type"]) {
		for _, c := range AsList(AsObject(cc)["coding"]) {
			coding := AsObject(c)
			x.token(codeLocType, AsString(coding["system"]), AsString(coding["code"]))
		}
	}
	x.token(codeLocStatus, systemLocationStatus, AsString(res["status"]))
	x.ref(codeLocPartOf, res["partOf"])
}

func (x *extractor) personLinks(v any) {
	for _, e := range AsList(v) {
		x.ref(codePersonLink, AsObject(e)["target"])
	}
}

// linkageItems indexes every item's resource, and the "source" items again
// under their own code.
func (x *extractor) linkageItems(v any) {
	for _, e := range AsList(v) {
		item := AsObject(e)
		x.ref(codeLinkageItem, item["resource"])
		if AsString(item["type"]) == "source" {
			x.ref(codeLinkageSrc, item["resource"])
		}
	}
}

// auditEvent indexes the AuditEvent elements idem searches: codings,
// recorded, the agents' identifiers and names, and the entities.
func (x *extractor) auditEvent(res map[string]any) {
	x.coding(codeAuditType, res["type"])
	for _, c := range AsList(res["subtype"]) {
		x.coding(codeAuditSubtype, c)
	}
	x.token(codeAuditAction, systemAuditAction, AsString(res["action"]))
	x.token(codeAuditOutcome, systemAuditOutcome, AsString(res["outcome"]))
	if lo, hi, err := fhir.DateRange(AsString(res["recorded"])); err == nil {
		x.date(codeAuditDate, lo, hi)
	}
	for _, e := range AsList(res["agent"]) {
		agent := AsObject(e)
		who := AsObject(agent["who"])
		id := AsObject(who["identifier"])
		x.token(codeAuditAgent, AsString(id["system"]), AsString(id["value"]))
		x.addString(codeAuditName, AsString(agent["name"]))
		x.addString(codeAuditName, AsString(who["display"]))
	}
	for _, e := range AsList(res["entity"]) {
		x.ref(codeAuditEntity, AsObject(e)["what"])
	}
}

// coding adds a token row for a Coding.
func (x *extractor) coding(local int16, v any) {
	c := AsObject(v)
	x.token(local, AsString(c["system"]), AsString(c["code"]))
}

// addString adds a string row unless s is blank or already indexed under local, and
// returns its folded form.
func (x *extractor) addString(local int16, s string) string {
	if s == "" {
		return ""
	}
	p := x.base + local
	for _, k := range x.ix.Strings {
		if k.Param == p && k.Exact == s {
			return k.Norm
		}
	}
	norm := fhir.Fold(s)
	if norm != "" {
		x.ix.Strings = append(x.ix.Strings, StringKey{Param: p, Norm: norm, Exact: s})
	}
	return norm
}

// addStrings adds a string row for each string of a list.
func (x *extractor) addStrings(local int16, v any) {
	for _, s := range AsList(v) {
		x.addString(local, AsString(s))
	}
}

// token adds a token row unless code is empty or the row exists.
func (x *extractor) token(local int16, system, code string) {
	if code == "" {
		return
	}
	k := TokenKey{Param: x.base + local, System: system, Code: code}
	for _, t := range x.ix.Tokens {
		if t == k {
			return
		}
	}
	x.ix.Tokens = append(x.ix.Tokens, k)
}

func (x *extractor) date(local int16, lo, hi int64) {
	k := DateKey{Param: x.base + local, Lo: lo, Hi: hi}
	for _, d := range x.ix.Dates {
		if d == k {
			return
		}
	}
	x.ix.Dates = append(x.ix.Dates, k)
}

// ref adds a reference row for a Reference element that points to a
// resource on this server.
func (x *extractor) ref(local int16, v any) {
	target, ok := fhir.LiteralRef(AsString(AsObject(v)["reference"]))
	if !ok {
		return
	}
	k := RefKey{Param: x.base + local, Target: target}
	for _, r := range x.ix.Refs {
		if r == k {
			return
		}
	}
	x.ix.Refs = append(x.ix.Refs, k)
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// joinSpace joins the non-empty parts of a sort name with one space.
func joinSpace(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// AsString, AsList and AsObject read decoded JSON, giving the zero value for
// a missing element or one of another JSON type.
func AsString(v any) string {
	s, _ := v.(string)
	return s
}

func AsList(v any) []any {
	l, _ := v.([]any)
	return l
}

func AsObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
