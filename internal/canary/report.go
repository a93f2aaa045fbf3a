package canary

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Report is what an analysis records as it goes, under the stage output
// ReportKey: the scopes compared, every interval judged so far with each
// metric's verdict and figures, and the decision once there is one. The
// console draws it, the CLI prints it, and expressions read it
// (#stage('Canary').outputs.canaryReport.decision.result). Figures that
// are not numbers (a mean of no samples) are null.
type Report struct {
	// Mode is ModeIntervals (Kayenta's fixed intervals) or ModeSequential.
	Mode           string      `json:"mode"`
	ConfigName     string      `json:"configName"`
	ConfigRevision int         `json:"configRevision,omitempty"`
	Control        ReportScope `json:"control"`
	Experiment     ReportScope `json:"experiment"`
	Thresholds     struct {
		Pass     float64 `json:"pass"`
		Marginal float64 `json:"marginal"`
	} `json:"scoreThresholds"`
	// PlannedIntervals is how many intervals the analysis judges at most
	// (Orca's lifetime / interval); 0 in sequential mode.
	PlannedIntervals int              `json:"plannedIntervals"`
	Intervals        []IntervalReport `json:"intervals"`
	// Sequential is the sequential judge's state, in sequential mode.
	Sequential *SequentialReport `json:"sequential,omitempty"`
	// Decision is set when the analysis has decided.
	Decision *Decision `json:"decision,omitempty"`
}

// Analysis modes.
const (
	ModeIntervals  = "intervals"
	ModeSequential = "sequential"
)

// ReportKey is the stage output that holds the Report.
const ReportKey = "canaryReport"

// ReportScope is one side of the comparison: a version of a function, as
// invoked through an alias, and the selector it was resolved from.
type ReportScope struct {
	Account  string `json:"account,omitempty"`
	Function string `json:"function,omitempty"`
	Alias    string `json:"alias,omitempty"`
	Version  string `json:"version,omitempty"`
	// Selector is what the stage wrote ($PREVIOUS, $LATEST, 3, a
	// Prometheus scope name).
	Selector string `json:"selector,omitempty"`
}

// Scope returns the metric scope of s.
func (s ReportScope) Scope() Scope {
	return Scope{Function: s.Function, Version: s.Version, Alias: s.Alias, Name: s.Selector}
}

// IntervalReport is one judged interval.
type IntervalReport struct {
	Index          int            `json:"index"` // from 1
	Start          time.Time      `json:"start"`
	End            time.Time      `json:"end"`
	Score          float64        `json:"score"`
	Classification string         `json:"classification"`
	Reason         string         `json:"reason,omitempty"`
	Groups         []GroupReport  `json:"groups"`
	Metrics        []MetricReport `json:"metrics"`
}

// GroupReport is one metric group's score in an interval.
type GroupReport struct {
	Name   string  `json:"name"`
	Score  float64 `json:"score"`
	NoData bool    `json:"noData,omitempty"`
}

// MetricReport is one metric's verdict in an interval.
type MetricReport struct {
	Name           string   `json:"name"`
	Groups         []string `json:"groups"`
	Classification string   `json:"classification"`
	Reason         string   `json:"reason,omitempty"`
	Critical       bool     `json:"critical,omitempty"`
	Muted          bool     `json:"muted,omitempty"`
	// Deviation is experiment mean / control mean.
	Deviation  *float64    `json:"deviation"`
	Control    StatsReport `json:"control"`
	Experiment StatsReport `json:"experiment"`
}

// StatsReport is Stats with JSON names, NaN as null.
type StatsReport struct {
	Count  int      `json:"count"`
	Mean   *float64 `json:"mean"`
	Median *float64 `json:"median"`
	Min    *float64 `json:"min"`
	Max    *float64 `json:"max"`
	Q1     *float64 `json:"q1"`
	Q3     *float64 `json:"q3"`
}

// SequentialReport is the sequential judges' state in a report.
type SequentialReport struct {
	Looks int `json:"looks"`
	// ErrorRate and Latency are set for the metrics judged that way.
	ErrorRate *SequentialErrorReport   `json:"errorRate,omitempty"`
	Latency   *SequentialLatencyReport `json:"latency,omitempty"`
}

// SequentialErrorReport is the error-rate judge's state.
type SequentialErrorReport struct {
	Metric             string  `json:"metric"`
	ControlRequests    int64   `json:"controlRequests"`
	ControlErrors      int64   `json:"controlErrors"`
	ExperimentRequests int64   `json:"experimentRequests"`
	ExperimentErrors   int64   `json:"experimentErrors"`
	PFail              float64 `json:"pFail"`
	PPass              float64 `json:"pPass"`
	Decision           string  `json:"decision"`
}

