package seed

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestProfiles(t *testing.T) {
	tests := []struct {
		profile string
		check   func(t *testing.T, recs []Record)
	}{
		{ProfileSparse, func(t *testing.T, recs []Record) {
			for _, r := range recs {
				if r.Type != TypePatient {
					continue
				}
				for _, k := range []string{"gender", "generalPractitioner", "multipleBirthInteger"} {
					if _, ok := r.Resource[k]; ok {
						t.Fatalf("sparse Patient %s has %s", r.LocalID, k)
					}
				}
				b, _ := json.Marshal(r.Resource)
				if bytes.Contains(b, []byte(`"line"`)) || bytes.Contains(b, []byte(`"phone"`)) || bytes.Contains(b, []byte(SystemSSN)) {
					t.Fatalf("sparse Patient %s has more than a name, a date, a town and an email: %s", r.LocalID, b)
				}
			}
		}},
		{ProfileMany, func(t *testing.T, recs []Record) {
			per := map[string]int{}
			for _, r := range recs {
				if r.Type == TypePatient {
					per[r.Entity]++
				}
			}
			most := 0
			for _, n := range per {
				most = max(most, n)
			}
			if most < 12 || most > 20 {
				t.Errorf("most records of one person = %d, want 12 to 20", most)
			}
		}},
		{ProfileGeocoded, func(t *testing.T, recs []Record) {
			at := map[string]map[string]bool{} // position → entities
			for _, r := range recs {
				pos, ok := r.Resource["position"].(map[string]any)
				if r.Type != TypeLocation || !ok {
					continue
				}
				k := string(pos["latitude"].(json.Number)) + "," + string(pos["longitude"].(json.Number))
				if at[k] == nil {
					at[k] = map[string]bool{}
				}
				at[k][r.Entity] = true
			}
			most := 0
			for _, e := range at {
				most = max(most, len(e))
			}
			if most < 10 {
				t.Errorf("at most %d facilities share one position, want many", most)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			cfg := Config{Seed: 3, Persons: 400, Locations: 200, Profile: tt.profile}
			a, _ := mustGenerate(t, cfg)
			b, _ := mustGenerate(t, cfg)
			if len(a) != len(b) {
				t.Fatalf("not deterministic: %d and %d records", len(a), len(b))
			}
			tt.check(t, a)
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	if err := Generate(Config{Persons: 1, Profile: "nope"}, func(Record) error { return nil }); err == nil {
		t.Fatal("an unknown profile was accepted")
	}
}
