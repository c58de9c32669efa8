package fhir

import "time"

// DateRange returns the range a FHIR date, dateTime or instant covers at its
// precision, in Unix milliseconds, lo inclusive and hi exclusive: "1990" is
// all of 1990, "1990-02-03" the whole day, "1990-02-03T10:11" one minute,
// "…T10:11:12" one second and "…T10:11:12.345" one millisecond (digits after
// the third are truncated). A value without a time zone is taken as UTC;
// minute precision, which FHIR allows only in search values, is accepted
// everywhere. Impossible dates ("1990-02-30") are a Malformed *Error.
func DateRange(s string) (lo, hi int64, err error) {
	p := dateParser{s: s}
	lo, hi, ok := p.parse()
	if !ok {
		return 0, 0, malformed("invalid", "", "invalid date %q: %s", s, p.why)
	}
	return lo, hi, nil
}

// Lengths of the precisions in milliseconds.
const (
	msSecond = int64(1000)
	msMinute = 60 * msSecond
)

// dateParser reads a FHIR date left to right; why says what was wrong.
type dateParser struct {
	s   string
	i   int
	why string
}

// parse returns the range of the whole input.
func (p *dateParser) parse() (lo, hi int64, ok bool) {
	y, ok := p.field(4, 1, 9999, "year")
	if !ok {
		return 0, 0, false
	}
	if p.done() {
		return utcMillis(y, 1, 1), utcMillis(y+1, 1, 1), true
	}
	m, ok := p.next('-', 2, 1, 12, "month")
	if !ok {
		return 0, 0, false
	}
	if p.done() {
		return utcMillis(y, m, 1), utcMillis(y, m+1, 1), true
	}
	d, ok := p.next('-', 2, 1, DaysIn(y, m), "day")
	if !ok {
		return 0, 0, false
	}
	day := utcMillis(y, m, d)
	if p.done() {
		return day, utcMillis(y, m, d+1), true
	}
	return p.clock(day)
}

// clock reads "Thh:mm[:ss[.fff]][zone]" and returns its range, day being the
// start of the (local) day it belongs to.
func (p *dateParser) clock(day int64) (lo, hi int64, ok bool) {
	h, ok := p.next('T', 2, 0, 23, "hour")
	if !ok {
		return 0, 0, false
	}
	mi, ok := p.next(':', 2, 0, 59, "minute")
	if !ok {
		return 0, 0, false
	}
	lo, step := day+int64(h)*3600*msSecond+int64(mi)*msMinute, msMinute
	if p.peek(':') {
		sec, ok := p.next(':', 2, 0, 60, "second") // 60: leap second
		if !ok {
			return 0, 0, false
		}
		lo, step = lo+int64(sec)*msSecond, msSecond
		if p.peek('.') {
			ms, ok := p.fraction()
			if !ok {
				return 0, 0, false
			}
			lo, step = lo+ms, 1
		}
	}
	off, ok := p.zone()
	if !ok {
		return 0, 0, false
	}
	return lo - off, lo - off + step, true
}

// fraction reads ".d…" (1 to 9 digits) and returns the milliseconds.
func (p *dateParser) fraction() (int64, bool) {
	p.i++ // the '.'
	start, ms := p.i, int64(0)
	for p.i < len(p.s) && isASCIIDigit(p.s[p.i]) {
		if p.i-start < 3 {
			ms = ms*10 + int64(p.s[p.i]-'0')
		}
		p.i++
	}
	n := p.i - start
	if n == 0 || n > 9 {
		p.why = "bad fraction of a second"
		return 0, false
	}
	for ; n < 3; n++ {
		ms *= 10
	}
	return ms, true
}

// zone reads an optional "Z" or "±hh:mm" that must end the input and returns
// its offset east of UTC in milliseconds.
func (p *dateParser) zone() (int64, bool) {
	if p.done() {
		return 0, true
	}
	switch c := p.s[p.i]; c {
	case 'Z':
		p.i++
	case '+', '-':
		h, ok := p.next(c, 2, 0, 14, "time-zone hour")
		if !ok {
			return 0, false
		}
		m, ok := p.next(':', 2, 0, 59, "time-zone minute")
		if !ok {
			return 0, false
		}
		if h == 14 && m > 0 {
			p.why = "time zone out of range"
			return 0, false
		}
		if !p.done() {
			break
		}
		off := int64(h)*3600*msSecond + int64(m)*msMinute
		if c == '-' {
			off = -off
		}
		return off, true
	}
	if !p.done() {
		p.why = "unexpected text after the time"
		return 0, false
	}
	return 0, true
}

// next reads the separator sep followed by a field.
func (p *dateParser) next(sep byte, width, from, to int, name string) (int, bool) {
	if !p.peek(sep) {
		p.why = "expected '" + string(sep) + "' before the " + name
		return 0, false
	}
	p.i++
	return p.field(width, from, to, name)
}

// field reads width digits and checks that they are within [from, to].
func (p *dateParser) field(width, from, to int, name string) (int, bool) {
	v := 0
	for k := 0; k < width; k++ {
		if p.i >= len(p.s) || !isASCIIDigit(p.s[p.i]) {
			p.why = "the " + name + " must have " + string(rune('0'+width)) + " digits"
			return 0, false
		}
		v = v*10 + int(p.s[p.i]-'0')
		p.i++
	}
	if v < from || v > to {
		p.why = name + " out of range"
		return 0, false
	}
	return v, true
}

// peek reports whether the next byte is c.
func (p *dateParser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

// done reports whether the input is consumed.
func (p *dateParser) done() bool { return p.i == len(p.s) }

func isASCIIDigit(c byte) bool { return '0' <= c && c <= '9' }

// utcMillis returns the start of a UTC day; month and day may overflow
// (month 13 is January of the next year), as time.Date allows.
func utcMillis(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).UnixMilli()
}

// DaysIn returns the number of days of month m (1-12) of year y in the
// Gregorian calendar; the one place the project knows month lengths.
func DaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
