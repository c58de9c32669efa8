package matching

import "testing"

// TestScoreCluster: a record that agrees with each of two records of one
// person on different fields is judged more likely to be that person than
// against either record alone; with one member the score is the pair's.
func TestScoreCluster(t *testing.T) {
	m := NewModel(DefaultRules())
	// The person married (new family name) and moved (new address, phone).
	maiden := Extract("Patient", with(patient("Anna", "Kowalska", "1984-02-11"),
		"address", address("12 Elm Street", "Springfield", "62704", "IL"), "telecom", telecom("phone", "217-555-0101")))
	moved := Extract("Patient", with(patient("Anna", "Nowak", "1984-02-11"),
		"address", address("9 Oak Avenue", "Shelbyville", "62565", "IL"), "telecom", telecom("phone", "217-555-0199")))
	// A new record: married name, but the old address and phone.
	rec := Extract("Patient", with(patient("Anna", "Nowak", "1984-02-11"),
		"address", address("12 Elm Street", "Springfield", "62704", "IL"), "telecom", telecom("phone", "217-555-0101")))
	p1, p2 := m.Score(rec, maiden, nil), m.Score(rec, moved, nil)
	pc := m.ScoreCluster(rec, []*Record{maiden, moved}, nil)
	if pc <= max(p1, p2) {
		t.Errorf("cluster %.6f, members %.6f and %.6f: the cluster should say more", pc, p1, p2)
	}
	if one := m.ScoreCluster(rec, []*Record{maiden}, nil); one != p1 {
		t.Errorf("one member: %.6f, pair %.6f", one, p1)
	}
	// Someone else entirely stays unlikely however many members there are.
	other := Extract("Patient", with(patient("Bogdan", "Zielinski", "1950-07-30"),
		"address", address("3 Pine Road", "Decatur", "62521", "IL")))
	if p := m.ScoreCluster(other, []*Record{maiden, moved}, nil); p > 0.01 {
		t.Errorf("an unrelated record scores %.6f against the cluster", p)
	}
}

// TestScoreClusterJunior: a father named like his son, living with him,
// is not the son's cluster: one son's record shares the family name with
// no address to go with it, the other the address. Summed field by field
// (the family name's full weight from one, the household's from the
// other) the father scored certain; weighed as one comparison the family
// name is weighed as inside one household.
func TestScoreClusterJunior(t *testing.T) {
	m := NewModel(DefaultRules()).ForRegistry("Patient", 8000)
	home := address("242 Oak Road", "Somerville", "02143", "MA")
	son := Extract("Patient", with(patient("Jeffrey", "Fioretti", "2019-03-07"), "gender", "male", "address", home))
	sonLab := Extract("Patient", with(patient("Jeffrey", "Fioretti", "2019-03-07"), "gender", "male", "telecom", telecom("phone", "857-864-9802")))
	father := Extract("Patient", with(patient("Jeffrey", "Fioretti", "1991-02-18"), "gender", "male", "address", home))
	for _, b := range []*Record{son, sonLab} {
		if p := m.Score(father, b, nil); m.Grade("Patient", p) == "certain" {
			t.Fatalf("the father certainly matches one of his son's records alone (%.4f)", p)
		}
	}
	if p := m.ScoreCluster(father, []*Record{son, sonLab}, nil); m.Grade("Patient", p) == "certain" {
		t.Errorf("the father certainly matches his son's cluster (%.4f)", p)
	}
	// The son's own new record, with a typo, still joins it.
	again := Extract("Patient", with(patient("Jeffrey", "Fiorett", "2019-03-07"), "gender", "male", "address", home,
		"telecom", telecom("phone", "857-864-9802")))
	if p := m.ScoreCluster(again, []*Record{son, sonLab}, nil); m.Grade("Patient", p) != "certain" {
		t.Errorf("the son's new record scores %.4f against his cluster", p)
	}
}

// TestJudgeCluster: a record that certainly matches one record of a
// golden record, only because that record lacks what the others hold (or
// because it is cut short), is judged against all of them: not certain
// when it disagrees with the records that hold more, capped below certain
// when a veto field disagrees with any of them. The entity's own new
// record still fits.
func TestJudgeCluster(t *testing.T) {
	lab := func(name, line, postalCode, phone string) *Record {
		res := map[string]any{"resourceType": "Location", "name": name,
			"type":                 []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "HLAB"}}}},
			"managingOrganization": map[string]any{"identifier": map[string]any{"system": "http://facilities.example.org/organization-id", "value": "org002"}}}
		if line != "" {
			res["address"] = map[string]any{"line": []any{line}, "city": "Boston", "postalCode": postalCode}
		}
		if phone != "" {
			res["telecom"] = telecom("phone", phone)
		}
		return Extract("Location", res)
	}
	ward := func(name string) *Record {
		return Extract("Location", site(name, "5 Harbor Road", "Quincy", 0, 0, "617-555-0100"))
	}
	home := address("242 Oak Road", "Somerville", "02143", "MA")
	jeffrey := func(birth string, kv ...any) *Record {
		return Extract("Patient", with(with(patient("Jeffrey", "Fioretti", birth), "gender", "male"), kv...))
	}
	tests := []struct {
		name         string
		typ          string
		rec          *Record
		best         *Record   // the member rec certainly matches alone
		others       []*Record // the golden record's other members
		fits, vetoed bool
	}{
		{"a branch of a chain, through the chain's record without an address", "Location",
			lab("Boston Clinical Laboratories", "1000 Maple Lane", "02128", "857-660-1789"),
			lab("Boston Clinical Labs.", "", "", ""),
			[]*Record{lab("Boston Clinical Laboratories", "118 Quincy Place", "02130", "617-620-8732")}, false, false},
		{"the branch's own record", "Location",
			lab("Boston Clinical Labs", "118 Quincy Pl", "02130", "617-620-8732"),
			lab("Boston Clinical Labs.", "", "", ""),
			[]*Record{lab("Boston Clinical Laboratories", "118 Quincy Place", "02130", "617-620-8732")}, true, false},
		{"a hospital, through a name cut short, to its ward", "Location",
			ward("Southgate Memorial Hospital"), ward("Southgate Memorial Ho"),
			[]*Record{ward("Southgate Memorial Hospital Ward 3")}, false, true},
		{"a son, through his father's record without a birth date", "Patient",
			jeffrey("1989-03-07", "address", home), jeffrey("", "address", home),
			[]*Record{jeffrey("1961-02-18", "address", home, "telecom", telecom("phone", "857-864-9802"))}, false, false},
		{"the father's own record", "Patient",
			jeffrey("1961-02-18", "address", home), jeffrey("", "address", home),
			[]*Record{jeffrey("1961-02-18", "address", home, "telecom", telecom("phone", "857-864-9802"))}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewModel(DefaultRules()).ForRegistry(tt.typ, 1000)
			if p := m.Score(tt.rec, tt.best, nil); m.Grade(tt.typ, p) != "certain" {
				t.Fatalf("the pair alone scores %.4f, want certain", p)
			}
			members := append([]*Record{tt.best}, tt.others...)
			p, vetoedBy := m.JudgeCluster(tt.rec, members, nil)
			if fits := m.Grade(tt.typ, p) == "certain"; fits != tt.fits {
				t.Errorf("against the cluster %.4f, fits %v, want %v", p, fits, tt.fits)
			}
			if (vetoedBy >= 0) != tt.vetoed {
				t.Errorf("vetoed by member %d, want vetoed %v", vetoedBy, tt.vetoed)
			}
		})
	}
}
