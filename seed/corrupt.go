package seed

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"idem/registry/fhir"
)

// The data-entry errors of this file are pure functions of their input and
// explicit choices (position, variant), so they can be table-tested; the
// generator draws the choices from its random source. A function returns
// ok=false when the error cannot apply (nothing to swap, no matching rule),
// and the caller then tries another kind of error.

// qwerty lists each letter's neighbours on a US keyboard: typists hit
// these, not random letters.
var qwerty = [26]string{
	"qwsz", "vghn", "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko", "huikmn",
	"jiolm", "kop", "njk", "bhjm", "iklp", "ol", "wa", "edft", "awedxz", "rfgy",
	"yhji", "cfgb", "qase", "zsdc", "tghu", "asx",
}

// adjacentTypo replaces the letter at rune index i with its k-th keyboard
// neighbour (k modulo the number of neighbours), keeping the letter's case.
func adjacentTypo(s string, i, k int) (string, bool) {
	rs := []rune(s)
	if i < 0 || i >= len(rs) {
		return s, false
	}
	lower := unicode.ToLower(rs[i])
	if lower < 'a' || lower > 'z' {
		return s, false
	}
	near := qwerty[lower-'a']
	repl := rune(near[k%len(near)])
	if unicode.IsUpper(rs[i]) {
		repl = unicode.ToUpper(repl)
	}
	rs[i] = repl
	return string(rs), true
}

// transpose swaps the runes at i and i+1 ("Jonh" for "John").
func transpose(s string, i int) (string, bool) {
	rs := []rune(s)
	if i < 0 || i+1 >= len(rs) || rs[i] == rs[i+1] || !unicode.IsLetter(rs[i]) || !unicode.IsLetter(rs[i+1]) {
		return s, false
	}
	rs[i], rs[i+1] = rs[i+1], rs[i]
	return string(rs), true
}

// Where a phonetic rule may match.
const (
	anywhere = iota
	atStart
	atEnd
)

// phoneticRules are spellings a clerk writes for a name heard, not read:
// each turns one plausible spelling into another that sounds the same.
var phoneticRules = [...]struct {
	from, to string
	where    int
}{
	{"ph", "f", anywhere}, {"ck", "k", anywhere}, {"c", "k", atStart}, {"k", "c", atStart},
	{"z", "s", anywhere}, {"es", "ez", atEnd}, {"oh", "o", anywhere}, {"th", "t", anywhere},
	{"mps", "ms", anywhere}, {"son", "sen", atEnd}, {"sen", "son", atEnd},
	{"ei", "ie", anywhere}, {"ie", "ei", anywhere}, {"y", "ie", atEnd}, {"ey", "y", atEnd},
	{"y", "ey", atEnd}, {"i", "y", anywhere}, {"y", "i", anywhere}, {"ll", "l", anywhere},
	{"tt", "t", anywhere}, {"nn", "n", anywhere}, {"rr", "r", anywhere}, {"ss", "s", anywhere},
	{"mc", "mac", atStart}, {"mac", "mc", atStart}, {"an", "en", atEnd}, {"en", "an", atEnd},
	{"ic", "ik", atEnd}, {"ik", "ic", atEnd}, {"ne", "n", atEnd}, {"ai", "ay", anywhere},
}

// phoneticVariant applies the k-th phonetic rule (counting only rules that
// match s) at its first match. The case of the replaced letters follows the
// original, so "McDonald" becomes "MacDonald" and "THOMPSON" "TOMPSON".
func phoneticVariant(s string, k int) (string, bool) {
	if !isASCII(s) || s == "" {
		return s, false
	}
	lower := strings.ToLower(s)
	var idx [len(phoneticRules)]int
	var match [len(phoneticRules)]int
	n := 0
	for ri, r := range phoneticRules {
		if at := ruleMatch(lower, r.from, r.where); at >= 0 {
			idx[n], match[n] = ri, at
			n++
		}
	}
	if n == 0 {
		return s, false
	}
	r, at := phoneticRules[idx[k%n]], match[k%n]
	repl := r.to
	switch {
	case s == strings.ToUpper(s):
		repl = strings.ToUpper(repl)
	case repl != "" && s[at] >= 'A' && s[at] <= 'Z':
		repl = strings.ToUpper(repl[:1]) + repl[1:]
	}
	out := s[:at] + repl + s[at+len(r.from):]
	return out, out != "" && out != s
}

