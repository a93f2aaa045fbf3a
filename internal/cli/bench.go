package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/bench"
	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
)

func (a *app) newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Sluice's headline figures on this machine",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	cmd.AddCommand(a.newBenchEngineCmd(), a.newBenchMemoryCmd(), a.newBenchLocalCmd(), a.newBenchUploadsCmd(), a.newBenchAPICmd(), a.newBenchCanaryCmd(), a.newBenchStartCmd())
	return cmd
}

func (a *app) newBenchEngineCmd() *cobra.Command {
	var (
		executions  int
		databaseURL string
		baseline    bool
		rounds      int
	)
	cmd := &cobra.Command{
		Use:   "engine",
		Short: "Stage transition latency and engine throughput",
		Long: `Measure the engine on a fresh database: the time from one stage completing to the
next stage's task starting (p50, p99 over 20 executions of a 20-stage pipeline), and
the stages completed per second when --executions executions of a 10-stage pipeline
of wait-0 stages are triggered at once. SQLite in a temporary directory unless
--database-url names a Postgres database (a schema of its own is created and dropped).

--baseline measures the throughput against its yardstick instead: bare River on a
store of its own with Sluice's settings, as many chains of 10 jobs, each job
inserting the next and completing itself in one transaction. The two alternate for
--rounds rounds, and the ratio engine ÷ River of each round is printed with its
min/median/max.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, cleanup, err := benchStore(ctx, databaseURL)
			if err != nil {
				return err
			}
			defer cleanup()
			fmt.Fprintf(a.stdout, "engine on %s\n", st.Dialect())
			if baseline {
				return a.benchEngineBaseline(ctx, st, databaseURL, executions, rounds)
			}
			gaps, err := bench.Transitions(ctx, st, 20, 20)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "  stage transition: p50 %.2f ms, p99 %.2f ms (%d transitions)\n",
				millis(bench.Percentile(gaps, 0.5)), millis(bench.Percentile(gaps, 0.99)), len(gaps))
			d, err := bench.Throughput(ctx, st, executions, 10, true)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "  throughput: %d executions × 10 stages in %s = %.0f stages/s\n",
				executions, d.Round(time.Millisecond), float64(executions*10)/d.Seconds())
			return nil
		},
	}
	cmd.Flags().IntVar(&executions, "executions", 1000, "executions triggered at once for the throughput figure")
	cmd.Flags().StringVar(&databaseURL, "database-url", "", "Postgres URL to measure instead of SQLite")
	cmd.Flags().BoolVar(&baseline, "baseline", false, "compare the throughput with bare River, interleaved")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "rounds of the comparison with --baseline")
	return cmd
}

// benchEngineBaseline alternates the engine's throughput on st with bare
// River's on a store of its own and prints each round and the ratios.
func (a *app) benchEngineBaseline(ctx context.Context, st store.Store, databaseURL string, executions, rounds int) error {
	rst, cleanup, err := benchStore(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer cleanup()
	var ratios []float64
	for i := range max(rounds, 1) {
		var rate [2]float64
		for j := range 2 {
			k := (i + j) % 2 // 0 engine, 1 River
			var d time.Duration
			if k == 0 {
				d, err = bench.Throughput(ctx, st, executions, 10, true)
			} else {
				d, err = bench.BareRiver(ctx, rst, executions, 10)
			}
			if err != nil {
				return err
			}
			rate[k] = float64(executions*10) / d.Seconds()
		}
		ratios = append(ratios, rate[0]/rate[1])
		fmt.Fprintf(a.stdout, "  round %d: engine %.0f stages/s, bare River %.0f jobs/s, engine ÷ River %.2f\n", i+1, rate[0], rate[1], rate[0]/rate[1])
	}
	slices.Sort(ratios)
	fmt.Fprintf(a.stdout, "  engine ÷ River: min %.2f, median %.2f, max %.2f\n", ratios[0], spread.Median(ratios), ratios[len(ratios)-1])
	return nil
}

func (a *app) newBenchMemoryCmd() *cobra.Command {
	var waiting int
	cmd := &cobra.Command{
		Use:   "memory",
		Short: "Resident memory of sluice serve, idle and with executions waiting",
		Long: `Start 'sluice serve' (this binary) on a fresh SQLite data directory and report its
resident memory (VmRSS) idle, then with --waiting executions parked at a manual
judgment. Linux only.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			res, err := bench.Memory(cmd.Context(), bin, waiting)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "sluice serve: answered /health %s after exec\n", res.StartUp.Round(time.Millisecond))
			fmt.Fprintf(a.stdout, "  idle: %.1f MB RSS\n", float64(res.IdleKB)/1024)
			fmt.Fprintf(a.stdout, "  %d executions waiting on a judgment: %.1f MB RSS\n", res.Waiting, float64(res.WaitingKB)/1024)
			return nil
		},
	}
	cmd.Flags().IntVar(&waiting, "waiting", 10000, "executions to park at a manual judgment")
	return cmd
}

