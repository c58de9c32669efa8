package seed

import (
	"strings"
	"unicode"
)

// Phone number formats. Systems store the same number differently, and so
// do clerks within one system.
const (
	phoneParens = iota // (617) 555-0134
	phoneDashes        // 617-555-0134
	phoneDigits        // 6175550134
	phoneDots          // 617.555.0134
	phoneIntl          // +1 617 555 0134
	phoneFormats
)

// formatPhone formats a 10-digit North American number in one of the
// phone formats.
func formatPhone(digits string, format int) string {
	if len(digits) != 10 {
		return digits
	}
	a, b, c := digits[:3], digits[3:6], digits[6:]
	switch format % phoneFormats {
	case phoneParens:
		return "(" + a + ") " + b + "-" + c
	case phoneDashes:
		return a + "-" + b + "-" + c
	case phoneDots:
		return a + "." + b + "." + c
	case phoneIntl:
		return "+1 " + a + " " + b + " " + c
	}
	return digits
}

// ZIP code formats.
const (
	zip5           = iota // 02118
	zipPlus4              // 02118-3409
	zipSpaced             // 02118 3409: a space where the hyphen belongs
	zipRunTogether        // 021183409
	zipFormats
)

// formatZIP writes a US postal code in one of the ZIP formats.
func formatZIP(zip, plus4 string, format int) string {
	switch format % zipFormats {
	case zipPlus4:
		return zip + "-" + plus4
	case zipSpaced:
		return zip + " " + plus4
	case zipRunTogether:
		return zip + plus4
	}
	return zip
}

// abbreviations pairs the long and short forms that street and facility
// names are written in. "St" stands for Saint at the start of a name and
// for Street elsewhere.
var abbreviations = [][2]string{
	{"Street", "St"}, {"Avenue", "Ave"}, {"Road", "Rd"}, {"Drive", "Dr"}, {"Lane", "Ln"},
	{"Court", "Ct"}, {"Place", "Pl"}, {"Boulevard", "Blvd"}, {"Terrace", "Ter"}, {"Parkway", "Pkwy"},
	{"Saint", "St"}, {"Hospital", "Hosp"}, {"Medical", "Med"}, {"Center", "Ctr"}, {"Memorial", "Mem"},
	{"Regional", "Reg"}, {"University", "Univ"}, {"Laboratory", "Lab"}, {"Laboratories", "Labs"},
	{"General", "Gen"}, {"Community", "Comm"}, {"Family", "Fam"}, {"Rehabilitation", "Rehab"},
	{"Pharmacy", "Pharm"}, {"Apartment", "Apt"}, {"and", "&"}, {"North", "N"}, {"South", "S"},
	{"East", "E"}, {"West", "W"}, {"Department", "Dept"}, {"Health", "Hlth"}, {"Services", "Svcs"},
}

// abbreviate rewrites the k-th word (counting only words with a known
// variant) between its long and short form: "Saint Mary's Hospital" →
// "St Mary's Hospital" → "St Mary's Hosp". With dot set, a new short form
// gets a period ("Hosp."). A name in capitals stays so ("MAIN ST" → "MAIN STREET").
func abbreviate(s string, k int, dot bool) (string, bool) {
	words := strings.Fields(s)
	var cand []int
	for i, w := range words {
		if _, ok := wordVariant(w, i); ok {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return s, false
	}
	i := cand[k%len(cand)]
	v, _ := wordVariant(words[i], i)
	if dot && len(v) < len(words[i]) && v != "&" {
		v += "."
	}
	if s == strings.ToUpper(s) {
		v = strings.ToUpper(v)
	}
	words[i] = v
	return strings.Join(words, " "), true
}

// abbreviateSuffix abbreviates the last word of a street name, its type:
// "Maple Street" → "Maple St" (where abbreviate might pick "North" first).
func abbreviateSuffix(street string) string {
	i := strings.LastIndexByte(street, ' ')
	if v, ok := wordVariant(street[i+1:], i+1); ok && len(v) < len(street)-i-1 {
		return street[:i+1] + v
	}
	return street
}

// wordVariant returns the other form of a word at position pos.
func wordVariant(w string, pos int) (string, bool) {
	bare := strings.TrimSuffix(w, ".")
	for _, a := range abbreviations {
		long, short := a[0], a[1]
		switch {
		case strings.EqualFold(bare, long):
			return short, true
		case strings.EqualFold(bare, short):
			if short == "St" && pos > 0 {
				return "Street", true
			}
			if short == "St" {
				return "Saint", true
			}
			return long, true
		}
	}
	return "", false
}

// titleCase capitalises the first letter of every word and after an
// apostrophe or hyphen ("o'brien-smith" → "O'Brien-Smith"); the rest is
// lower case. Used where a system re-capitalises names it stored in capitals.
func titleCase(s string) string {
	rs := []rune(strings.ToLower(s))
	up := true
	for i, r := range rs {
		if up {
			rs[i] = unicode.ToUpper(r)
		}
		up = r == ' ' || r == '-' || r == '\''
	}
	return string(rs)
}