// ruleMatch returns where from occurs in lower under the position rule, or -1.
func ruleMatch(lower, from string, where int) int {
	switch where {
	case atStart:
		if strings.HasPrefix(lower, from) {
			return 0
		}
	case atEnd:
		if strings.HasSuffix(lower, from) && len(lower) > len(from) {
			return len(lower) - len(from)
		}
	default:
		return strings.Index(lower, from)
	}
	return -1
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// swapDayMonth turns 1985-03-07 into 1985-07-03: the day/month confusion of
// forms filled in by people used to the other order. It applies only when
// both readings are valid dates and differ.
func swapDayMonth(date string) (string, bool) {
	y, m, d, ok := splitDate(date)
	if !ok || d > 12 || d == m {
		return date, false
	}
	return formatDate(y, d, m), true
}

// dateTypo changes one part of a date by one keystroke: variant 0 the year
// by one (1985 → 1986 or 1984, alternating by the year's parity), 1 the
// last digit of the day, 2 the last digit of the month. The result is
// always a valid calendar date.
func dateTypo(date string, variant int) (string, bool) {
	y, m, d, ok := splitDate(date)
	if !ok {
		return date, false
	}
	switch variant % 3 {
	case 0:
		y += 1 - 2*(y%2)
	case 1:
		d = nearDigit(d, fhir.DaysIn(y, m))
	default:
		m = nearDigit(m, 12)
	}
	if d > fhir.DaysIn(y, m) {
		return date, false
	}
	out := formatDate(y, m, d)
	return out, out != date
}

// nearDigit changes the units digit of n by one, staying in 1..limit.
func nearDigit(n, limit int) int {
	if up := n + 1; up%10 != 0 && up <= limit {
		return up
	}
	if down := n - 1; down%10 != 9 && down >= 1 {
		return down
	}
	return n
}

func splitDate(date string) (y, m, d int, ok bool) {
	if len(date) != 10 || date[4] != '-' || date[7] != '-' {
		return 0, 0, 0, false
	}
	y, e1 := strconv.Atoi(date[:4])
	m, e2 := strconv.Atoi(date[5:7])
	d, e3 := strconv.Atoi(date[8:])
	return y, m, d, e1 == nil && e2 == nil && e3 == nil && m >= 1 && m <= 12 && d >= 1 && d <= fhir.DaysIn(y, m)
}

func formatDate(y, m, d int) string {
	return pad(uint64(y), 4) + "-" + pad(uint64(m), 2) + "-" + pad(uint64(d), 2)
}

// truncate cuts s to n runes: legacy systems with short name fields.
func truncate(s string, n int) (string, bool) {
	rs := []rune(s)
	if n < 2 || n >= len(rs) {
		return s, false
	}
	return strings.TrimRight(string(rs[:n]), " -'."), true
}

// stripPunctuation removes apostrophes and periods and turns hyphens into
// spaces: "O'Brien" → "OBrien", "Smith-Jones" → "Smith Jones",
// "St. Mary's" → "St Marys".
func stripPunctuation(s string) (string, bool) {
	out := strings.Map(func(r rune) rune {
		switch r {
		case '\'', '.', '’':
			return -1
		case '-':
			return ' '
		}
		return r
	}, s)
	out = strings.Join(strings.Fields(out), " ")
	return out, out != s && out != ""
}

// closeUp removes the spaces of a multi-word name: "De La Cruz" → "DeLaCruz".
func closeUp(s string) (string, bool) {
	out := strings.ReplaceAll(s, " ", "")
	return out, out != s
}

// asciiFold replaces the accented letters of Spanish and Portuguese names
// with plain ones, as systems limited to ASCII store them.
func asciiFold(s string) (string, bool) {
	out := strings.Map(func(r rune) rune {
		if i := strings.IndexRune(accented, r); i >= 0 {
			return rune(plain[i/2]) // every accented letter here is 2 bytes in UTF-8
		}
		return r
	}, s)
	return out, out != s
}

const (
	accented = "áéíóúñüçãõÁÉÍÓÚÑÜÇÃÕ"
	plain    = "aeiounucaoAEIOUNUCAO"
)

// digitTypo changes the i-th digit of an identifier (counting digits only)
// to the digit next to it on the number row; variant picks left or right.
func digitTypo(s string, i, variant int) (string, bool) {
	b := []byte(s)
	for p := range b {
		if b[p] < '0' || b[p] > '9' {
			continue
		}
		if i--; i >= 0 {
			continue
		}
		d := int(b[p]-'0') + 1 - 2*(variant%2)
		b[p] = byte('0' + (d+10)%10)
		return string(b), true
	}
	return s, false
}
