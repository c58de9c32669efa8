package matching

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
)

// The compact form of a Record is what the store keeps beside each
// version, so a candidate is scored without decoding its JSON or walking
// the resource again. Every linked write decodes dozens of candidates, so
// the form holds what normalisation made, not only what Extract read: each
// value as written, normalised and coarse, and a name's phonetic codes.
// Decoding copies the bytes once, into the string every text of the
// record points into, and computes only what is cheap to derive and
// costly to store (runes, q-grams, rune counts, hashes, nickname groups),
// straight into the packed layout pack makes for Extract.

// recordFormat is the first byte of the encoding; a new layout takes a new
// one, and so does a change to what newValue stores (normalisation, coarse
// forms, phonetic codes): a stored record keeps the forms of the code that
// wrote it until it is written again or re-keyed (idem match reindex).
// Formats 1 and 2 held only the values as written, to be normalised again
// on decoding (decodeReplay); format 1 had the features before partOf
// (featuresV1). Both still decode.
const (
	recordFormat = 3
	featuresV1   = int(fPartOf)
)

// errRecordFormat is returned for bytes that are not an encoded Record.
var errRecordFormat = errors.New("matching: not an encoded record")

// Encode returns the compact form of r.
func (r *Record) Encode() []byte {
	b := make([]byte, 0, 512)
	b = append(b, recordFormat)
	b = appendString(b, r.Type)
	b = appendString(b, r.ID)
	b = r.appendSizes(b)
	for f := range r.vals {
		b = binary.AppendUvarint(b, uint64(len(r.vals[f])))
		for i := range r.vals[f] {
			b = r.appendValue(b, feature(f), i)
		}
	}
	b = binary.AppendUvarint(b, uint64(r.middleOnly))
	b = binary.AppendUvarint(b, uint64(r.first))
	b = append(b, r.birth.prec)
	if r.birth.prec > 0 {
		b = binary.AppendVarint(b, int64(r.birth.y))
		b = binary.AppendVarint(b, int64(r.birth.m))
		b = binary.AppendVarint(b, int64(r.birth.d))
		b = appendString(b, r.birth.display)
		b = appendRef(b, r.birth.digits, r.birth.display)
	}
	b = binary.AppendUvarint(b, uint64(len(r.ids)))
	for _, id := range r.ids {
		b = appendString(b, id.system)
		b = appendString(b, id.display)
		b = appendRef(b, id.value, id.display)
	}
	if r.pos.ok {
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.pos.lat))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.pos.lon))
		b = appendString(b, r.pos.key)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r.addrs)))
	for _, a := range r.addrs {
		b = append(b, byte(a.line), byte(a.city), byte(a.postalCode))
	}
	return b
}

// appendSizes appends how many values, runes, q-grams and phonetic codes
// the record holds, so that decoding allocates each block once.
func (r *Record) appendSizes(b []byte) []byte {
	var n, runes, grams, codes int
	for f := range r.vals {
		for _, v := range r.vals[f] {
			n, runes, grams = n+1, runes+len(v.runes), grams+len(v.grams)
		}
	}
	for _, c := range r.codes {
		codes += len(c)
	}
	for _, x := range [...]int{n, runes, grams, codes} {
		b = binary.AppendUvarint(b, uint64(x))
	}
	return b
}

// appendValue appends value i of feature f: its texts, and its phonetic
// codes for a name feature.
func (r *Record) appendValue(b []byte, f feature, i int) []byte {
	v := &r.vals[f][i]
	b = appendString(b, v.display)
	b = appendRef(b, v.norm, v.display)
	b = appendRef(b, v.coarse, v.norm)
	if f.phonetic() {
		ph := &r.codesOf(f)[i]
		b = appendString(b, ph.dm1)
		b = appendRef(b, ph.dm2, ph.dm1)
		b = appendRef(b, ph.nysiis, ph.dm1)
		b = appendString(b, ph.soundex)
	}
	return b
}

// DecodeRecord rebuilds the Record Encode wrote.
func DecodeRecord(b []byte) (*Record, error) {
	d := decoder{b: b}
	switch d.byte() {
	case recordFormat:
		return decodePacked(&d, string(b))
	case 2:
		return decodeReplay(&d, int(numFeatures))
	case 1:
		return decodeReplay(&d, featuresV1)
	}
	return nil, errRecordFormat
}