// SequentialLatencyReport is the latency judge's state.
type SequentialLatencyReport struct {
	Metric string `json:"metric"`
	// Geometric means of the two sides' latencies, in the metric's unit.
	ControlGeoMean    *float64 `json:"controlGeoMean"`
	ExperimentGeoMean *float64 `json:"experimentGeoMean"`
	ControlCount      int64    `json:"controlCount"`
	ExperimentCount   int64    `json:"experimentCount"`
	PFail             float64  `json:"pFail"`
	PPass             float64  `json:"pPass"`
	Decision          string   `json:"decision"`
}

// Decision is an analysis's verdict.
type Decision struct {
	// Result is DecisionPass or DecisionFail.
	Result string `json:"result"`
	// Score is the score the decision rests on; null when the sequential
	// judges decided before any interval was scored.
	Score  *float64  `json:"score"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Describe is the decision in a few words: "pass, score 90", or "fail
// (sequential judges)" when no score was involved.
func (d *Decision) Describe() string {
	if d.Score == nil {
		return d.Result + " (sequential judges)"
	}
	return fmt.Sprintf("%s, score %v", d.Result, *d.Score)
}

// Decision results.
const (
	DecisionPass = "pass"
	DecisionFail = "fail"
)

// NewIntervalReport records the judge's verdict on interval index (from
// 1), [start, end).
func NewIntervalReport(index int, start, end time.Time, r Result) IntervalReport {
	ir := IntervalReport{
		Index: index, Start: start.UTC(), End: end.UTC(),
		Score: r.Score, Classification: string(r.Classification), Reason: r.Reason,
		Groups:  make([]GroupReport, len(r.Groups)),
		Metrics: make([]MetricReport, len(r.Metrics)),
	}
	for i, g := range r.Groups {
		ir.Groups[i] = GroupReport{Name: g.Name, Score: g.Score, NoData: g.NoData}
	}
	for i, m := range r.Metrics {
		ir.Metrics[i] = MetricReport{
			Name: m.Name, Groups: m.Groups, Classification: string(m.Classification), Reason: m.Reason,
			Critical: m.Critical, Muted: m.Muted, Deviation: number(m.Deviation),
			Control: statsReport(m.Control), Experiment: statsReport(m.Experiment),
		}
		if ir.Metrics[i].Groups == nil {
			ir.Metrics[i].Groups = []string{}
		}
	}
	return ir
}

func statsReport(s Stats) StatsReport {
	return StatsReport{Count: s.Count, Mean: number(s.Mean), Median: number(s.Median),
		Min: number(s.Min), Max: number(s.Max), Q1: number(s.Q1), Q3: number(s.Q3)}
}

// number is x, or nil when x is not a finite number (JSON has no NaN).
func number(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// Scores are the interval scores in order: Orca's canaryScores.
func (r *Report) Scores() []float64 {
	out := make([]float64, len(r.Intervals))
	for i, iv := range r.Intervals {
		out[i] = iv.Score
	}
	return out
}

// Explain says in one line why an interval scored as it did: the rule
// that forced the score, else the metrics that did not pass with their
// control and experiment means.
func (iv IntervalReport) Explain() string {
	var parts []string
	for _, m := range iv.Metrics {
		if m.Classification == string(ClassPass) || m.Muted {
			continue
		}
		parts = append(parts, m.describe())
	}
	switch {
	case len(parts) == 0 && iv.Reason == "":
		return "every metric passed"
	case iv.Reason == "":
		return strings.Join(parts, "; ")
	}
	return strings.Join(append([]string{iv.Reason}, parts...), "; ")
}

func (m MetricReport) describe() string {
	s := m.Name + " " + m.Classification
	if m.Control.Mean != nil && m.Experiment.Mean != nil {
		s += " (control mean " + formatFloat(round4(*m.Control.Mean)) + ", experiment mean " + formatFloat(round4(*m.Experiment.Mean)) + ")"
	}
	if m.Critical {
		s += ", critical"
	}
	return s
}

// round4 rounds x to four significant digits for messages.
func round4(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	p := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}

// Versus names the two versions compared: "control hello version 1,
// experiment version 2, through alias live".
func (r *Report) Versus() string {
	c, e := r.Control, r.Experiment
	s := fmt.Sprintf("control %s version %s, experiment version %s", c.Function, c.Version, e.Version)
	if c.Function == "" {
		s = fmt.Sprintf("control %s, experiment %s", c.Selector, e.Selector)
	}
	if c.Alias != "" {
		s += ", through alias " + c.Alias
	}
	return s
}
