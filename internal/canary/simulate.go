package canary

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Scenario is one kind of canary traffic for the simulator: requests
// arrive as a Poisson process, each goes to the experiment with
// probability CanaryShare, and fails with its side's error rate. Its
// latency is log-normal: LatencyMedian·exp(LatencySigma·Z), times
// 1 + LatencyIncrease on the experiment.
type Scenario struct {
	Name                string
	RequestsPerSecond   float64
	CanaryShare         float64
	ControlErrorRate    float64
	ExperimentErrorRate float64
	LatencyMedian       time.Duration
	LatencySigma        float64
	LatencyIncrease     float64
}

// Regression reports whether the scenario's experiment is worse than the
// control by at least the judged metric's tolerable increase, so that
// passing it is a wrong decision; otherwise failing it is.
func (sc Scenario) Regression(cfg SimulationConfig) bool {
	if cfg.Latency != nil {
		return sc.LatencyIncrease >= cfg.Latency.TolerableIncrease-1e-12
	}
	return sc.ExperimentErrorRate-sc.ControlErrorRate >= cfg.Sequential.TolerableIncrease-1e-12
}

// SimulationConfig configures both judges of a simulation.
type SimulationConfig struct {
	Sequential SequentialConfig
	// Latency, when set, makes both judges judge latency instead of the
	// error rate: the sequential judge with this config, the
	// fixed-interval judge on each step's mean latency.
	Latency *SequentialLatencyConfig
	// Look is how often the sequential judge looks. 0 means 1 s.
	Look time.Duration
	// Lifetime, Interval and Step are the fixed-interval judge's
	// lifetimeDuration, canaryAnalysisIntervalMins and scope step, with
	// Orca's growing window (every interval is judged on everything since
	// the start). The sequential judge stops at Lifetime too. Zeros mean
	// 60 min, 10 min and 60 s.
	Lifetime, Interval, Step time.Duration
	// Thresholds are the fixed-interval judge's; zero means 75/50.
	Thresholds Thresholds
	// SequentialOnly skips the fixed-interval judge (for tests).
	SequentialOnly bool
}

func (c SimulationConfig) withDefaults() SimulationConfig {
	c.Look = cmp.Or(c.Look, time.Second)
	c.Lifetime = cmp.Or(c.Lifetime, time.Hour)
	c.Interval = cmp.Or(c.Interval, 10*time.Minute)
	c.Step = cmp.Or(c.Step, time.Minute)
	if c.Thresholds == (Thresholds{}) {
		c.Thresholds = Thresholds{Pass: 75, Marginal: 50}
	}
	return c
}

// Outcome is one judge's decision in one run and when it was reached:
// SequentialContinue when the lifetime ended undecided.
type Outcome struct {
	Decision SequentialDecision
	At       time.Duration
}

// RunResult is one simulated canary through both judges.
type RunResult struct {
	Sequential, Fixed Outcome
}

// errorRateMetric is the one metric the fixed-interval judge sees: the
// error rate per step, which must not increase.
var errorRateMetric = MetricSpec{
	Name:        "error-rate",
	Groups:      []string{"errors"},
	Direction:   DirectionIncrease,
	NaNStrategy: NaNRemove,
	Critical:    true,
}

// latencyMetric is the fixed-interval judge's latency metric: the mean
// latency per step, which must not increase.
var latencyMetric = MetricSpec{
	Name:        "latency",
	Groups:      []string{"latency"},
	Direction:   DirectionIncrease,
	NaNStrategy: NaNRemove,
	Critical:    true,
}

