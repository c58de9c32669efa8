package fhir

import (
	"encoding/json"
	"strconv"
	"strings"
)

// maxStringBytes is the largest string value accepted (FHIR: 1 MB).
const maxStringBytes = 1 << 20

// checkPrimitive returns "" when val is a valid value of primitive kind k;
// otherwise a message, and whether the problem is the JSON type (structural)
// rather than the value's format.
func checkPrimitive(k schemaKind, val any) (msg string, structural bool) {
	switch k {
	case kindBoolean:
		if _, ok := val.(bool); !ok {
			return "expected a JSON boolean, got " + jsonTypeName(val), true
		}
		return "", false
	case kindInteger, kindPositiveInt, kindUnsignedInt, kindDecimal:
		s, ok := numberText(val)
		if !ok {
			return "expected a JSON number, got " + jsonTypeName(val), true
		}
		return checkNumber(k, s), false
	}
	s, ok := val.(string)
	if !ok {
		return "expected a JSON string, got " + jsonTypeName(val), true
	}
	if s == "" {
		return "empty string (a value must have content)", false
	}
	if !stringFormats[k](s) {
		return "invalid " + kindNames[k] + " " + quoteShort(s), false
	}
	return "", false
}

var kindNames = [...]string{
	kindString: "string", kindMarkdown: "markdown", kindCode: "code", kindID: "id",
	kindURI: "uri", kindURL: "url", kindCanonical: "canonical", kindOID: "oid",
	kindUUID: "uuid", kindBase64Binary: "base64Binary", kindDate: "date",
	kindDateTime: "dateTime", kindInstant: "instant", kindTime: "time", kindXHTML: "xhtml",
}

// stringFormats are the R4 regexes of the string-valued primitives, as code.
var stringFormats = [...]func(string) bool{
	kindString:       validString,
	kindMarkdown:     validString,
	kindCode:         validCode,
	kindID:           validID,
	kindURI:          validURI,
	kindURL:          validURI,
	kindCanonical:    validURI,
	kindOID:          validOID,
	kindUUID:         validUUID,
	kindBase64Binary: validBase64,
	kindDate:         func(s string) bool { n, _ := scanDate(s); return n == len(s) },
	kindDateTime:     validDateTime,
	kindInstant:      validInstant,
	kindTime:         func(s string) bool { return scanTime(s) == len(s) },
	kindXHTML:        validXHTML,
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if _, ok := numberText(v); ok {
		return "number"
	}
	return "value"
}

// numberText returns the text of a JSON number, also for numbers that Go
// code (not DecodeJSON) put into a resource.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64), true
	case int:
		return strconv.Itoa(n), true
	case int64:
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

func checkNumber(k schemaKind, s string) string {
	if scanNumber([]byte(s)) != len(s) || s == "" {
		return "invalid number " + quoteShort(s)
	}
	if k == kindDecimal {
		return ""
	}
	n, err := strconv.ParseInt(s, 10, 32)
	switch {
	case err != nil:
		return "expected an integer in the 32-bit range, got " + s
	case k == kindPositiveInt && n < 1:
		return "expected a positive integer, got " + s
	case k == kindUnsignedInt && n < 0:
		return "expected a non-negative integer, got " + s
	}
	return ""
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

func isFHIRSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
}

func validString(s string) bool { return len(s) <= maxStringBytes }

// validCode: [^\s]+(\s[^\s]+)*
func validCode(s string) bool {
	if isFHIRSpace(s[0]) || isFHIRSpace(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if isFHIRSpace(s[i]) && isFHIRSpace(s[i-1]) {
			return false
		}
	}
	return true
}

// IsID reports whether s is a FHIR id: 1 to 64 of [A-Za-z0-9\-\.].
func IsID(s string) bool { return s != "" && validID(s) }

// validID: [A-Za-z0-9\-\.]{1,64}
func validID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isFHIRAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isFHIRAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isASCIIDigit(c)
}

// validURI: \S* (and, like every primitive, not empty).
func validURI(s string) bool {
	for i := 0; i < len(s); i++ {
		if isFHIRSpace(s[i]) {
			return false
		}
	}
	return true
}

