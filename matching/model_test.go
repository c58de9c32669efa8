package matching

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestDefaultRules(t *testing.T) {
	r := DefaultRules()
	for _, typ := range []string{"Patient", "Practitioner", "Location"} {
		if r.Types[typ] == nil {
			t.Errorf("default rules have no %s", typ)
		}
	}
	m := NewModel(r)
	if !strings.HasPrefix(m.Version, "idem-default-") {
		t.Errorf("Version = %q", m.Version)
	}
	if NewModel(DefaultRules()).Version != m.Version {
		t.Error("the same rules give different versions")
	}
}

// patientField returns the Patient rules of a field.
func patientField(r *Rules, field string) *FieldRules {
	for _, f := range r.Types["Patient"].Fields {
		if f.Field == field {
			return f
		}
	}
	panic("no Patient field " + field)
}

func TestParseRulesErrors(t *testing.T) {
	edit := func(fn func(r *Rules)) []byte {
		r := DefaultRules()
		fn(r)
		b, _ := json.Marshal(r)
		return b
	}
	tests := []struct {
		name, want string
		data       []byte
	}{
		{"not json", "match rules", []byte("{")},
		{"unknown key", "unknown field", []byte(`{"name":"x","colour":1}`)},
		{"no name", "name is missing", edit(func(r *Rules) { r.Name = "" })},
		{"bad kind", "kind \"secret\"", edit(func(r *Rules) { r.IdentifierSystems[0].Kind = "secret" })},
		{"bad type", "not a matchable type", edit(func(r *Rules) { r.Types["Observation"] = r.Types["Patient"] })},
		{"prior", "prior", edit(func(r *Rules) { r.Types["Patient"].Prior = 1 })},
		{"thresholds", "thresholds", edit(func(r *Rules) { r.Types["Patient"].Thresholds.Possible = 0.999 })},
		{"blocking", "blocking[0] \"soundex\"", edit(func(r *Rules) { r.Types["Patient"].Blocking[0] = "soundex" })},
		{"field", "unknown field", edit(func(r *Rules) { r.Types["Patient"].Fields[0].Field = "shoeSize" })},
		{"comparator", "compare \"fuzzy\"", edit(func(r *Rules) { r.Types["Patient"].Fields[0].Compare = "fuzzy" })},
		{"mismatch", "cannot compare", edit(func(r *Rules) { r.Types["Patient"].Fields[0].Compare = "date" })},
		{"level", "never gives", edit(func(r *Rules) { patientField(r, "gender").M.Close = 0.1 })},
		{"household u", "uSameHousehold: probabilities sum to", edit(func(r *Rules) { patientField(r, "family").USameHousehold.Exact = 0.9 })},
		{"twins p", "twins: m 0", edit(func(r *Rules) { r.Types["Patient"].Twins.M = 0 })},
		{"twins fields", "twins: needs the field \"birthDate\"", edit(func(r *Rules) {
			tr := r.Types["Patient"]
			tr.Fields = slices.DeleteFunc(tr.Fields, func(f *FieldRules) bool { return f.Field == "birthDate" })
		})},
		{"prior records", "priorRecords 1", edit(func(r *Rules) { r.Types["Patient"].PriorRecords = 1 })},
		{"sum", "sum to", edit(func(r *Rules) { r.Types["Patient"].Fields[0].U.Exact = 0.5 })},
		{"zero", "want 0 < p", edit(func(r *Rules) { r.Types["Patient"].Fields[0].M.Similar = 0 })},
		{"twice", "compared twice", edit(func(r *Rules) { r.Types["Patient"].Fields[1] = r.Types["Patient"].Fields[0] })},
		{"metres", "metres", edit(func(r *Rules) { r.Types["Location"].Fields[2].Metres = []float64{10, 5, 1} })},
	}
	for _, tt := range tests {
		_, err := ParseRules(tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestModelJSONRoundTrip(t *testing.T) {
	m := NewModel(DefaultRules())
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != m.Version {
		t.Errorf("version %q, want %q", back.Version, m.Version)
	}
	a, c := Extract("Patient", patient("Jon", "Smith", "1970-03-12")), Extract("Patient", patient("John", "Smyth", "1970-03-12"))
	if back.Score(a, c, nil) != m.Score(a, c, nil) {
		t.Error("the decoded model scores differently")
	}
	if _, err := UnmarshalModel([]byte(`{"format":"other/9","rules":{}}`)); err == nil {
		t.Error("a foreign format decodes")
	}
}

// TestExplainMatchesScore checks Explain's probability is Score's, that the
// weights add up, and that every field is reported, missing ones at 0.
func TestExplainMatchesScore(t *testing.T) {
	m := NewModel(DefaultRules())
	a := Extract("Patient", with(patient("Jon", "Smith", "1970-03-12"), "gender", "male", "address", address("12 Smith Rd", "Canberra", "2602", "ACT")))
	b := Extract("Patient", with(patient("John", "Smith", "1970-12-03"), "gender", "male", "address", address("12 Smith Road", "Canberra", "2602", "ACT")))
	tf := NewFrequencyTable([]*Record{a, b})
	ex := m.Explain(a, b, tf)
	if ex.Probability != m.Score(a, b, tf) {
		t.Errorf("Explain %v != Score %v", ex.Probability, m.Score(a, b, tf))
	}
	sum := math.Log2(1e-5 / (1 - 1e-5))
	for _, e := range ex.Fields {
		sum += e.Weight
		if e.Level == "missing" && e.Weight != 0 {
			t.Errorf("%s: missing with weight %v", e.Field, e.Weight)
		}
	}
	if math.Abs(sum-ex.Weight) > 1e-9 {
		t.Errorf("weights sum to %v, Weight %v", sum, ex.Weight)
	}
	if len(ex.Fields) != len(DefaultRules().Types["Patient"].Fields) || ex.Grade != "certain" || ex.ModelVersion != m.Version {
		t.Errorf("explanation %+v", ex)
	}
	if e := fieldOf(ex, "birthDate"); e.Level != "close" || e.Left != "1970-03-12" || e.Right != "1970-12-03" {
		t.Errorf("birthDate evidence %+v", e)
	}
	if e := fieldOf(ex, "household"); e.Level != "exact" || e.Left != "12 Smith Rd, Canberra, 2602" {
		t.Errorf("household evidence %+v", e)
	}
	if e := fieldOf(ex, "email"); e.Level != "missing" {
		t.Errorf("email evidence %+v", e)
	}
}

func TestScoreOtherTypes(t *testing.T) {
	m := NewModel(DefaultRules())
	p := Extract("Patient", patient("Ann", "Lee", ""))
	l := Extract("Location", map[string]any{"name": "Ann Lee"})
	if m.Score(p, l, nil) != 0 || m.Explain(p, l, nil) != nil {
		t.Error("records of different types compare")
	}
	if m.Score(Extract("Observation", nil), Extract("Observation", nil), nil) != 0 {
		t.Error("an unknown type scores")
	}
}

func TestGrade(t *testing.T) {
	m := NewModel(DefaultRules())
	for p, want := range map[float64]string{0.999: "certain", 0.99: "certain", 0.95: "probable", 0.6: "possible", 0.1: ""} {
		if got := m.Grade("Patient", p); got != want {
			t.Errorf("Grade(%v) = %q, want %q", p, got, want)
		}
	}
	if m.Grade("Observation", 1) != "" || m.KeyCap("Observation") != 0 || m.KeyCap("Patient") != 1000 {
		t.Error("unknown types grade or cap")
	}
}

// TestTermFrequency checks that agreeing on a common family name weighs
// less than agreeing on a rare one.
func TestTermFrequency(t *testing.T) {
	m := NewModel(DefaultRules())
	var recs []*Record
	for i := range 100 {
		recs = append(recs, Extract("Patient", patient(fmt.Sprint("g", i), "Smith", "")))
	}
	recs = append(recs, Extract("Patient", patient("x", "Zbigniew", "")))
	tf := NewFrequencyTable(recs)
	common := fieldOf(m.Explain(recs[0], recs[1], tf), "family").Weight
	rare := fieldOf(m.Explain(recs[100], recs[100], tf), "family").Weight
	plain := fieldOf(m.Explain(recs[0], recs[1], nil), "family").Weight
	if !(common < rare && common < plain && common >= 1) {
		t.Errorf("family weights: smith %.2f, zbigniew %.2f, without frequencies %.2f", common, rare, plain)
	}
}

func TestScoreDoesNotAllocate(t *testing.T) {
	m := NewModel(DefaultRules())
	a := Extract("Patient", with(patient("Jon", "Smith", "1970-03-12"), "address", address("12 Smith Rd", "Canberra", "2602", "ACT")))
	b := Extract("Patient", with(patient("Smith", "John", "1970-12-03"), "address", address("12 Smyth Rd", "Canbera", "2620", "ACT")))
	tf := NewFrequencyTable([]*Record{a, b})
	if n := testing.AllocsPerRun(100, func() { m.Score(a, b, tf) }); n != 0 {
		t.Errorf("Score allocates %v times", n)
	}
}

func TestKeys(t *testing.T) {
	m := NewModel(DefaultRules())
	r := Extract("Patient", with(patient("John", "Smith", "1970-03-12"),
		"address", address("12 Smith Rd", "Canberra", "2602", "ACT"),
		"identifier", ident("http://hl7.org/fhir/sid/us-ssn", "123-45-6789"),
		"telecom", []any{map[string]any{"system": "phone", "value": "+61 2 9876 5432"}, map[string]any{"system": "email", "value": "J.Smith@example.com"}}))
	// "John" also blocks as "Jonathan", the formal name it may shorten.
	want := []string{
		"P:adr:12|SM0", "P:bi:19700312|j", "P:bi:19700312|s", "P:em:j.smith@example.com",
		"P:fdm:SM0|1970", "P:fdm:XMT|1970", "P:fgb:SM0|joh", "P:fgb:XMT|joh", "P:fge:SM0|ohn", "P:fge:XMT|ohn",
		"P:fpc:SM0|2602", "P:fpc:XMT|2602", "P:gf:JN0N|SM0", "P:gf:JN0N|XMT", "P:gf:JN|SM0", "P:gf:JN|XMT", "P:gfl:JN0N|himst", "P:gfl:JN|himst",
		"P:gmd:JN0N|03|12", "P:gmd:JN|03|12", "P:gyx:JN0N|1970|03", "P:gyx:JN0N|1970|12", "P:gyx:JN|1970|03", "P:gyx:JN|1970|12",
		"P:id:http://hl7.org/fhir/sid/us-ssn|123456789", "P:ph:298765432",
	}
	if got := m.Keys(r); !slices.Equal(got, want) {
		t.Errorf("Keys =\n%q\nwant\n%q", got, want)
	}
	loc := Extract("Location", map[string]any{"name": "St Mary's Hospital", "position": map[string]any{"latitude": 51.5171, "longitude": -0.1738}})
	if got := m.Keys(loc); !slices.Equal(got, []string{"L:geo:5151|-17", "L:nw:MRS"}) {
		t.Errorf("Location keys = %q", got)
	}
	if m.Keys(Extract("Observation", nil)) != nil {
		t.Error("an unknown type has keys")
	}
}
