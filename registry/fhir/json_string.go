package fhir

import "unicode/utf8"

// The string scanner of DecodeJSON: UTF-8 schemaWalk, escapes (with
// surrogate pairs) and interning of the strings every resource repeats.

// stringValue parses a string value. Short strings that are codes of the
// schema come pre-boxed from jsonValues, so they cost no allocation.
func (d *jsonDecoder) stringValue() (any, *jsonErr) {
	start := d.pos + 1
	raw, err := d.str()
	if err != nil {
		return nil, err
	}
	if len(raw) <= 16 {
		if v, ok := jsonValues[string(raw)]; ok {
			return v, nil
		}
	}
	return d.toString(raw, start), nil
}

// toString converts the result of str, which began at data[start]: a
// string without escapes (raw aliases data) is a substring of text.
func (d *jsonDecoder) toString(raw []byte, start int) string {
	if len(raw) == 0 {
		return ""
	}
	if &raw[0] == &d.data[start] {
		return d.text[start : start+len(raw)]
	}
	return string(raw)
}

// str parses a string starting at '"' and returns its unescaped bytes,
// which alias data or the scratch buffer (valid until the next call).
func (d *jsonDecoder) str() ([]byte, *jsonErr) {
	start := d.pos + 1
	for i := start; i < len(d.data); {
		for i < len(d.data) && plainByte[d.data[i]] {
			i++
		}
		if i == len(d.data) {
			break
		}
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return d.data[start:i], nil
		case c == '\\':
			return d.strEscaped(start, i)
		case c < 0x20:
			d.pos = i
			return nil, d.errf("control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			n, err := d.utf8At(i)
			if err != nil {
				return nil, err
			}
			i += n
		}
	}
	d.pos = len(d.data)
	return nil, d.errf("unterminated string")
}

// utf8At returns the length of the valid UTF-8 sequence at data[i].
func (d *jsonDecoder) utf8At(i int) (int, *jsonErr) {
	r, n := utf8.DecodeRune(d.data[i:])
	if r == utf8.RuneError && n == 1 {
		d.pos = i
		return 0, d.errf("invalid UTF-8 in string")
	}
	return n, nil
}

// strEscaped finishes a string that contains escapes; i is the first '\'.
func (d *jsonDecoder) strEscaped(start, i int) ([]byte, *jsonErr) {
	buf := append(d.scratch[:0], d.data[start:i]...)
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos, d.scratch = i+1, buf
			return buf, nil
		case c == '\\':
			var err *jsonErr
			if buf, i, err = d.escape(buf, i); err != nil {
				return nil, err
			}
		case c < 0x20:
			d.pos = i
			return nil, d.errf("control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			n, err := d.utf8At(i)
			if err != nil {
				return nil, err
			}
			buf = append(buf, d.data[i:i+n]...)
			i += n
		}
	}
	d.pos = len(d.data)
	return nil, d.errf("unterminated string")
}

// escape decodes the escape sequence at data[i] (a '\') onto buf.
func (d *jsonDecoder) escape(buf []byte, i int) ([]byte, int, *jsonErr) {
	d.pos = i
	if i+1 >= len(d.data) {
		return nil, 0, d.errf("unterminated string")
	}
	if c := simpleEscape(d.data[i+1]); c != 0 {
		if forbiddenControl(rune(c)) && !d.lenient {
			return nil, 0, d.errf("control character U+%04X in string (FHIR strings allow only tab, CR and LF below U+0020)", c)
		}
		return append(buf, c), i + 2, nil
	}
	if d.data[i+1] != 'u' {
		return nil, 0, d.errf("invalid escape sequence")
	}
	r := hex4(d.data[i+2:])
	switch {
	case r < 0:
		return nil, 0, d.errf("invalid \\u escape")
	case forbiddenControl(rune(r)) && !d.lenient:
		return nil, 0, d.errf("control character U+%04X in string (FHIR strings allow only tab, CR and LF below U+0020)", r)
	case r >= 0xDC00 && r <= 0xDFFF:
		return nil, 0, d.errf("lone low surrogate in \\u escape")
	case r >= 0xD800 && r <= 0xDBFF:
		lo := -1
		if i+12 <= len(d.data) && d.data[i+6] == '\\' && d.data[i+7] == 'u' {
			lo = hex4(d.data[i+8:])
		}
		if lo < 0xDC00 || lo > 0xDFFF {
			return nil, 0, d.errf("lone high surrogate in \\u escape")
		}
		return utf8.AppendRune(buf, 0x10000+(rune(r)-0xD800)<<10+rune(lo)-0xDC00), i + 12, nil
	}
	return utf8.AppendRune(buf, rune(r)), i + 6, nil
}

func simpleEscape(c byte) byte {
	switch c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

// hex4 decodes four hex digits at the start of b, or returns -1.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	r := 0
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}