// SimulateRun replays one canary of the scenario, seeded, through the
// sequential judge (every Look) and the fixed-interval judge (at the end
// of every Interval, on per-Step error rates). The same scenario, config
// and seed give the same result.
func SimulateRun(sc Scenario, cfg SimulationConfig, seed uint64) (RunResult, error) {
	cfg = cfg.withDefaults()
	latency := cfg.Latency != nil
	if latency {
		if err := cfg.Latency.Validate(); err != nil {
			return RunResult{}, err
		}
		if sc.LatencyMedian <= 0 || sc.LatencySigma < 0 {
			return RunResult{}, fmt.Errorf("scenario %q: latencyMedian must be positive and latencySigma not negative", sc.Name)
		}
	} else if err := cfg.Sequential.Validate(); err != nil {
		return RunResult{}, err
	}
	if sc.RequestsPerSecond <= 0 || sc.CanaryShare <= 0 || sc.CanaryShare >= 1 {
		return RunResult{}, fmt.Errorf("scenario %q: requestsPerSecond must be positive and canaryShare in (0, 1)", sc.Name)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed_ca9a))
	steps := int(cfg.Lifetime / cfg.Step)
	ctrlReq := make([]int, steps)
	ctrlErr := make([]int, steps)
	expReq := make([]int, steps)
	expErr := make([]int, steps)
	// For latency, the per-step sums of latencies, in seconds, stand in for
	// the error counts, and the look's latencies are kept whole.
	var ctrlLat, expLat []float64
	var batchCtrl, batchExp []float64
	var latState SequentialLatencyState
	if latency {
		ctrlLat = make([]float64, steps)
		expLat = make([]float64, steps)
	}
	median := sc.LatencyMedian.Seconds()

	res := RunResult{Sequential: Outcome{Decision: SequentialContinue, At: cfg.Lifetime}}
	res.Fixed = res.Sequential
	seqDone, fixedDone := false, cfg.SequentialOnly
	var state SequentialState
	var batch [4]int64 // control requests, errors, experiment requests, errors
	look, interval := cfg.Look, cfg.Interval
	nextLook, nextInterval := look, interval
	t := time.Duration(0)
	for !(seqDone && fixedDone) {
		t += time.Duration(rng.ExpFloat64() / sc.RequestsPerSecond * float64(time.Second))
		// Looks and interval ends that fall before this request see
		// everything up to them.
		for !seqDone && nextLook <= t && nextLook <= cfg.Lifetime {
			var err error
			decision := SequentialContinue
			if latency {
				latState, err = cfg.Latency.Update(latState, batchCtrl, batchExp)
				batchCtrl, batchExp = batchCtrl[:0], batchExp[:0]
				decision = latState.Decision
			} else {
				state, err = cfg.Sequential.Update(state, batch[0], batch[1], batch[2], batch[3])
				batch = [4]int64{}
				decision = state.Decision
			}
			if err != nil {
				return res, err
			}
			if decision != SequentialContinue {
				res.Sequential = Outcome{Decision: decision, At: nextLook}
				seqDone = true
			}
			nextLook += look
		}
		if nextLook > cfg.Lifetime {
			seqDone = true
		}
		for !fixedDone && nextInterval <= t && nextInterval <= cfg.Lifetime {
			n := int(nextInterval / cfg.Step)
			var d SequentialDecision
			var err error
			if latency {
				d, err = fixedLook(latencyMetric, ctrlReq[:n], ctrlLat[:n], expReq[:n], expLat[:n], cfg, nextInterval+interval > cfg.Lifetime)
			} else {
				d, err = fixedLook(errorRateMetric, ctrlReq[:n], intsToFloats(ctrlErr[:n]), expReq[:n], intsToFloats(expErr[:n]), cfg, nextInterval+interval > cfg.Lifetime)
			}
			if err != nil {
				return res, err
			}
			if d != SequentialContinue {
				res.Fixed = Outcome{Decision: d, At: nextInterval}
				fixedDone = true
			}
			nextInterval += interval
		}
		if nextInterval > cfg.Lifetime {
			fixedDone = true
		}
		if t >= cfg.Lifetime {
			break
		}
		canary := rng.Float64() < sc.CanaryShare
		i := int(t / cfg.Step)
		if latency {
			lat := median * math.Exp(sc.LatencySigma*rng.NormFloat64())
			if canary {
				lat *= 1 + sc.LatencyIncrease
				expReq[i]++
				expLat[i] += lat
				batchExp = append(batchExp, lat)
			} else {
				ctrlReq[i]++
				ctrlLat[i] += lat
				batchCtrl = append(batchCtrl, lat)
			}
			continue
		}
		p := sc.ControlErrorRate
		if canary {
			p = sc.ExperimentErrorRate
		}
		failed := rng.Float64() < p
		if canary {
			expReq[i]++
			batch[2]++
			if failed {
				expErr[i]++
				batch[3]++
			}
		} else {
			ctrlReq[i]++
			batch[0]++
			if failed {
				ctrlErr[i]++
				batch[1]++
			}
		}
	}
	return res, nil
}

