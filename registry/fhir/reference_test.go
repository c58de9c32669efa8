package fhir

import (
	"strings"
	"testing"
)

func TestLiteralRef(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Patient/123", "Patient/123"},
		{"Patient/123/_history/4", "Patient/123"},
		{"http://example.org/fhir/Patient/a.b-c", "Patient/a.b-c"},
		{"https://example.org/fhir/Person/1/_history/2", "Person/1"},
		{"RelatedPerson/1", "RelatedPerson/1"},
		{"", ""}, {"#c1", ""}, {"urn:uuid:1234", ""}, {"urn:oid:1.2.3", ""},
		{"123", ""}, {"Patient/", ""}, {"/123", ""}, {"patient/1", ""}, {"Pat1ent/1", ""},
		{"Patient/1?x=y", ""}, {"Patient/" + strings.Repeat("a", 65), ""}, {"Patient?identifier=1", ""},
	}
	for _, tt := range tests {
		got, ok := LiteralRef(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("LiteralRef(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}
