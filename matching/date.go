package matching

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"idem/registry/fhir"
)

// date is a birth date at its precision (0 none, 1 year, 2 month, 3 day).
type date struct {
	y, m, d int
	prec    uint8
	digits  string // YYYYMMDD (day precision only), for the one-typo test
	display string
}

// parseDate reads a FHIR date ("1970", "1970-03", "1970-03-12", or a
// dateTime whose date part is used). Anything else, or an impossible date,
// is no date.
func parseDate(s string) date {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, 'T'); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, "-")
	if len(parts) > 3 || len(parts[0]) != 4 {
		return date{}
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || i > 0 && len(p) != 2 || p[0] == '+' {
			return date{}
		}
		n[i] = v
	}
	d := date{y: n[0], m: n[1], d: n[2], prec: uint8(len(parts)), display: s}
	if d.prec >= 2 && (d.m < 1 || d.m > 12) || d.prec == 3 && (d.d < 1 || d.d > fhir.DaysIn(d.y, d.m)) {
		return date{}
	}
	if d.prec == 3 {
		d.digits = fmt.Sprintf("%04d%02d%02d", d.y, d.m, d.d)
	}
	return d
}

// compareDates levels two dates: exact; close for day and month swapped or
// one digit mistyped or two adjacent digits swapped; similar for the year
// off by one with day and month right, or partial dates that agree as far
// as both go; different otherwise.
func compareDates(a, b *date) (Level, rule) {
	switch {
	case a.prec == 0 || b.prec == 0:
		return Missing, rNone
	case a.prec < 3 || b.prec < 3:
		return comparePartial(a, b)
	case a.y == b.y && a.m == b.m && a.d == b.d:
		return Exact, rSameDate
	case a.y == b.y && a.d == b.m && a.m == b.d:
		return Close, rDayMonth
	case oneTypo(a.digits, b.digits):
		return Close, rOneDigit
	case a.m == b.m && a.d == b.d && (a.y-b.y == 1 || b.y-a.y == 1):
		return Similar, rYearOff
	}
	return Different, rDifferentDates
}

// comparePartial compares two dates at least one of which is partial, at
// the coarser precision.
func comparePartial(a, b *date) (Level, rule) {
	p := min(a.prec, b.prec)
	if a.y == b.y && (p < 2 || a.m == b.m) {
		return Similar, rPartialAgree
	}
	return Different, rPartialDiffer
}

// parsePoint reads a Location.position (numbers as json.Number or float64).
func parsePoint(pos map[string]any) point {
	lat, ok1 := asFloat(pos["latitude"])
	lon, ok2 := asFloat(pos["longitude"])
	if !ok1 || !ok2 || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return point{}
	}
	return newPoint(lat, lon)
}

// newPoint returns the point with its frequency key: the position rounded
// to four decimals (about 10 m), so that records geocoded to one spot (a
// town's centroid) share a key.
func newPoint(lat, lon float64) point {
	return point{lat: lat, lon: lon, ok: true, key: strconv.FormatFloat(lat, 'f', 4, 64) + "," + strconv.FormatFloat(lon, 'f', 4, 64)}
}

// asFloat reads a JSON number decoded as json.Number (a string type with a
// String method) or float64.
func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case fmt.Stringer:
		f, err := strconv.ParseFloat(n.String(), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// String renders the point as "lat,lon".
func (p point) String() string {
	return strconv.FormatFloat(p.lat, 'f', -1, 64) + "," + strconv.FormatFloat(p.lon, 'f', -1, 64)
}

// metres returns the great-circle (haversine) distance between two points.
func metres(a, b point) float64 {
	const earthRadius = 6371008.8 // mean radius, metres
	rad := math.Pi / 180
	dLat, dLon := (b.lat-a.lat)*rad, (b.lon-a.lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(a.lat*rad)*math.Cos(b.lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadius * math.Asin(math.Sqrt(min(h, 1)))
}
