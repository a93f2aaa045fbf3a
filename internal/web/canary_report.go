package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/canary"
)

// canaryReportView is one canary analysis as a stage shows it: the
// decision and why, the score per interval, and each metric of the latest
// interval with control against experiment. It is drawn from a
// canary.Report value, wherever a stage keeps it: the kayentaCanary
// stage's canaryReport output, or each analysed step of a progressive
// rollout.
type canaryReportView struct {
	// ID makes the view's element IDs unique on the page.
	ID string
	// Title names the analysis ("Canary analysis", "Step 2 analysis").
	Title  string
	Config string
	Mode   string
	Versus string
	// State is pass, fail or running (no decision yet).
	State    string
	Headline string
	// Reason is the decision's reason, or while running the latest
	// interval's explanation.
	Reason     string
	DecidedAt  int64
	Judged     int
	Planned    int
	Thresholds string
	Chart      template.HTML
	// Latest is the interval the metric table shows; 0 before the first.
	Latest        int
	LatestScore   string
	LatestExplain string
	Metrics       []metricRow
	Intervals     []intervalRow
}

// metricRow is one metric of the latest interval.
type metricRow struct {
	Name           string
	Classification string
	// Class styles the classification: pass, fail, or nodata.
	Class    string
	Reason   string
	Critical bool
	Muted    bool
	// Figures are "—" when null.
	ControlMean, ControlMedian       string
	ExperimentMean, ExperimentMedian string
	ControlCount, ExperimentCount    int
	Deviation                        string
	Box                              template.HTML
}

// intervalRow is one judged interval in the list under the chart.
type intervalRow struct {
	Index          int
	Score          string
	Class          string
	Classification string
	Explain        string
	Start, End     int64
}

// stageReports finds the canary reports in a stage's outputs: its
// canaryReport, and the analysis of each step of a progressive Route
// (rollout.history[i].analysis, i counting the steps that ran). prefix
// keeps element IDs apart.
func stageReports(prefix string, outputs map[string]any, running bool) []*canaryReportView {
	var out []*canaryReportView
	if rep, ok := decodeReport(outputs[canary.ReportKey]); ok {
		out = append(out, newCanaryReportView(prefix, "Canary analysis", rep, running))
	}
	if rollout, ok := outputs["rollout"].(map[string]any); ok {
		history, _ := rollout["history"].([]any)
		for i, st := range history {
			m, _ := st.(map[string]any)
			if rep, ok := decodeReport(m["analysis"]); ok {
				title := fmt.Sprintf("Step %d analysis", i+1)
				if w, ok := m["weight"].(float64); ok {
					title = fmt.Sprintf("Step %d analysis (%v%%)", i+1, w)
				}
				out = append(out, newCanaryReportView(fmt.Sprintf("%s-step%d", prefix, i+1), title, rep, running))
			}
		}
	}
	return out
}

// decodeReport reads a canary.Report from a decoded JSON value; ok is
// false when v is not one.
func decodeReport(v any) (*canary.Report, bool) {
	if v == nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	var rep canary.Report
	if json.Unmarshal(b, &rep) != nil || (rep.Mode == "" && rep.ConfigName == "" && rep.Intervals == nil) {
		return nil, false
	}
	return &rep, true
}

