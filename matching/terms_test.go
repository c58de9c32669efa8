package matching

import (
	"slices"
	"testing"
)

// TestTermKeys: a record's term keys name each value scoring may ask the
// frequency of, in the matcher's normal form, once each.
func TestTermKeys(t *testing.T) {
	rec := Extract("Patient", map[string]any{
		"resourceType": "Patient",
		"name":         []any{map[string]any{"family": "Smith", "given": []any{"Ann", "Ann"}}, map[string]any{"family": "SMITH"}},
		"address":      []any{map[string]any{"line": []any{"1 High St"}, "city": "Springfield", "postalCode": "2000"}},
		"birthDate":    "1970-01-01",
	})
	got := rec.TermKeys()
	for _, want := range []string{"tf:Patient:family:smith", "tf:Patient:given:ann", "tf:Patient:city:springfield", "tf:Patient:postalCode:2000"} {
		if !slices.Contains(got, want) {
			t.Errorf("term keys %q lack %q", got, want)
		}
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("term keys not sorted and distinct: %q", got)
	}
	for _, k := range got {
		if k == TermKey("Patient", "birthDate", "1970-01-01") {
			t.Errorf("a birth date's frequency is never asked: %q", got)
		}
	}
	// The frequency scoring asks for is the one counted under the same key.
	line := rec.Values("line")
	if len(line) != 1 || !slices.Contains(got, TermKey("Patient", "line", line[0])) {
		t.Errorf("line %q has no term key in %q", line, got)
	}
}
