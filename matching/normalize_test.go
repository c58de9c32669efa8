package matching

import (
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Smith", "smith"},
		{"  O'Brien ", "obrien"},
		{"O’Brien", "obrien"},
		{"García-López", "garcia lopez"},
		{"MÜLLER", "muller"},
		{"Straße", "strasse"},
		{"van  der\tBerg", "van der berg"},
		{"J.R.R.", "j r r"},
		{"Łukasz", "lukasz"},
		{"ＡＢＣ", "abc"},
		{"Иван", "иван"},
		{"-- !", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"12 Smith Rd", "12 smith road"},
		{"12 Smith Road", "12 smith road"},
		{"4/7 Oak Ave.", "4 7 oak avenue"},
		{"St Kilda Cres", "st kilda crescent"},
		{"12 St James Rd", "12 st james road"},
		{"352 Warren St Apt 8B", "352 warren street 8b"},
		{"352 Warren Street, #8B", "352 warren street 8b"},
		{"Unit", "unit"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeLine(tt.in); got != tt.want {
			t.Errorf("NormalizeLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStreetName(t *testing.T) {
	for in, want := range map[string]string{
		"12 main street 4b": "main street", "main street": "main street", "12": "", "4 7 oak avenue": "", "12a high road": "high road",
	} {
		if got := streetName(in); got != want {
			t.Errorf("streetName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeCodes(t *testing.T) {
	tests := []struct {
		fn       func(string) string
		name     string
		in, want string
	}{
		{NormalizeDigits, "digits", "+61 (2) 9876-5432", "61298765432"},
		{NormalizeDigits, "digits", "０３ １２", "0312"},
		{NormalizeDigits, "digits", "٠١٢", "012"},
		{NormalizeDigits, "digits", "none", ""},
		{NormalizeEmail, "email", " Mailto:John.Smith@Example.COM ", "john.smith@example.com"},
		{NormalizeEmail, "email", "no-at-sign", ""},
		{NormalizeEmail, "email", "@example.com", ""},
		{NormalizeCode, "code", "943 476-5919", "9434765919"},
		{NormalizeCode, "code", "SW1A 1AA", "sw1a1aa"},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// fuzzNormaliser checks a normaliser never panics, returns valid UTF-8 and
// is idempotent.
func fuzzNormaliser(f *testing.F, fn func(string) string) {
	for _, s := range []string{"O'Brien", "García-López", "12 Smith Rd", "+61 2 9876", "a@b.c", "ǅ\u0301ß", "\xff\xfe", " ‐ "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := fn(s)
		if !utf8.ValidString(n) {
			t.Fatalf("%q → invalid UTF-8 %q", s, n)
		}
		if again := fn(n); again != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, again)
		}
	})
}

func FuzzNormalize(f *testing.F)       { fuzzNormaliser(f, Normalize) }
func FuzzNormalizeLine(f *testing.F)   { fuzzNormaliser(f, NormalizeLine) }
func FuzzNormalizeDigits(f *testing.F) { fuzzNormaliser(f, NormalizeDigits) }
func FuzzNormalizeEmail(f *testing.F)  { fuzzNormaliser(f, NormalizeEmail) }
func FuzzNormalizeCode(f *testing.F)   { fuzzNormaliser(f, NormalizeCode) }

// FuzzNYSIIS checks the phonetic encoders never panic on any input.
func FuzzNYSIIS(f *testing.F) {
	f.Add("MacArthur")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		NYSIIS(s)
		encodePhonetics(Normalize(s))
	})
}

// FuzzScore checks that extraction and scoring of arbitrary names never
// panic and give a probability.
func FuzzScore(f *testing.F) {
	f.Add("John", "Smith", "1970-03-12", "Jon", "Smyth", "1970-12-03")
	m := NewModel(DefaultRules())
	f.Fuzz(func(t *testing.T, g1, f1, d1, g2, f2, d2 string) {
		a := Extract("Patient", patient(g1, f1, d1))
		b := Extract("Patient", patient(g2, f2, d2))
		if p := m.Score(a, b, nil); !(p >= 0 && p <= 1) {
			t.Fatalf("Score = %v", p)
		}
		m.Explain(a, b, nil)
		m.Keys(a)
	})
}
