package matching

import (
	"strings"
	"testing"
)

// site returns a Location resource; blank parts are left out.
func site(name, line, city string, lat, lon float64, phone string) map[string]any {
	res := map[string]any{"resourceType": "Location", "name": name}
	if line != "" || city != "" {
		res["address"] = map[string]any{"line": []any{line}, "city": city}
	}
	if lat != 0 {
		res["position"] = map[string]any{"latitude": lat, "longitude": lon}
	}
	if phone != "" {
		res["telecom"] = telecom("phone", phone)
	}
	return res
}

// sharedPoint is a frequency table in which one position (a town's
// centroid) and one town are shared by many sites.
type sharedPoint struct{}

func (sharedPoint) Frequency(typ, field, value string) float64 {
	switch {
	case field == "position" && value == "42.3601,-71.0589":
		return 0.2
	case field == "city" && value == "boston":
		return 0.3
	}
	return 0
}

func TestLocationEvidence(t *testing.T) {
	m := NewModel(DefaultRules())
	hospital := site("St. Mary's Medical Ctr, Inc.", "12 Main St", "Boston", 42.3601, -71.0589, "617-555-0100")
	tests := []struct {
		name      string
		b         map[string]any
		certain   bool
		wantRule  string // in the name field's rule, when set
		wantField string // a field whose weight must be below maxWeight
		maxWeight float64
	}{
		{"same site, written differently", site("Saint Marys Medical Center", "12 Main Street", "Boston", 42.3601, -71.0589, "(617) 555-0100"), true, "", "", 0},
		{"unrelated name at the shared centroid", site("Riverside Home Health", "12 Main St", "Boston", 42.3601, -71.0589, "617-555-0100"), false, "capped", "", 0},
		{"shared centroid weighs little", site("Lakeview Pharmacy", "", "Boston", 42.3601, -71.0589, ""), false, "", "position", 3},
		{"another street of a big town counts against", site("Lakeview Pharmacy", "480 Elm Street", "Boston", 0, 0, ""), false, "", "household", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := m.Explain(Extract("Location", hospital), Extract("Location", tt.b), sharedPoint{})
			if got := x.Grade == "certain"; got != tt.certain {
				t.Errorf("grade %q (p %.4f), want certain %v", x.Grade, x.Probability, tt.certain)
			}
			if tt.wantRule != "" && !strings.Contains(fieldOf(x, "name").Rule, tt.wantRule) {
				t.Errorf("name rule %q, want %q", fieldOf(x, "name").Rule, tt.wantRule)
			}
			if tt.wantField != "" && fieldOf(x, tt.wantField).Weight >= tt.maxWeight {
				t.Errorf("%s weight %.2f, want below %.2f", tt.wantField, fieldOf(x, tt.wantField).Weight, tt.maxWeight)
			}
			if p := m.Score(Extract("Location", hospital), Extract("Location", tt.b), sharedPoint{}); p != x.Probability {
				t.Errorf("Score %v, Explain %v", p, x.Probability)
			}
		})
	}
}

func TestPartOfOther(t *testing.T) {
	main := with(site("Worcester General Hospital", "1 Main St", "Worcester", 0, 0, ""),
		"identifier", ident("http://facilities.example.org/facility-id", "FAC-1"))
	lab := with(site("Worcester General Hospital Lab", "1 Main St", "Worcester", 0, 0, ""),
		"partOf", map[string]any{"identifier": map[string]any{"system": "http://facilities.example.org/facility-id", "value": "FAC-1"}})
	x := NewModel(DefaultRules()).Explain(Extract("Location", main), Extract("Location", lab), nil)
	if e := fieldOf(x, "partOf"); e.Level != "different" || !strings.Contains(e.Rule, "part of the other") {
		t.Errorf("partOf %s (%s), want different: part of the other", e.Level, e.Rule)
	}
	if x.Grade == "certain" {
		t.Errorf("a hospital and its laboratory graded certain (p %.4f)", x.Probability)
	}
}

func TestTownOnlyHousehold(t *testing.T) {
	m := NewModel(DefaultRules())
	town := func(city string) map[string]any {
		return with(patient("Ann", "Lee", "1980-01-02"), "address", []any{map[string]any{"city": city}})
	}
	x := m.Explain(Extract("Patient", town("Springfield")), Extract("Patient", town("Springfield")), nil)
	e := fieldOf(x, "household")
	if e.Level != "similar" || !strings.Contains(e.Rule, "same town") || e.Weight < 3 {
		t.Errorf("town only: %s (%s) weight %.2f, want similar, same town, a few bits", e.Level, e.Rule, e.Weight)
	}
}

func TestFacilityNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"St. Mary's Hosp. Inc", "saint marys hospital"},
		{"The Riverside Med Ctr LLC", "riverside medical center"},
		{"Smith & Sons Pharm.", "smith and sons pharmacy"},
		{"Inc", "inc"},
	}
	for _, tt := range tests {
		if got := NormalizeFacilityName(tt.in); got != tt.want {
			t.Errorf("NormalizeFacilityName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNumberedEmails(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"emily.kaufmann@example.org", "emily.kaufmann2@example.org", true},
		{"j.doe1@example.org", "j.doe2@example.org", true},
		{"j.doe@example.org", "j.dow@example.org", false},
		{"j.doe@example.org", "j.doe@example.org", false},
	}
	for _, tt := range tests {
		if got := numberedApart(tt.a, tt.b); got != tt.want {
			t.Errorf("numberedApart(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
