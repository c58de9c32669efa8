package matching

import (
	"math"
	"testing"
)

// home returns a Patient with a name, a birth date and an address; phone
// and mobile are added when not blank.
func home(given, family, birthDate, line, city, postalCode, phone, mobile string) map[string]any {
	p := patient(given, family, birthDate)
	if line != "" || city != "" || postalCode != "" {
		p["address"] = address(line, city, postalCode, "")
	}
	var tel []any
	if phone != "" {
		tel = append(tel, map[string]any{"system": "phone", "value": phone, "use": "home"})
	}
	if mobile != "" {
		tel = append(tel, map[string]any{"system": "phone", "value": mobile, "use": "mobile"})
	}
	if tel != nil {
		p["telecom"] = tel
	}
	return p
}

func TestHouseholdLevels(t *testing.T) {
	type addr struct{ line, city, postalCode, phone string }
	tests := []struct {
		name string
		a, b addr
		want string
	}{
		{"same house, units written apart", addr{"352 Warren St Apt 8B", "Waltham", "02452", ""}, addr{"352 Warren Street #8B", "WALTHAM", "02452-8752", ""}, "exact"},
		{"same house, town not stated", addr{"12 Smith Rd", "", "", ""}, addr{"12 Smith Road", "", "", ""}, "exact"},
		{"street typo", addr{"12 Smith Road", "Canberra", "", ""}, addr{"12 Smyth Road", "Canberra", "", ""}, "exact"},
		{"neighbours", addr{"12 Smith Road", "Canberra", "2602", ""}, addr{"14 Smith Road", "Canberra", "2602", ""}, "close"},
		{"same postal code only", addr{"245 Park Ave Apt 7C", "Boston", "02130", ""}, addr{"699 Main Ave Apt 11D", "Boston", "02130", ""}, "similar"},
		{"common street in another town", addr{"1 Main Street", "Lynn", "01902", ""}, addr{"1 Main Street", "Salem", "01970", ""}, "similar"},
		{"different", addr{"12 Smith Road", "Canberra", "2602", ""}, addr{"7 Oak Avenue", "Sydney", "2000", ""}, "different"},
		{"same phone, moved", addr{"12 Smith Road", "Canberra", "2602", "02 9876 5432"}, addr{"7 Oak Avenue", "Sydney", "2000", "0298765432"}, "exact"},
		{"phone only", addr{"", "", "", "02 9876 5432"}, addr{"", "", "", "+61 2 9876 5432"}, "exact"},
		{"nothing to compare", addr{"12 Smith Road", "", "", ""}, addr{"", "", "", "0298765432"}, "missing"},
	}
	for _, tt := range tests {
		a := home("", "x", "", tt.a.line, tt.a.city, tt.a.postalCode, tt.a.phone, "")
		b := home("", "x", "", tt.b.line, tt.b.city, tt.b.postalCode, tt.b.phone, "")
		if got := level(t, "Patient", "household", a, b); got.Level != tt.want {
			t.Errorf("%s: %q ~ %q = %s (%s), want %s", tt.name, got.Left, got.Right, got.Level, got.Rule, tt.want)
		}
	}
}

// TestHouseholdMembers checks that members of one household, who share the
// family name, address and home phone, are kept apart, and that the
// household still links a person's own records.
func TestHouseholdMembers(t *testing.T) {
	m := NewModel(DefaultRules())
	const line, city, zip, phone = "282 Main Way", "Somerville", "02144", "617-450-0673"
	father := Extract("Patient", with(home("Philip", "Clifbury", "1971-03-07", line, city, zip, phone, "617-589-5756"), "gender", "male"))
	again := Extract("Patient", with(home("Phil", "Clifbury", "1971-03-07", line+" ", city, zip, "", "6175895756"), "gender", "male"))
	daughter := Extract("Patient", with(home("Olivia", "Clifbury", "2003-12-24", line, city, zip, phone, "857-268-5879"), "gender", "female"))
	junior := Extract("Patient", with(home("Philip", "Clifbury", "2003-12-24", line, city, zip, phone, "857-268-5870"), "gender", "male"))
	for _, tt := range []struct {
		name  string
		b     *Record
		grade string
	}{{"the same man", again, "certain"}, {"his daughter", daughter, ""}, {"his son named after him", junior, ""}} {
		ex := m.Explain(father, tt.b, nil)
		if ex.Grade != tt.grade {
			t.Errorf("%s: grade %q (p %.4f), want %q\n%+v", tt.name, ex.Grade, ex.Probability, tt.grade, ex.Fields)
		}
		if e := fieldOf(ex, "family"); e.Rule != "same name; weighed given the same household" {
			t.Errorf("%s: family evidence %+v", tt.name, e)
		}
	}
}

