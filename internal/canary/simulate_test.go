package canary_test

import (
	"cmp"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/canary"
)

// simConfig is the simulations' configuration: α = β = 5%, a tolerable
// increase of one percentage point, τ its default (two points), ten looks
// a second; the fixed-interval judge over a 60-minute lifetime judged
// every 10 minutes on 60 s steps.
var simConfig = canary.SimulationConfig{
	Sequential: canary.SequentialConfig{Alpha: 0.05, Beta: 0.05, TolerableIncrease: 0.01},
	Look:       100 * time.Millisecond,
}

// latencyConfig judges latency instead: α = β = 5 %, a tolerable
// increase of 10 %, the same looks and fixed-interval plan.
var latencyConfig = func() canary.SimulationConfig {
	c := simConfig
	c.Latency = &canary.SequentialLatencyConfig{Alpha: 0.05, Beta: 0.05, TolerableIncrease: 0.1}
	return c
}()

// latencyScenarios: log-normal latencies, median 100 ms, σ = 0.5 on the
// log scale (p99 ≈ 3.2× the median), at 10 and 100 req/s.
func latencyScenarios() []canary.Scenario {
	var out []canary.Scenario
	for _, rps := range []float64{10, 100} {
		for _, inc := range []float64{0, 0.2, 0.5} {
			name := fmt.Sprintf("%greq/s/latency+%g%%", rps, inc*100)
			if inc == 0 {
				name = fmt.Sprintf("%greq/s/latency-no-change", rps)
			}
			out = append(out, canary.Scenario{Name: name, RequestsPerSecond: rps, CanaryShare: 0.1,
				LatencyMedian: 100 * time.Millisecond, LatencySigma: 0.5, LatencyIncrease: inc})
		}
	}
	return out
}

func errorRateScenarios() []canary.Scenario {
	var out []canary.Scenario
	for _, rps := range []float64{10, 100} {
		for _, to := range []float64{0.01, 0.02, 0.03, 0.05} {
			name := fmt.Sprintf("%greq/s/1%%->%g%%", rps, to*100)
			if to == 0.01 {
				name = fmt.Sprintf("%greq/s/no-change", rps)
			}
			out = append(out, canary.Scenario{Name: name, RequestsPerSecond: rps, CanaryShare: 0.1, ControlErrorRate: 0.01, ExperimentErrorRate: to})
		}
	}
	return out
}

// BenchmarkSimulate replays SLUICE_SIM_RUNS (default 1,000) seeded
// canaries of each error-rate scenario through both judges and reports
// the table of docs/benchmarks.md; run it with -benchtime 1x.
func BenchmarkSimulate(b *testing.B) {
	runs, _ := strconv.Atoi(os.Getenv("SLUICE_SIM_RUNS"))
	runs = cmp.Or(runs, 1000)
	type run struct {
		sc  canary.Scenario
		cfg canary.SimulationConfig
	}
	var all []run
	for _, sc := range errorRateScenarios() {
		all = append(all, run{sc, simConfig})
	}
	for _, sc := range latencyScenarios() {
		all = append(all, run{sc, latencyConfig})
	}
	for _, r := range all {
		sc := r.sc
		b.Run(sc.Name, func(b *testing.B) {
			var s canary.SimulationSummary
			for b.Loop() {
				var err error
				s, err = canary.Simulate(sc, r.cfg, runs, 1)
				if err != nil {
					b.Fatal(err)
				}
			}
			seq, fixed := s.Sequential.Median.Seconds(), s.Fixed.Median.Seconds()
			b.ReportMetric(seq, "seq-median-s")
			b.ReportMetric(fixed, "fixed-median-s")
			b.ReportMetric(fixed/seq, "fixed/seq")
			b.ReportMetric(100*s.Sequential.Wrong, "seq-wrong-%")
			b.ReportMetric(100*s.Fixed.Wrong, "fixed-wrong-%")
			b.ReportMetric(float64(s.Sequential.Undecided), "seq-undecided")
			b.ReportMetric(s.WaldSeconds, "wald-s")
			mean := s.Sequential.Mean.Seconds()
			b.ReportMetric(mean, "seq-mean-s")
			b.ReportMetric(mean/s.WaldSeconds, "seq-mean/wald")
			b.Logf("| %s | %d | %.1f | %.0f | %.2f | %.1f %% | %.1f %% | %d | %.1f | %.1f | %.2f |",
				sc.Name, s.Runs, seq, fixed, fixed/seq, 100*s.Sequential.Wrong, 100*s.Fixed.Wrong,
				s.Sequential.Undecided, mean, s.WaldSeconds, mean/s.WaldSeconds)
		})
	}
}
