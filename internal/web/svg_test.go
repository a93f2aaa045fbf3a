package web

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

// svgNode is an element of a parsed drawing.
type svgNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []svgNode  `xml:",any"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n svgNode) float(t *testing.T, name string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return f
}

func (n svgNode) hasClass(c string) bool {
	return strings.Contains(" "+n.attr("class")+" ", " "+c+" ")
}

// find returns the elements under n (n included) named tag with class c
// ("" for any).
func (n svgNode) find(tag, c string) []svgNode {
	var out []svgNode
	if n.XMLName.Local == tag && (c == "" || n.hasClass(c)) {
		out = append(out, n)
	}
	for _, ch := range n.Children {
		out = append(out, ch.find(tag, c)...)
	}
	return out
}

// parseSVG parses a drawing as XML, failing the test when it is not.
func parseSVG(t *testing.T, s string) svgNode {
	t.Helper()
	var root svgNode
	if err := xml.Unmarshal([]byte(s), &root); err != nil {
		t.Fatalf("the drawing is not XML: %v\n%s", err, s)
	}
	if root.XMLName.Local != "svg" {
		t.Fatalf("root element <%s>, want <svg>", root.XMLName.Local)
	}
	return root
}

func f(x float64) *float64 { return &x }

func reportWith(planned int, scores ...float64) *canary.Report {
	rep := &canary.Report{PlannedIntervals: planned}
	rep.Thresholds.Pass, rep.Thresholds.Marginal = 75, 50
	for i, s := range scores {
		rep.Intervals = append(rep.Intervals, canary.IntervalReport{Index: i + 1, Score: s, Classification: "Pass"})
	}
	return rep
}

func TestScoreChart(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		rep        *canary.Report
		wantSlots  int
		wantJudged int
		wantLine   bool
		wantClass  []string
	}{
		{"nothing judged yet", reportWith(4), 4, 0, false, nil},
		{"one interval", reportWith(4, 100), 4, 1, false, []string{"pass"}},
		{"three growing", reportWith(4, 100, 60, 20), 4, 3, true, []string{"pass", "marginal", "fail"}},
		{"sequential, no plan", reportWith(0, 80, 90), 2, 2, true, []string{"pass", "pass"}},
		{"more judged than planned", reportWith(1, 80, 90, 95), 3, 3, true, []string{"pass", "pass", "pass"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := parseSVG(t, string(scoreChart(tt.rep)))
			slots := root.find("rect", "slot")
			if len(slots) != tt.wantSlots {
				t.Errorf("%d slots, want %d", len(slots), tt.wantSlots)
			}
			if got := len(root.find("rect", "judged")); got != tt.wantJudged {
				t.Errorf("%d judged slots, want %d", got, tt.wantJudged)
			}
			points := root.find("circle", "score")
			if len(points) != len(tt.rep.Intervals) {
				t.Fatalf("%d points, want one per interval, %d", len(points), len(tt.rep.Intervals))
			}
			for i, p := range points {
				if !p.hasClass(tt.wantClass[i]) {
					t.Errorf("point %d has class %q, want %s", i+1, p.attr("class"), tt.wantClass[i])
				}
				if got, want := p.float(t, "cy"), chartY(tt.rep.Intervals[i].Score); got != want {
					t.Errorf("point %d at y %v, want %v", i+1, got, want)
				}
				// Each point sits in the middle of its slot.
				sx, sw := slots[i].float(t, "x")-1, slots[i].float(t, "width")+2
				if cx := p.float(t, "cx"); cx < sx || cx > sx+sw {
					t.Errorf("point %d at x %v, outside its slot [%v, %v]", i+1, cx, sx, sx+sw)
				}
				if i > 0 && p.float(t, "cx") <= points[i-1].float(t, "cx") {
					t.Errorf("point %d is not right of point %d", i+1, i)
				}
			}
			lines := root.find("polyline", "scores")
			if tt.wantLine != (len(lines) == 1) {
				t.Fatalf("%d score lines, want a line: %v", len(lines), tt.wantLine)
			}
			if tt.wantLine {
				if got := len(strings.Fields(lines[0].attr("points"))); got != len(tt.rep.Intervals) {
					t.Errorf("the line has %d points, want %d", got, len(tt.rep.Intervals))
				}
			}
			for _, th := range []struct {
				class string
				score float64
			}{{"pass", 75}, {"marginal", 50}} {
				ls := root.find("line", "threshold")
				var found bool
				for _, l := range ls {
					if l.hasClass(th.class) {
						found = true
						y1, y2 := l.float(t, "y1"), l.float(t, "y2")
						if y1 != y2 || y1 != chartY(th.score) {
							t.Errorf("%s threshold at y %v–%v, want %v", th.class, y1, y2, chartY(th.score))
						}
					}
				}
				if !found {
					t.Errorf("no %s threshold line", th.class)
				}
			}
		})
	}
}

// TestScoreChartScale: 100 is at the top of the plot, 0 at its bottom,
// and a threshold line sits between them in proportion.
func TestScoreChartScale(t *testing.T) {
	t.Parallel()
	top, bottom := chartY(100), chartY(0)
	if top != chartTop || bottom != chartH-chartBottom {
		t.Fatalf("scores span y %v–%v, want %v–%v", top, bottom, chartTop, chartH-chartBottom)
	}
	if got, want := chartY(75), bottom-(bottom-top)*0.75; got != want {
		t.Errorf("75 at y %v, want %v", got, want)
	}
}

func TestScoreChartEscapes(t *testing.T) {
	t.Parallel()
	rep := reportWith(1, 10)
	rep.Intervals[0].Classification = `<script>"x"</script>`
	out := string(scoreChart(rep))
	if strings.Contains(out, "<script>") {
		t.Fatalf("classification written unescaped: %s", out)
	}
	parseSVG(t, out)
}

func TestBoxPlot(t *testing.T) {
	t.Parallel()
	control := canary.StatsReport{Count: 10, Min: f(10), Q1: f(20), Median: f(30), Q3: f(40), Max: f(50)}
	experiment := canary.StatsReport{Count: 10, Min: f(30), Q1: f(60), Median: f(70), Q3: f(80), Max: f(110)}
	root := parseSVG(t, string(boxPlot("latency", control, experiment)))
	groups := root.find("g", "box")
	if len(groups) != 2 || !groups[0].hasClass("control") || !groups[1].hasClass("experiment") {
		t.Fatalf("groups %v, want control then experiment", groups)
	}
	// One scale, from the lower minimum (10) to the higher maximum (110).
	x := func(v float64) float64 { return boxPad + (v-10)/100*(boxW-2*boxPad) }
	for i, s := range []canary.StatsReport{control, experiment} {
		g := groups[i]
		iqr := g.find("rect", "iqr")
		med := g.find("line", "median")
		wh := g.find("line", "whisker")
		if len(iqr) != 1 || len(med) != 1 || len(wh) != 1 {
			t.Fatalf("%s: %d boxes, %d medians, %d whiskers; want one each", g.attr("class"), len(iqr), len(med), len(wh))
		}
		for _, c := range []struct {
			what      string
			got, want float64
		}{
			{"q1", iqr[0].float(t, "x"), x(*s.Q1)},
			{"q3", iqr[0].float(t, "x") + iqr[0].float(t, "width"), x(*s.Q3)},
			{"median", med[0].float(t, "x1"), x(*s.Median)},
			{"min", wh[0].float(t, "x1"), x(*s.Min)},
			{"max", wh[0].float(t, "x2"), x(*s.Max)},
		} {
			if diff := c.got - c.want; diff > 0.01 || diff < -0.01 {
				t.Errorf("%s %s at x %v, want %v", g.attr("class"), c.what, c.got, c.want)
			}
		}
	}
}

// TestBoxPlotNoData: a side whose figures are null says so and draws no
// box; the other side still draws on its own scale.
func TestBoxPlotNoData(t *testing.T) {
	t.Parallel()
	control := canary.StatsReport{Count: 0}
	experiment := canary.StatsReport{Count: 3, Min: f(5), Q1: f(5), Median: f(5), Q3: f(5), Max: f(5)}
	root := parseSVG(t, string(boxPlot("errors", control, experiment)))
	groups := root.find("g", "box")
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2", len(groups))
	}
	if len(groups[0].find("rect", "iqr")) != 0 || len(groups[0].find("text", "nodata")) != 1 {
		t.Errorf("control without figures: want no box and a no-data note")
	}
	if len(groups[1].find("rect", "iqr")) != 1 {
		t.Errorf("experiment with one value: want its box")
	}
	if both := parseSVG(t, string(boxPlot("x", control, control))); len(both.find("rect", "iqr")) != 0 || len(both.find("text", "nodata")) != 2 {
		t.Errorf("neither side with figures: want two no-data notes and no box")
	}
}