// decodePacked decodes the current format. block is the whole encoding as
// a string: every text of the record is a part of it, the values, runes,
// q-grams and phonetic codes each share one slice, as pack lays them out.
func decodePacked(d *decoder, block string) (*Record, error) {
	d.block = block
	r := &Record{Type: d.text(), ID: d.text()}
	all := make([]value, 0, d.size())
	rs, gs := make([]rune, 0, d.size()), make([]uint32, 0, d.size())
	codes := make([]phonetics, 0, d.size())
	for f := range numFeatures {
		n := d.uvarint()
		if n > maxValues {
			d.fail()
		}
		start, cstart := len(all), len(codes)
		for i := uint64(0); i < n && d.err == nil; i++ {
			v := value{display: d.text()}
			v.norm = d.ref(v.display)
			v.coarse = d.ref(v.norm)
			rs, gs = appendRunes(&v, rs, gs)
			if f.phonetic() {
				codes = append(codes, d.phonetics(&v))
			}
			if f == fGiven {
				v.nick = nicknameGroups(v.norm)
			}
			all = append(all, v)
		}
		r.vals[f] = all[start:len(all):len(all)]
		if f.phonetic() {
			r.codes[phoneticSlot[f]] = codes[cstart:len(codes):len(codes)]
		}
	}
	r.middleOnly, r.first = uint32(d.uvarint()), uint32(d.uvarint())
	r.birth = d.date()
	r.ids = d.identifiers()
	if d.byte() == 1 {
		r.pos = point{lat: math.Float64frombits(d.uint64()), lon: math.Float64frombits(d.uint64()), ok: true, key: d.text()}
	}
	r.addrs = d.addresses(r)
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// appendRunes sets v's runes and q-grams from its norm (as newValue does),
// appending them to the record's blocks rs and gs.
func appendRunes(v *value, rs []rune, gs []uint32) ([]rune, []uint32) {
	k := len(rs)
	for _, c := range v.norm {
		rs = append(rs, c)
	}
	v.runes = rs[k:len(rs):len(rs)]
	k = len(gs)
	gs = appendBigrams(gs, v.runes)
	v.grams = gs[k:len(gs):len(gs)]
	return rs, gs
}

// phonetics reads a name value's phonetic codes and sets what newValue
// derives from them and from its runes.
func (d *decoder) phonetics(v *value) phonetics {
	ph := phonetics{dm1: d.text()}
	ph.dm2 = d.ref(ph.dm1)
	ph.nysiis = d.ref(ph.dm1)
	ph.soundex = d.text()
	v.phh = ph.hashes()
	v.spaced = v.coarse != v.norm
	v.hist = newRuneHist(v.runes)
	return ph
}

func (d *decoder) date() date {
	prec := d.byte()
	if prec == 0 {
		return date{}
	}
	t := date{prec: prec, y: int(d.varint()), m: int(d.varint()), d: int(d.varint()), display: d.text()}
	t.digits = d.ref(t.display)
	return t
}

func (d *decoder) identifiers() []identifier {
	n := d.uvarint()
	if n > maxValues {
		d.fail()
		return nil
	}
	ids := make([]identifier, 0, n)
	for ; n > 0 && d.err == nil; n-- {
		id := identifier{system: d.text(), display: d.text()}
		id.value = d.ref(id.display)
		ids = append(ids, id)
	}
	return ids
}

// addresses reads the address references, which must point at values r
// holds.
func (d *decoder) addresses(r *Record) []addressRef {
	n := d.uvarint()
	if n > maxValues {
		d.fail()
		return nil
	}
	valid := func(i int8, f feature) bool { return i >= -1 && int(i) < len(r.vals[f]) }
	addrs := make([]addressRef, 0, n)
	for ; n > 0 && d.err == nil; n-- {
		a := addressRef{line: int8(d.byte()), city: int8(d.byte()), postalCode: int8(d.byte())}
		if !valid(a.line, fLine) || !valid(a.city, fCity) || !valid(a.postalCode, fPostalCode) {
			d.fail()
		}
		addrs = append(addrs, a)
	}
	return addrs
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendRef appends s, which is often base or a part of it (a name's norm
// is often its display, a coarse form a part of its norm): 0 for base, 1
// and the part's offset and length, or 2 + the length and the text.
func appendRef(b []byte, s, base string) []byte {
	if s == base {
		return append(b, 0)
	}
	if i := strings.Index(base, s); s != "" && i >= 0 {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(i))
		return binary.AppendUvarint(b, uint64(len(s)))
	}
	b = binary.AppendUvarint(b, uint64(len(s))+2)
	return append(b, s...)
}

// decoder reads an encoding; the first error sticks and later reads give
// zero values. block, when set, is the whole encoding as a string, which
// text and ref cut their strings from.
type decoder struct {
	b     []byte
	block string
	err   error
}

func (d *decoder) fail() { d.err, d.b = errRecordFormat, nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// size reads a block size written by appendSizes, as the capacity to
// allocate: never more than the encoding could hold.
func (d *decoder) size() int {
	return int(min(d.uvarint(), uint64(len(d.b))))
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// string reads a string, copied (formats 1 and 2).
func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// text reads a string appendString wrote, as a part of block.
func (d *decoder) text() string {
	return d.literal(d.uvarint())
}

// literal reads the next n bytes as a part of block.
func (d *decoder) literal(n uint64) string {
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	at := len(d.block) - len(d.b)
	d.b = d.b[n:]
	return d.block[at : at+int(n)]
}

// ref reads a string appendRef wrote against base.
func (d *decoder) ref(base string) string {
	switch tag := d.uvarint(); tag {
	case 0:
		return base
	case 1:
		i, n := d.uvarint(), d.uvarint()
		if i > uint64(len(base)) || n > uint64(len(base))-i {
			d.fail()
			return ""
		}
		return base[i : i+n]
	default:
		return d.literal(tag - 2)
	}
}

// Identifiers returns the record's identifiers as (system, value as
// written, trimmed) pairs, at most one per normalised value.
func (r *Record) Identifiers() [][2]string {
	out := make([][2]string, len(r.ids))
	for i, id := range r.ids {
		out[i] = [2]string{id.system, id.display}
	}
	return out
}
