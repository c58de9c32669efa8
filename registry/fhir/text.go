package fhir

import (
	"fmt"
	"net/url"
)

// FHIR strings must not contain characters below U+0020 other than tab,
// CR and LF (R4 datatypes.html#string). Rejecting them everywhere input
// enters, and not just where a backend would choke (PostgreSQL refuses
// U+0000), keeps behaviour the same on every database.

// forbiddenControl reports whether r is a control character FHIR strings
// forbid.
func forbiddenControl(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\r'
}

// controlAt returns the index of the first forbidden control character in
// s, or -1.
func controlAt(s string) int {
	for i := 0; i < len(s); i++ {
		if forbiddenControl(rune(s[i])) {
			return i
		}
	}
	return -1
}

// CheckText refuses a string holding a character FHIR strings forbid
// (a Malformed *Error naming what, e.g. "family" or "Patient.id").
func CheckText(what, s string) error {
	if i := controlAt(s); i >= 0 {
		return malformed("invalid", what, "%s contains the control character U+%04X, which FHIR strings do not allow", what, s[i])
	}
	return nil
}

// CheckParams refuses parameters whose names or values hold a character
// FHIR strings forbid, naming the parameter.
func CheckParams(params url.Values) error {
	for key, vals := range params {
		if err := CheckText("parameter name "+fmt.Sprintf("%q", key), key); err != nil {
			return err
		}
		for _, v := range vals {
			if err := CheckText(key, v); err != nil {
				return err
			}
		}
	}
	return nil
}
