package ui

import (
	"math"
	"strconv"

	"idem/matching"
	"idem/registry"
)

// The dashboard's histogram of match scores, drawn on the server as SVG.
// Scores are probabilities crowded near 1 (0.9, 0.99, 0.999 are the
// interesting steps), so the x axis is their log10 odds, labelled with the
// probabilities; the grade thresholds are drawn on it.

// Histogram geometry in SVG user units.
const (
	histW, histH      = 720, 270
	histLeft, histTop = 48, 28
	histPlotW         = 650
	histPlotH         = 190
	histLo, histHi    = -1.0, 7.0 // log10 odds: probability 0.09 to 0.9999999, finer near 1
	histBins          = 32
)

// histogram is the drawn chart: every number placed, for the template.
type histogram struct {
	W, H, Left, Top, PlotW, PlotH, Bottom int
	Bars                                  []histBar
	XTicks                                []histTick
	YTicks                                []histTick
	Lines                                 []histTick
	Total                                 int
	Legend                                []histLegend
}

type histBar struct {
	Segs []histSeg
}

type histSeg struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type histTick struct {
	X, Y  float64
	Label string
	Class string
}

type histLegend struct {
	X     int
	Class string
	Label string
}

// histClasses are the stacked categories: links the matcher or a steward
// made, open review items, and links a steward refused.
var histClasses = []struct{ class, label string }{
	{"bar-match", "linked (MATCH)"},
	{"bar-review", "in review"},
	{"bar-nomatch", "refused (NO_MATCH)"},
}

func histCategory(result string) int {
	switch result {
	case registry.MatchResultMatch:
		return 0
	case registry.MatchResultPossible, registry.MatchResultPossibleDuplicate:
		return 1
	case registry.MatchResultNoMatch:
		return 2
	}
	return -1
}

// logOdds maps a probability to the x axis, clamped to its range.
func logOdds(p float64) float64 {
	if p <= 0 {
		return histLo
	}
	if p >= 1 {
		return histHi
	}
	return math.Max(histLo, math.Min(histHi, math.Log10(p/(1-p))))
}

// logHeight is the height of a bar of n links when the highest holds peak:
// log scale, a single link still visible.
func logHeight(n, peak int) float64 {
	if n <= 0 {
		return 0
	}
	return math.Log10(1+float64(n)) / math.Log10(1+float64(peak)) * histPlotH
}

func histX(lo float64) float64 {
	return float64(histLeft) + (lo-histLo)/(histHi-histLo)*histPlotW
}

// newHistogram draws the scores of links (by match result) with the
// grade thresholds th.
func newHistogram(links []*registry.Link, th matching.Thresholds) *histogram {
	var counts [histBins][3]int
	h := &histogram{W: histW, H: histH, Left: histLeft, Top: histTop, PlotW: histPlotW, PlotH: histPlotH, Bottom: histTop + histPlotH}
	for _, k := range links {
		cat := histCategory(k.MatchResult)
		if cat < 0 || k.Score <= 0 {
			continue
		}
		bin := int((logOdds(k.Score) - histLo) / (histHi - histLo) * histBins)
		counts[min(bin, histBins-1)][cat]++
		h.Total++
	}
	peak := 1
	for _, c := range counts {
		peak = max(peak, c[0]+c[1]+c[2])
	}
	bw := float64(histPlotW) / histBins
	for i, c := range counts {
		var bar histBar
		y := float64(h.Bottom)
		lo := histLo + float64(i)*(histHi-histLo)/histBins
		for cat, n := range c {
			if n == 0 {
				continue
			}
			// Heights on a log scale, so the few uncertain scores show
			// beside the many certain ones; the segments of a bar share
			// its height in proportion.
			total := c[0] + c[1] + c[2]
			ht := logHeight(total, peak) * float64(n) / float64(total)
			y -= ht
			bar.Segs = append(bar.Segs, histSeg{X: histX(lo) + 1, Y: y, W: bw - 2, H: ht, Class: histClasses[cat].class,
				Title: strconv.Itoa(n) + " " + histClasses[cat].label + ", score " + probText(lo) + "–" + probText(lo+(histHi-histLo)/histBins)})
		}
		h.Bars = append(h.Bars, bar)
	}
	for _, p := range []float64{0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999} {
		h.XTicks = append(h.XTicks, histTick{X: histX(logOdds(p)), Y: float64(h.Bottom + 16), Label: strconv.FormatFloat(p, 'f', -1, 64)})
	}
	for _, n := range []int{1, 10, 100, 1000, 10000, 100000} {
		if n > peak {
			break
		}
		h.YTicks = append(h.YTicks, histTick{X: histLeft - 6, Y: float64(h.Bottom) - logHeight(n, peak) + 4, Label: strconv.Itoa(n)})
	}
	for _, t := range []struct {
		p     float64
		label string
	}{{th.Possible, "possible"}, {th.Probable, "probable"}, {th.Certain, "certain"}} {
		if t.p > 0 && t.p < 1 {
			h.Lines = append(h.Lines, histTick{X: histX(logOdds(t.p)), Y: histTop - 8, Label: t.label + " ≥ " + strconv.FormatFloat(t.p, 'f', -1, 64), Class: "th-" + t.label})
		}
	}
	for i, c := range histClasses {
		h.Legend = append(h.Legend, histLegend{X: histLeft + i*170, Class: c.class, Label: c.label})
	}
	return h
}

// probText is the probability at a log10 odds, for tooltips.
func probText(lo float64) string {
	o := math.Pow(10, lo)
	return strconv.FormatFloat(o/(1+o), 'f', 4, 64)
}
