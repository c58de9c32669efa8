package fhir

import (
	"testing"
	"unicode/utf8"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"smith", "smith"},
		{"Smith", "smith"},
		{"  Van   der\tBerg \n", "van der berg"},
		{"O'Brien", "o'brien"},
		{"Müller-Lüdenscheidt", "muller-ludenscheidt"},
		{"Straße", "strasse"},
		{"STRAẞE", "strasse"},
		{"Ærøskøbing", "aeroskobing"},
		{"Łódź", "lodz"},
		{"Đorđević", "dordevic"},
		{"Þórðarson", "thordarson"},
		{"Œuvre", "oeuvre"},
		{"ıstanbul İzmir", "istanbul izmir"},
		{"José María", "jose maria"},
		{"Zoë", "zoe"},
		{"e\u0301cole", "ecole"}, // already decomposed
		{"ﬁne ﬀ", "fine ff"},     // ligatures (compatibility)
		{"Ｓｍｉｔｈ", "smith"},       // full-width
		{"ΟΔΥΣΣΕΥΣ", "οδυσσευσ"},
		{"Ὀδυσσεύς", "οδυσσευσ"},
		{"Иванов", "иванов"},
		{"김민준", "\u1100\u1175\u11b7\u1106\u1175\u11ab\u110c\u116e\u11ab"}, // Hangul syllables compare as their jamo
		{"a\u00a0b\u2003c", "a b c"},
		{"soft\u00adhyphen zero\u200bwidth", "softhyphen zerowidth"},
		{"tab\x00ctl\x7f", "tabctl"},
		{" \u0301 x", "x"},
		{"bad\xffutf8", "bad\ufffdutf8"},
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFoldNoAllocFolded(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { _ = Fold("o'brien smith-jones 123") })
	if n != 0 {
		t.Errorf("Fold of folded ASCII: %v allocations, want 0", n)
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"", "Smith", "  a  b ", "Straße", "Ærø", "e\u0301", "ﬁ", "ΣΑΣ", "\xff", "İ", "ᾳ", "\u0345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := Fold(s)
		if !utf8.ValidString(once) {
			t.Fatalf("Fold(%q) = %q: invalid UTF-8", s, once)
		}
		if twice := Fold(once); twice != once {
			t.Fatalf("Fold not idempotent: Fold(%q) = %q, Fold(that) = %q", s, once, twice)
		}
	})
}

func BenchmarkFold(b *testing.B) {
	for _, in := range []string{"goldner995", "Goldner995", "Müller-Lüdenscheidt"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Fold(in)
			}
		})
	}
}

func TestFoldIdempotentEveryRune(t *testing.T) {
	if testing.Short() {
		t.Skip("1.1 million runes")
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		s := "A" + string(r) + "b"
		once := Fold(s)
		if twice := Fold(once); twice != once {
			t.Errorf("U+%04X: Fold = %q, Fold(Fold) = %q", r, once, twice)
		}
	}
}
