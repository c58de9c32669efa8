package fhir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The R4 invariants (constraints with severity error) that are cheap to
// check. Each runs after the elements of its object were checked, with the
// object's path current; it reads only members it needs.

type invariantFunc = func(*schemaWalk, map[string]any)

// invariantTable maps a type (or BackboneElement path) to its invariants.

var invariantTable = map[string][]invariantFunc{
	"Extension":            {ext1},
	"Reference":            {ref1},
	"ContactPoint":         {cpt2},
	"Period":               {per1},
	"Quantity":             {qty3},
	"SimpleQuantity":       {qty3},
	"Age":                  {qty3, age1},
	"Count":                {qty3, cnt3},
	"Distance":             {qty3, dis1},
	"Duration":             {qty3, drt1},
	"Range":                {rng2},
	"Ratio":                {rat1},
	"Attachment":           {att1},
	"Timing.repeat":        {timingRepeat},
	"Patient.contact":      {pat1},
	"Linkage":              {lnk1},
	"AuditEvent.entity":    {sev1},
	"Bundle":               {bundleInvariants},
	"Bundle.entry":         {bdl5, bdl8},
	"Parameters.parameter": {inv1},
}

func attachInvariants() {
	for name, fns := range invariantTable {
		schemaTypes[name].inv = append(schemaTypes[name].inv, fns...)
	}
	for _, t := range resourceDefs {
		if _, ok := t.fields["contained"]; ok {
			t.inv = append(t.inv, domContained)
		}
	}
}

// hasElem reports whether m has element name as a value or a primitive extension.
func hasElem(m map[string]any, name string) bool {
	if _, ok := m[name]; ok {
		return true
	}
	_, ok := m["_"+name]
	return ok
}

// hasValueX reports whether m has a value[x] member, by counting the
// members that are not; the others are value[x] or reported as unknown.
func hasValueX(m map[string]any, others ...string) bool {
	n := len(m)
	for _, k := range others {
		if _, ok := m[k]; ok {
			n--
		}
	}
	return n > 0
}

func ext1(v *schemaWalk, m map[string]any) {
	if _, ext := m["extension"]; ext == hasValueX(m, "id", "extension", "url") {
		v.invariant("", "ext-1", "an extension must have either nested extensions or a value[x], not both")
	}
}

// ref1: a local reference "#id" must name a contained resource.
func ref1(v *schemaWalk, m map[string]any) {
	ref, _ := m["reference"].(string)
	if len(ref) > 1 && ref[0] == '#' && !slices.Contains(v.local, ref[1:]) {
		v.invariant("reference", "ref-1", fmt.Sprintf("no contained resource has the id of the local reference %q", ref))
	}
}

func cpt2(v *schemaWalk, m map[string]any) {
	if hasElem(m, "value") && !hasElem(m, "system") {
		v.invariant("", "cpt-2", "a system is required if a value is provided")
	}
}

func per1(v *schemaWalk, m map[string]any) {
	start, ok1 := m["start"].(string)
	end, ok2 := m["end"].(string)
	if ok1 && ok2 && dateAfter(start, end) {
		v.invariant("", "per-1", "start is after end")
	}
}

// dateAfter reports whether dateTime a is certainly later than b: two full
// date-times are compared as instants, otherwise their common date precision.
func dateAfter(a, b string) bool {
	if len(a) > 10 && len(b) > 10 {
		ta, err1 := time.Parse(time.RFC3339Nano, a)
		tb, err2 := time.Parse(time.RFC3339Nano, b)
		return err1 == nil && err2 == nil && ta.After(tb)
	}
	n := min(len(a), len(b), 10)
	return a[:n] > b[:n]
}

const ucumSystem = "http://unitsofmeasure.org"

func qty3(v *schemaWalk, m map[string]any) {
	if hasElem(m, "code") && !hasElem(m, "system") {
		v.invariant("", "qty-3", "if a code for the unit is present, the system must also be present")
	}
}

// ucumRule checks "(code.exists() or value.empty()) and (system.empty() or system = %ucumSystem)".
func ucumRule(v *schemaWalk, m map[string]any, id string) bool {
	if sys, ok := m["system"].(string); ok && sys != ucumSystem || hasElem(m, "value") && !hasElem(m, "code") {
		v.invariant("", id, "a value needs a unit code, and the system must be UCUM")
		return false
	}
	return true
}

func age1(v *schemaWalk, m map[string]any) {
	if ucumRule(v, m, "age-1") && decimalValue(m["value"]) <= 0 && m["value"] != nil {
		v.invariant("value", "age-1", "an age must be positive")
	}
}

