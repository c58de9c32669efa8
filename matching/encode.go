package matching

import (
	"encoding/binary"
	"errors"
	"math"
)

// The compact form of a Record is what the store keeps beside each
// version, so a candidate is scored without decoding its JSON or walking
// the resource again. It holds the values as Extract kept them (each
// feature's displays in order, the identifiers, the birth date, the
// position, the address parts and the first/middle name bits); decoding
// replays them through the same normalisation, whose costly part (the
// phonetic codes and q-grams of names) comes from the shared value cache.

// recordFormat is the first byte of the encoding; a new layout takes a new
// one. Format 1 had the features before partOf (featuresV1); it still
// decodes.
const (
	recordFormat = 2
	featuresV1   = int(fPartOf)
)

// errRecordFormat is returned for bytes that are not an encoded Record.
var errRecordFormat = errors.New("matching: not an encoded record")

// Encode returns the compact form of r.
func (r *Record) Encode() []byte {
	b := make([]byte, 0, 256)
	b = append(b, recordFormat)
	b = appendString(b, r.Type)
	b = appendString(b, r.ID)
	for f := range r.vals {
		b = binary.AppendUvarint(b, uint64(len(r.vals[f])))
		for _, v := range r.vals[f] {
			b = appendString(b, v.display)
		}
	}
	b = binary.AppendUvarint(b, uint64(r.middleOnly))
	b = binary.AppendUvarint(b, uint64(r.first))
	b = appendString(b, r.birth.display)
	b = binary.AppendUvarint(b, uint64(len(r.ids)))
	for _, id := range r.ids {
		b = appendString(b, id.system)
		b = appendString(b, id.display)
	}
	if r.pos.ok {
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.pos.lat))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.pos.lon))
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r.addrs)))
	for _, a := range r.addrs {
		b = append(b, byte(a.line), byte(a.city), byte(a.postalCode))
	}
	return b
}

// DecodeRecord rebuilds the Record Encode wrote.
func DecodeRecord(b []byte) (*Record, error) {
	d := decoder{b: b}
	features := int(numFeatures)
	switch d.byte() {
	case recordFormat:
	case 1:
		features = featuresV1
	default:
		return nil, errRecordFormat
	}
	r := &Record{Type: d.string(), ID: d.string()}
	for f := range features {
		n := d.uvarint()
		for i := uint64(0); i < n && d.err == nil; i++ {
			r.add(feature(f), d.string())
		}
	}
	r.middleOnly, r.first = uint32(d.uvarint()), uint32(d.uvarint())
	r.birth = parseDate(d.string())
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		sys, raw := d.string(), d.string()
		r.ids = append(r.ids, identifier{system: sys, value: NormalizeCode(raw), display: raw})
	}
	if d.byte() == 1 {
		r.pos = newPoint(math.Float64frombits(d.uint64()), math.Float64frombits(d.uint64()))
	}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		r.addrs = append(r.addrs, addressRef{line: int8(d.byte()), city: int8(d.byte()), postalCode: int8(d.byte())})
	}
	if d.err != nil {
		return nil, d.err
	}
	r.pack()
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads an encoding; the first error sticks and later reads give zero values.
type decoder struct {
	b   []byte
	err error
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

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

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

// Identifiers returns the record's identifiers as (system, value as
// written, trimmed) pairs, at most one per normalised value.
func (r *Record) Identifiers() [][2]string {
	out := make([][2]string, len(r.ids))
	for i, id := range r.ids {
		out[i] = [2]string{id.system, id.display}
	}
	return out
}