func (a *app) newBenchLocalCmd() *cobra.Command {
	var opts bench.LocalOptions
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Invoke latency, cold start, throughput and weighted routing of the local Lambda",
		Long: `Build examples/functions/hello (run this from a Sluice checkout; it needs the Go
toolchain), deploy it to a local Lambda in a temporary directory, and measure through
the full REST path with aws-sdk-go-v2: warm sequential invokes (p50, p99), the first
invoke of new versions (process start included), --clients concurrent clients, and
the share of a 10% weighted alias against its 99.9% binomial interval.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			zip, err := fnbuild.Zip(ctx, ".", "./examples/functions/hello")
			if err != nil {
				return &exitError{code: ExitFailed, err: err, hint: "run sluice bench local from the root of a Sluice checkout"}
			}
			r, err := bench.Local(ctx, zip, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "local lambda, aws-lambda-go hello function, full REST path\n")
			fmt.Fprintf(a.stdout, "  warm sequential: p50 %.2f ms, p99 %.2f ms (%d invokes)\n",
				millis(bench.Percentile(r.Warm, 0.5)), millis(bench.Percentile(r.Warm, 0.99)), len(r.Warm))
			fmt.Fprintf(a.stdout, "  new version's first invoke: p50 %.2f ms, max %.2f ms (%d versions)\n",
				millis(bench.Percentile(r.Cold, 0.5)), millis(bench.Percentile(r.Cold, 1)), len(r.Cold))
			fmt.Fprintf(a.stdout, "  %d concurrent clients: %.0f invokes/s, %d errors in %d invokes\n", r.Clients, r.PerSecond, r.Errors, r.Concurrent)
			inside := "inside"
			if r.WeightShare < r.Lo || r.WeightShare > r.Hi {
				inside = "OUTSIDE"
			}
			fmt.Fprintf(a.stdout, "  %.0f%% weighted alias: %d of %d invokes ran the new version = %.2f%%, %s the 99.9%% interval %.2f%%–%.2f%%\n",
				r.Weight*100, r.NewVersion, r.Weighted, r.WeightShare*100, inside, r.Lo*100, r.Hi*100)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Warm, "warm", 3000, "sequential warm invokes")
	f.IntVar(&opts.Cold, "cold", 20, "new versions to invoke once each")
	f.IntVar(&opts.Clients, "clients", 64, "concurrent clients")
	f.IntVar(&opts.Concurrent, "invokes", 20000, "invokes shared by the concurrent clients")
	f.IntVar(&opts.Weighted, "weighted", 20000, "invokes of the weighted alias")
	return cmd
}

func (a *app) newBenchUploadsCmd() *cobra.Command {
	var (
		opts     bench.UploadOptions
		baseline string
		runs     int
		dir      string
		sizeMiB  int64
	)
	cmd := &cobra.Command{
		Use:   "uploads",
		Short: "Peak memory of the local Lambda under concurrent large uploads",
		Long: `Start 'sluice local serve' (this binary) on a fresh data directory and upload
--clients packages at once in each scenario: S3 PutObject and a multipart upload of a
--size MiB package, CreateFunction from those objects, CreateFunction and then
UpdateFunctionCode with a 49 MiB ZipFile (the largest whose base64 fits a Lambda
request). Report the server's peak resident memory (VmHWM) in each. With --baseline,
runs of that binary and this one alternate, --runs times each, and the figures are
min / median / max with the ratio of medians. Linux only; needs about 4 GB of disk
under --dir per binary.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			opts.Size = sizeMiB << 20
			if dir == "" {
				if dir, err = os.MkdirTemp("", "sluice-bench-uploads-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			bins := []string{self}
			if baseline != "" {
				bins = []string{baseline, self}
			}
			peaks := make([]map[string][]int64, len(bins))
			for i := range peaks {
				peaks[i] = map[string][]int64{}
			}
			for run := range runs {
				for i, bin := range bins {
					o := opts
					o.Bin, o.Dir = bin, dir
					res, err := bench.Uploads(cmd.Context(), o)
					if err != nil {
						return fmt.Errorf("%s, run %d: %w", bin, run+1, err)
					}
					for k, v := range res {
						peaks[i][k] = append(peaks[i][k], v)
					}
				}
			}
			fmt.Fprintf(a.stdout, "local Lambda peak RSS, %d concurrent uploads of %d MiB (S3) / 49 MiB (ZipFile), %d runs\n", opts.Clients, opts.Size>>20, runs)
			mb := func(kb int64) float64 { return float64(kb) / 1024 }
			for _, name := range bench.UploadScenarios {
				fmt.Fprintf(a.stdout, "  %s\n", name)
				var medians []int64
				for i, bin := range bins {
					v := slices.Sorted(slices.Values(peaks[i][name]))
					med := spread.Median(v)
					medians = append(medians, med)
					label := "this"
					if i < len(bins)-1 {
						label = "baseline"
					}
					fmt.Fprintf(a.stdout, "    %-8s min %5.0f MB  median %5.0f MB  max %5.0f MB  (%s)\n",
						label, mb(v[0]), mb(med), mb(v[len(v)-1]), bin)
				}
				if len(medians) == 2 {
					fmt.Fprintf(a.stdout, "    this / baseline: %.2f\n", float64(medians[1])/float64(medians[0]))
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&baseline, "baseline", "", "another sluice binary to measure in alternation with this one")
	f.IntVar(&runs, "runs", 1, "runs of each binary")
	f.StringVar(&dir, "dir", "", "directory for the packages and data directories (default: a temporary one)")
	f.Int64Var(&sizeMiB, "size", 240, "size in MiB of the S3 package")
	f.IntVar(&opts.Clients, "clients", 4, "concurrent uploads")
	return cmd
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchStore opens a throwaway store for a benchmark.
func benchStore(ctx context.Context, databaseURL string) (store.Store, func(), error) {
	if databaseURL != "" {
		schema := fmt.Sprintf("sluice_bench_%d", time.Now().UnixNano())
		st, err := postgres.Open(ctx, databaseURL, postgres.WithSchema(schema))
		if err != nil {
			return nil, nil, err
		}
		return st, func() {
			st.Close()
			postgres.DropSchema(context.Background(), databaseURL, schema)
		}, nil
	}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sluice.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return st, func() { st.Close(); os.RemoveAll(dir) }, nil
}
