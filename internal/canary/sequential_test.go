package canary_test

import (
	"math"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

func TestSequentialConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  canary.SequentialConfig
		want string // a field the error must name; "" for valid
	}{
		{canary.SequentialConfig{TolerableIncrease: 0.01}, ""},
		{canary.SequentialConfig{}, "tolerableIncrease"},
		{canary.SequentialConfig{TolerableIncrease: 1.5}, "tolerableIncrease"},
		{canary.SequentialConfig{TolerableIncrease: 0.01, Alpha: 1}, "alpha"},
		{canary.SequentialConfig{TolerableIncrease: 0.01, Beta: -0.1}, "beta"},
		{canary.SequentialConfig{TolerableIncrease: 0.01, MixtureScale: -1}, "mixtureScale"},
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

// TestSequentialDecisions: plain evidence decides the right way, and a
// decision is final whatever comes after it.
func TestSequentialDecisions(t *testing.T) {
	t.Parallel()
	cfg := canary.SequentialConfig{Alpha: 0.05, Beta: 0.05, TolerableIncrease: 0.01}
	var zero canary.SequentialState
	if zero.PFail() != 1 || zero.PPass() != 1 {
		t.Fatalf("zero state p-values = %v, %v; want 1, 1", zero.PFail(), zero.PPass())
	}

	bad, err := cfg.Update(zero, 9000, 90, 1000, 50) // 1 % against 5 %
	if err != nil {
		t.Fatal(err)
	}
	if bad.Decision != canary.SequentialFail || bad.PFail() > 0.05 {
		t.Fatalf("1%% against 5%% over 10,000 requests: %s with pFail %v, want FAIL with pFail ≤ 0.05", bad.Decision, bad.PFail())
	}
	after, err := cfg.Update(bad, 90000, 900, 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if after != bad {
		t.Errorf("update after the decision changed the state: %+v, want %+v", after, bad)
	}

	good, err := cfg.Update(zero, 90000, 900, 10000, 100) // 1 % on both sides
	if err != nil {
		t.Fatal(err)
	}
	if good.Decision != canary.SequentialPass || good.PPass() > 0.05 || good.PFail() < 0.05 {
		t.Errorf("1%% on both sides over 100,000 requests: %s with pPass %v, pFail %v; want PASS", good.Decision, good.PPass(), good.PFail())
	}

	few, err := cfg.Update(zero, 900, 0, 100, 5) // five errors: below the floor
	if err != nil {
		t.Fatal(err)
	}
	if few.Decision != canary.SequentialContinue {
		t.Errorf("five errors in all: %s, want CONTINUE until the normal approximation holds", few.Decision)
	}

	if _, err := cfg.Update(zero, 10, 11, 0, 0); err == nil {
		t.Error("more errors than requests: no error")
	}
}

// TestWaldExpectedRequests compares with the same closed form computed in
// Python (math.log), independently of this code.
func TestWaldExpectedRequests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p0, p1  float64
		underH1 bool
		want    float64
	}{
		{0.01, 0.02, true, 677.1212759636495},
		{0.01, 0.05, true, 64.17838330788112},
		{0.01, 0.02, false, 849.5273186084933},
	} {
		got := canary.WaldExpectedRequests(tc.p0, tc.p1, 0.05, 0.05, tc.underH1)
		if math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("WaldExpectedRequests(%v, %v, H1 %v) = %v, want %v", tc.p0, tc.p1, tc.underH1, got, tc.want)
		}
	}
}

// TestSimulateRunIsDeterministic: a seed replays the same canary, and
// another seed gives another.
func TestSimulateRunIsDeterministic(t *testing.T) {
	t.Parallel()
	sc := canary.Scenario{Name: "t", RequestsPerSecond: 100, CanaryShare: 0.1, ControlErrorRate: 0.01, ExperimentErrorRate: 0.03}
	a, err := canary.SimulateRun(sc, simConfig, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := canary.SimulateRun(sc, simConfig, 7)
	if a != b {
		t.Errorf("seed 7 twice: %+v then %+v", a, b)
	}
	if a.Sequential.Decision != canary.SequentialFail || a.Fixed.Decision != canary.SequentialFail {
		t.Errorf("1%% → 3%% at 100 req/s: %+v, want both judges to fail it", a)
	}
	differs := false
	for seed := uint64(8); seed < 20 && !differs; seed++ {
		c, _ := canary.SimulateRun(sc, simConfig, seed)
		differs = c.Sequential.At != a.Sequential.At
	}
	if !differs {
		t.Error("seeds 8–19 all decided at the same instant as seed 7: the seed is not used")
	}
}
