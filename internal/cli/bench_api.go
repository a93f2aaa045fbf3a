package cli

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/bench"
	"github.com/sluice-cd/sluice/internal/bench/spread"
)

func (a *app) newBenchAPICmd() *cobra.Command {
	var (
		baseline   string
		runs       int
		executions int
		stages     int
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Executions per second driven through the authenticated HTTP API",
		Long: `Start 'sluice serve' (this binary) on a fresh SQLite data directory, save a pipeline of
--stages wait-0 stages and trigger --executions executions from 8 clients over HTTP, with
the server's admin token, then follow the list until all succeeded. With --baseline,
runs of that binary (for example one built before authentication) and this one
alternate, --runs times each; the figures are min / median / max and the ratio of
medians.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bins, err := withBaseline(baseline)
			if err != nil {
				return err
			}
			totals := make([][]time.Duration, len(bins))
			triggers := make([][]time.Duration, len(bins))
			for run := range runs {
				for i, bin := range bins {
					res, err := bench.API(cmd.Context(), bin, executions, stages)
					if err != nil {
						return fmt.Errorf("%s, run %d: %w", bin, run+1, err)
					}
					totals[i] = append(totals[i], res.Total)
					triggers[i] = append(triggers[i], res.Triggers)
				}
			}
			fmt.Fprintf(a.stdout, "%d executions of %d wait-0 stages through the API, %d runs\n", executions, stages, runs)
			var medians []float64
			for i, bin := range bins {
				label := "this"
				if i < len(bins)-1 {
					label = "baseline"
				}
				rate := func(d time.Duration) float64 { return float64(executions*stages) / d.Seconds() }
				rates := make([]float64, len(totals[i]))
				for j, d := range totals[i] {
					rates[j] = rate(d)
				}
				med := spread.Median(rates)
				medians = append(medians, med)
				fmt.Fprintf(a.stdout, "  %-8s stages/s min %6.0f median %6.0f max %6.0f; triggers took median %s  (%s)\n",
					label, slices.Min(rates), med, slices.Max(rates), spread.Median(triggers[i]).Round(time.Millisecond), bin)
			}
			if len(medians) == 2 {
				fmt.Fprintf(a.stdout, "  this / baseline: %.2f\n", medians[1]/medians[0])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&baseline, "baseline", "", "another sluice binary to measure in alternation with this one")
	f.IntVar(&runs, "runs", 1, "runs of each binary")
	f.IntVar(&executions, "executions", 300, "executions to trigger")
	f.IntVar(&stages, "stages", 10, "wait-0 stages per execution")
	return cmd
}