func TestTwinSignature(t *testing.T) {
	m := NewModel(DefaultRules())
	const line, city, zip, phone = "20 Berkshire Place", "Lowell", "01851", "978-589-7812"
	a := Extract("Patient", with(home("Aaron", "Carlhurst", "2005-10-28", line, city, zip, phone, ""), "gender", "male"))
	b := Extract("Patient", with(home("Austin", "Carlhurst", "2005-10-28", line, city, zip, phone, ""), "gender", "male"))
	ex := m.Explain(a, b, nil)
	given, family, birth, house := fieldOf(ex, "given"), fieldOf(ex, "family"), fieldOf(ex, "birthDate"), fieldOf(ex, "household")
	r := DefaultRules().Types["Patient"].Twins
	if given.Rule != rTwins.String() || math.Abs(given.Weight-math.Log2(r.M/r.U)) > 1e-9 {
		t.Errorf("given evidence %+v", given)
	}
	for _, e := range []Evidence{family, birth, house} {
		if e.Weight != 0 || e.Level != "exact" {
			t.Errorf("%s evidence %+v, want exact weighing nothing", e.Field, e)
		}
	}
	if ex.Grade != "" {
		t.Errorf("twins graded %q (p %.4f)", ex.Grade, ex.Probability)
	}
	// Twins who live apart are no household, but still twins.
	c := Extract("Patient", with(home("Austin", "Carlhurst", "2005-10-28", "7 Oak Avenue", "Sydney", "2000", "", ""), "gender", "male"))
	if ex := m.Explain(a, c, nil); fieldOf(ex, "household").Weight >= 0 || ex.Grade != "" {
		t.Errorf("twins at two addresses: %+v", ex)
	}
}

// TestMiddleNames checks that middle names are compared on their own, and
// do not stand in for first names when they only look alike.
func TestMiddleNames(t *testing.T) {
	names := func(given ...any) map[string]any {
		return map[string]any{"name": []any{map[string]any{"family": "Lynch", "given": given}}}
	}
	tests := []struct {
		a, b          []any
		given, middle string
	}{
		{[]any{"Jose", "Alexander"}, []any{"Noah", "Alexander"}, "different", "exact"}, // brothers
		{[]any{"John", "Michael"}, []any{"Michael"}, "exact", "missing"},               // known by his middle name
		{[]any{"Diana", "E"}, []any{"Emma"}, "different", "missing"},                   // a middle initial is no first name
		{[]any{"Sarah", "Jane"}, []any{"Sarah", "J"}, "exact", "similar"},
	}
	for _, tt := range tests {
		a, b := names(tt.a...), names(tt.b...)
		if g, mid := level(t, "Patient", "given", a, b), level(t, "Patient", "middle", a, b); g.Level != tt.given || mid.Level != tt.middle {
			t.Errorf("%v ~ %v: given %s (%s), middle %s, want %s and %s", tt.a, tt.b, g.Level, g.Rule, mid.Level, tt.given, tt.middle)
		}
	}
}

func TestForRegistry(t *testing.T) {
	m := NewModel(DefaultRules())
	if m.ForRegistry("Patient", 100000) != m || m.ForRegistry("Observation", 10) != m {
		t.Error("ForRegistry changes a model it should keep")
	}
	a := Extract("Patient", patient("Ann", "Lee", "1970-01-02"))
	b := Extract("Patient", patient("Ann", "Lee", ""))
	small, large := m.ForRegistry("Patient", 20_000), m.ForRegistry("Patient", 10_000_000)
	p, ps, pl := m.Score(a, b, nil), small.Score(a, b, nil), large.Score(a, b, nil)
	if !(pl < p && p < ps) || small.Version != m.Version {
		t.Errorf("scores for 1e7, 1e5, 2e4 records: %v %v %v", pl, p, ps)
	}
	// prior odds scale with 1/(n-1): 5 times fewer records, 5 times the odds
	odds := func(p float64) float64 { return p / (1 - p) }
	if r := odds(ps) / odds(p); math.Abs(r-99999.0/19999) > 0.01*r {
		t.Errorf("odds ratio %v, want about %v", r, 99999.0/19999)
	}
	// Below priorMinRecords (10,000) a registry is scored as if it held
	// that many: a young registry's prior is not restated towards 0.5.
	floor := m.ForRegistry("Patient", 10_000).Score(a, b, nil)
	for _, n := range []int{0, 1, 2, 500, 9_999} {
		if got := m.ForRegistry("Patient", n).Score(a, b, nil); got != floor {
			t.Errorf("%d records: %v, want %v as for 10,000", n, got, floor)
		}
	}
	// A model fitted to a registry smaller than the floor keeps its own
	// prior there: it was estimated, not assumed.
	r := DefaultRules()
	r.Types["Patient"].PriorRecords = 3_000
	fitted := NewModel(r)
	if fitted.ForRegistry("Patient", 3_000) != fitted || fitted.ForRegistry("Patient", 50) != fitted {
		t.Error("a model fitted to 3,000 records is restated below its own size")
	}
}
