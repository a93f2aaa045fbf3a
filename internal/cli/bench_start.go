package cli

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/bench"
	"github.com/sluice-cd/sluice/internal/bench/spread"
)

func (a *app) newBenchStartCmd() *cobra.Command {
	var (
		baseline string
		runs     int
	)
	cmd := &cobra.Command{
		Use:   "start",
		Short: "How soon 'sluice run' has the first stage RUNNING",
		Long: `Start 'sluice serve' (this binary) on a fresh SQLite data directory, save a pipeline
whose one stage is a manual judgment, and time --runs runs of 'sluice run' against it
from the moment the command starts: until its first stage is RUNNING (the server's
clock, to the millisecond), until the command exits, and the command's CPU time. With
--baseline, that binary's 'sluice run' and this one's alternate against the same
server; the figures are min / median / max and the ratio of medians.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bins, err := withBaseline(baseline)
			if err != nil {
				return err
			}
			res, err := bench.Start(cmd.Context(), bins[len(bins)-1], bins, runs)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "'sluice run', %d runs each: min / median / max\n", runs)
			var medians [][3]time.Duration
			for i, bin := range bins {
				label := "this"
				if i < len(bins)-1 {
					label = "baseline"
				}
				var first, wall, cpu []time.Duration
				for _, r := range res[i] {
					first, wall, cpu = append(first, r.FirstStage), append(wall, r.Wall), append(cpu, r.CPU)
				}
				m := [3]time.Duration{}
				line := make([]string, 3)
				for j, d := range [][]time.Duration{first, wall, cpu} {
					slices.Sort(d)
					m[j] = spread.Median(d)
					line[j] = fmt.Sprintf("%.1f / %.1f / %.1f ms", millis(d[0]), millis(m[j]), millis(d[len(d)-1]))
				}
				medians = append(medians, m)
				fmt.Fprintf(a.stdout, "  %-8s first stage RUNNING %s; exited %s; CPU %s  (%s)\n", label, line[0], line[1], line[2], bin)
			}
			if len(medians) == 2 {
				fmt.Fprintf(a.stdout, "  this / baseline, medians: first stage %.2f, exit %.2f, CPU %.2f\n",
					ratio(medians[1][0], medians[0][0]), ratio(medians[1][1], medians[0][1]), ratio(medians[1][2], medians[0][2]))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&baseline, "baseline", "", "another sluice binary whose 'sluice run' to time in alternation with this one's")
	f.IntVar(&runs, "runs", 30, "runs of each binary")
	return cmd
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(max(b, 1)) }

// withBaseline lists the binaries a benchmark compares: the baseline, if
// one is named, then this one, which is last.
func withBaseline(baseline string) ([]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if baseline == "" {
		return []string{self}, nil
	}
	return []string{baseline, self}, nil
}
