package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/canary"
)

func (a *app) newBenchCanaryCmd() *cobra.Command {
	var (
		opts     canary.BenchOptions
		runs     int
		seed     uint64
		jsonRows bool
	)
	cmd := &cobra.Command{
		Use:   "canary",
		Short: "Time to decision and wrong decisions of the sequential and fixed-interval canary judges",
		Long: `Replay --runs simulated canaries of each scenario (seeds --seed, --seed+1, …) through
both canary judges and print the table of docs/benchmarks.md. At each of --rates
requests per second, --canary-share of them going to the canary: the error rate going
from 1 % to 1, 2, 3 and 5 %, and a log-normal latency (median 100 ms) unchanged, 20 %
and 50 % slower. The sequential judge looks ten times a second with --alpha and --beta
and a tolerable increase of one percentage point or 10 %; the fixed-interval judge
(NetflixACAJudge) judges 60 s steps every 10 minutes over a 60-minute lifetime. The
columns: each judge's median time to decision, fixed ÷ sequential (the speed-up), the
share of wrong decisions (passing a regression, failing no change), the sequential
judge's undecided runs and mean time, and Wald's expected time to decide. The same
flags give the same table on any machine. Progress goes to stderr; --json prints the
rows as JSON instead.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runs < 1 {
				return usageError(fmt.Sprintf("--runs %d must be at least 1", runs), "try --runs 1000")
			}
			// 0 means the default to canary.BenchOptions; on the command
			// line it is a mistake.
			for _, f := range []struct {
				name string
				v    float64
			}{{"canary-share", opts.CanaryShare}, {"alpha", opts.Alpha}, {"beta", opts.Beta}} {
				if f.v == 0 {
					return usageError(fmt.Sprintf("--%s 0 must be in (0, 1)", f.name), "see 'sluice bench canary --help'")
				}
			}
			cases, err := canary.BenchCases(opts)
			if err != nil {
				return usageError(err.Error(), "see 'sluice bench canary --help'")
			}
			rows := make([]canary.BenchRow, 0, len(cases))
			for i, c := range cases {
				start := time.Now()
				row, err := c.Run(runs, seed)
				if err != nil {
					return fmt.Errorf("simulate %s: %w", c.Scenario.Name, err)
				}
				rows = append(rows, row)
				fmt.Fprintf(a.stderr, "[%d/%d] %s, %s: %d runs in %s\n",
					i+1, len(cases), c.Metric, c.Label, runs, time.Since(start).Round(time.Millisecond))
			}
			if jsonRows {
				return printJSON(a.stdout, rows)
			}
			fmt.Fprintf(a.stdout, "sequential against fixed-interval judge: %d runs per scenario, seeds %d–%d, %g %% of requests to the canary, α = %g, β = %g\n\n",
				runs, seed, seed+uint64(runs)-1, 100*opts.CanaryShare, opts.Alpha, opts.Beta)
			return canary.WriteBenchTable(a.stdout, rows)
		},
	}
	f := cmd.Flags()
	f.IntVar(&runs, "runs", 1000, "simulated canaries per scenario")
	f.Uint64Var(&seed, "seed", 1, "seed of each scenario's first run")
	f.Float64SliceVar(&opts.Rates, "rates", []float64{10, 100}, "requests per second to simulate, comma-separated")
	f.Float64Var(&opts.CanaryShare, "canary-share", 0.1, "share of requests that go to the canary, in (0, 1)")
	f.Float64Var(&opts.Alpha, "alpha", 0.05, "sequential judge's rate of false rollbacks, in (0, 1)")
	f.Float64Var(&opts.Beta, "beta", 0.05, "sequential judge's rate of false promotions, in (0, 1)")
	f.BoolVar(&jsonRows, "json", false, "print the rows as JSON")
	return cmd
}
