package canary_test

import (
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

func TestBenchCases(t *testing.T) {
	t.Parallel()
	cases, err := canary.BenchCases(canary.BenchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10req/s/no-change", "10req/s/1%->2%", "10req/s/1%->3%", "10req/s/1%->5%",
		"100req/s/no-change", "100req/s/1%->2%", "100req/s/1%->3%", "100req/s/1%->5%",
		"10req/s/latency-no-change", "10req/s/latency+20%", "10req/s/latency+50%",
		"100req/s/latency-no-change", "100req/s/latency+20%", "100req/s/latency+50%",
	}
	if len(cases) != len(want) {
		t.Fatalf("got %d cases, want %d", len(cases), len(want))
	}
	for i, c := range cases {
		if c.Scenario.Name != want[i] {
			t.Errorf("case %d = %q, want %q", i, c.Scenario.Name, want[i])
		}
		if c.Scenario.CanaryShare != 0.1 {
			t.Errorf("%s: canary share %v, want the default 0.1", c.Scenario.Name, c.Scenario.CanaryShare)
		}
		if latency := c.Config.Latency != nil; latency != (c.Metric == canary.BenchLatency) {
			t.Errorf("%s: metric %s but latency config set = %v", c.Scenario.Name, c.Metric, latency)
		}
	}
	if got, want := cases[1].Label, "10 req/s, 1 % → 2 %"; got != want {
		t.Errorf("label = %q, want %q", got, want)
	}

	cases, err = canary.BenchCases(canary.BenchOptions{Rates: []float64{50}, CanaryShare: 0.2, Alpha: 0.01, Beta: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 7 {
		t.Fatalf("one rate: got %d cases, want 7", len(cases))
	}
	for _, c := range cases {
		if c.Scenario.RequestsPerSecond != 50 || c.Scenario.CanaryShare != 0.2 {
			t.Errorf("%s: %v req/s at share %v, want 50 at 0.2", c.Scenario.Name, c.Scenario.RequestsPerSecond, c.Scenario.CanaryShare)
		}
		alpha, beta := c.Config.Sequential.Alpha, c.Config.Sequential.Beta
		if c.Config.Latency != nil {
			alpha, beta = c.Config.Latency.Alpha, c.Config.Latency.Beta
		}
		if alpha != 0.01 || beta != 0.1 {
			t.Errorf("%s: α = %v, β = %v, want 0.01 and 0.1", c.Scenario.Name, alpha, beta)
		}
	}
}

func TestBenchOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		opts canary.BenchOptions
		want string
	}{
		{canary.BenchOptions{Rates: []float64{10, 0}}, "rate 0 requests/s must be positive"},
		{canary.BenchOptions{CanaryShare: 1}, "canary share 1 must be in (0, 1)"},
		{canary.BenchOptions{CanaryShare: -0.1}, "canary share -0.1 must be in (0, 1)"},
		{canary.BenchOptions{Alpha: 1.5}, "alpha 1.5 must be in (0, 1)"},
		{canary.BenchOptions{Beta: -1}, "beta -1 must be in (0, 1)"},
	}
	for _, tt := range tests {
		_, err := canary.BenchCases(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("BenchCases(%+v) = %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
}

func TestWriteBenchTable(t *testing.T) {
	t.Parallel()
	rows := []canary.BenchRow{
		{Label: "10 req/s, 1 % → 3 %", Metric: canary.BenchErrorRate, SequentialMedianSeconds: 203.6, FixedMedianSeconds: 1200,
			SpeedUp: 5.894, SequentialWrong: 0.006, FixedWrong: 0.256, SequentialUndecided: 6, SequentialMeanSeconds: 280.94,
			WaldSeconds: 201.3, SequentialMeanOverWald: 1.3956},
		{Label: "100 req/s, +50 %", Metric: canary.BenchLatency, SequentialMedianSeconds: 2.1, FixedMedianSeconds: 600,
			SpeedUp: 285.714, SequentialMeanSeconds: 2.2, WaldSeconds: 0.8, SequentialMeanOverWald: 2.77},
	}
	var b strings.Builder
	if err := canary.WriteBenchTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := "Error rate, control 1 %:\n\n" + canary.BenchTableHeader +
		"| 10 req/s, 1 % → 3 % | 203.6 | 1200 | 5.89 | 0.6 % | 25.6 % | 6 | 280.9 | 201.3 | 1.40 |\n" +
		"\nLatency, log-normal, median 100 ms, σ = 0.5 on the log scale:\n\n" + canary.BenchTableHeader +
		"| 100 req/s, +50 % | 2.1 | 600 | 285.71 | 0.0 % | 0.0 % | 0 | 2.2 | 0.8 | 2.77 |\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
