package seed

import (
	"math/bits"
	"strconv"
)

// mix is the SplitMix64 finaliser: a fast, well-spread 64-bit hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// permuter is a keyed bijection on [0, 2^bits): a four-round Feistel
// network. Identifiers come from it so that they are unique without a
// global "already used" set (which would grow with every record) and do not
// reveal the entity index: records of one person in two systems must not get
// numerically close ids a matcher could exploit.
type permuter struct {
	half uint   // bits per Feistel half
	key  uint64 // per system and identifier kind
}

// newPermuter returns a permutation over at least n values.
func newPermuter(n, key uint64) permuter {
	b := uint(bits.Len64(max(n, 4) - 1))
	return permuter{half: (b + 1) / 2, key: mix(key)}
}

// size is the number of values the permutation ranges over.
func (p permuter) size() uint64 { return 1 << (2 * p.half) }

func (p permuter) apply(x uint64) uint64 {
	mask := uint64(1)<<p.half - 1
	l, r := x>>p.half, x&mask
	for round := uint64(0); round < 4; round++ {
		l, r = r, l^(mix(r^p.key+round)&mask)
	}
	return l<<p.half | r
}

// within maps x in [0, n) to [0, n) bijectively by cycle walking: apply the
// permutation until the value falls inside the range (at most a few steps,
// since the domain is less than four times n).
func (p permuter) within(x, n uint64) uint64 {
	for {
		x = p.apply(x)
		if x < n {
			return x
		}
	}
}

// idSpace is the largest power of four with at most digits decimal digits:
// the biggest permutation domain whose values all fit that width.
func idSpace(digits int) uint64 {
	n := uint64(1)
	for range digits {
		n *= 10
	}
	s := uint64(1)
	for s*4 <= n {
		s *= 4
	}
	return s
}

// digits is the width needed to print every value of the permutation, so
// all ids of one system and type have the same length.
func (p permuter) digits() int { return len(strconv.FormatUint(p.size()-1, 10)) }

// pad formats n in decimal with leading zeros to width digits.
func pad(n uint64, width int) string {
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], n, 10)
	if len(s) >= width {
		return string(s)
	}
	out := make([]byte, width)
	for i := range width - len(s) {
		out[i] = '0'
	}
	copy(out[width-len(s):], s)
	return string(out)
}

// ssnCount is the number of SSNs with a valid shape: area 001–899 without
// 666, group 01–99, serial 0001–9999.
const ssnCount = 898 * 99 * 9999

// ssnFor returns the SSN of person index i ("123-45-6789"); distinct
// persons always get distinct numbers.
func ssnFor(p permuter, i int) string {
	n := p.within(uint64(i), ssnCount)
	area := n/(99*9999) + 1
	if area >= 666 {
		area++
	}
	rest := n % (99 * 9999)
	return pad(area, 3) + "-" + pad(rest/9999+1, 2) + "-" + pad(rest%9999+1, 4)
}

// npiFor returns the 10-digit National Provider Identifier of practitioner
// index i: "1" and eight unique digits, then the Luhn check digit computed
// with the 80840 prefix as CMS specifies, so validators accept it.
func npiFor(p permuter, i int) string {
	base := "1" + pad(p.within(uint64(i), 100_000_000), 8)
	return base + string(rune('0'+npiCheck(base)))
}

// npiCheck is the Luhn check digit of a 9-digit NPI base. The constant 24
// accounts for the "80840" prefix.
func npiCheck(base string) int {
	sum := 24
	for i := len(base) - 1; i >= 0; i-- {
		d := int(base[i] - '0')
		if (len(base)-1-i)%2 == 0 { // the rightmost digit and every second one
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// localFormats is how each system numbers its records: a prefix and the
// least number of digits. Ids are unique per system and type because the
// number is a permutation of (entity, copy).
var localFormats = [numSystems][numTypes]struct {
	prefix string
	digits int
}{
	sysEHR:      {typePatient: {"", 8}, typePractitioner: {"PR", 6}, typeLocation: {"DEP", 5}},
	sysLab:      {typePatient: {"L", 7}},
	sysGP:       {typePatient: {"RFP", 6}},
	sysHR:       {typePractitioner: {"E", 6}},
	sysFacility: {typeLocation: {"FAC-", 5}},
}

// localID returns the record number of copy c of an entity in a system.
// Laboratory numbers look like accession numbers: the registration year,
// then the serial ("L19-0412345").
func (g *generator) localID(sys, t, entity, c int) string {
	p, f := g.localIDs[sys][t], localFormats[sys][t]
	n := pad(p.apply(uint64(entity*g.copies+c)), max(p.digits(), f.digits))
	if sys == sysLab {
		year := 5 + mix(g.cfg.Seed^uint64(entity*g.copies+c))%20
		return f.prefix + pad(year, 2) + "-" + n
	}
	return f.prefix + n
}
