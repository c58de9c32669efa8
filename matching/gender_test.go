package matching

import "testing"

// TestFamilyByGender: a woman seen under her maiden name and her married
// name (same given name and birth date, nothing else) is a likelier match
// than a man whose records differ the same way: a different family name
// is mostly a marriage, and mostly a woman's. A man's pair, and a pair
// whose records do not both state a gender, weigh as before or less.
func TestFamilyByGender(t *testing.T) {
	m := NewModel(DefaultRules()).ForRegistry("Patient", 8000)
	pair := func(gender, given, a, b string) float64 {
		x := Extract("Patient", with(patient(given, a, "1984-02-11"), "gender", gender))
		y := Extract("Patient", with(patient(given, b, "1984-02-11"), "gender", gender))
		return m.Explain(x, y, nil).Weight
	}
	woman, man := pair("female", "Kim", "Barnes", "Scott"), pair("male", "Kim", "Barnes", "Scott")
	if woman-man < 2.9 {
		t.Errorf("married woman %.2f, man %.2f: a different family name should weigh about 3 bits less against a woman", woman, man)
	}
	x := Extract("Patient", patient("Maria", "Barnes", "1984-02-11"))
	y := Extract("Patient", with(patient("Maria", "Scott", "1984-02-11"), "gender", "female"))
	unstated := m.Explain(x, y, nil).Weight
	if !(man < unstated && unstated < woman) {
		t.Errorf("gender unstated %.2f: want between the man's %.2f and the woman's %.2f", unstated, man, woman)
	}
	// Agreement moves little: the same family name is almost as likely either way.
	same := pair("female", "Maria", "Barnes", "Barnes") - pair("male", "Maria", "Barnes", "Barnes")
	if same > 0 || same < -0.2 {
		t.Errorf("same family name: woman minus man %.2f bits, want a slight negative", same)
	}
}