// fixedLook is Orca's check at the end of one analysis interval: the
// judge on every step's value so far (the sum over the step divided by
// its requests: the error rate, or the mean latency); a score at or below
// marginal fails at once, and the last interval's score is the final
// verdict.
func fixedLook(metric MetricSpec, ctrlReq []int, ctrlSum []float64, expReq []int, expSum []float64, cfg SimulationConfig, last bool) (SequentialDecision, error) {
	rate := func(e float64, n int) float64 {
		if n == 0 {
			return math.NaN()
		}
		return e / float64(n)
	}
	ms := MetricSamples{Metric: metric, Control: make([]float64, len(ctrlReq)), Experiment: make([]float64, len(expReq))}
	for i := range ctrlReq {
		ms.Control[i] = rate(ctrlSum[i], ctrlReq[i])
		ms.Experiment[i] = rate(expSum[i], expReq[i])
	}
	r, err := Judge([]MetricSamples{ms}, nil, cfg.Thresholds)
	if err != nil {
		return "", err
	}
	switch {
	case !IntervalSucceeded(r.Score, cfg.Thresholds):
		return SequentialFail, nil
	case last && FinalVerdict([]float64{r.Score}, cfg.Thresholds) != nil:
		return SequentialFail, nil
	case last:
		return SequentialPass, nil
	}
	return SequentialContinue, nil
}

// JudgeSummary is one judge's results over many runs.
type JudgeSummary struct {
	// Median and Mean time to decision; an undecided run counts as the
	// lifetime.
	Median, Mean          time.Duration
	Pass, Fail, Undecided int
	// Wrong is the share of runs with the wrong decision: a pass of a
	// regression, a fail of anything else.
	Wrong float64
}

// SimulationSummary is a scenario's results over many seeded runs.
type SimulationSummary struct {
	Scenario   Scenario
	Runs       int
	Sequential JudgeSummary
	Fixed      JudgeSummary
	// WaldSeconds is the expected time Wald's SPRT would take to decide,
	// with the control's rate known, at the scenario's rates (a
	// regression: p0 = control, p1 = experiment; otherwise p0 = control,
	// p1 = control + tolerable increase).
	WaldSeconds float64
}

// Simulate runs the scenario with seeds seed, seed+1, …, seed+runs−1 and
// summarizes both judges.
func Simulate(sc Scenario, cfg SimulationConfig, runs int, seed uint64) (SimulationSummary, error) {
	cfg = cfg.withDefaults()
	sum := SimulationSummary{Scenario: sc, Runs: runs}
	regression := sc.Regression(cfg)
	seqAt := make([]time.Duration, 0, runs)
	fixedAt := make([]time.Duration, 0, runs)
	for i := range runs {
		r, err := SimulateRun(sc, cfg, seed+uint64(i))
		if err != nil {
			return sum, err
		}
		seqAt = append(seqAt, r.Sequential.At)
		fixedAt = append(fixedAt, r.Fixed.At)
		count(&sum.Sequential, r.Sequential.Decision)
		count(&sum.Fixed, r.Fixed.Decision)
	}
	for _, js := range []*JudgeSummary{&sum.Sequential, &sum.Fixed} {
		wrong := js.Fail
		if regression {
			wrong = js.Pass
		}
		js.Wrong = float64(wrong) / float64(runs)
	}
	sum.Sequential.Median, sum.Sequential.Mean = medianDuration(seqAt), meanDuration(seqAt)
	sum.Fixed.Median, sum.Fixed.Mean = medianDuration(fixedAt), meanDuration(fixedAt)
	perSecond := sc.RequestsPerSecond * sc.CanaryShare
	if cfg.Latency != nil {
		a, b := cmp.Or(cfg.Latency.Alpha, 0.05), cmp.Or(cfg.Latency.Beta, 0.05)
		shift := math.Log1p(sc.LatencyIncrease)
		if !regression {
			shift = math.Log1p(cfg.Latency.TolerableIncrease)
		}
		sum.WaldSeconds = WaldExpectedNormal(shift, sc.LatencySigma, a, b, regression) / perSecond
		return sum, nil
	}
	a, b := cfg.Sequential.alpha(), cfg.Sequential.beta()
	p0, p1 := sc.ControlErrorRate, sc.ExperimentErrorRate
	if !regression {
		p1 = p0 + cfg.Sequential.TolerableIncrease
	}
	sum.WaldSeconds = WaldExpectedRequests(p0, p1, a, b, regression) / perSecond
	return sum, nil
}

func count(js *JudgeSummary, d SequentialDecision) {
	switch d {
	case SequentialPass:
		js.Pass++
	case SequentialFail:
		js.Fail++
	default:
		js.Undecided++
	}
}

func medianDuration(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func meanDuration(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	var total time.Duration
	for _, d := range v {
		total += d
	}
	return total / time.Duration(len(v))
}

func intsToFloats(v []int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
