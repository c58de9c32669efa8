package seed

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Code systems the resources use.
const (
	v2IdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203"
	v2Degree         = "http://terminology.hl7.org/CodeSystem/v2-0360"
	v3RoleCode       = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	physicalType     = "http://terminology.hl7.org/CodeSystem/location-physical-type"
)

// newResource starts a resource as system sys holds it. meta.source is
// the record's URL in its system ("<system>/<Type>/<local id>"), which is
// how idem's identity translation knows the source and the local id.
func newResource(typ string, sys int, id string) map[string]any {
	return map[string]any{
		"resourceType": typ,
		"id":           id,
		"meta":         map[string]any{"source": SourceURL(systems[sys].URI, typ, id)},
	}
}

// SourceURL is a record's meta.source: its URL in its source system.
func SourceURL(system, typ, localID string) string {
	return system + "/" + typ + "/" + localID
}

func coding(system, code, display string) map[string]any {
	return map[string]any{"system": system, "code": code, "display": display}
}

func concept(system, code, display string) map[string]any {
	return map[string]any{"coding": []any{coding(system, code, display)}}
}

// identifier builds an Identifier with a v2-0203 type code ("MR", "SS",
// "NPI"...); typeCode "" leaves the type out.
func identifier(typeCode, display, system, value string) map[string]any {
	id := map[string]any{"system": system, "value": value}
	if typeCode != "" {
		id["type"] = concept(v2IdentifierType, typeCode, display)
	}
	return id
}

// humanName builds a HumanName; empty parts are left out, since FHIR
// forbids empty strings.
func humanName(use, family string, given []string, prefix, suffix string) map[string]any {
	n := map[string]any{"use": use}
	if family != "" {
		n["family"] = family
	}
	var gs []any
	for _, g := range given {
		if g != "" {
			gs = append(gs, g)
		}
	}
	if gs != nil {
		n["given"] = gs
	}
	if prefix != "" {
		n["prefix"] = []any{prefix}
	}
	if suffix != "" {
		n["suffix"] = []any{suffix}
	}
	return n
}

func contactPoint(system, value, use string) map[string]any {
	return map[string]any{"system": system, "value": value, "use": use}
}

// addressJSON builds an Address, upper-cased for systems that print so.
func (a *addrDraft) json(use string, upper bool) map[string]any {
	if a.cityOnly {
		return map[string]any{"use": use, "city": caseFor(a.city, upper), "state": a.state}
	}
	line := make([]any, len(a.line))
	for i, l := range a.line {
		line[i] = caseFor(l, upper)
	}
	out := map[string]any{
		"use": use, "type": "physical", "line": line, "city": caseFor(a.city, upper),
		"state": a.state, "postalCode": formatZIP(a.zip, a.plus4, a.zipFormat),
	}
	if a.country {
		out["country"] = "US"
	}
	return out
}

func caseFor(s string, upper bool) string {
	if upper {
		return strings.ToUpper(s)
	}
	return s
}

// decimal renders a coordinate with six decimals (about 10 cm) as exact
// JSON text, so the output never depends on float formatting.
func decimal(f float64) json.Number { return json.Number(strconv.FormatFloat(f, 'f', 6, 64)) }

// resource turns the draft into the Patient system sys holds.
func (d *patientDraft) resource(sys int, id string) map[string]any {
	res := newResource(TypePatient, sys, id)
	idType, idDisplay := "MR", "Medical record number"
	if sys == sysLab {
		idType, idDisplay = "PI", "Patient internal identifier"
	}
	local := identifier(idType, idDisplay, systems[sys].Identifiers[TypePatient], id)
	local["use"] = "usual"
	ids := []any{local}
	if d.ssn != "" {
		ids = append(ids, identifier("SS", "Social Security number", SystemSSN, d.ssn))
	}
	res["identifier"] = ids
	res["active"] = true
	res["name"] = d.nameJSON()
	if tel := d.telecom(); tel != nil {
		res["telecom"] = tel
	}
	if d.gender != "" {
		res["gender"] = d.gender
	}
	if d.birth != "" {
		res["birthDate"] = d.birth
	}
	if d.addr.has() {
		addrs := []any{d.addr.json("home", d.legacy)}
		if d.oldAddr.line != nil {
			addrs = append(addrs, d.oldAddr.json("old", d.legacy))
		}
		res["address"] = addrs
	}
	d.multipleBirth(sys, res)
	if d.gp != nil {
		res["generalPractitioner"] = []any{practitionerRef(d.gp)}
	}
	return res
}

// nameJSON builds the official name and, where the record keeps it, the
// maiden name.
func (d *patientDraft) nameJSON() []any {
	given, middle, family, maiden, suffix := d.given, d.middle, d.family, d.maiden, d.suffix
	if d.legacy {
		given, _ = asciiFold(given)
		middle, _ = asciiFold(middle)
		family, _ = asciiFold(family)
		maiden, _ = asciiFold(maiden)
	}
	if d.legacy {
		given, middle, family, maiden, suffix = strings.ToUpper(given), strings.ToUpper(middle),
			strings.ToUpper(family), strings.ToUpper(maiden), strings.ToUpper(suffix)
	}
	names := []any{humanName("official", family, []string{given, middle}, "", suffix)}
	if maiden != "" {
		names = append(names, humanName("maiden", maiden, []string{given, middle}, "", ""))
	}
	return names
}

func (d *patientDraft) telecom() []any {
	var tel []any
	for _, p := range d.phones {
		tel = append(tel, contactPoint("phone", formatPhone(p.digits, p.format), p.use))
	}
	if d.email != "" {
		tel = append(tel, contactPoint("email", d.email, "home"))
	}
	return tel
}

// multipleBirth records twins the way each system can: the hospital knows
// the birth order, the GP practice only that there was a multiple birth.
func (d *patientDraft) multipleBirth(sys int, res map[string]any) {
	switch {
	case d.twin == 0:
	case sys == sysEHR:
		res["multipleBirthInteger"] = d.twin
	case sys == sysGP:
		res["multipleBirthBoolean"] = true
	}
}

// practitionerRef references the patient's doctor by NPI, the identifier
// the GP practice knows (see logicalRef).
func practitionerRef(p *practitioner) map[string]any {
	return logicalRef(TypePractitioner, SystemNPI, p.npi, "Dr. "+p.given+" "+p.family)
}
