package canary_test

import (
	"math"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/canary"
)

// TestSequentialWrongDecisionRates replays 1,000 seeded canaries of each
// scenario through the sequential judge, looking every second, and checks
// that its wrong decisions stay at the configured rates: failing an
// unchanged version (α) and passing a version exactly at the tolerable
// increase, the hardest regression to catch (β). The guarantee is on the
// true rate; the measured one may exceed it by sampling noise, so the
// bound is the rate plus three binomial standard deviations of a rate α
// over 1,000 runs (√(α(1−α)/1000) = 0.69 points at 5 %, so 7.1 %). A judge
// that peeks every second with a one-sided z-test at 5 % instead fails an
// unchanged version in 28 % of these runs. The seeds are fixed, so the result is
// deterministic.
func TestSequentialWrongDecisionRates(t *testing.T) {
	t.Parallel()
	cfg := simConfig
	cfg.SequentialOnly = true
	const runs = 1000
	for _, rps := range []float64{10, 100} {
		for _, sc := range []struct {
			to   float64
			rate float64 // the configured rate of this scenario's wrong decision
		}{{0.01, cfg.Sequential.Alpha}, {0.02, cfg.Sequential.Beta}} {
			s := canary.Scenario{Name: "t", RequestsPerSecond: rps, CanaryShare: 0.1, ControlErrorRate: 0.01, ExperimentErrorRate: sc.to}
			sum, err := canary.Simulate(s, cfg, runs, 1)
			if err != nil {
				t.Fatal(err)
			}
			bound := sc.rate + 3*math.Sqrt(sc.rate*(1-sc.rate)/runs)
			t.Logf("%g req/s, 1%% → %g%%: wrong %.3f (bound %.3f), pass %d, fail %d, undecided %d",
				rps, sc.to*100, sum.Sequential.Wrong, bound, sum.Sequential.Pass, sum.Sequential.Fail, sum.Sequential.Undecided)
			if sum.Sequential.Wrong > bound {
				t.Errorf("%g req/s, error rate 1%% → %g%%: wrong decisions in %.1f%% of %d runs, want ≤ %.1f%%",
					rps, sc.to*100, 100*sum.Sequential.Wrong, runs, 100*bound)
			}
			if sum.Sequential.Undecided > runs/20 {
				t.Errorf("%g req/s, error rate 1%% → %g%%: %d of %d runs undecided after the lifetime, want ≤ 5%%",
					rps, sc.to*100, sum.Sequential.Undecided, runs)
			}
		}
	}
}

// TestSequentialLatencyWrongDecisionRates is the same check for latency:
// log-normal latencies, unchanged (α) and exactly 10 % slower, the
// tolerable increase (β). A judge that peeks with a one-sided z-test at
// 5 % every look fails an unchanged version in 29–30 % of these runs.
func TestSequentialLatencyWrongDecisionRates(t *testing.T) {
	t.Parallel()
	cfg := latencyConfig
	cfg.SequentialOnly = true
	const runs = 1000
	for _, rps := range []float64{10, 100} {
		for _, sc := range []struct {
			inc  float64
			rate float64
		}{{0, cfg.Latency.Alpha}, {0.1, cfg.Latency.Beta}} {
			s := canary.Scenario{Name: "t", RequestsPerSecond: rps, CanaryShare: 0.1,
				LatencyMedian: 100 * time.Millisecond, LatencySigma: 0.5, LatencyIncrease: sc.inc}
			sum, err := canary.Simulate(s, cfg, runs, 1)
			if err != nil {
				t.Fatal(err)
			}
			bound := sc.rate + 3*math.Sqrt(sc.rate*(1-sc.rate)/runs)
			t.Logf("%g req/s, latency +%g%%: wrong %.3f (bound %.3f), pass %d, fail %d, undecided %d",
				rps, sc.inc*100, sum.Sequential.Wrong, bound, sum.Sequential.Pass, sum.Sequential.Fail, sum.Sequential.Undecided)
			if sum.Sequential.Wrong > bound {
				t.Errorf("%g req/s, latency +%g%%: wrong decisions in %.1f%% of %d runs, want ≤ %.1f%%",
					rps, sc.inc*100, 100*sum.Sequential.Wrong, runs, 100*bound)
			}
			if sum.Sequential.Undecided > runs/20 {
				t.Errorf("%g req/s, latency +%g%%: %d of %d runs undecided after the lifetime, want ≤ 5%%",
					rps, sc.inc*100, sum.Sequential.Undecided, runs)
			}
		}
	}
}
