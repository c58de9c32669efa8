package matching

import (
	"strings"
	"unicode"

	"idem/registry/fhir"
)

// Normalize returns the comparable form of a name or other text: folded by
// fhir.Fold (case, diacritics, compatibility forms), apostrophes dropped
// so that "O'Brien" and "OBrien" agree, every other run of punctuation or
// white space turned into one space, and the ends trimmed. The result holds
// only letters, digits, combining marks and single inner spaces, and
// Normalize(Normalize(s)) == Normalize(s).
func Normalize(s string) string {
	f := fhir.Fold(s)
	if isNormal(f) {
		return f // the common case (clean ASCII names): no second allocation
	}
	var b strings.Builder
	b.Grow(len(f))
	space := false
	for _, r := range f {
		switch {
		case isApostrophe(r):
			// dropped without a break: the parts are one word
		case isWordRune(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}

// isNormal reports whether a folded string is already in normal form.
func isNormal(f string) bool {
	for i, r := range f {
		if r == ' ' {
			if i == 0 || i == len(f)-1 || f[i-1] == ' ' {
				return false
			}
			continue
		}
		if isApostrophe(r) || !isWordRune(r) {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '`', '\u2018', '\u2019', '\u02bc', '\u00b4':
		return true
	}
	return false
}

// NormalizeLine returns the comparable form of an address line: Normalize,
// then the common street-type abbreviations spelled out ("rd" → "road"), so
// that "12 Smith Rd" and "12 Smith Road" agree, and flat designators
// ("apt", "unit") dropped. "st" is "saint" at the start
// of a line or after a house number ("12 St James Road") and "street" after
// a street name ("12 Warren St").
func NormalizeLine(s string) string {
	words := strings.Fields(Normalize(s))
	out := make([]string, 0, len(words))
	for i, w := range words {
		switch long, ok := streetTypes[w]; {
		case unitWords[w] && len(words) > 1:
			continue // "Apt 4B", "#4B" and "4B" name one flat
		case ok:
			w = long
		case w == "st" && i > 0 && !isDigits(words[i-1]):
			w = "street"
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// unitWords introduce a flat or suite number; systems write them, abbreviate
// them or leave them out ("Apt 4B", "#4B", "4B"), so NormalizeLine drops them
// and keeps the number.
var unitWords = map[string]bool{"apartment": true, "apt": true, "unit": true, "suite": true}

// streetName returns the street of a normalised line: the words after a
// leading house number up to the first word holding a digit (a flat
// number), "" when nothing is left ("12 main street 4b" → "main street").
func streetName(line string) string {
	words := strings.Fields(line)
	if len(words) > 0 && strings.ContainsAny(words[0], "0123456789") {
		words = words[1:]
	}
	for i, w := range words {
		if strings.ContainsAny(w, "0123456789") {
			words = words[:i]
			break
		}
	}
	return strings.Join(words, " ")
}

// streetTypes maps street-type abbreviations (Australian, British and North
// American usage) to the word they abbreviate.
var streetTypes = map[string]string{
	"rd": "road", "ave": "avenue", "av": "avenue", "dr": "drive", "drv": "drive",
	"ct": "court", "crt": "court", "cres": "crescent", "cr": "crescent",
	"pl": "place", "ln": "lane", "hwy": "highway", "pde": "parade", "tce": "terrace",
	"terr": "terrace", "blvd": "boulevard", "cct": "circuit", "cl": "close",
	"sq": "square", "gr": "grove", "gdns": "gardens", "mt": "mount", "pkwy": "parkway",
	"esp": "esplanade", "cir": "circle", "fl": "floor",
}

// NormalizeDigits returns the digits of s (a telephone number) in order,
// ASCII or not; everything else is dropped.
func NormalizeDigits(s string) string {
	var b strings.Builder
	for _, r := range fhir.Fold(s) { // Fold maps full-width and other compatibility digits to ASCII
		if unicode.IsDigit(r) {
			b.WriteByte(byte('0' + digitValue(r)))
		}
	}
	return b.String()
}

// digitValue returns the value of a Unicode decimal digit.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	// Decimal digits come in contiguous runs of ten whose first has value 0.
	for d := r; d > r-10; d-- {
		if !unicode.IsDigit(d - 1) {
			return int(r - d)
		}
	}
	return 0
}

// NormalizeEmail returns the comparable form of an e-mail address: folded,
// white space and a "mailto:" prefix removed. Empty unless it holds an '@'
// with text on both sides.
func NormalizeEmail(s string) string {
	f := strings.Join(strings.Fields(fhir.Fold(s)), "")
	f = strings.TrimPrefix(f, "mailto:")
	at := strings.LastIndexByte(f, '@')
	if at <= 0 || at == len(f)-1 {
		return ""
	}
	return f
}

// NormalizeCode returns the comparable form of an identifier value, postal
// code or coded value: folded, with only letters and digits kept, so that
// "943 476-5919" and "9434765919" agree.
func NormalizeCode(s string) string {
	return strings.ReplaceAll(Normalize(s), " ", "")
}
