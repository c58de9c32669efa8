package fhir

import (
	"fmt"
	"slices"
	"strings"
)

// The value syntax of search parameters (R4 search.html): escapes, date
// prefixes. Which parameters a server has, and what they search, is the
// server's own business. Errors here are plain reasons ("unknown prefix
// \"xx\""), for the caller to put into its message about the parameter.

// datePrefixes are the comparison prefixes of date values that are
// supported; "ap" (approximately) is not.
var datePrefixes = []string{"eq", "ne", "lt", "gt", "le", "ge", "sa", "eb"}

// ParseDateValue parses a date search value "[prefix]date": the prefix ("eq"
// when there is none) and the range the date covers (DateRange). A space
// where a time zone's "+" belongs is read as "+": clients often leave "+"
// unencoded, and a query string decodes it to a space.
func ParseDateValue(raw string) (prefix string, lo, hi int64, err error) {
	prefix, s := "eq", raw
	if len(s) >= 2 && isASCIILetter(s[0]) && isASCIILetter(s[1]) {
		prefix, s = s[:2], s[2:]
		if prefix == "ap" {
			return prefix, 0, 0, fmt.Errorf(`the prefix "ap" is not supported`)
		}
		if !slices.Contains(datePrefixes, prefix) {
			return prefix, 0, 0, fmt.Errorf("unknown prefix %q", prefix)
		}
	}
	if strings.Contains(s, "T") {
		s = strings.Replace(s, " ", "+", 1)
	}
	lo, hi, err = DateRange(s)
	if err != nil {
		return prefix, 0, 0, fmt.Errorf("not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][zone])")
	}
	return prefix, lo, hi, nil
}

// Unescape removes the backslashes of "\,", "\|", "\$" and "\\".
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`,|$\`, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Escape escapes s as one value of a search parameter, Unescape's
// reverse: each backslash, comma, bar and dollar gets a backslash.
func Escape(s string) string {
	if !strings.ContainsAny(s, `\,|$`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`,|$\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// SplitEscaped splits s at each sep not escaped by a backslash; the parts
// keep their escapes.
func SplitEscaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
