package matching

import (
	"strings"
	"unicode"

	"github.com/dlclark/metaphone3"
	"github.com/f1monkey/phonetic/soundex"
)

// phonetics holds the phonetic codes of one normalised name: the two
// Metaphone 3 keys (the Double Metaphone successor: a primary and an
// alternate pronunciation), NYSIIS and Soundex. Empty codes never agree.
type phonetics struct {
	dm1, dm2, nysiis, soundex string
}

// encodePhonetics computes the codes of a normalised name; spaces and digits
// are dropped first so that "van der berg" and "vanderberg" code alike.
func encodePhonetics(norm string) phonetics {
	letters := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return -1
	}, norm)
	if letters == "" {
		return phonetics{}
	}
	enc := metaphone3.Encoder{MaxLength: 8} // not safe for concurrent use: one per call
	p, s := enc.Encode(letters)
	return phonetics{dm1: p, dm2: s, nysiis: NYSIIS(letters), soundex: soundex.NewEncoder().Encode(letters)}
}

// codeHashes are the phonetic codes hashed to 32 bits and kept inside the
// value, so that comparing them reads no other memory (0: no code). Two
// different codes share a hash with odds of about 1 in 4 billion.
type codeHashes struct {
	dm1, dm2, nysiis, soundex uint32
}

func (p *phonetics) hashes() codeHashes {
	return codeHashes{hash32(p.dm1), hash32(p.dm2), hash32(p.nysiis), hash32(p.soundex)}
}

// hash32 is FNV-1a, with 0 kept for the empty string.
func hash32(s string) uint32 {
	if s == "" {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return max(h, 1)
}

// agree reports whether two names share a Metaphone key (primary or
// alternate, either way round), their NYSIIS code or their Soundex code.
// Each code forgives different spellings (Metaphone: consonant sounds,
// NYSIIS: vowels and suffixes, Soundex: c/s/z and friends).
func (p *codeHashes) agree(q *codeHashes) bool {
	return p.dm1 != 0 && (p.dm1 == q.dm1 || p.dm1 == q.dm2) ||
		p.dm2 != 0 && (p.dm2 == q.dm1 || p.dm2 == q.dm2) ||
		p.nysiis != 0 && p.nysiis == q.nysiis ||
		p.soundex != 0 && p.soundex == q.soundex
}

// NYSIIS returns the New York State Identification and Intelligence System
// phonetic code of a name (Taft 1970), without the optional truncation to six
// characters. Letters are upper-cased; anything but A-Z passes through
// unchanged. Written for idem: the Go implementations on the module proxy
// are GPL-licensed.
func NYSIIS(name string) string {
	s := []rune(strings.ToUpper(name))
	if len(s) == 0 {
		return ""
	}
	s = nysiisEnds(s)
	key := []rune{s[0]}
	for i := 1; i < len(s); i++ {
		var t []rune
		t, i = nysiisStep(s, i)
		if t[len(t)-1] != key[len(key)-1] { // runs of one code letter count once
			key = append(key, t...)
		}
	}
	return nysiisTrim(string(key))
}

// nysiisEnds applies the rules for the first and last letters of the name.
func nysiisEnds(s []rune) []rune {
	str := string(s)
	switch {
	case strings.HasPrefix(str, "MAC"):
		str = "MCC" + str[3:]
	case strings.HasPrefix(str, "KN"):
		str = "N" + str[2:]
	case strings.HasPrefix(str, "K"):
		str = "C" + str[1:]
	case strings.HasPrefix(str, "PH"), strings.HasPrefix(str, "PF"):
		str = "FF" + str[2:]
	case strings.HasPrefix(str, "SCH"):
		str = "SSS" + str[3:]
	}
	for _, suf := range [...]string{"EE", "IE"} {
		if strings.HasSuffix(str, suf) && len(str) > 2 {
			return []rune(str[:len(str)-2] + "Y")
		}
	}
	for _, suf := range [...]string{"DT", "RT", "RD", "NT", "ND"} {
		if strings.HasSuffix(str, suf) && len(str) > 2 {
			return []rune(str[:len(str)-2] + "D")
		}
	}
	return []rune(str)
}

// nysiisStep translates the letter at s[i] (with the letters it consumes)
// and returns the code and the index of the last letter consumed.
func nysiisStep(s []rune, i int) ([]rune, int) {
	c, next := s[i], rune(0)
	if i+1 < len(s) {
		next = s[i+1]
	}
	switch {
	case c == 'E' && next == 'V':
		return []rune("AF"), i + 1
	case isVowel(c):
		return []rune{'A'}, i
	case c == 'Q':
		return []rune{'G'}, i
	case c == 'Z':
		return []rune{'S'}, i
	case c == 'M':
		return []rune{'N'}, i
	case c == 'K' && next == 'N':
		return []rune{'N'}, i
	case c == 'K':
		return []rune{'C'}, i
	case c == 'S' && next == 'C' && i+2 < len(s) && s[i+2] == 'H':
		return []rune("SS"), i + 2
	case c == 'P' && next == 'H':
		return []rune{'F'}, i + 1
	case c == 'H' && (!isVowel(s[i-1]) || !isVowel(next)):
		// an H not between vowels is silent: it repeats the letter before
		if isVowel(s[i-1]) {
			return []rune{'A'}, i
		}
		return []rune{s[i-1]}, i
	case c == 'W' && isVowel(s[i-1]):
		return []rune{'A'}, i
	}
	return []rune{c}, i
}

// nysiisTrim drops a final S, turns a final AY into Y and drops a final A.
func nysiisTrim(key string) string {
	if len(key) > 1 && strings.HasSuffix(key, "S") {
		key = key[:len(key)-1]
	}
	if strings.HasSuffix(key, "AY") {
		key = key[:len(key)-2] + "Y"
	}
	if len(key) > 1 && strings.HasSuffix(key, "A") {
		key = key[:len(key)-1]
	}
	return key
}

func isVowel(r rune) bool {
	switch r {
	case 'A', 'E', 'I', 'O', 'U':
		return true
	}
	return false
}