func cnt3(v *schemaWalk, m map[string]any) {
	if !ucumRule(v, m, "cnt-3") {
		return
	}
	code, _ := m["code"].(string)
	text, _ := numberText(m["value"])
	if code != "" && code != "1" || strings.ContainsAny(text, ".eE") {
		v.invariant("", "cnt-3", "a count must be a whole number with the unit code 1")
	}
}

func dis1(v *schemaWalk, m map[string]any) { ucumRule(v, m, "dis-1") }

func drt1(v *schemaWalk, m map[string]any) {
	if sys, _ := m["system"].(string); hasElem(m, "code") && (sys != ucumSystem || !hasElem(m, "value")) {
		v.invariant("", "drt-1", "a coded duration must have a value and use UCUM")
	}
}

// decimalValue returns a number member as float64 (0 when absent or not a number).
func decimalValue(x any) float64 {
	s, _ := numberText(x)
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func rng2(v *schemaWalk, m map[string]any) {
	low, ok1 := m["low"].(map[string]any)
	high, ok2 := m["high"].(map[string]any)
	if ok1 && ok2 && low["value"] != nil && high["value"] != nil && decimalValue(low["value"]) > decimalValue(high["value"]) {
		v.invariant("", "rng-2", "if both are present, low must not be higher than high")
	}
}

func rat1(v *schemaWalk, m map[string]any) {
	_, num := m["numerator"]
	_, den := m["denominator"]
	_, ext := m["extension"]
	if num != den || !num && !ext {
		v.invariant("", "rat-1", "numerator and denominator must both be present, or both absent with an extension")
	}
}

func att1(v *schemaWalk, m map[string]any) {
	if hasElem(m, "data") && !hasElem(m, "contentType") {
		v.invariant("", "att-1", "if the Attachment has data, it must have a contentType")
	}
}

// timingImplies are the tim-* rules of the form "a present → b present".
var timingImplies = []struct{ id, a, b string }{
	{"tim-1", "duration", "durationUnit"},
	{"tim-2", "period", "periodUnit"},
	{"tim-6", "periodMax", "period"},
	{"tim-7", "durationMax", "duration"},
	{"tim-8", "countMax", "count"},
	{"tim-9", "offset", "when"},
}

func timingRepeat(v *schemaWalk, m map[string]any) {
	for _, r := range timingImplies {
		if hasElem(m, r.a) && !hasElem(m, r.b) {
			v.invariant("", r.id, fmt.Sprintf("%s requires %s", r.a, r.b))
		}
	}
	for _, r := range [...]struct{ id, key string }{{"tim-4", "duration"}, {"tim-5", "period"}} {
		if m[r.key] != nil && decimalValue(m[r.key]) < 0 {
			v.invariant(r.key, r.id, r.key+" must not be negative")
		}
	}
	if hasElem(m, "timeOfDay") && hasElem(m, "when") {
		v.invariant("", "tim-10", "if there is a timeOfDay, there cannot be a when, or vice versa")
	}
}

func pat1(v *schemaWalk, m map[string]any) {
	if !hasElem(m, "name") && !hasElem(m, "telecom") && !hasElem(m, "address") && !hasElem(m, "organization") {
		v.invariant("", "pat-1", "a contact must have a name, telecom, address or organization")
	}
}

func lnk1(v *schemaWalk, m map[string]any) {
	if items, ok := m["item"].([]any); ok && len(items) == 1 {
		v.invariant("item", "lnk-1", "a Linkage must have at least two items")
	}
}

func sev1(v *schemaWalk, m map[string]any) {
	if hasElem(m, "name") && hasElem(m, "query") {
		v.invariant("", "sev-1", "an entity may have a name or a query, not both")
	}
}

func inv1(v *schemaWalk, m map[string]any) {
	value := hasValueX(m, "id", "extension", "modifierExtension", "name", "_name", "resource", "part")
	res, part := hasElem(m, "resource"), hasElem(m, "part")
	if part && (value || res) || !part && value == res {
		v.invariant("", "inv-1", "a parameter must have exactly one of value[x], resource or part")
	}
}

// domContained checks dom-2, dom-4 and dom-5 on each contained resource.
func domContained(v *schemaWalk, m map[string]any) {
	list, _ := m["contained"].([]any)
	for i, c := range list {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		n := v.push("contained")
		v.pushIndex(i)
		if _, ok := cm["contained"]; ok {
			v.invariant("contained", "dom-2", "a contained resource must not contain resources")
		}
		meta, _ := cm["meta"].(map[string]any)
		if hasElem(meta, "versionId") || hasElem(meta, "lastUpdated") {
			v.invariant("meta", "dom-4", "a contained resource must not have a meta.versionId or meta.lastUpdated")
		}
		if hasElem(meta, "security") {
			v.invariant("meta.security", "dom-5", "a contained resource must not have a security label")
		}
		v.pop(n)
	}
}
