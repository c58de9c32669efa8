package matching

// This file keeps format 2's encoder, and gives the external tests what
// they need to compare records whole.

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
)

// encodeV2 is Encode as it wrote format 2, before format 3 kept the
// normalised forms: the registry holds records written this way, which
// must decode to the records they always did.
func encodeV2(r *Record) []byte {
	b := make([]byte, 0, 256)
	b = append(b, 2)
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

// EncodeV2 is encodeV2, for the external tests.
var EncodeV2 = encodeV2

// DiffRecord describes the first difference between two records, in
// everything they hold (derived forms included), or returns "" if none.
// An empty slice equals a nil one: pack and the decoder leave empty parts
// of their blocks where Extract had none.
func DiffRecord(want, got *Record) string {
	// a field added to Record or value must be compared here too
	if n, m := reflect.TypeFor[Record]().NumField(), reflect.TypeFor[value]().NumField(); n != 10 || m != 9 {
		return fmt.Sprintf("Record has %d fields, value %d: update DiffRecord", n, m)
	}
	switch {
	case want.Type != got.Type || want.ID != got.ID:
		return fmt.Sprintf("type/id %s/%s, decoded %s/%s", want.Type, want.ID, got.Type, got.ID)
	case want.birth != got.birth:
		return fmt.Sprintf("birth %+v, decoded %+v", want.birth, got.birth)
	case !slices.Equal(want.ids, got.ids):
		return fmt.Sprintf("identifiers %+v, decoded %+v", want.ids, got.ids)
	case want.pos != got.pos:
		return fmt.Sprintf("position %+v, decoded %+v", want.pos, got.pos)
	case !slices.Equal(want.addrs, got.addrs):
		return fmt.Sprintf("addresses %+v, decoded %+v", want.addrs, got.addrs)
	case want.middleOnly != got.middleOnly || want.first != got.first:
		return fmt.Sprintf("given-name bits %b/%b, decoded %b/%b", want.middleOnly, want.first, got.middleOnly, got.first)
	}
	for f := range want.vals {
		if !feature(f).phonetic() {
			continue
		}
		if w, g := want.codesOf(feature(f)), got.codesOf(feature(f)); !slices.Equal(w, g) {
			return fmt.Sprintf("%s codes %+v, decoded %+v", featureNames[f], w, g)
		}
		if len(want.vals[f]) != len(got.vals[f]) {
			return fmt.Sprintf("%s: %d values, decoded %d", featureNames[f], len(want.vals[f]), len(got.vals[f]))
		}
		for i := range want.vals[f] {
			if v, w := &want.vals[f][i], &got.vals[f][i]; !sameValue(v, w) {
				return fmt.Sprintf("%s value %d: %+v, decoded %+v", featureNames[f], i, *v, *w)
			}
		}
	}
	return ""
}

func sameValue(v, w *value) bool {
	return v.display == w.display && v.norm == w.norm && v.coarse == w.coarse &&
		slices.Equal(v.runes, w.runes) && slices.Equal(v.grams, w.grams) && v.phh == w.phh &&
		v.spaced == w.spaced && v.hist == w.hist && slices.Equal(v.nick, w.nick)
}
