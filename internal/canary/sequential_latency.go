package canary

import (
	"cmp"
	"errors"
	"fmt"
	"math"
)

// SequentialLatencyConfig configures the always-valid judge of latency: it
// compares the mean log latency of the two sides, so an increase is a
// ratio (see the package documentation, "The sequential judge").
type SequentialLatencyConfig struct {
	// Alpha and Beta are the false-rollback and false-promotion rates, as
	// in SequentialConfig. 0 means 0.05.
	Alpha, Beta float64
	// TolerableIncrease is the relative increase of the latency (of its
	// geometric mean) that may still pass: 0.1 for 10 %. Required.
	TolerableIncrease float64
	// MixtureScale is τ on the log scale. 0 means twice
	// log(1 + TolerableIncrease).
	MixtureScale float64
	// FailIncrease is the relative increase the fail test must show: 0,
	// the judge's pure form, fails an experiment shown slower at all;
	// 0.05 fails one shown more than 5 % slower. Two builds of the same
	// code differ by a few percent (a new version's processes are
	// younger), and with a nearly constant latency a few percent is soon
	// significant: a margin keeps that from rolling back a version whose
	// slowdown is well inside the tolerable increase. It must be below
	// TolerableIncrease.
	FailIncrease float64
}

// LogMoments are the count, mean and sum of squared deviations of the
// logarithms of one side's latencies (Welford's running moments).
type LogMoments struct {
	N        int64
	Mean, M2 float64
}

func (m *LogMoments) add(x float64) {
	m.N++
	d := x - m.Mean
	m.Mean += d / float64(m.N)
	m.M2 += d * (x - m.Mean)
}

// SequentialLatencyState is what the latency judge carries between
// looks; its zero value is the state before the first request.
type SequentialLatencyState struct {
	Control, Experiment    LogMoments
	MaxLogFail, MaxLogPass float64
	Decision               SequentialDecision
}

// minLatencies is how many latencies the control must have, and
// minExperimentLatencies how many the experiment must have, before the
// judge looks. The two sides share one variance, pooled from both (a new
// version shifts the log latency more than it changes its spread), so the
// control, with most of the traffic, estimates it well while the
// experiment has only a few requests; with each side's own variance the
// experiment alone needed 20 latencies to hold the false-rollback rate,
// and a +50 % latency took 2.7 times Wald's expected sample size. Over the
// simulator's 1,000 seeded runs of an unchanged version (log-normal,
// σ = 0.5, α = 5 %, ten looks a second) the false-rollback rate is 4.4 % at
// 10 req/s and 4.0 % at 100 req/s with these floors, and a +50 % latency
// is decided in 1.84 and 1.95 times Wald's expected time (docs/benchmarks.md).
const (
	minLatencies           = 20
	minExperimentLatencies = 5
)

// Validate reports the first field that is out of range.
func (c SequentialLatencyConfig) Validate() error {
	var errs []error
	if c.Alpha < 0 || c.Alpha >= 1 {
		errs = append(errs, fmt.Errorf("sequential latency judge: alpha %v must be in (0, 1); 0 takes 0.05", c.Alpha))
	}
	if c.Beta < 0 || c.Beta >= 1 {
		errs = append(errs, fmt.Errorf("sequential latency judge: beta %v must be in (0, 1); 0 takes 0.05", c.Beta))
	}
	if !(c.TolerableIncrease > 0) || math.IsInf(c.TolerableIncrease, 1) {
		errs = append(errs, fmt.Errorf("sequential latency judge: tolerableIncrease %v must be a positive relative increase, e.g. 0.1 for 10 %%", c.TolerableIncrease))
	}
	if c.MixtureScale < 0 || math.IsNaN(c.MixtureScale) {
		errs = append(errs, fmt.Errorf("sequential latency judge: mixtureScale %v must be positive; 0 takes twice log(1 + tolerableIncrease)", c.MixtureScale))
	}
	if !(c.FailIncrease >= 0 && c.FailIncrease < c.TolerableIncrease) && c.TolerableIncrease > 0 {
		errs = append(errs, fmt.Errorf("sequential latency judge: failIncrease %v must be 0 or more and below tolerableIncrease %v", c.FailIncrease, c.TolerableIncrease))
	}
	return errors.Join(errs...)
}

// Update adds one look's latencies (any unit, all positive) of each side
// and returns the new state; a decision is final, as in
// SequentialConfig.Update.
func (c SequentialLatencyConfig) Update(s SequentialLatencyState, control, experiment []float64) (SequentialLatencyState, error) {
	if err := c.Validate(); err != nil {
		return s, err
	}
	if s.Decision != "" && s.Decision != SequentialContinue {
		return s, nil
	}
	for side, v := range [][]float64{control, experiment} {
		for _, x := range v {
			if !(x > 0) || math.IsInf(x, 1) {
				return s, fmt.Errorf("sequential latency judge: latency %v must be positive and finite", x)
			}
			if side == 0 {
				s.Control.add(math.Log(x))
			} else {
				s.Experiment.add(math.Log(x))
			}
		}
	}
	s.Decision = SequentialContinue
	if s.Control.N < minLatencies || s.Experiment.N < minExperimentLatencies {
		return s, nil
	}
	// One variance for both sides, pooled: a change of version shifts the
	// log latency more than it changes its spread, and the control, with
	// most of the traffic, estimates the spread well long before the
	// experiment could on its own.
	pooled := (s.Control.M2 + s.Experiment.M2) / float64(s.Control.N+s.Experiment.N-2)
	v := pooled/float64(s.Control.N) + pooled/float64(s.Experiment.N)
	if !(v > 0) {
		return s, nil // every latency the same so far: nothing to weigh yet
	}
	delta := math.Log1p(c.TolerableIncrease)
	tau := cmp.Or(c.MixtureScale, 2*delta)
	diff := s.Experiment.Mean - s.Control.Mean
	s.MaxLogFail = max(s.MaxLogFail, logHalfNormalMixture(diff-math.Log1p(c.FailIncrease), v, tau))
	s.MaxLogPass = max(s.MaxLogPass, logHalfNormalMixture(delta-diff, v, tau))
	switch {
	case s.MaxLogFail >= math.Log(1/cmp.Or(c.Alpha, 0.05)):
		s.Decision = SequentialFail
	case s.MaxLogPass >= math.Log(1/cmp.Or(c.Beta, 0.05)):
		s.Decision = SequentialPass
	}
	return s, nil
}

// PFail and PPass are the always-valid p-values, as SequentialState's.
func (s SequentialLatencyState) PFail() float64 { return math.Exp(-max(0, s.MaxLogFail)) }

// PPass is the always-valid p-value of "the latency is higher by the
// tolerable increase or more".
func (s SequentialLatencyState) PPass() float64 { return math.Exp(-max(0, s.MaxLogPass)) }

// WaldExpectedNormal is Wald's expected sample size, as
// WaldExpectedRequests, for a normal observation of known standard
// deviation sigma whose mean is 0 under H0 and shift under H1: the
// per-observation divergence is shift²/(2σ²) both ways.
func WaldExpectedNormal(shift, sigma, alpha, beta float64, underH1 bool) float64 {
	logA := math.Log((1 - beta) / alpha)
	logB := math.Log(beta / (1 - alpha))
	kl := shift * shift / (2 * sigma * sigma)
	if underH1 {
		return ((1-beta)*logA + beta*logB) / kl
	}
	return (alpha*logA + (1-alpha)*logB) / -kl
}
