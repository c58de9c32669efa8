package policy_test

import (
	"testing"

	"idem/policy"
)

func TestCanonicalDomain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://ehr.example/mrn", "http://ehr.example/mrn"},
		{"HTTP://EHR.Example/mrn", "http://ehr.example/mrn"},
		{"https://ehr.example/mrn/", "http://ehr.example/mrn"},
		{"http://ehr.example:80/mrn//", "http://ehr.example/mrn"},
		{"https://ehr.example:443", "http://ehr.example"},
		{" http://ehr.example/MRN ", "http://ehr.example/MRN"}, // paths keep their case
		{"http://ehr.example:8080/mrn", "http://ehr.example:8080/mrn"},
		{"urn:oid:1.2.3", "urn:oid:1.2.3"},
		{"URN:OID:1.2.3", "urn:oid:1.2.3"},
		{"1.2.3", "urn:oid:1.2.3"},
		{"1.2.", "1.2."},
		{"urn:UUID:A1B2C3D4-0000-4000-8000-00000000000F", "urn:uuid:a1b2c3d4-0000-4000-8000-00000000000f"},
		{"urn:ietf:rfc:3986", "urn:ietf:rfc:3986"},
		{"URN:IETF:rfc:3986", "urn:ietf:rfc:3986"},
		{"Mailto:x@example.org", "mailto:x@example.org"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := policy.CanonicalDomain(tt.in); got != tt.want {
			t.Errorf("CanonicalDomain(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
