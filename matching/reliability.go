package matching

import (
	"fmt"
	"strings"
)

// Band is one row of a reliability table: the candidate pairs whose
// predicted probability lies in [Low, High), how many of them are true
// matches, and the mean prediction. A calibrated model has Observed close
// to Mean in every band.
type Band struct {
	Low, High      float64
	Pairs, True    int
	Mean, Observed float64
}

// bandEdges are the reliability table's band limits: finer near 1, where
// the grades are decided.
var bandEdges = []float64{0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999, 1.0000001}

// reliability accumulates predictions into bands.
type reliability struct {
	bands []Band
	sum   []float64
}

func newReliability() *reliability {
	r := &reliability{bands: make([]Band, len(bandEdges)-1), sum: make([]float64, len(bandEdges)-1)}
	for i := range r.bands {
		r.bands[i].Low, r.bands[i].High = bandEdges[i], min(bandEdges[i+1], 1)
	}
	return r
}

// add counts one pair predicted p, a true match or not.
func (r *reliability) add(p float64, match bool) {
	i := 0
	for i < len(r.bands)-1 && p >= bandEdges[i+1] {
		i++
	}
	r.bands[i].Pairs++
	r.bands[i].True += b2i(match)
	r.sum[i] += p
}

// table returns the bands with their means and observed shares.
func (r *reliability) table() []Band {
	for i := range r.bands {
		if b := &r.bands[i]; b.Pairs > 0 {
			b.Mean, b.Observed = r.sum[i]/float64(b.Pairs), float64(b.True)/float64(b.Pairs)
		}
	}
	return r.bands
}

// ReliabilityString renders a reliability table.
func ReliabilityString(bands []Band) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-15s %9s %9s %9s %9s\n", "predicted", "pairs", "true", "mean", "observed")
	for _, x := range bands {
		if x.Pairs == 0 {
			continue
		}
		fmt.Fprintf(&b, "  [%.3f, %.3f) %9d %9d %9.4f %9.4f\n", x.Low, x.High, x.Pairs, x.True, x.Mean, x.Observed)
	}
	return b.String()
}

// CalibrationError is the pair-weighted mean of |observed − mean| over the
// bands (expected calibration error).
func CalibrationError(bands []Band) float64 {
	var n, e float64
	for _, x := range bands {
		n += float64(x.Pairs)
		d := x.Observed - x.Mean
		if d < 0 {
			d = -d
		}
		e += float64(x.Pairs) * d
	}
	if n == 0 {
		return 0
	}
	return e / n
}
