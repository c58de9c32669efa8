package fhir

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fold returns the folded form of s that string search compares: Unicode
// compatibility decomposition (NFKD) with the combining marks dropped, full
// case folding, letters that do not decompose spelled out in ASCII (ß→ss,
// æ→ae, ø→o, ł→l, đ→d, þ→th, ...), runs of white space collapsed to one space
// and the ends trimmed. Punctuation is kept: "O'Brien" folds to "o'brien".
// Invisible format and control characters (soft hyphen, zero-width space)
// are dropped. The result is valid UTF-8 and Fold(Fold(s)) == Fold(s).
func Fold(s string) string {
	ascii, folded := scanASCII(s)
	switch {
	case folded:
		return s // the common case on ingest of already-clean data: no allocation
	case ascii:
		return foldASCII(s)
	}
	return foldUnicode(s)
}

// scanASCII reports whether s is all ASCII and, if so, whether it is already
// folded (no upper case, no control characters, single inner spaces, trimmed).
func scanASCII(s string) (ascii, folded bool) {
	folded = true
	prevSpace := true // a leading space is not folded
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			return false, false
		case c == ' ':
			folded = folded && !prevSpace
			prevSpace = true
		case 'A' <= c && c <= 'Z', c < ' ', c == 0x7f:
			folded, prevSpace = false, false
		default:
			prevSpace = false
		}
	}
	return true, folded && !prevSpace || s == ""
}

// foldASCII folds an all-ASCII string.
func foldASCII(s string) string {
	var f folder
	f.buf.Grow(len(s))
	for i := 0; i < len(s); i++ {
		f.rune(rune(s[i]))
	}
	return f.String()
}

// iters recycles NFKD iterators: one is large, and would otherwise be
// allocated on every call.
var iters = sync.Pool{New: func() any { return new(norm.Iter) }}

// foldUnicode folds s through an NFKD iterator, so that no decomposed copy of
// the whole input is made.
func foldUnicode(s string) string {
	var f folder
	f.buf.Grow(len(s) + len(s)/4)
	it := iters.Get().(*norm.Iter)
	defer iters.Put(it)
	it.InitString(norm.NFKD, s)
	for !it.Done() {
		seg := it.Next()
		for len(seg) > 0 {
			r, n := utf8.DecodeRune(seg)
			seg = seg[n:]
			f.rune(r)
		}
	}
	return f.String()
}

// folder accumulates folded output, holding back a space until a visible
// rune follows it so that runs collapse and the end is trimmed.
type folder struct {
	buf   strings.Builder
	space bool
}

// rune appends the folded form of one decomposed rune.
func (f *folder) rune(r rune) {
	switch {
	case r < utf8.RuneSelf:
		f.ascii(byte(r))
	case unicode.IsSpace(r):
		f.space = true
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc):
		// combining marks and invisible characters: dropped
	default:
		f.letter(r)
	}
}

// ascii appends one ASCII byte.
func (f *folder) ascii(c byte) {
	switch {
	case c == ' ', '\t' <= c && c <= '\r':
		f.space = true
		return
	case c < ' ', c == 0x7f:
		return
	case 'A' <= c && c <= 'Z':
		c += 'a' - 'A'
	}
	f.flushSpace()
	f.buf.WriteByte(c)
}

// letter appends the case-folded, transliterated form of a non-ASCII rune.
func (f *folder) letter(r rune) {
	f.flushSpace()
	r = unicode.ToLower(r)
	if t, ok := spelled[r]; ok {
		f.buf.WriteString(t)
		return
	}
	if r == 'ς' { // full case folding maps final sigma to sigma
		r = 'σ'
	}
	f.buf.WriteRune(r)
}

// flushSpace writes a held-back space unless it would lead the output.
func (f *folder) flushSpace() {
	if f.space && f.buf.Len() > 0 {
		f.buf.WriteByte(' ')
	}
	f.space = false
}

// String returns the folded text.
func (f *folder) String() string {
	return f.buf.String()
}

// spelled maps lower-case letters that have no Unicode decomposition to the
// ASCII letters they are searched as (German, Nordic, Polish, Croatian,
// Icelandic, Maltese, Turkish and other Latin letters with a stroke).
var spelled = map[rune]string{
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'ð': "d",
	'þ': "th", 'ħ': "h", 'ı': "i", 'ŧ': "t", 'ŋ': "n", 'ƀ': "b", 'ƈ': "c",
	'ɗ': "d", 'ƒ': "f", 'ǥ': "g", 'ɨ': "i", 'ƙ': "k", 'ƚ': "l", 'ɲ': "n",
	'ɵ': "o", 'ƥ': "p", 'ɍ': "r", 'ʂ': "s", 'ƭ': "t", 'ʉ': "u", 'ʋ': "v",
	'ƴ': "y", 'ɏ': "y", 'ƶ': "z", 'ȥ': "z", 'ȼ': "c", 'ɇ': "e", 'ɉ': "j",
	'ĸ': "k", 'ɖ': "d", 'ɓ': "b", 'ẜ': "s", 'ẝ': "s",
}
