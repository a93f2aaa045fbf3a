package engine_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/bench"
	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
)

// BenchmarkStageTransition reports the p50 and p99 time from one stage
// completing to the next stage's task starting, on SQLite (20 stages per
// execution, b.N executions).
func BenchmarkStageTransition(b *testing.B) {
	st := sqliteStore(b)
	var gaps []time.Duration
	for b.Loop() {
		g, err := bench.Transitions(context.Background(), st, 1, 20)
		if err != nil {
			b.Fatal(err)
		}
		gaps = append(gaps, g...)
	}
	b.ReportMetric(float64(bench.Percentile(gaps, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(bench.Percentile(gaps, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkThroughput triggers SLUICE_BENCH_EXECUTIONS (default 100)
// executions of a 10-stage wait-0 pipeline at once and reports stages
// completed per second, and the CPU time per stage of this process
// (getrusage) and of every Postgres server process on the machine
// (pg-cpu-ms/stage, Postgres only; see postgresCPU), which a shared machine
// disturbs far less than it does the rate.
func BenchmarkThroughput(b *testing.B) {
	n := envInt("SLUICE_BENCH_EXECUTIONS", 100)
	eachDialect(b, func(b *testing.B, st store.Store) {
		_, pg := st.(*postgres.Store)
		var total, cpu, pgCPU time.Duration
		for b.Loop() {
			cpu0, pg0 := processCPU(b), time.Duration(0)
			if pg {
				pg0 = postgresCPU(b)
			}
			d, err := bench.Throughput(context.Background(), st, n, 10, true)
			if err != nil {
				b.Fatal(err)
			}
			total += d
			cpu += processCPU(b) - cpu0
			if pg {
				pgCPU += postgresCPU(b) - pg0
			}
		}
		stages := float64(n * 10 * b.N)
		b.ReportMetric(stages/total.Seconds(), "stages/s")
		b.ReportMetric(ms(cpu)/stages, "cpu-ms/stage")
		if pg {
			b.ReportMetric(ms(pgCPU)/stages, "pg-cpu-ms/stage")
		}
		b.ReportMetric(0, "ns/op")
	})
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the user and system CPU time used by the machine's
// Postgres server processes that are alive, plus what its postmaster
// reaped from those that ended (its cutime and cstime), read from /proc;
// zero where there is no /proc. It counts whatever else uses the server
// meanwhile, too.
func postgresCPU(b *testing.B) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, path := range dirs {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended
		}
		// pid (comm) state ppid … : comm may hold spaces, so split after
		// its closing parenthesis.
		i := strings.LastIndexByte(string(raw), ')')
		if i < 0 || !strings.HasPrefix(string(raw[strings.IndexByte(string(raw), '(')+1:]), "postgres") {
			continue
		}
		f := strings.Fields(string(raw[i+1:]))
		// f[0] is field 3 (state): utime, stime, cutime, cstime are
		// fields 14–17.
		if len(f) < 15 {
			continue
		}
		for j, field := range f[11:15] {
			v, _ := strconv.ParseInt(field, 10, 64)
			if j < 2 || f[1] == "1" { // children's times only for the postmaster, whose parent is init
				ticks += v
			}
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// BenchmarkMetricsCost measures what counting executions, stages and jobs
// for /metrics costs: SLUICE_BENCH_ROUNDS (default 6) rounds, each running
// SLUICE_BENCH_EXECUTIONS (default 100) executions of 10 wait-0 stages
// with the engine's metrics off and on, in alternating order. It logs
// min/median/max of the stages/s of each and of the per-round ratio on ÷
// off, and reports the median ratio. Run it with -benchtime=1x.
func BenchmarkMetricsCost(b *testing.B) {
	n, rounds := envInt("SLUICE_BENCH_EXECUTIONS", 100), envInt("SLUICE_BENCH_ROUNDS", 6)
	eachDialect(b, func(b *testing.B, st store.Store) {
		for b.Loop() {
			var off, on, ratio []float64
			for i := range rounds {
				var rate [2]float64
				for j := range 2 {
					metrics := (i+j)%2 == 1
					d, err := bench.Throughput(context.Background(), st, n, 10, metrics)
					if err != nil {
						b.Fatal(err)
					}
					rate[btoi(metrics)] = float64(n*10) / d.Seconds()
				}
				off, on, ratio = append(off, rate[0]), append(on, rate[1]), append(ratio, rate[1]/rate[0])
			}
			b.Logf("stages/s without metrics %s; with %s; with ÷ without per round %s", spread.MinMedMax(off), spread.MinMedMax(on), spread.MinMedMax(ratio))
			b.ReportMetric(spread.Median(ratio), "on/off")
		}
		b.ReportMetric(0, "ns/op")
	})
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// BenchmarkReadsDuringSlowStage measures, on SQLite with and without the
// store's pool for reads, the longest a GET /health and a one-row write
// transaction waited while one execution's stage evaluated the slowest
// expression fuzzing found, at stage start (inside a transaction) or in an
// evaluateVariables task (outside one), or with no expression.
// SLUICE_BENCH_ROUNDS (default 10) rounds interleave the cases; it logs
// min/median/max of each case's worst probe per round, and the median and
// p99 of all its probes, and reports the median worst probe. Run it with
// -benchtime=1x.
func BenchmarkReadsDuringSlowStage(b *testing.B) {
	rounds := envInt("SLUICE_BENCH_ROUNDS", 10)
	for b.Loop() {
		cases, err := bench.ReadsDuringSlowStage(context.Background(), b.TempDir(), rounds, func(st store.Store) http.Handler {
			a, _ := sluicetest.Auth(b, st, "bench")
			return httpapi.New(httpapi.Config{Store: st, Auth: a})
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cases {
			worst := spread.Median(c.Worst)
			b.Logf("%-38s worst probe of a round: min %6.2f median %6.2f max %6.2f ms; all %4d probes: median %5.2f p99 %6.2f ms",
				c.Name, ms(slices.Min(c.Worst)), ms(worst), ms(slices.Max(c.Worst)),
				len(c.Probes), ms(bench.Percentile(c.Probes, 0.5)), ms(bench.Percentile(c.Probes, 0.99)))
			b.ReportMetric(ms(worst), c.Name+"-ms")
		}
	}
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkSubscribers runs 40 executions of a 10-stage wait-0 pipeline
// while SLUICE_BENCH_SUBSCRIBERS (default 1000) subscribers follow the
// events of every execution, and reports the time until all 40 succeeded
// (ms/run) and how many subscribers were dropped for falling behind.
func BenchmarkSubscribers(b *testing.B) {
	n := envInt("SLUICE_BENCH_SUBSCRIBERS", 1000)
	eachDialect(b, func(b *testing.B, st store.Store) {
		var total time.Duration
		dropped := 0
		for b.Loop() {
			res, err := bench.Subscribers(context.Background(), st, n, 40, 10)
			if err != nil {
				b.Fatal(err)
			}
			if n > 0 && (res.MinDelivered != res.Events || res.MaxDelivered != res.Events) {
				b.Fatalf("subscribers that were not dropped got %d to %d events of %d", res.MinDelivered, res.MaxDelivered, res.Events)
			}
			total += res.Elapsed
			dropped += res.Dropped
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/run")
		b.ReportMetric(float64(dropped)/float64(b.N), "dropped/run")
		b.ReportMetric(0, "ns/op")
	})
}

// envInt is the integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// eachDialect runs f as a sub-benchmark on a SQLite and on a Postgres
// store.
func eachDialect(b *testing.B, f func(b *testing.B, st store.Store)) {
	b.Run("sqlite", func(b *testing.B) { f(b, sqliteStore(b)) })
	b.Run("postgres", func(b *testing.B) { f(b, postgresStore(b)) })
}

// BenchmarkDurabilityCost measures what durable commits cost the engine,
// and beside it what they cost its yardstick, bare River
// (bench.BareRiver): SLUICE_BENCH_ROUNDS (default 6) rounds, each running
// SLUICE_BENCH_EXECUTIONS (default 100) executions of 10 wait-0 stages on
// the engine, and as many chains of 10 jobs on River alone, on a store
// whose commits are durable (the default) and on one whose are not
// (sqlite.WithRelaxedCommits; on Postgres synchronous_commit=off for every
// connection), each run on a new store, in an order that rotates from
// round to round. It logs min/median/max of the stages/s (jobs/s) of each
// and of the per-round ratios durable ÷ relaxed, and reports the engine's
// and River's median ratio. Run it with -benchtime=1x.
func BenchmarkDurabilityCost(b *testing.B) {
	n, rounds := envInt("SLUICE_BENCH_EXECUTIONS", 100), envInt("SLUICE_BENCH_ROUNDS", 6)
	// cost runs the four cases: the engine and River, each durable and
	// relaxed; pg says the stores are Postgres's, whose CPU counts too.
	cost := func(b *testing.B, pg bool, durable, relaxed func() store.Store) {
		type side struct {
			name string
			open func() store.Store
			run  func(st store.Store) (time.Duration, error)
		}
		engine := func(st store.Store) (time.Duration, error) {
			return bench.Throughput(context.Background(), st, n, 10, true)
		}
		river := func(st store.Store) (time.Duration, error) {
			return bench.BareRiver(context.Background(), st, n, 10)
		}
		sides := []side{{"engine", durable, engine}, {"engine", relaxed, engine}, {"River", durable, river}, {"River", relaxed, river}}
		for b.Loop() {
			rates, cpus := make([][]float64, len(sides)), make([][]float64, len(sides))
			var ratio [2][]float64 // engine, River: durable ÷ relaxed
			for i := range rounds {
				rate := make([]float64, len(sides))
				for j := range sides {
					k := (i + j) % len(sides)
					cpu0, pg0 := processCPU(b), time.Duration(0)
					if pg {
						pg0 = postgresCPU(b)
					}
					// A store of its own for each run: four open at
					// once would hold more connections than Postgres's
					// default limit.
					st := sides[k].open()
					d, err := sides[k].run(st)
					st.Close()
					if err != nil {
						b.Fatal(err)
					}
					cpu := processCPU(b) - cpu0
					if pg {
						cpu += postgresCPU(b) - pg0
					}
					rate[k] = float64(n*10) / d.Seconds()
					rates[k], cpus[k] = append(rates[k], rate[k]), append(cpus[k], ms(cpu)/float64(n*10))
				}
				ratio[0], ratio[1] = append(ratio[0], rate[0]/rate[1]), append(ratio[1], rate[2]/rate[3])
			}
			whose := "this process"
			if pg {
				whose = "this process and Postgres"
			}
			for k := 0; k < len(sides); k += 2 {
				b.Logf("%s: per second durable %s; relaxed %s; durable ÷ relaxed per round %s; CPU ms per stage or job (%s) durable %s, relaxed %s",
					sides[k].name, spread.MinMedMax(rates[k]), spread.MinMedMax(rates[k+1]), spread.MinMedMax(ratio[k/2]), whose, spread.MinMedMax(cpus[k]), spread.MinMedMax(cpus[k+1]))
			}
			for k, unit := range []string{"engine-durable/relaxed", "river-durable/relaxed"} {
				b.ReportMetric(spread.Median(ratio[k]), unit)
			}
		}
		b.ReportMetric(0, "ns/op")
	}
	b.Run("sqlite", func(b *testing.B) {
		open := func(opts ...sqlite.Option) func() store.Store {
			return func() store.Store {
				st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "sluice.db"), opts...)
				if err != nil {
					b.Fatal(err)
				}
				return st
			}
		}
		cost(b, false, open(), open(sqlite.WithRelaxedCommits()))
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := sluicetest.PostgresDSN(b)
		open := func(dsn string) func() store.Store {
			return func() store.Store {
				st, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(sluicetest.NewSchema(b, dsn)))
				if err != nil {
					b.Fatal(err)
				}
				return st
			}
		}
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		cost(b, true, open(dsn), open(dsn+sep+"synchronous_commit=off"))
	})
}

// BenchmarkEngineVsRiver measures the engine against its yardstick, bare
// River on the same kind of store with Sluice's settings (bench.BareRiver):
// SLUICE_BENCH_ROUNDS (default 6) rounds, each running
// SLUICE_BENCH_EXECUTIONS (default 100) executions of 10 wait-0 stages on
// the engine and as many chains of 10 jobs on River alone, each on a store
// of its own, in alternating order. It logs min/median/max of stages/s,
// jobs/s and the per-round ratio engine ÷ River, and the same of the CPU
// time per stage or job (of this process, and on Postgres of the server's
// processes too, as BenchmarkThroughput counts it), and reports the median
// rate ratio. Run it with -benchtime=1x.
func BenchmarkEngineVsRiver(b *testing.B) {
	n, rounds := envInt("SLUICE_BENCH_EXECUTIONS", 100), envInt("SLUICE_BENCH_ROUNDS", 6)
	eachDialect2(b, func(b *testing.B, open func() store.Store) {
		engineStore, riverStore := open(), open()
		_, pg := engineStore.(*postgres.Store)
		for b.Loop() {
			var eng, riv, ratio, cpuRatio, pgRatio []float64
			var cpu, pgCPU [2][]float64
			for i := range rounds {
				var rate, c, pc [2]float64
				for j := range 2 {
					k := (i + j) % 2 // 0 engine, 1 River
					var d time.Duration
					var err error
					cpu0, pg0 := processCPU(b), time.Duration(0)
					if pg {
						pg0 = postgresCPU(b)
					}
					if k == 0 {
						d, err = bench.Throughput(context.Background(), engineStore, n, 10, true)
					} else {
						d, err = bench.BareRiver(context.Background(), riverStore, n, 10)
					}
					if err != nil {
						b.Fatal(err)
					}
					rate[k] = float64(n*10) / d.Seconds()
					c[k] = ms(processCPU(b)-cpu0) / float64(n*10)
					if pg {
						pc[k] = ms(postgresCPU(b)-pg0) / float64(n*10)
					}
				}
				eng, riv, ratio = append(eng, rate[0]), append(riv, rate[1]), append(ratio, rate[0]/rate[1])
				cpu[0], cpu[1], cpuRatio = append(cpu[0], c[0]), append(cpu[1], c[1]), append(cpuRatio, c[1]/c[0])
				if pg {
					pgCPU[0], pgCPU[1], pgRatio = append(pgCPU[0], pc[0]), append(pgCPU[1], pc[1]), append(pgRatio, (c[1]+pc[1])/(c[0]+pc[0]))
				}
			}
			b.Logf("engine stages/s %s; bare River jobs/s %s; engine ÷ River per round %s", spread.MinMedMax(eng), spread.MinMedMax(riv), spread.MinMedMax(ratio))
			b.Logf("CPU ms of this process per engine stage %s; per River job %s; River's ÷ the engine's per round %s", spread.MinMedMax(cpu[0]), spread.MinMedMax(cpu[1]), spread.MinMedMax(cpuRatio))
			if pg {
				b.Logf("CPU ms of Postgres per engine stage %s; per River job %s; both processes, River's ÷ the engine's per round %s", spread.MinMedMax(pgCPU[0]), spread.MinMedMax(pgCPU[1]), spread.MinMedMax(pgRatio))
			}
			b.ReportMetric(spread.Median(ratio), "engine/river")
		}
		b.ReportMetric(0, "ns/op")
	})
}

// eachDialect2 runs f on each dialect with a function that opens a fresh
// store of it.
func eachDialect2(b *testing.B, f func(b *testing.B, open func() store.Store)) {
	b.Run("sqlite", func(b *testing.B) { f(b, func() store.Store { return sqliteStore(b) }) })
	b.Run("postgres", func(b *testing.B) { f(b, func() store.Store { return postgresStore(b) }) })
}
