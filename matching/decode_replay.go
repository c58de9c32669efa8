package matching

import "math"

// decodeReplay decodes formats 1 and 2, which hold the values as Extract
// kept them and nothing derived from them: each is replayed through the
// same normalisation (add), then the record is packed. Records stored
// before format 3 decode this way until they are written again or
// re-indexed.
func decodeReplay(d *decoder, features int) (*Record, error) {
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
