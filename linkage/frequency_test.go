package linkage

import (
	"testing"

	"idem/registry"
)

// TestParamFor checks which index answers each field's term frequency.
func TestParamFor(t *testing.T) {
	for _, c := range []struct{ typ, field, want string }{
		{registry.TypePatient, "family", "family"},
		{registry.TypePatient, "given", "given"},
		{registry.TypePatient, "middle", ""},
		{registry.TypePatient, "city", "address-city"},
		{registry.TypePatient, "postalCode", "address-postalcode"},
		{registry.TypeLocation, "line", "address"},
		{registry.TypeLocation, "name", "name"},
		{registry.TypeLocation, "position", ""},
		{registry.TypeLocation, "organization", ""},
	} {
		got := ""
		if p := paramFor(c.typ, c.field); p != nil {
			got = p.Name
		}
		if got != c.want {
			t.Errorf("%s.%s: %q, want %q", c.typ, c.field, got, c.want)
		}
	}
}
