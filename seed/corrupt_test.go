package seed

import "testing"

// edit is one case of a string error function: input, choices, result.
type edit struct {
	in   string
	a, b int
	want string
	ok   bool
}

func runEdits(t *testing.T, name string, fn func(s string, a, b int) (string, bool), cases []edit) {
	t.Helper()
	for _, c := range cases {
		got, ok := fn(c.in, c.a, c.b)
		if got != c.want || ok != c.ok {
			t.Errorf("%s(%q, %d, %d) = %q, %v; want %q, %v", name, c.in, c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}

func TestAdjacentTypo(t *testing.T) {
	runEdits(t, "adjacentTypo", adjacentTypo, []edit{
		{"John", 1, 0, "Jihn", true},   // o's neighbours: i k l p
		{"John", 1, 5, "Jkhn", true},   // k wraps around the neighbours
		{"John", 0, 0, "Hohn", true},   // capital stays capital
		{"SMITH", 4, 1, "SMITY", true}, // h's neighbours: g y u j n b
		{"O'Brien", 1, 0, "O'Brien", false},
		{"Jo", 5, 0, "Jo", false},
		{"Jo", -1, 0, "Jo", false},
	})
}

func TestTranspose(t *testing.T) {
	runEdits(t, "transpose", func(s string, i, _ int) (string, bool) { return transpose(s, i) }, []edit{
		{"John", 2, 0, "Jonh", true},
		{"Maria", 0, 0, "aMria", true},
		{"Anna", 1, 0, "Anna", false}, // swapping equal letters changes nothing
		{"O'Brien", 0, 0, "O'Brien", false},
		{"Smith", 4, 0, "Smith", false},
		{"Núñez", 0, 0, "úNñez", true}, // runes, not bytes
	})
}

func TestPhoneticVariant(t *testing.T) {
	runEdits(t, "phoneticVariant", func(s string, k, _ int) (string, bool) { return phoneticVariant(s, k) }, []edit{
		{"Stephen", 0, 0, "Stefen", true},
		{"Stephen", 1, 0, "Stephan", true},
		{"Stephen", 2, 0, "Stefen", true}, // k counts matching rules only, modulo
		{"THOMPSON", 0, 0, "TOMPSON", true},
		{"THOMPSON", 1, 0, "THOMSON", true},
		{"THOMPSON", 2, 0, "THOMPSEN", true},
		{"McDonald", 0, 0, "MacDonald", true},
		{"Gonzalez", 0, 0, "Gonsalez", true},
		{"Kelley", 2, 0, "Kelly", true},
		{"Carl", 0, 0, "Karl", true},
		{"Xu", 0, 0, "Xu", false},
		{"José", 0, 0, "José", false}, // only ASCII names
		{"", 0, 0, "", false},
	})
}

func TestSwapDayMonth(t *testing.T) {
	runEdits(t, "swapDayMonth", func(s string, _, _ int) (string, bool) { return swapDayMonth(s) }, []edit{
		{"1985-03-07", 0, 0, "1985-07-03", true},
		{"1985-12-01", 0, 0, "1985-01-12", true},
		{"1985-03-13", 0, 0, "1985-03-13", false}, // no 13th month
		{"1985-03-03", 0, 0, "1985-03-03", false},
		{"1985-3-7", 0, 0, "1985-3-7", false},
		{"", 0, 0, "", false},
	})
}

func TestDateTypo(t *testing.T) {
	runEdits(t, "dateTypo", func(s string, v, _ int) (string, bool) { return dateTypo(s, v) }, []edit{
		{"1985-03-07", 0, 0, "1984-03-07", true},
		{"1984-03-07", 0, 0, "1985-03-07", true},
		{"1985-03-07", 1, 0, "1985-03-08", true},
		{"1985-03-09", 1, 0, "1985-03-08", true}, // 10 would change two digits
		{"1985-02-28", 1, 0, "1985-02-27", true}, // no 29 February in 1985
		{"1985-03-07", 2, 0, "1985-04-07", true},
		{"1985-12-07", 2, 0, "1985-11-07", true},
		{"1985-01-31", 2, 0, "1985-01-31", false}, // 31 February does not exist
		{"2000-02-29", 0, 0, "2000-02-29", false}, // 2001 is no leap year
		{"1985-02-30", 0, 0, "1985-02-30", false},
	})
}

func TestTruncate(t *testing.T) {
	runEdits(t, "truncate", func(s string, n, _ int) (string, bool) { return truncate(s, n) }, []edit{
		{"Christopher", 6, 0, "Christ", true},
		{"Smith-Jones", 6, 0, "Smith", true},
		{"Ann", 5, 0, "Ann", false},
		{"Christopher", 1, 0, "Christopher", false},
	})
}

func TestStringRewrites(t *testing.T) {
	cases := []struct {
		name string
		fn   func(string) (string, bool)
		in   string
		want string
		ok   bool
	}{
		{"stripPunctuation", stripPunctuation, "O'Brien", "OBrien", true},
		{"stripPunctuation", stripPunctuation, "Smith-Jones", "Smith Jones", true},
		{"stripPunctuation", stripPunctuation, "St. Mary's", "St Marys", true},
		{"stripPunctuation", stripPunctuation, "Smith", "Smith", false},
		{"closeUp", closeUp, "De La Cruz", "DeLaCruz", true},
		{"closeUp", closeUp, "Smith", "Smith", false},
		{"asciiFold", asciiFold, "Muñoz", "Munoz", true},
		{"asciiFold", asciiFold, "José", "Jose", true},
		{"asciiFold", asciiFold, "NÚÑEZ", "NUNEZ", true},
		{"asciiFold", asciiFold, "Smith", "Smith", false},
		{"swapDayMonth", swapDayMonth, "2001-11-02", "2001-02-11", true},
	}
	for _, c := range cases {
		if got, ok := c.fn(c.in); got != c.want || ok != c.ok {
			t.Errorf("%s(%q) = %q, %v; want %q, %v", c.name, c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestDigitErrors(t *testing.T) {
	runEdits(t, "digitTypo", digitTypo, []edit{
		{"123-45-6789", 3, 0, "123-55-6789", true},
		{"123-45-6789", 3, 1, "123-35-6789", true},
		{"9", 0, 0, "0", true},
		{"0", 0, 1, "9", true},
		{"abc", 0, 0, "abc", false},
	})
	runEdits(t, "swapDigits", func(s string, i, _ int) (string, bool) { return swapDigits(s, i) }, []edit{
		{"123-45-6789", 2, 0, "124-35-6789", true},
		{"1123", 0, 0, "1123", false},
		{"1234", 3, 0, "1234", false},
	})
}

func TestFormats(t *testing.T) {
	cases := []struct{ got, want string }{
		{formatPhone("6175550134", phoneParens), "(617) 555-0134"},
		{formatPhone("6175550134", phoneDashes), "617-555-0134"},
		{formatPhone("6175550134", phoneDigits), "6175550134"},
		{formatPhone("6175550134", phoneDots), "617.555.0134"},
		{formatPhone("6175550134", phoneIntl), "+1 617 555 0134"},
		{formatPhone("12345", phoneParens), "12345"},
		{formatZIP("02118", "3409", zip5), "02118"},
		{formatZIP("02118", "3409", zipPlus4), "02118-3409"},
		{formatZIP("02118", "3409", zipSpaced), "02118 3409"},
		{formatZIP("02118", "3409", zipRunTogether), "021183409"},
		{abbreviateSuffix("Maple Street"), "Maple St"},
		{abbreviateSuffix("Chestnut Hill Avenue"), "Chestnut Hill Ave"},
		{abbreviateSuffix("North Road"), "North Rd"},
		{abbreviateSuffix("Main St"), "Main St"},
		{abbreviateSuffix("Main Way"), "Main Way"},
		{titleCase("o'brien-smith"), "O'Brien-Smith"},
		{titleCase("DE LA CRUZ"), "De La Cruz"},
		{acronym("Saint Mary's Hospital"), "SMH"},
		{acronym("Summit Nursing and Rehabilitation Center"), "SNRC"},
		{initial("Robert"), "R"},
		{initial(""), ""},
		{pad(42, 5), "00042"},
		{pad(123456, 3), "123456"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %q, want %q", i, c.got, c.want)
		}
	}
}

func TestAbbreviate(t *testing.T) {
	cases := []struct {
		in   string
		k    int
		dot  bool
		want string
		ok   bool
	}{
		{"Saint Mary's Hospital", 0, false, "St Mary's Hospital", true},
		{"Saint Mary's Hospital", 1, true, "Saint Mary's Hosp.", true},
		{"St Mary's Hospital", 0, false, "Saint Mary's Hospital", true}, // St first is Saint
		{"MAIN ST", 0, false, "MAIN STREET", true},                      // St later is Street
		{"Summit Nursing & Rehabilitation Center", 0, false, "Summit Nursing and Rehabilitation Center", true},
		{"SUMMIT NURSING & REHAB", 0, false, "SUMMIT NURSING AND REHAB", true},
		{"Smith", 0, false, "Smith", false},
	}
	for _, c := range cases {
		if got, ok := abbreviate(c.in, c.k, c.dot); got != c.want || ok != c.ok {
			t.Errorf("abbreviate(%q, %d, %v) = %q, %v; want %q, %v", c.in, c.k, c.dot, got, ok, c.want, c.ok)
		}
	}
}
