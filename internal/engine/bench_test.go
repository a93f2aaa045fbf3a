package engine_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/bench"
	"github.com/sluice-cd/sluice/internal/store"
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
// completed per second.
func BenchmarkThroughput(b *testing.B) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_EXECUTIONS")); err == nil {
		n = v
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var st store.Store
			if dialect == "sqlite" {
				st = sqliteStore(b)
			} else {
				st = postgresStore(b)
			}
			var total time.Duration
			for b.Loop() {
				d, err := bench.Throughput(context.Background(), st, n, 10)
				if err != nil {
					b.Fatal(err)
				}
				total += d
			}
			b.ReportMetric(float64(n*10*b.N)/total.Seconds(), "stages/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkSubscribers runs 40 executions of a 10-stage wait-0 pipeline
// while SLUICE_BENCH_SUBSCRIBERS (default 1000) subscribers follow the
// events of every execution, and reports the time until all 40 succeeded
// (ms/run) and how many subscribers were dropped for falling behind.
func BenchmarkSubscribers(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_SUBSCRIBERS")); err == nil {
		n = v
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var st store.Store
			if dialect == "sqlite" {
				st = sqliteStore(b)
			} else {
				st = postgresStore(b)
			}
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
}
