package engine_test

import (
	"context"
	"testing"

	"github.com/sluice-cd/sluice/internal/bench"
	"github.com/sluice-cd/sluice/internal/store"
)

// BenchmarkHistorySize runs SLUICE_BENCH_EXECUTIONS (default 500)
// executions of a one-stage wait-0 pipeline on a fresh database of each
// dialect and reports how much the database grew per execution:
// Sluice's rows (the execution, its stage, its events) and the River jobs
// that ran it, which River deletes a day after they completed. Run it
// with -benchtime=1x.
func BenchmarkHistorySize(b *testing.B) {
	n := envInt("SLUICE_BENCH_EXECUTIONS", 500)
	eachDialect(b, func(b *testing.B, st store.Store) {
		sized, ok := st.(interface {
			Size(ctx context.Context) (int64, error)
		})
		if !ok {
			b.Skipf("%T cannot tell its size", st)
		}
		var per float64
		for b.Loop() {
			// One execution first, so that River's tables and the
			// pipeline exist before the size is taken.
			if _, err := bench.Throughput(context.Background(), st, 1, 1, false); err != nil {
				b.Fatal(err)
			}
			before, err := sized.Size(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := bench.Throughput(context.Background(), st, n, 1, false); err != nil {
				b.Fatal(err)
			}
			after, err := sized.Size(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			per = float64(after-before) / float64(n)
		}
		b.ReportMetric(per, "bytes/execution")
		b.ReportMetric(0, "ns/op")
	})
}
