package matching

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestQualifierConflict(t *testing.T) {
	tests := []struct {
		a, b string
		want rule
		cut  bool
	}{
		// departments and units of one site differ in one word
		{"St Mary's Hospital Cardiology", "Saint Marys Hospital Oncology", rQualifiersDiffer, false},
		{"Mercy Hospital Ward 3", "Mercy Hospital Ward 4", rQualifiersDiffer, false},
		{"Mercy Hospital Building A", "Mercy Hospital Building B", rQualifiersDiffer, false},
		{"Brockton Genearl Hospital Laboratory", "Brockton Gen. Hospital Emergency Dept", rQualifiersDiffer, false},
		{"Saint Jude Hospital Labo", "Saint Jude Hospital Emergency Department", rQualifiersDiffer, false},
		{"Riverside Laboratory", "Riverside Imaging Center", rQualifiersDiffer, false},
		// a site and a part of it
		{"Springfield General Hospital", "Springfield General Hospital Laboratory", rPartOfSite, false},
		{"Newton General Hospital Imaging Center", "NEWTON GENERAL HOSP", rPartOfSite, false},
		// one site written differently: no conflict
		{"St. Mary's Hosp.", "Saint Marys Hospital", rNone, false},
		{"Boston Clinical Laboratories", "Boston Clinical Labs", rNone, false},
		{"Elmwood Mejorial Hospital Laboratory", "Elmwood Memorial Hospitak Laboratory", rNone, false},
		{"Waltham Radiology", "Waltham Radiolgoy", rNone, false},
		{"Mercy Hospital Ward 3", "MERCY HOSP WARD 3", rNone, false},
		{"Valley Imaging Center", "Valley Imaging", rNone, false}, // "center" says no more than the kind
		{"Riverside Family Practice", "Riverside Primary Care", rNone, false},
		// misspelt qualifiers are the same word; plural is singular
		{"Brookside Pedaifrics", "Brookside Pediatrics", rNone, false},
		{"Rodriguez Memorial Hospital Caridoloyg", "RODRIGUEZ MEM. HOSPITAL CARDIOLOGY", rNone, false},
		{"Boston Clinical Laboratories", "Boston Clinical Laboratory", rNone, false},
		// a qualifier added to a name that names no site with parts may be
		// the site's own kind
		{"Riverside Diagnostic", "Riverside Diagnostic Laboratory", rNone, false},
		// names that share only words for a kind of place name two places
		{"King's Pharmacy", "Lewis's Pharmacy", rNoOwnWord, false},
		{"Northside Clinic", "Northshore Clinic", rNoOwnWord, false},
		{"Lawrence Community Health Center", "Andover Community Health Center", rNoOwnWord, false},
		{"Kings Pharmacy", "Kimgs Pharmacy", rNone, false}, // a typo in its own word
		// a typo in an abbreviation normalising did not write out
		{"Boston Clinical Laborstories", "Boston Clihical Kabs.", rNone, false},
		{"Meadowbrook Laboratory", "Meadowbrook Pab", rNone, false},
		{"Meadowbrook Laboratory", "Meadowbrook Ped", rQualifiersDiffer, false},       // pediatrics, written out
		{"Mercy Hospital Pediatrics", "Mercy Hospital Lsb", rQualifiersDiffer, false}, // a laboratory, mistyped
		{"Jones Fqm. Medicine", "Jones Famioy Medicine", rNone, false},
		// cut short by a system: it may be the hospital or any part of it
		{"Southgate Memorial Ho", "Southgate Memorial Hospital Ward 3", rNone, true},
		{"Meadowbrook Memorial H", "Meadowbrook Memorial Hospital Laboratory", rNone, true},
		{"Southgate Memorial Ho", "Southgate Memorial Hospital", rNone, true},
		{"Bayview Nursing an", "Bayview Nursing and Rehabilitation Center", rNone, true},
		{"Providence Communit", "Providence Commnuity Pharmacy", rNone, false},
		{"New Bedofrd Re", "Mew Bedford Regional Medical Center Pediatrics", rNone, false},
		{"Springfield General Hospital Ward 3", "Springfield General Hospital Wa", rNone, true},
	}
	for _, tt := range tests {
		for _, swap := range []bool{false, true} {
			a, b := NormalizeFacilityName(tt.a), NormalizeFacilityName(tt.b)
			if swap {
				a, b = b, a
			}
			got, cut := qualifierConflict(a, b)
			if got != tt.want || cut != tt.cut {
				t.Errorf("qualifierConflict(%q, %q) = %q, cut %v; want %q, cut %v", a, b, got, cut, tt.want, tt.cut)
			}
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"radiology", "fadiokogy", 2}, {"laboratory", "laboratory", 0}, {"cardiology", "oncology", 3},
		{"pediatrics", "pedaifrics", 2}, {"pediatrics", "pdeiattics", 2}, {"cardiology", "caridoloyg", 2},
		{"radiology", "cardiology", 2}, {"abc", "abcde", 2}, {"ab", "abcdef", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b, 2); got != tt.want {
			t.Errorf("editDistance(%q, %q, 2) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSameWord(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"laboratories", "laboratory", true}, {"clinics", "clinic", true}, {"hospital", "hosp", true},
		{"pediatrics", "pedaifrics", true}, {"imaging", "iamting", true}, {"urgent", "rugeng", true},
		{"radiology", "cardiology", false},  // two edits, two departments
		{"vradiology", "cardiology", false}, // closer to radiology
		{"periatrics", "pediatrics", false}, // as near geriatrics
		{"pediatrisc", "pediatrics", true},  // as near pediatric: the same word
		{"3", "4", false}, {"a", "b", false}, {"ward", "wards", true},
	}
	for _, tt := range tests {
		if got := sameWord(tt.a, tt.b); got != tt.want {
			t.Errorf("sameWord(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := sameWord(tt.b, tt.a); got != tt.want {
			t.Errorf("sameWord(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

// campusSite is a Location on one hospital campus: 1 Main Street,
// Springfield, one position, one switchboard, one managing organisation.
func campusSite(name, typ string, extra ...any) map[string]any {
	res := with(site(name, "1 Main Street", "Springfield", 42.1015, -72.5898, "413-555-0100"),
		"managingOrganization", map[string]any{"identifier": map[string]any{"system": "http://example.org/org", "value": "ORG-1"}},
		"type", []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": typ}}}})
	return with(res, extra...)
}

// TestLocationErrorKinds checks, for each kind of error a location registry
// sees, a pair that must not be linked automatically and a pair that must,
// with the evidence that decides.
func TestLocationErrorKinds(t *testing.T) {
	m := NewModel(DefaultRules())
	npi := func(v string) []any { return ident("http://hl7.org/fhir/sid/us-npi", v) }
	parent := map[string]any{"identifier": map[string]any{"system": "http://example.org/facility", "value": "F-1"}}
	tests := []struct {
		name     string
		a, b     map[string]any
		certain  bool
		field    string // the field whose evidence is checked
		level    string // its level, when set
		rule     string // in its rule, when set
		maxW     float64
		checkMax bool // its weight must be at most maxW
	}{
		{"departments of one campus differ in their specialty",
			campusSite("Springfield General Hospital Cardiology", "CARD", "partOf", parent),
			campusSite("Springfield Gen. Hosp. Oncology", "ONCL", "partOf", parent),
			false, "name", "different", "qualifier", 0, false},
		{"two wards differ in their number",
			campusSite("Springfield General Hospital Ward 3", "HU", "partOf", parent),
			campusSite("Springfield General Hospital Ward 4", "HU", "partOf", parent),
			false, "name", "different", "qualifier", 0, false},
		{"a hospital and its laboratory, no partOf to tell",
			campusSite("Springfield General Hospital", "HOSP"),
			campusSite("Springfield General Hospital Laboratory", "HLAB"),
			false, "name", "different", "part of that site", 0, false},
		{"a ward's name cut short, on the hospital's switchboard",
			campusSite("Springfield General Hospital", "HOSP"),
			campusSite("Springfield General Ho", "HU"),
			false, "phone", "exact", "same household", 4, true},
		{"the same ward written differently",
			campusSite("Springfield General Hospital Ward 3", "HU"),
			campusSite("SPRINGFIELD GENERAL HOSP WARD 3", "HU"),
			true, "name", "exact", "", 0, false},
		{"the same hospital with St./Saint and Hosp./Hospital",
			campusSite("St. Mary's Hosp.", "HOSP"),
			campusSite("Saint Marys Hospital", "HOSP"),
			true, "name", "exact", "", 0, false},
		{"the same hospital with typos in its name",
			campusSite("Springfield Genearl Hospital", "HOSP"),
			campusSite("Springfield General Hospital", "HOSP"),
			true, "name", "close", "", 0, false},
		{"the position adds nothing to the same address",
			campusSite("Springfield General Hospital", "HOSP"),
			campusSite("Springfield General Hospital", "HOSP"),
			true, "position", "exact", "follows from", 0, true},
		{"same name in one town, other street, one geocoded point",
			site("Springfield Radiology", "12 Elm Street", "Springfield", 42.1015, -72.5898, "413-555-0101"),
			site("Springfield Radiology", "480 Oak Avenue", "Springfield", 42.1015, -72.5898, "413-555-0199"),
			false, "position", "exact", "follows from", 0, true},
		{"different NPIs at one address",
			with(campusSite("Springfield General Hospital", "HOSP"), "identifier", npi("1234567893")),
			with(campusSite("Springfield General Hospital", "HOSP"), "identifier", npi("1245319599")),
			false, "identifier", "different", "", 0, false},
		{"the same NPI under names written differently",
			with(site("Springfield General Hospital", "1 Main St", "Springfield", 0, 0, ""), "identifier", npi("1234567893")),
			with(site("Springfield Gen Hosp", "", "", 0, 0, ""), "identifier", npi("1234567893")),
			true, "identifier", "exact", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := m.Explain(Extract("Location", tt.a), Extract("Location", tt.b), nil)
			if got := x.Grade == "certain"; got != tt.certain {
				t.Errorf("grade %q (p %.4f), want certain %v; evidence %+v", x.Grade, x.Probability, tt.certain, x.Fields)
			}
			e := fieldOf(x, tt.field)
			if tt.level != "" && e.Level != tt.level {
				t.Errorf("%s level %q (%s), want %q", tt.field, e.Level, e.Rule, tt.level)
			}
			if tt.rule != "" && !strings.Contains(e.Rule, tt.rule) {
				t.Errorf("%s rule %q, want it to say %q", tt.field, e.Rule, tt.rule)
			}
			if tt.checkMax && e.Weight > tt.maxW {
				t.Errorf("%s weight %.2f, want at most %.2f", tt.field, e.Weight, tt.maxW)
			}
		})
	}
}

// TestPositionWithoutAddress: where one record has no address, the
// position is the only evidence of place and counts.
func TestPositionWithoutAddress(t *testing.T) {
	m := NewModel(DefaultRules())
	a := site("Springfield Radiology", "12 Elm Street", "Springfield", 42.1015, -72.5898, "")
	b := site("Springfield Radiology", "", "", 42.1015, -72.5898, "")
	e := fieldOf(m.Explain(Extract("Location", a), Extract("Location", b), nil), "position")
	if e.Level != "exact" || e.Weight <= 3 {
		t.Errorf("position %s weight %.2f (%s), want exact and counted", e.Level, e.Weight, e.Rule)
	}
}

func TestSupportsChecked(t *testing.T) {
	r := DefaultRules()
	for _, f := range r.Types["Location"].Fields {
		if f.Field == "position" {
			f.Supports = "nosuchfield"
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRules(b); err == nil || !strings.Contains(err.Error(), "supports") {
		t.Errorf("ParseRules with supports naming no field: %v, want an error naming supports", err)
	}
}

func TestLocationScoreDoesNotAllocate(t *testing.T) {
	m := NewModel(DefaultRules())
	pairs := [][2]map[string]any{
		{campusSite("Springfield General Hospital Cardiology", "CARD"), campusSite("Springfield Gen. Hosp. Oncology", "ONCL")},
		{campusSite("Springfield General Hospital", "HOSP"), campusSite("Springfield General Ho", "HU")},
		{campusSite("Bayview Nursing and Rehabilitation Center", "NCCF"), campusSite("Bayview Nursing an", "NCCF")},
		{campusSite("Brookside Pedaifrics", "PC"), campusSite("Boston Clinical Laboratories", "HLAB")},
	}
	for _, p := range pairs {
		a, b := Extract("Location", p[0]), Extract("Location", p[1])
		tf := NewFrequencyTable([]*Record{a, b})
		if n := testing.AllocsPerRun(100, func() { m.Score(a, b, tf) }); n != 0 {
			t.Errorf("Score(%q, %q) allocates %v times", p[0]["name"], p[1]["name"], n)
		}
	}
}

// TestMistypedQualifier: a hospital's department whose qualifier is
// mistyped is still a part of the hospital, not the hospital misspelt.
func TestMistypedQualifier(t *testing.T) {
	for _, y := range []string{"Elmwood Memorial Hospital Energency Department", "Elmwood Memorial Hospital Radiolgy"} {
		if r, _ := qualifierConflict(NormalizeFacilityName("Elmwood Memorial Hospital"), NormalizeFacilityName(y)); r != rPartOfSite {
			t.Errorf("%q: rule %v, want a part of the site", y, r)
		}
	}
	// An ordinary misspelt word is no qualifier.
	if r, _ := qualifierConflict(NormalizeFacilityName("Elmwood Memorial Hospital"), NormalizeFacilityName("Elmwod Memorial Hospital")); r != rNone {
		t.Errorf("a misspelt name word: rule %v, want none", r)
	}
}