// validOID: urn:oid:[0-2](\.(0|[1-9][0-9]*))+
func validOID(s string) bool {
	rest, ok := strings.CutPrefix(s, "urn:oid:")
	if !ok || len(rest) < 3 || rest[0] < '0' || rest[0] > '2' {
		return false
	}
	for _, arc := range strings.Split(rest[1:], ".")[1:] {
		if arc == "" || arc[0] == '0' && len(arc) > 1 || skipDigits([]byte(arc), 0) != len(arc) {
			return false
		}
	}
	return rest[1] == '.'
}

// validUUID: urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
func validUUID(s string) bool {
	rest, ok := strings.CutPrefix(s, "urn:uuid:")
	if !ok || len(rest) != 36 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isASCIIDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validBase64: (\s*([0-9a-zA-Z\+/=]){4}\s*)+ with '=' only as padding.
func validBase64(s string) bool {
	n, pad := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isFHIRSpace(c):
			continue
		case c == '=':
			pad++
		case pad > 0 || !isFHIRAlnum(c) && c != '+' && c != '/':
			return false
		}
		n++
	}
	return n > 0 && n%4 == 0 && pad <= 2
}

// validXHTML checks the shape of Narrative.div: one <div> element.
func validXHTML(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "<div") || len(s) < 6 {
		return false
	}
	if c := s[4]; c != ' ' && c != '>' && c != '/' && !isFHIRSpace(c) {
		return false
	}
	return strings.HasSuffix(s, "</div>") || strings.HasSuffix(s, "/>")
}

// scanDate matches the R4 date regex (YYYY, YYYY-MM or YYYY-MM-DD, year
// 0001-9999) at the start of s and checks the calendar. It returns the
// length matched (-1 for none) and whether the date has all three parts.
func scanDate(s string) (n int, full bool) {
	year, ok := parseDigits(s, 0, 4)
	if !ok || year == 0 {
		return -1, false
	}
	if len(s) == 4 || s[4] != '-' {
		return 4, false
	}
	month, ok := parseDigits(s, 5, 2)
	if !ok || month < 1 || month > 12 {
		return -1, false
	}
	if len(s) == 7 || s[7] != '-' {
		return 7, false
	}
	day, ok := parseDigits(s, 8, 2)
	if !ok || day < 1 || day > DaysIn(year, month) {
		return -1, false
	}
	return 10, true
}

// parseDigits parses s[at:at+n] as decimal digits.
func parseDigits(s string, at, n int) (int, bool) {
	if at+n > len(s) {
		return 0, false
	}
	v := 0
	for i := at; i < at+n; i++ {
		if !isASCIIDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

// scanTime matches hh:mm:ss(.f+)? (seconds up to 60 for leap seconds) at
// the start of s and returns the length matched, or -1.
func scanTime(s string) int {
	h, ok1 := parseDigits(s, 0, 2)
	m, ok2 := parseDigits(s, 3, 2)
	sec, ok3 := parseDigits(s, 6, 2)
	if !ok1 || !ok2 || !ok3 || s[2] != ':' || s[5] != ':' || h > 23 || m > 59 || sec > 60 {
		return -1
	}
	if len(s) > 8 && s[8] == '.' {
		if n := skipDigits([]byte(s[9:]), 0); n > 0 {
			return 9 + n
		}
		return -1
	}
	return 8
}

// validZone: Z | (+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)
func validZone(z string) bool {
	if z == "Z" {
		return true
	}
	if len(z) != 6 || z[0] != '+' && z[0] != '-' || z[3] != ':' {
		return false
	}
	h, ok1 := parseDigits(z, 1, 2)
	m, ok2 := parseDigits(z, 4, 2)
	return ok1 && ok2 && m <= 59 && (h <= 13 || h == 14 && m == 0)
}

// validDateTime: a date, or a full date with Thh:mm:ss(.f)? and a zone.
func validDateTime(s string) bool {
	n, full := scanDate(s)
	switch {
	case n == len(s):
		return true
	case n < 0 || !full:
		return false
	}
	return validInstant(s)
}

// validInstant: YYYY-MM-DDThh:mm:ss(.f)?(Z|±hh:mm)
func validInstant(s string) bool {
	if n, full := scanDate(s); !full || n != 10 || len(s) < 20 || s[10] != 'T' {
		return false
	}
	t := scanTime(s[11:])
	return t > 0 && validZone(s[11+t:])
}
