package canary_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

func TestSequentialLatencyConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  canary.SequentialLatencyConfig
		want string
	}{
		{canary.SequentialLatencyConfig{TolerableIncrease: 0.1}, ""},
		{canary.SequentialLatencyConfig{}, "tolerableIncrease"},
		{canary.SequentialLatencyConfig{TolerableIncrease: 0.1, Alpha: 2}, "alpha"},
		{canary.SequentialLatencyConfig{TolerableIncrease: 0.1, Beta: -1}, "beta"},
		{canary.SequentialLatencyConfig{TolerableIncrease: 0.1, MixtureScale: -1}, "mixtureScale"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

// TestSequentialLatencyDecisions: twice as slow fails, the same passes,
// a decision is final, and a bad latency is refused.
func TestSequentialLatencyDecisions(t *testing.T) {
	t.Parallel()
	cfg := canary.SequentialLatencyConfig{Alpha: 0.05, Beta: 0.05, TolerableIncrease: 0.1}
	rng := rand.New(rand.NewPCG(1, 2))
	sample := func(n int, scale float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = scale * 0.1 * math.Exp(0.5*rng.NormFloat64())
		}
		return v
	}
	var zero canary.SequentialLatencyState
	slow, err := cfg.Update(zero, sample(900, 1), sample(100, 2))
	if err != nil {
		t.Fatal(err)
	}
	if slow.Decision != canary.SequentialFail || slow.PFail() > 0.05 {
		t.Fatalf("twice as slow over 1,000 requests: %s, pFail %v; want FAIL", slow.Decision, slow.PFail())
	}
	after, err := cfg.Update(slow, sample(900, 1), sample(100, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	if after != slow {
		t.Errorf("update after the decision changed the state: %+v, want %+v", after, slow)
	}
	same, err := cfg.Update(zero, sample(9000, 1), sample(1000, 1))
	if err != nil {
		t.Fatal(err)
	}
	if same.Decision != canary.SequentialPass || same.PPass() > 0.05 {
		t.Errorf("same latencies over 10,000 requests: %s, pPass %v; want PASS", same.Decision, same.PPass())
	}
	few, _ := cfg.Update(zero, sample(900, 1), sample(4, 10))
	if few.Decision != canary.SequentialContinue {
		t.Errorf("four canary latencies: %s, want CONTINUE until the floor of five", few.Decision)
	}
	if five, _ := cfg.Update(few, nil, sample(1, 10)); five.Decision != canary.SequentialFail {
		t.Errorf("five canary latencies ten times the control's: %s, want FAIL at the floor", five.Decision)
	}
	fewControl, _ := cfg.Update(zero, sample(19, 1), sample(100, 10))
	if fewControl.Decision != canary.SequentialContinue {
		t.Errorf("nineteen control latencies: %s, want CONTINUE until the control's floor of twenty", fewControl.Decision)
	}
	// Three percent slower with little spread: the pure test fails it
	// soon; with a fail margin of 5 % it passes, being inside the
	// tolerable 10 %.
	steady := func(n int, scale float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = scale * 0.1 * math.Exp(0.01*rng.NormFloat64())
		}
		return v
	}
	ctl, exp := steady(900, 1), steady(100, 1.03)
	if pure, _ := cfg.Update(zero, ctl, exp); pure.Decision != canary.SequentialFail {
		t.Errorf("3 %% slower, no fail margin: %s, want FAIL", pure.Decision)
	}
	margin := cfg
	margin.FailIncrease = 0.05
	if m, _ := margin.Update(zero, ctl, exp); m.Decision != canary.SequentialPass {
		t.Errorf("3 %% slower, fail margin 5 %%: %s, want PASS", m.Decision)
	}
	if m, _ := margin.Update(zero, steady(900, 1), steady(100, 1.08)); m.Decision != canary.SequentialFail {
		t.Errorf("8 %% slower, fail margin 5 %%: %s, want FAIL", m.Decision)
	}
	if err := (canary.SequentialLatencyConfig{TolerableIncrease: 0.1, FailIncrease: 0.1}).Validate(); err == nil {
		t.Error("failIncrease equal to tolerableIncrease: no error")
	}
	if _, err := cfg.Update(zero, []float64{0.1, 0}, nil); err == nil {
		t.Error("a latency of 0: no error")
	}
}

// TestWaldExpectedNormal compares with the closed form computed in Python.
func TestWaldExpectedNormal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		shift   float64
		underH1 bool
		want    float64
	}{
		{math.Log1p(0.2), true, 39.860159403753656},
		{math.Log1p(0.5), true, 8.059499958777444},
		{math.Log1p(0.1), false, 145.8600957972056},
	} {
		got := canary.WaldExpectedNormal(tc.shift, 0.5, 0.05, 0.05, tc.underH1)
		if math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("WaldExpectedNormal(%v, H1 %v) = %v, want %v", tc.shift, tc.underH1, got, tc.want)
		}
	}
}
