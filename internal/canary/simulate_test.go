package canary_test

import (
	"cmp"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

// simConfig is the simulations' configuration, BenchmarkSimulate's for
// the error rate: α = β = 5%, a tolerable increase of one percentage
// point, τ its default (two points), ten looks a second; the
// fixed-interval judge over a 60-minute lifetime judged every 10 minutes
// on 60 s steps.
var simConfig = canary.BenchOptions{}.ErrorRateConfig()

// latencyConfig judges latency instead: α = β = 5 %, a tolerable
// increase of 10 %, the same looks and fixed-interval plan.
var latencyConfig = canary.BenchOptions{}.LatencyConfig()

// BenchmarkSimulate replays SLUICE_SIM_RUNS (default 1,000) seeded
// canaries of each scenario of canary.BenchCases through both judges and
// logs the tables of docs/benchmarks.md, as `sluice bench canary` prints
// them; run it with -benchtime 1x.
func BenchmarkSimulate(b *testing.B) {
	runs, _ := strconv.Atoi(os.Getenv("SLUICE_SIM_RUNS"))
	runs = cmp.Or(runs, 1000)
	const seed = 1
	cases, err := canary.BenchCases(canary.BenchOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]canary.BenchRow, len(cases))
	for i, c := range cases {
		b.Run(c.Scenario.Name, func(b *testing.B) {
			var r canary.BenchRow
			for b.Loop() {
				var err error
				if r, err = c.Run(runs, seed); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(r.SequentialMedianSeconds, "seq-median-s")
			b.ReportMetric(r.FixedMedianSeconds, "fixed-median-s")
			b.ReportMetric(r.SpeedUp, "fixed/seq")
			b.ReportMetric(100*r.SequentialWrong, "seq-wrong-%")
			b.ReportMetric(100*r.FixedWrong, "fixed-wrong-%")
			b.ReportMetric(float64(r.SequentialUndecided), "seq-undecided")
			b.ReportMetric(r.WaldSeconds, "wald-s")
			b.ReportMetric(r.SequentialMeanSeconds, "seq-mean-s")
			b.ReportMetric(r.SequentialMeanOverWald, "seq-mean/wald")
			rows[i] = r
		})
	}
	var ran []canary.BenchRow
	for _, r := range rows {
		if r.Runs > 0 { // not filtered out by -bench
			ran = append(ran, r)
		}
	}
	var table strings.Builder
	if err := canary.WriteBenchTable(&table, ran); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d runs per scenario, seeds %d–%d:\n\n%s", runs, seed, seed+runs-1, table.String())
}
