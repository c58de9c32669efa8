package matching

import (
	"testing"

	"github.com/f1monkey/phonetic/soundex"
)

// TestNYSIIS checks the untruncated NYSIIS codes of the jellyfish reference
// table and the classic examples.
func TestNYSIIS(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Worthy", "WARTY"}, {"Ogata", "OGAT"}, {"montgomery", "MANTGANARY"},
		{"Costales", "CASTAL"}, {"Tu", "T"}, {"martincevic", "MARTANCAFAC"},
		{"Catherine", "CATARAN"}, {"Katherine", "CATARAN"}, {"Katerina", "CATARAN"},
		{"Johnathan", "JANATAN"}, {"Jonathan", "JANATAN"}, {"John", "JAN"},
		{"Teresa", "TARAS"}, {"Theresa", "TARAS"}, {"Jessica", "JASAC"},
		{"Joshua", "JAS"}, {"Bosch", "BAS"}, {"Lapher", "LAFAR"}, {"wiyh", "WY"},
		{"MacArthur", "MCARTAR"}, {"Pheenard", "FANAD"}, {"Schmittie", "SNATY"},
		{"Knaqze", "NAGS"}, {"Knokno", "NAN"}, {"Knoko", "NAC"}, {"Macaw", "MC"},
		{"", ""}, {"T", "T"}, {"S", "S"}, {"K", "C"}, {"E", "E"},
		{"PFEISTER", "FASTAR"}, {"SARAH", "SAR"},
	}
	for _, tt := range tests {
		if got := NYSIIS(tt.in); got != tt.want {
			t.Errorf("NYSIIS(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSoundexReference checks the library against the standard American
// Soundex values (H and W do not separate letters of one code).
func TestSoundexReference(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Robert", "R163"}, {"Rupert", "R163"}, {"Rubin", "R150"},
		{"Ashcraft", "A261"}, {"Ashcroft", "A261"}, {"Tymczak", "T522"},
		{"Pfister", "P236"}, {"Washington", "W252"}, {"Lee", "L000"},
		{"Gutierrez", "G362"}, {"Jackson", "J250"},
	}
	enc := soundex.NewEncoder()
	for _, tt := range tests {
		if got := enc.Encode(tt.in); got != tt.want {
			t.Errorf("Soundex(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPhoneticAgreement checks which name pairs the phonetic level joins.
func TestPhoneticAgreement(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"smith", "smyth", true},
		{"catherine", "kathryn", true},
		{"stephen", "steven", true},
		{"schmidt", "smith", true},
		{"philips", "fillips", true},
		{"garcia", "garsia", true},
		{"smith", "jones", false},
		{"mary", "martin", false},
		{"", "", false},
	}
	for _, tt := range tests {
		pa, pb := encodePhonetics(tt.a), encodePhonetics(tt.b)
		ha, hb := pa.hashes(), pb.hashes()
		if got := ha.agree(&hb); got != tt.want {
			t.Errorf("phonetic %q %+v ~ %q %+v = %v, want %v", tt.a, pa, tt.b, pb, got, tt.want)
		}
	}
}
