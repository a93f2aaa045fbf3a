package canary

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// BenchOptions chooses the scenarios of issue 11's comparison of the
// sequential judge with the fixed-interval judge, as `sluice bench canary`
// and BenchmarkSimulate run it: at each rate, the error rate going from
// 1 % to 1, 2, 3 and 5 %, and the latency unchanged, 20 % and 50 %
// slower. The zero value is the comparison of docs/benchmarks.md.
type BenchOptions struct {
	// Rates are the requests per second to simulate; nil means 10 and 100.
	Rates []float64
	// CanaryShare is the share of requests that go to the canary, in
	// (0, 1); 0 means 0.1.
	CanaryShare float64
	// Alpha and Beta are both sequential judges' rates of false rollback
	// and false promotion, in (0, 1); 0 means 0.05.
	Alpha, Beta float64
}

// BenchMetric is the metric both judges judge in a BenchCase.
type BenchMetric string

// The metrics of the benchmark's two tables.
const (
	BenchErrorRate BenchMetric = "error-rate"
	BenchLatency   BenchMetric = "latency"
)

// Validate reports every option out of range, naming it.
func (o BenchOptions) Validate() error {
	var errs []error
	for _, r := range o.Rates {
		if !(r > 0) || math.IsInf(r, 1) {
			errs = append(errs, fmt.Errorf("rate %v requests/s must be positive", r))
		}
	}
	if !(o.CanaryShare >= 0 && o.CanaryShare < 1) {
		errs = append(errs, fmt.Errorf("canary share %v must be in (0, 1), e.g. 0.1 for 10 %%", o.CanaryShare))
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"alpha", o.Alpha}, {"beta", o.Beta}} {
		if !(p.v >= 0 && p.v < 1) {
			errs = append(errs, fmt.Errorf("%s %v must be in (0, 1), e.g. 0.05", p.name, p.v))
		}
	}
	return errors.Join(errs...)
}

func (o BenchOptions) withDefaults() BenchOptions {
	if len(o.Rates) == 0 {
		o.Rates = []float64{10, 100}
	}
	o.CanaryShare = cmp.Or(o.CanaryShare, 0.1)
	o.Alpha = cmp.Or(o.Alpha, 0.05)
	o.Beta = cmp.Or(o.Beta, 0.05)
	return o
}

// ErrorRateConfig is the configuration the error-rate scenarios run
// under: the sequential judge with a tolerable increase of one percentage
// point and τ its default (two points), looking ten times a second; the
// fixed-interval judge over a 60-minute lifetime judged every 10 minutes
// on 60 s steps.
func (o BenchOptions) ErrorRateConfig() SimulationConfig {
	o = o.withDefaults()
	return SimulationConfig{
		Sequential: SequentialConfig{Alpha: o.Alpha, Beta: o.Beta, TolerableIncrease: 0.01},
		Look:       100 * time.Millisecond,
	}
}

// LatencyConfig is ErrorRateConfig judging latency instead: a tolerable
// increase of 10 %.
func (o BenchOptions) LatencyConfig() SimulationConfig {
	o = o.withDefaults()
	c := o.ErrorRateConfig()
	c.Latency = &SequentialLatencyConfig{Alpha: o.Alpha, Beta: o.Beta, TolerableIncrease: 0.1}
	return c
}

// BenchCase is one scenario of the comparison with the configuration its
// judges run under.
type BenchCase struct {
	Metric   BenchMetric
	Scenario Scenario
	Config   SimulationConfig
	// Label names the scenario in the table: "10 req/s, 1 % → 2 %".
	Label string
}

// BenchCases returns the comparison's scenarios, the error-rate ones
// first: at each rate, the control failing 1 % of requests and the canary
// 1, 2, 3 or 5 %; then log-normal latencies, median 100 ms, σ = 0.5 on
// the log scale (p99 ≈ 3.2× the median), the canary's unchanged, 20 % or
// 50 % slower.
func BenchCases(o BenchOptions) ([]BenchCase, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	var out []BenchCase
	errCfg, latCfg := o.ErrorRateConfig(), o.LatencyConfig()
	for _, rps := range o.Rates {
		for _, to := range []float64{0.01, 0.02, 0.03, 0.05} {
			name := fmt.Sprintf("%greq/s/1%%->%g%%", rps, to*100)
			label := fmt.Sprintf("%g req/s, 1 %% → %g %%", rps, to*100)
			if to == 0.01 {
				name = fmt.Sprintf("%greq/s/no-change", rps)
				label = fmt.Sprintf("%g req/s, no change", rps)
			}
			out = append(out, BenchCase{Metric: BenchErrorRate, Label: label, Config: errCfg,
				Scenario: Scenario{Name: name, RequestsPerSecond: rps, CanaryShare: o.CanaryShare,
					ControlErrorRate: 0.01, ExperimentErrorRate: to}})
		}
	}
	for _, rps := range o.Rates {
		for _, inc := range []float64{0, 0.2, 0.5} {
			name := fmt.Sprintf("%greq/s/latency+%g%%", rps, inc*100)
			label := fmt.Sprintf("%g req/s, +%g %%", rps, inc*100)
			if inc == 0 {
				name = fmt.Sprintf("%greq/s/latency-no-change", rps)
				label = fmt.Sprintf("%g req/s, no change", rps)
			}
			out = append(out, BenchCase{Metric: BenchLatency, Label: label, Config: latCfg,
				Scenario: Scenario{Name: name, RequestsPerSecond: rps, CanaryShare: o.CanaryShare,
					LatencyMedian: 100 * time.Millisecond, LatencySigma: 0.5, LatencyIncrease: inc}})
		}
	}
	return out, nil
}

