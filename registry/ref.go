package registry

import (
	"strings"

	"idem/registry/fhir"
)

// Ref names one resource by type and logical id; it is written "Type/id".
type Ref struct {
	Type, ID string
}

// String returns "Type/id".
func (r Ref) String() string { return r.Type + "/" + r.ID }

// ParseRef parses a relative reference: "Patient/123", or a version of it,
// "Patient/123/_history/4" (the version is dropped). The type must be shaped
// like a resource type name (an upper-case letter, then letters) and the id
// must be a FHIR id (1 to 64 of A-Z a-z 0-9 - .); whether the registry
// serves the type is for the caller to check. Everything else is an
// EInvalid error: an empty string, a bare id, an absolute URL
// ("http://example.org/fhir/Patient/123": a reference inside a resource may
// be one, see Extract), a contained ("#x") or "urn:" reference, a search
// ("Patient?identifier=x"), surrounding spaces, or a version that is not a
// number.
func ParseRef(s string) (Ref, error) {
	target, ok := fhir.LiteralRef(s)
	if !ok || !strings.HasPrefix(s, target) || !isHistory(s[len(target):]) {
		return Ref{}, Errorf(EInvalid, "%q is not a reference of the form Type/id", s)
	}
	slash := strings.IndexByte(target, '/')
	return Ref{Type: target[:slash], ID: target[slash+1:]}, nil
}

// isHistory reports whether rest, what follows Type/id, is nothing or
// "/_history/" and a version number.
func isHistory(rest string) bool {
	if rest == "" {
		return true
	}
	v, ok := strings.CutPrefix(rest, "/_history/")
	if !ok || v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}
