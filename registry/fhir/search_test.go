package fhir

import (
	"slices"
	"strings"
	"testing"
)

// Escape is Unescape's reverse, and a list of escaped values joined by
// commas splits back into the values.
func TestEscapeRoundTrips(t *testing.T) {
	values := []string{"plain", "a,b", `c|d`, "e$f", `g\h`, `\,|$`, "", `trailing\`}
	var joined []string
	for _, v := range values {
		e := Escape(v)
		if got := Unescape(e); got != v {
			t.Errorf("Unescape(Escape(%q)) = %q", v, got)
		}
		joined = append(joined, e)
	}
	var parts []string
	for _, p := range SplitEscaped(strings.Join(joined, ","), ',') {
		parts = append(parts, Unescape(p))
	}
	if !slices.Equal(parts, values) {
		t.Errorf("split back: %q, want %q", parts, values)
	}
}
