package cli

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

// TestBenchCanary runs `sluice bench canary` with 50 runs per scenario,
// once as JSON and once as the table, and checks that every scenario of
// issue 11 has a row of sane figures, that the sequential judge decides
// sooner than the fixed-interval judge everywhere (the speed-up the table
// exists to show), and that the table prints the same figures as the JSON:
// the seed makes the two runs identical.
func TestBenchCanary(t *testing.T) {
	t.Parallel()
	const runs = 50
	code, stdout, stderr := run(t, nil, "bench", "canary", "--runs", "50", "--json")
	if code != ExitOK {
		t.Fatalf("bench canary --json: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "[14/14] latency, 100 req/s, +50 %: 50 runs in") {
		t.Errorf("stderr has no progress line for the last scenario:\n%s", stderr)
	}
	var rows []canary.BenchRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("decode JSON rows: %v\n%s", err, stdout)
	}
	want := map[string]bool{ // scenario → regression
		"10req/s/no-change": false, "10req/s/1%->2%": true, "10req/s/1%->3%": true, "10req/s/1%->5%": true,
		"100req/s/no-change": false, "100req/s/1%->2%": true, "100req/s/1%->3%": true, "100req/s/1%->5%": true,
		"10req/s/latency-no-change": false, "10req/s/latency+20%": true, "10req/s/latency+50%": true,
		"100req/s/latency-no-change": false, "100req/s/latency+20%": true, "100req/s/latency+50%": true,
	}
	if len(rows) != len(want) {
		t.Errorf("got %d rows, want %d", len(rows), len(want))
	}
	// The wrong-decision rate may exceed α = β = 5 % by sampling noise:
	// three binomial standard deviations over 50 runs.
	bound := 0.05 + 3*math.Sqrt(0.05*0.95/runs)
	seen := map[string]bool{}
	for _, r := range rows {
		regression, ok := want[r.Scenario]
		if !ok || seen[r.Scenario] {
			t.Errorf("unexpected or repeated row %q", r.Scenario)
			continue
		}
		seen[r.Scenario] = true
		if r.Runs != runs || r.Seed != 1 || r.CanaryShare != 0.1 {
			t.Errorf("%s: runs %d, seed %d, canary share %v; want %d, 1, 0.1", r.Scenario, r.Runs, r.Seed, r.CanaryShare, runs)
		}
		for _, w := range []struct {
			judge string
			wrong float64
			n     int
		}{
			{"sequential", r.SequentialWrong, r.SequentialPass + r.SequentialFail + r.SequentialUndecided},
			{"fixed", r.FixedWrong, r.FixedPass + r.FixedFail + r.FixedUndecided},
		} {
			if !(w.wrong >= 0 && w.wrong <= 1) {
				t.Errorf("%s: %s judge's wrong-decision rate %v is not in [0, 1]", r.Scenario, w.judge, w.wrong)
			}
			if w.n != runs {
				t.Errorf("%s: %s judge's passes, fails and undecided runs add up to %d, want %d", r.Scenario, w.judge, w.n, runs)
			}
		}
		wrong := r.SequentialFail
		if regression {
			wrong = r.SequentialPass
		}
		if got := float64(wrong) / runs; r.SequentialWrong != got {
			t.Errorf("%s: sequential wrong %v, want %d of %d = %v", r.Scenario, r.SequentialWrong, wrong, runs, got)
		}
		if r.SequentialWrong > bound {
			t.Errorf("%s: the sequential judge decided wrongly in %.0f %% of runs, want ≤ %.1f %%", r.Scenario, 100*r.SequentialWrong, 100*bound)
		}
		if !(r.SequentialMedianSeconds > 0) || r.SpeedUp != r.FixedMedianSeconds/r.SequentialMedianSeconds {
			t.Errorf("%s: speed-up %v, want fixed median %v ÷ sequential median %v", r.Scenario, r.SpeedUp, r.FixedMedianSeconds, r.SequentialMedianSeconds)
		}
		if r.SpeedUp <= 1 {
			t.Errorf("%s: the sequential judge took %.1f s at the median, the fixed-interval judge %.0f s; want it sooner", r.Scenario, r.SequentialMedianSeconds, r.FixedMedianSeconds)
		}
		if !(r.WaldSeconds > 0) || math.Abs(r.SequentialMeanOverWald-r.SequentialMeanSeconds/r.WaldSeconds) > 1e-9 {
			t.Errorf("%s: mean ÷ Wald %v, want %v ÷ %v", r.Scenario, r.SequentialMeanOverWald, r.SequentialMeanSeconds, r.WaldSeconds)
		}
	}

	code, stdout, stderr = run(t, nil, "bench", "canary", "--runs", "50")
	if code != ExitOK {
		t.Fatalf("bench canary: exit %d, stderr:\n%s", code, stderr)
	}
	for _, s := range []string{
		"50 runs per scenario, seeds 1–50, 10 % of requests to the canary, α = 0.05, β = 0.05",
		"Error rate, control 1 %:",
		"Latency, log-normal, median 100 ms, σ = 0.5 on the log scale:",
		"| scenario | seq. median s | fixed median s | fixed ÷ seq. | seq. wrong | fixed wrong |",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("table has no %q:\n%s", s, stdout)
		}
	}
	for _, r := range rows {
		if !strings.Contains(stdout, "\n"+r.Markdown()+"\n") {
			t.Errorf("table has no line %q, the JSON row of %s:\n%s", r.Markdown(), r.Scenario, stdout)
		}
	}
}

func TestBenchCanaryFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--runs", "0"}, "--runs 0 must be at least 1"},
		{[]string{"--canary-share", "1.5"}, "canary share 1.5 must be in (0, 1)"},
		{[]string{"--canary-share", "0"}, "--canary-share 0 must be in (0, 1)"},
		{[]string{"--alpha", "0"}, "--alpha 0 must be in (0, 1)"},
		{[]string{"--beta", "1"}, "beta 1 must be in (0, 1)"},
		{[]string{"--rates", "10,-5"}, "rate -5 requests/s must be positive"},
		{[]string{"--rates", "ten"}, "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, nil, append([]string{"bench", "canary"}, tt.args...)...)
			if code != ExitUsage {
				t.Errorf("exit code = %d, want %d (usage); stdout:\n%s", code, ExitUsage, stdout)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}
