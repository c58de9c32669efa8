package fhir

import "strings"

// LiteralRef returns the "Type/id" a literal reference points to (R4
// references.html#literal), a substring of s: "Patient/123", or an absolute URL ending in
// Type/id, such as "http://example.org/fhir/Patient/123"; a "/_history/n"
// after it is removed. Contained ("#x"), "urn:" and malformed references (a
// type not shaped like a resource type name, an id that is not a FHIR id, a
// query) do not point to a resource here: ok is false.
func LiteralRef(s string) (target string, ok bool) {
	if s == "" || s[0] == '#' || strings.HasPrefix(s, "urn:") {
		return "", false
	}
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	slash := strings.LastIndexByte(s, '/')
	if slash < 0 || !IsID(s[slash+1:]) {
		return "", false
	}
	start := strings.LastIndexByte(s[:slash], '/') + 1
	if !IsTypeName(s[start:slash]) {
		return "", false
	}
	return s[start:], true
}

// IsTypeName reports whether s is shaped like a FHIR resource type name: an
// upper-case ASCII letter, then ASCII letters.
func IsTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isASCIILetter(s[i]) {
			return false
		}
	}
	return true
}