// newCanaryReportView lays out rep. running says whether the stage that
// holds it still runs: a report without a decision is then under way,
// else it ended undecided.
func newCanaryReportView(id, title string, rep *canary.Report, running bool) *canaryReportView {
	v := &canaryReportView{
		ID:         id,
		Title:      title,
		Config:     rep.ConfigName,
		Mode:       rep.Mode,
		Versus:     rep.Versus(),
		Judged:     len(rep.Intervals),
		Planned:    rep.PlannedIntervals,
		Thresholds: fmt.Sprintf("pass at %s, marginal at %s", num(rep.Thresholds.Pass), num(rep.Thresholds.Marginal)),
		Chart:      scoreChart(rep),
	}
	if rep.ConfigRevision > 0 {
		v.Config += " (revision " + strconv.Itoa(rep.ConfigRevision) + ")"
	}
	switch d := rep.Decision; {
	case d != nil && d.Result == canary.DecisionPass:
		v.State, v.Headline = "pass", "Passed"+scoreText(d.Score)
	case d != nil:
		v.State, v.Headline = "fail", "Failed"+scoreText(d.Score)
	case running:
		v.State, v.Headline = "running", "Analysing"
	default:
		v.State, v.Headline = "running", "Ended without a decision"
	}
	if d := rep.Decision; d != nil {
		v.Reason = d.Reason
		v.DecidedAt = d.At.UnixMilli()
	}
	for _, iv := range rep.Intervals {
		v.Intervals = append(v.Intervals, intervalRow{
			Index: iv.Index, Score: num(iv.Score), Class: scoreClass(iv.Score, rep),
			Classification: iv.Classification, Explain: iv.Explain(),
			Start: iv.Start.UnixMilli(), End: iv.End.UnixMilli(),
		})
	}
	if n := len(rep.Intervals); n > 0 {
		last := rep.Intervals[n-1]
		v.Latest, v.LatestScore, v.LatestExplain = last.Index, num(last.Score), last.Explain()
		if v.Reason == "" {
			v.Reason = fmt.Sprintf("Interval %d scored %s: %s.", last.Index, num(last.Score), last.Explain())
		}
		for _, m := range last.Metrics {
			v.Metrics = append(v.Metrics, newMetricRow(m))
		}
	} else if v.Reason == "" && running {
		v.Reason = "No interval has been judged yet."
	}
	return v
}

func newMetricRow(m canary.MetricReport) metricRow {
	r := metricRow{
		Name: m.Name, Classification: m.Classification, Reason: m.Reason,
		Critical: m.Critical, Muted: m.Muted,
		ControlMean: figure(m.Control.Mean), ControlMedian: figure(m.Control.Median),
		ExperimentMean: figure(m.Experiment.Mean), ExperimentMedian: figure(m.Experiment.Median),
		ControlCount: m.Control.Count, ExperimentCount: m.Experiment.Count,
		Deviation: "—",
		Box:       boxPlot(m.Name, m.Control, m.Experiment),
	}
	if m.Deviation != nil {
		r.Deviation = figureText(*m.Deviation) + "×"
	}
	switch canary.Classification(m.Classification) {
	case canary.ClassPass:
		r.Class = "pass"
	case canary.ClassNodata:
		r.Class = "nodata"
	default:
		r.Class = "fail"
	}
	return r
}

// figure writes a figure of a report, "—" when it is null.
func figure(v *float64) string {
	if v == nil {
		return "—"
	}
	return figureText(*v)
}

// figureText writes a figure to four significant digits.
func figureText(x float64) string {
	s := strconv.FormatFloat(x, 'g', 4, 64)
	if strings.ContainsAny(s, "e") {
		return s
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return s
}

// recommendationView is an analysis's verdict as a judgment card shows
// it: the judge's recommendation to the person deciding.
type recommendationView struct {
	StageName string
	StageURL  string
	State     string // pass, fail or running
	Text      string
	Reason    string
}

// newRecommendation is rep's verdict for a judgment card.
func newRecommendation(stageName, stageURL string, rep *canary.Report, running bool) recommendationView {
	v := newCanaryReportView("", "", rep, running)
	r := recommendationView{StageName: stageName, StageURL: stageURL, State: v.State, Reason: v.Reason}
	switch v.State {
	case "pass":
		r.Text = "The analysis recommends continuing: " + strings.ToLower(v.Headline[:1]) + v.Headline[1:] + "."
	case "fail":
		r.Text = "The analysis recommends stopping: " + strings.ToLower(v.Headline[:1]) + v.Headline[1:] + "."
	default:
		r.Text = cmp.Or(v.Headline, "Analysing") + fmt.Sprintf(" (%d of %d intervals judged); no recommendation yet.", v.Judged, max(v.Planned, v.Judged))
	}
	return r
}

// scoreText is " with score N", or what decided instead when no score did.
func scoreText(score *float64) string {
	if score == nil {
		return " by the sequential judges"
	}
	return " with score " + num(*score)
}
