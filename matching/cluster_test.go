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
