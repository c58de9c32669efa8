package registry

import (
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref // zero: rejected
	}{
		{"Patient/123", Ref{TypePatient, "123"}},
		{"Person/a.b-C", Ref{TypePerson, "a.b-C"}},
		{"Patient/123/_history/4", Ref{TypePatient, "123"}},
		{"RelatedPerson/1", Ref{"RelatedPerson", "1"}}, // a type the registry does not serve
		{"Patient/" + strings.Repeat("a", 64), Ref{TypePatient, strings.Repeat("a", 64)}},
		{"", Ref{}}, {"123", Ref{}}, {"Patient", Ref{}}, {"Patient/", Ref{}}, {"/123", Ref{}},
		{"patient/1", Ref{}}, {"Pat1ent/1", Ref{}}, {"Patient/1/2", Ref{}}, {"Patient/a_b", Ref{}},
		{"Patient/" + strings.Repeat("a", 65), Ref{}},
		{"http://example.org/fhir/Patient/1", Ref{}}, {"/Patient/1", Ref{}}, {"x/Patient/1", Ref{}},
		{"#c1", Ref{}}, {"urn:uuid:1234", Ref{}}, {"Patient?identifier=1", Ref{}}, {"Patient/1?x=y", Ref{}},
		{" Patient/1", Ref{}}, {"Patient/1 ", Ref{}},
		{"Patient/1/_history/", Ref{}}, {"Patient/1/_history/x", Ref{}}, {"Patient/1/_history", Ref{}},
		{"Patient/1/_history/2/x", Ref{}},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.in)
		if tt.want == (Ref{}) {
			if err == nil || ErrorCode(err) != EInvalid {
				t.Errorf("ParseRef(%q) = %v, %v; want an EInvalid error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRef(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if s := got.String(); !strings.HasPrefix(tt.in, s) {
			t.Errorf("ParseRef(%q).String() = %q", tt.in, s)
		}
	}
}

// FuzzParseRef checks that what ParseRef accepts prints back as the start
// of its input and parses again to the same Ref.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"Patient/1", "Person/a.b/_history/3", "http://x/Patient/1", "#a", "Patient/1/_history/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if ErrorCode(err) != EInvalid {
				t.Fatalf("ParseRef(%q): %v is not EInvalid", s, err)
			}
			return
		}
		if !strings.HasPrefix(s, r.String()) {
			t.Fatalf("ParseRef(%q) = %v", s, r)
		}
		if again, err := ParseRef(r.String()); err != nil || again != r {
			t.Fatalf("ParseRef(%q) = %v, %v; want %v", r.String(), again, err, r)
		}
	})
}
