package registry

import (
	"fmt"
	"slices"
)

// FHIR documents (R4 documents.html): a Bundle of type document whose
// first entry is the Composition. Bundle/$extract takes the shared
// entities out of one: every Patient, Practitioner and Location entry (the
// subject, the authors and attesters, the Locations its resources point
// to) is matched and linked as a record of the sending client (push.go);
// the other entries — the Composition itself, the custodian Organization,
// clinical resources — are not shared entities here and are reported
// skipped. Practitioners and Locations are written before Patients, so a
// Patient's generalPractitioner reaches the registry's Practitioner.

// Document is a parsed document Bundle.
type Document struct {
	Entries []*DocumentEntry // every entry, in the document's order
	Writes  []*PushWrite     // the shared entities, in the order they are written
}

// DocumentEntry is one entry of a document and what became of it.
type DocumentEntry struct {
	FullURL string
	Type    string
	Roles   []string   // subject, author, attester, custodian, encounter, ... as the Composition names it
	Skipped string     // why the entry was not written; "" when it was
	Write   *PushWrite // nil when skipped
}

// ParseDocument reads a validated Bundle as a document.
func ParseDocument(b map[string]any) (*Document, error) {
	if AsString(b["type"]) != "document" {
		return nil, Invalid(EInvalid, "invalid", "Bundle.type", "$extract takes a Bundle of type document (got %q)", AsString(b["type"]))
	}
	entries := AsList(b["entry"])
	var comp map[string]any
	if len(entries) > 0 {
		comp = AsObject(AsObject(entries[0])["resource"])
	}
	if AsString(comp["resourceType"]) != "Composition" {
		return nil, Invalid(EInvalid, "invalid", "Bundle.entry[0].resource", "a document's first entry must be its Composition")
	}
	roles := compositionRoles(entries, comp)
	d := &Document{}
	var later []*PushWrite // Patients, after the Practitioners and Locations they may refer to
	for i, raw := range entries {
		e := AsObject(raw)
		res := AsObject(e["resource"])
		de := &DocumentEntry{FullURL: AsString(e["fullUrl"]), Type: AsString(res["resourceType"]), Roles: roles[i]}
		d.Entries = append(d.Entries, de)
		switch de.Type {
		case "Composition":
			if i == 0 {
				de.Skipped = "the document's Composition is not kept"
				continue
			}
		case TypePatient, TypePractitioner, TypeLocation:
			method := "PUT"
			if AsString(res["id"]) == "" {
				method = "POST"
			}
			de.Write = &PushWrite{Path: fmt.Sprintf("Bundle.entry[%d].resource", i), Method: method, Type: de.Type, FullURL: de.FullURL, Resource: res}
			if de.Type == TypePatient {
				later = append(later, de.Write)
			} else {
				d.Writes = append(d.Writes, de.Write)
			}
			continue
		}
		if de.Skipped == "" {
			de.Skipped = fmt.Sprintf("%s is not a shared entity of this registry (Patient, Practitioner, Location)", orType(de.Type))
		}
	}
	d.Writes = append(d.Writes, later...)
	if len(d.Writes) == 0 {
		return nil, Invalid(EUnprocessable, "not-supported", "Bundle.entry", "the document holds no Patient, Practitioner or Location")
	}
	return d, nil
}

func orType(t string) string {
	if t == "" {
		return "an entry without a resource"
	}
	return t
}

// compositionRoles names, per entry index, the roles the Composition
// gives the entry: subject, author, attester, custodian, encounter, and
// the entries its sections list ("section").
func compositionRoles(entries []any, comp map[string]any) map[int][]string {
	roles := map[int][]string{}
	add := func(role string, ref any) {
		if i := findEntry(entries, AsString(AsObject(ref)["reference"])); i > 0 && !slices.Contains(roles[i], role) {
			roles[i] = append(roles[i], role)
		}
	}
	add("subject", comp["subject"])
	add("encounter", comp["encounter"])
	add("custodian", comp["custodian"])
	for _, a := range AsList(comp["author"]) {
		add("author", a)
	}
	for _, a := range AsList(comp["attester"]) {
		add("attester", AsObject(a)["party"])
	}
	var sections func(list []any)
	sections = func(list []any) {
		for _, s := range list {
			sec := AsObject(s)
			for _, e := range AsList(sec["entry"]) {
				add("section", e)
			}
			sections(AsList(sec["section"]))
		}
	}
	sections(AsList(comp["section"]))
	return roles
}

// Answer is the result of $extract as a Parameters resource: one "entry"
// per entry of the document, with its fullUrl, resource type, roles, the
// outcome (created, updated, skipped), the registry record and golden
// record it became, or why it was skipped.
func (d *Document) Answer() map[string]any {
	params := make([]any, 0, len(d.Entries))
	for _, de := range d.Entries {
		var parts []any
		if de.FullURL != "" {
			parts = append(parts, map[string]any{"name": "fullUrl", "valueUri": de.FullURL})
		}
		if de.Type != "" {
			parts = append(parts, map[string]any{"name": "resourceType", "valueCode": de.Type})
		}
		for _, r := range de.Roles {
			parts = append(parts, map[string]any{"name": "role", "valueCode": r})
		}
		if de.Write == nil {
			parts = append(parts, map[string]any{"name": "outcome", "valueCode": "skipped"},
				map[string]any{"name": "reason", "valueString": de.Skipped})
		} else {
			parts = append(parts, map[string]any{"name": "outcome", "valueCode": de.Write.PushResult()})
			if rec := de.Write.Record(); rec != "" {
				parts = append(parts, map[string]any{"name": "record", "valueReference": map[string]any{"reference": rec}})
			}
			if de.Write.Out != nil && de.Write.Out.Golden != "" {
				parts = append(parts, map[string]any{"name": "golden", "valueReference": map[string]any{"reference": de.Write.Out.Golden}})
			}
		}
		params = append(params, map[string]any{"name": "entry", "part": parts})
	}
	return map[string]any{"resourceType": "Parameters", "parameter": params}
}