// BenchRow is one scenario's line of the comparison: times in seconds,
// wrong-decision rates as shares in [0, 1].
type BenchRow struct {
	Scenario          string      `json:"scenario"`
	Label             string      `json:"label"`
	Metric            BenchMetric `json:"metric"`
	RequestsPerSecond float64     `json:"requestsPerSecond"`
	CanaryShare       float64     `json:"canaryShare"`
	Runs              int         `json:"runs"`
	// Seed is the first run's; the others follow it.
	Seed uint64 `json:"seed"`

	SequentialMedianSeconds float64 `json:"sequentialMedianSeconds"`
	SequentialMeanSeconds   float64 `json:"sequentialMeanSeconds"`
	FixedMedianSeconds      float64 `json:"fixedMedianSeconds"`
	FixedMeanSeconds        float64 `json:"fixedMeanSeconds"`
	// SpeedUp is the fixed-interval judge's median time to decision over
	// the sequential judge's.
	SpeedUp float64 `json:"speedUp"`

	SequentialWrong     float64 `json:"sequentialWrong"`
	FixedWrong          float64 `json:"fixedWrong"`
	SequentialPass      int     `json:"sequentialPass"`
	SequentialFail      int     `json:"sequentialFail"`
	SequentialUndecided int     `json:"sequentialUndecided"`
	FixedPass           int     `json:"fixedPass"`
	FixedFail           int     `json:"fixedFail"`
	FixedUndecided      int     `json:"fixedUndecided"`

	// WaldSeconds is Wald's expected time to decide (SimulationSummary);
	// SequentialMeanOverWald the sequential judge's mean time over it.
	WaldSeconds            float64 `json:"waldSeconds"`
	SequentialMeanOverWald float64 `json:"sequentialMeanOverWald"`
}

// Run simulates runs canaries of the case, seeds seed, seed+1, …, and
// returns its row. The same case, runs and seed give the same row.
func (c BenchCase) Run(runs int, seed uint64) (BenchRow, error) {
	if runs < 1 {
		return BenchRow{}, fmt.Errorf("scenario %q: runs %d must be at least 1", c.Scenario.Name, runs)
	}
	s, err := Simulate(c.Scenario, c.Config, runs, seed)
	if err != nil {
		return BenchRow{}, err
	}
	seq, fixed := s.Sequential, s.Fixed
	return BenchRow{
		Scenario: c.Scenario.Name, Label: c.Label, Metric: c.Metric,
		RequestsPerSecond: c.Scenario.RequestsPerSecond, CanaryShare: c.Scenario.CanaryShare,
		Runs: s.Runs, Seed: seed,
		SequentialMedianSeconds: seq.Median.Seconds(), SequentialMeanSeconds: seq.Mean.Seconds(),
		FixedMedianSeconds: fixed.Median.Seconds(), FixedMeanSeconds: fixed.Mean.Seconds(),
		SpeedUp:         fixed.Median.Seconds() / seq.Median.Seconds(),
		SequentialWrong: seq.Wrong, FixedWrong: fixed.Wrong,
		SequentialPass: seq.Pass, SequentialFail: seq.Fail, SequentialUndecided: seq.Undecided,
		FixedPass: fixed.Pass, FixedFail: fixed.Fail, FixedUndecided: fixed.Undecided,
		WaldSeconds:            s.WaldSeconds,
		SequentialMeanOverWald: seq.Mean.Seconds() / s.WaldSeconds,
	}, nil
}

// BenchTableHeader is the header of WriteBenchTable's tables.
const BenchTableHeader = "| scenario | seq. median s | fixed median s | fixed ÷ seq. | seq. wrong | fixed wrong | seq. undecided | seq. mean s | Wald s | seq. mean ÷ Wald |\n" +
	"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"

// Markdown is the row as a line of WriteBenchTable's table.
func (r BenchRow) Markdown() string {
	return fmt.Sprintf("| %s | %.1f | %.0f | %.2f | %.1f %% | %.1f %% | %d | %.1f | %.1f | %.2f |",
		r.Label, r.SequentialMedianSeconds, r.FixedMedianSeconds, r.SpeedUp,
		100*r.SequentialWrong, 100*r.FixedWrong, r.SequentialUndecided,
		r.SequentialMeanSeconds, r.WaldSeconds, r.SequentialMeanOverWald)
}

// WriteBenchTable writes the rows as the Markdown tables of
// docs/benchmarks.md: one for the error-rate rows and one for the latency
// rows, each under a line that says what the control does.
func WriteBenchTable(w io.Writer, rows []BenchRow) error {
	var b strings.Builder
	for _, t := range []struct {
		metric BenchMetric
		title  string
	}{
		{BenchErrorRate, "Error rate, control 1 %:"},
		{BenchLatency, "Latency, log-normal, median 100 ms, σ = 0.5 on the log scale:"},
	} {
		var lines []string
		for _, r := range rows {
			if r.Metric == t.metric {
				lines = append(lines, r.Markdown())
			}
		}
		if len(lines) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s\n\n%s%s\n", t.title, BenchTableHeader, strings.Join(lines, "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
