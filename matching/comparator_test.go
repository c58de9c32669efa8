package matching

import (
	"testing"

	"idem/registry"
)

// level compares one field of two resources under the default rules and
// returns the evidence.
func level(t *testing.T, typ, field string, a, b map[string]any) Evidence {
	t.Helper()
	m := NewModel(DefaultRules())
	res := m.Explain(Extract(typ, a), Extract(typ, b), nil)
	if res == nil {
		t.Fatalf("no match for %s", typ)
	}
	return fieldOf(res, field)
}

func TestNameLevels(t *testing.T) {
	tests := []struct {
		field, a, b, want string
	}{
		{"given", "William", "william", "exact"},
		{"given", "William", "Bill", "close"},     // nickname
		{"given", "Peggy", "Margaret", "close"},   // nickname
		{"given", "Martha", "Marhta", "close"},    // Jaro-Winkler 0.961
		{"given", "Mary Ann", "Maryann", "close"}, // spacing
		{"given", "Catherine", "Kathryn", "similar"},
		{"given", "J", "John", "similar"}, // initial
		{"given", "John", "Mary", "different"},
		{"given", "Nicoel", "Nikki", "similar"}, // a nickname of Nicole, mistyped
		{"given", "Bec", "Rebecxa", "similar"},
		{"given", "", "Mary", "missing"},
		{"family", "Smith", "Smyth", "close"},    // one typo (Jaro-Winkler 0.893)
		{"family", "Smith", "Smythe", "similar"}, // same phonetic codes
		{"given", "Jon", "Jan", "similar"},       // too short for one typo to be close; same phonetic code
		{"family", "Harrington", "Harringtin", "close"},
		{"family", "MacDonald", "McDonald", "close"}, // 0.967, textbook value
		{"family", "Schmidt", "Smith", "similar"},    // phonetic
		{"family", "Garcia Lopez", "García", "exact"},
		{"family", "van der Berg", "van Dyke", "similar"}, // the particle is no exact agreement; "van d" is Jaro-Winkler similar
		{"family", "Smith", "Jones", "different"},
	}
	for _, tt := range tests {
		name := map[string]string{"given": "", "family": ""}
		name[tt.field] = tt.a
		a := patient(name["given"], name["family"], "")
		name[tt.field] = tt.b
		b := patient(name["given"], name["family"], "")
		if got := level(t, "Patient", tt.field, a, b); got.Level != tt.want {
			t.Errorf("%s %q ~ %q = %s (%s), want %s", tt.field, tt.a, tt.b, got.Level, got.Rule, tt.want)
		}
	}
}

func TestNameSwap(t *testing.T) {
	a, b := patient("Clarke", "Bertie", ""), patient("Bertie", "Clarke", "")
	for _, field := range []string{"given", "family"} {
		e := level(t, "Patient", field, a, b)
		if e.Level != "close" || e.Rule != "given and family swapped" {
			t.Errorf("%s: %+v, want close by swap", field, e)
		}
	}
	if e := level(t, "Patient", "given", a, b); e.Left != "Clarke" || e.Right != "Clarke" {
		t.Errorf("swap evidence shows %q ~ %q, want the crosswise values", e.Left, e.Right)
	}
}

func TestDateLevels(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"1970-03-12", "1970-03-12", "exact"},
		{"1970-03-12", "1970-12-03", "close"}, // day and month swapped
		{"1970-03-12", "1970-03-13", "close"}, // one digit
		{"1970-03-12", "1970-03-21", "close"}, // adjacent digits swapped
		{"1970-03-12", "1971-03-12", "close"}, // one digit of the year
		{"1970-03-12", "1969-03-12", "similar"},
		{"1970", "1970-03-12", "similar"}, // partial, agreeing
		{"1970-03", "1970-03-12", "similar"},
		{"1970-04", "1970-03-12", "different"},
		{"1970-03-12", "1985-07-30", "different"},
		{"1970-02-30", "1970-02-03", "missing"}, // impossible date: none
		{"", "1970-03-12", "missing"},
		{"1970-03-12T10:00:00Z", "1970-03-12", "exact"},
	}
	for _, tt := range tests {
		got := level(t, "Patient", "birthDate", patient("", "x", tt.a), patient("", "x", tt.b))
		if got.Level != tt.want {
			t.Errorf("birthDate %q ~ %q = %s (%s), want %s", tt.a, tt.b, got.Level, got.Rule, tt.want)
		}
	}
}

func TestAddressLevels(t *testing.T) {
	tests := []struct {
		field      string
		a, b, want string
	}{
		{"postalCode", "2602", "2602", "exact"},
		{"postalCode", "2602", "2620", "close"},     // transposition
		{"postalCode", "90210", "90299", "similar"}, // same first three
		{"postalCode", "SW1A 1AA", "sw1a1aa", "exact"},
		{"postalCode", "SW1A 1AA", "SW1A 2BB", "similar"},
		{"postalCode", "2602", "4810", "different"},
		{"line", "12 Smith Rd", "12 smith road", "exact"},
		{"line", "12 Smith Road", "12 Smyth Road", "close"},
		{"line", "12 Smith Road", "12 Smiht Road", "similar"},
		{"line", "12 Smith Road Kingston", "12 Smith Road", "similar"},
		{"line", "12 Smith Road", "7 Oak Avenue", "different"},
		{"city", "St James", "st jmaes", "close"},
		{"city", "Canberra", "Sydney", "different"},
	}
	for _, tt := range tests {
		addr := func(v string) map[string]any {
			parts := map[string]string{"line": "1 a street", "city": "x", "postalCode": "", "state": ""}
			parts[tt.field] = v
			return with(patient("", "x", ""), "address", address(parts["line"], parts["city"], parts["postalCode"], parts["state"]))
		}
		// Practitioners compare address parts one by one (Patients as one household)
		if got := level(t, registry.TypePractitioner, tt.field, addr(tt.a), addr(tt.b)); got.Level != tt.want {
			t.Errorf("%s %q ~ %q = %s (%s), want %s", tt.field, tt.a, tt.b, got.Level, got.Rule, tt.want)
		}
	}
}

