package web

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/canary"
)

// The canary report's drawings: inline SVG written here as text, so the
// page needs no script and no charting library to show them. Colours come
// from the stylesheet through class names (the Content-Security-Policy
// allows no style attributes), and every figure has a <title> a pointer or
// a screen reader can read.

// Geometry of the score chart, in SVG user units.
const (
	chartW      = 640
	chartH      = 200
	chartLeft   = 40 // room for the score axis
	chartRight  = 12
	chartTop    = 12
	chartBottom = 28 // room for the interval numbers
)

// chartY is the y of a score (0–100) on the chart.
func chartY(score float64) float64 {
	score = min(max(score, 0), 100)
	return chartTop + (100-score)/100*(chartH-chartTop-chartBottom)
}

// chartSlots is how many interval slots the chart has: the planned
// intervals, or those judged when there are more or no plan (sequential
// analyses decide when they can).
func chartSlots(rep *canary.Report) int {
	return max(rep.PlannedIntervals, len(rep.Intervals), 1)
}

// chartX is the x of the middle of slot i (from 0) of n.
func chartX(i, n int) float64 {
	w := float64(chartW-chartLeft-chartRight) / float64(n)
	return chartLeft + (float64(i)+0.5)*w
}

// scoreChart draws a report's score per interval: a slot for every
// planned interval (judged ones filled), the pass and marginal threshold
// lines, and each judged interval's score as a point on a line, coloured
// by its classification.
func scoreChart(rep *canary.Report) template.HTML {
	var b strings.Builder
	n := chartSlots(rep)
	slotW := float64(chartW-chartLeft-chartRight) / float64(n)
	label := fmt.Sprintf("Score per interval: %d of %d judged", len(rep.Intervals), n)
	if len(rep.Intervals) > 0 {
		last := rep.Intervals[len(rep.Intervals)-1]
		label += fmt.Sprintf(", the last %s", num(last.Score))
	}
	label += fmt.Sprintf("; pass at %s, marginal at %s", num(rep.Thresholds.Pass), num(rep.Thresholds.Marginal))
	fmt.Fprintf(&b, `<svg class="score-chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, esc(label))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(label))

	for i := range n {
		class := "slot"
		if i < len(rep.Intervals) {
			class += " judged"
		}
		x := chartLeft + float64(i)*slotW
		fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%d" width="%s" height="%d"><title>interval %d</title></rect>`,
			class, num(x+1), chartTop, num(max(slotW-2, 1)), chartH-chartTop-chartBottom, i+1)
		if n <= 30 || (i+1)%5 == 0 || i == 0 {
			fmt.Fprintf(&b, `<text class="tick x" x="%s" y="%d">%d</text>`, num(chartX(i, n)), chartH-chartBottom+16, i+1)
		}
	}
	for _, s := range []float64{0, 50, 100} {
		y := chartY(s)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%s" x2="%d" y2="%s"/>`, chartLeft, num(y), chartW-chartRight, num(y))
		fmt.Fprintf(&b, `<text class="tick y" x="%d" y="%s">%s</text>`, chartLeft-6, num(y+4), num(s))
	}
	for _, th := range []struct {
		class string
		score float64
		name  string
	}{{"threshold marginal", rep.Thresholds.Marginal, "marginal"}, {"threshold pass", rep.Thresholds.Pass, "pass"}} {
		y := chartY(th.score)
		fmt.Fprintf(&b, `<line class="%s" x1="%d" y1="%s" x2="%d" y2="%s"><title>%s threshold %s</title></line>`,
			th.class, chartLeft, num(y), chartW-chartRight, num(y), th.name, num(th.score))
	}
	if len(rep.Intervals) > 1 {
		pts := make([]string, len(rep.Intervals))
		for i, iv := range rep.Intervals {
			pts[i] = num(chartX(i, n)) + "," + num(chartY(iv.Score))
		}
		fmt.Fprintf(&b, `<polyline class="scores" points="%s"/>`, strings.Join(pts, " "))
	}
	for i, iv := range rep.Intervals {
		class := scoreClass(iv.Score, rep)
		fmt.Fprintf(&b, `<circle class="score %s" data-interval="%d" data-score="%s" cx="%s" cy="%s" r="5"><title>interval %d: %s (%s)</title></circle>`,
			class, iv.Index, num(iv.Score), num(chartX(i, n)), num(chartY(iv.Score)), iv.Index, num(iv.Score), esc(cmp.Or(iv.Classification, class)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value written above is a number or escaped
}

// scoreClass is the class of a score against the report's thresholds:
// pass, marginal or fail.
func scoreClass(score float64, rep *canary.Report) string {
	switch {
	case score >= rep.Thresholds.Pass:
		return "pass"
	case score >= rep.Thresholds.Marginal:
		return "marginal"
	}
	return "fail"
}

// Geometry of a box plot.
const (
	boxW    = 220
	boxH    = 44
	boxPad  = 6
	boxRowH = 16
)

// boxPlot draws a metric's control and experiment distributions in one
// interval as two box plots (min, q1, median, q3, max) on one scale,
// control above experiment. A side without figures says so instead.
func boxPlot(name string, control, experiment canary.StatsReport) template.HTML {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range []canary.StatsReport{control, experiment} {
		if boxable(s) {
			lo, hi = min(lo, *s.Min), max(hi, *s.Max)
		}
	}
	if hi == lo {
		hi, lo = hi+1, lo-1 // one value: a scale around it
	}
	scale := func(v float64) float64 {
		return boxPad + (v-lo)/(hi-lo)*(boxW-2*boxPad)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="box-plot" viewBox="0 0 %d %d" role="img" aria-label="%s: control against experiment" xmlns="http://www.w3.org/2000/svg">`, boxW, boxH, esc(name))
	for i, side := range []struct {
		name string
		s    canary.StatsReport
	}{{"control", control}, {"experiment", experiment}} {
		y := float64(boxPad + i*(boxRowH+2))
		mid := y + boxRowH/2
		fmt.Fprintf(&b, `<g class="box %s">`, side.name)
		s := side.s
		if !boxable(s) {
			fmt.Fprintf(&b, `<text class="nodata" x="%d" y="%s">%s: no data</text></g>`, boxPad, num(mid+4), side.name)
			continue
		}
		fmt.Fprintf(&b, `<title>%s: min %s, q1 %s, median %s, q3 %s, max %s (%d samples)</title>`,
			side.name, num(*s.Min), num(*s.Q1), num(*s.Median), num(*s.Q3), num(*s.Max), s.Count)
		fmt.Fprintf(&b, `<line class="whisker" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(scale(*s.Min)), num(mid), num(scale(*s.Max)), num(mid))
		for _, v := range []float64{*s.Min, *s.Max} {
			fmt.Fprintf(&b, `<line class="cap" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(scale(v)), num(y+3), num(scale(v)), num(y+boxRowH-3))
		}
		fmt.Fprintf(&b, `<rect class="iqr" x="%s" y="%s" width="%s" height="%d"/>`, num(scale(*s.Q1)), num(y), num(max(scale(*s.Q3)-scale(*s.Q1), 0.5)), boxRowH)
		fmt.Fprintf(&b, `<line class="median" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(scale(*s.Median)), num(y), num(scale(*s.Median)), num(y+boxRowH))
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value written above is a number or escaped
}

// boxable reports whether s has the five figures a box plot needs.
func boxable(s canary.StatsReport) bool {
	return s.Min != nil && s.Q1 != nil && s.Median != nil && s.Q3 != nil && s.Max != nil
}

// num writes a coordinate or a figure briefly: at most two decimals, no
// trailing zeros.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

func esc(s string) string { return html.EscapeString(s) }