func TestContactLevels(t *testing.T) {
	tests := []struct {
		system, a, b, field, want string
	}{
		{"phone", "+61 2 9876 5432", "02 9876 5432", "phone", "exact"}, // last nine digits
		{"phone", "0298765432", "0298765423", "phone", "close"},
		{"phone", "0298765432", "0411222333", "phone", "different"},
		{"phone", "123", "0298765432", "phone", "missing"}, // too short to be a number
		{"email", "Ann.Lee@example.com", "ann.lee@example.com", "email", "exact"},
		{"email", "ann.lee@example.com", "ann.le@example.com", "email", "close"},
		{"email", "ann.lee@example.com", "ann.lee@other.org", "email", "similar"},
		{"email", "ann.lee@example.com", "bob@example.com", "email", "different"},
	}
	for _, tt := range tests {
		a := with(patient("", "x", ""), "telecom", telecom(tt.system, tt.a))
		b := with(patient("", "x", ""), "telecom", telecom(tt.system, tt.b))
		if got := level(t, registry.TypePractitioner, tt.field, a, b); got.Level != tt.want {
			t.Errorf("%s %q ~ %q = %s (%s), want %s", tt.field, tt.a, tt.b, got.Level, got.Rule, tt.want)
		}
	}
}

func TestIdentifierLevels(t *testing.T) {
	const ssn, mrn = "http://hl7.org/fhir/sid/us-ssn", "urn:oid:1.2.3.4"
	tests := []struct {
		sysA, a, sysB, b, want string
	}{
		{ssn, "123-45-6789", ssn, "123456789", "exact"},
		{ssn, "123456789", ssn, "123456798", "close"},
		{ssn, "123456789", ssn, "987654321", "different"}, // national: strong disagreement
		{mrn, "MRN001", mrn, "MRN001", "exact"},
		{mrn, "MRN001", mrn, "MRN002", "missing"},       // local: says nothing
		{ssn, "123456789", mrn, "123456789", "missing"}, // other systems are not compared
	}
	for _, tt := range tests {
		a := with(patient("", "x", ""), "identifier", ident(tt.sysA, tt.a))
		b := with(patient("", "x", ""), "identifier", ident(tt.sysB, tt.b))
		if got := level(t, "Patient", "identifier", a, b); got.Level != tt.want {
			t.Errorf("%s|%s ~ %s|%s = %s (%s), want %s", tt.sysA, tt.a, tt.sysB, tt.b, got.Level, got.Rule, tt.want)
		}
	}
}

func TestMultipleValuesBestLevel(t *testing.T) {
	a := map[string]any{"name": []any{
		map[string]any{"family": "Jones", "given": []any{"Ann"}},
		map[string]any{"family": "Smith", "use": "maiden"},
	}}
	b := patient("Ann", "Smith", "")
	e := level(t, "Patient", "family", a, b)
	if e.Level != "exact" || e.Left != "Smith" {
		t.Errorf("family with a maiden name: %+v, want exact on Smith", e)
	}
}

func TestLocationLevels(t *testing.T) {
	loc := func(name string, lat, lon float64, typ, org string) map[string]any {
		return map[string]any{
			"resourceType": "Location", "name": name,
			"position":             map[string]any{"latitude": lat, "longitude": lon},
			"type":                 []any{map[string]any{"coding": []any{map[string]any{"system": "s", "code": typ}}}},
			"managingOrganization": map[string]any{"reference": org},
		}
	}
	a := loc("St Mary's Hospital", 51.5171, -0.1738, "HOSP", "Organization/1")
	tests := []struct {
		field string
		b     map[string]any
		want  string
	}{
		{"name", loc("St Marys Hospital", 0, 0, "", ""), "exact"},
		{"name", loc("Saint Mary's Hospital", 0, 0, "", ""), "exact"},
		{"name", loc("ST. MARY'S HOSP. INC", 0, 0, "", ""), "exact"},
		{"name", loc("St Marys Med Ctr", 0, 0, "", ""), "similar"},
		{"name", loc("Royal Free Hospital", 0, 0, "", ""), "different"},
		{"position", loc("", 51.5172, -0.1739, "", ""), "exact"},     // ~13 m
		{"position", loc("", 51.5180, -0.1750, "", ""), "close"},     // ~125 m
		{"position", loc("", 51.5250, -0.1738, "", ""), "similar"},   // ~880 m
		{"position", loc("", 51.5560, -0.1780, "", ""), "different"}, // ~4 km
		{"type", loc("", 0, 0, "HOSP", ""), "exact"},
		{"type", loc("", 0, 0, "PHARM", ""), "different"},
		{"organization", loc("", 0, 0, "", "Organization/1"), "exact"},
	}
	for _, tt := range tests {
		if got := level(t, registry.TypeLocation, tt.field, a, tt.b); got.Level != tt.want {
			t.Errorf("%s: %q ~ %q = %s (%s), want %s", tt.field, got.Left, got.Right, got.Level, got.Rule, tt.want)
		}
	}
}

func TestHaversine(t *testing.T) {
	// Paris (48.8566, 2.3522) to London (51.5074, -0.1278): about 343.5 km.
	d := metres(newPoint(48.8566, 2.3522), newPoint(51.5074, -0.1278))
	if d < 343000 || d > 344200 {
		t.Errorf("Paris-London = %.0f m, want about 343,500", d)
	}
}
