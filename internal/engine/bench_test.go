package engine_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/store"
)

// stamp is a stage type that records when its task starts.
type stamp struct {
	mu      sync.Mutex
	started map[string]time.Time
}

func (*stamp) Name() string                               { return "stamp" }
func (*stamp) Validate(map[string]any) []stage.FieldError { return nil }
func (*stamp) Tasks(map[string]any) []string              { return []string{"stamp"} }
func (s *stamp) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	now := time.Now()
	s.mu.Lock()
	s.started[t.StageID] = now
	s.mu.Unlock()
	return stage.Result{Status: stage.Succeeded}, nil
}

func linearPipeline(name, stageType string, n int) string {
	doc := fmt.Sprintf(`{"application":"bench","name":%q,"limitConcurrent":false,"stages":[`, name)
	for i := 1; i <= n; i++ {
		if i > 1 {
			doc += ","
		}
		req := "[]"
		if i > 1 {
			req = fmt.Sprintf(`["%d"]`, i-1)
		}
		doc += fmt.Sprintf(`{"refId":"%d","type":%q,"name":"s%d","waitTime":0,"requisiteStageRefIds":%s}`, i, stageType, i, req)
	}
	return doc + "]}"
}

// BenchmarkStageTransition measures the time from one stage completing (its
// end time, set in the transaction that completes it) to the next stage's
// task starting to run, through commit, River's fetch and a worker.
func BenchmarkStageTransition(b *testing.B) {
	s := &stamp{started: map[string]time.Time{}}
	bd := setupWith(b, openSQLite(b), s)
	p := bd.save(b, linearPipeline("transition", "stamp", 20))
	var gaps []time.Duration
	for b.Loop() {
		exec := bd.waitStatus(b, bd.trigger(b, p, nil).ID, store.StatusSucceeded)
		s.mu.Lock()
		for i := 1; i < len(exec.Stages); i++ {
			gaps = append(gaps, s.started[exec.Stages[i].ID].Sub(*exec.Stages[i-1].EndTime))
		}
		s.mu.Unlock()
	}
	reportPercentiles(b, gaps)
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	if len(d) == 0 {
		return
	}
	at := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkThroughput runs executions of a 10-stage linear pipeline of
// wait-0 stages, all triggered at once, and reports stages completed per
// second. SLUICE_BENCH_EXECUTIONS sets how many (default 100; the figure
// in docs/benchmarks.md uses 1000).
func BenchmarkThroughput(b *testing.B) {
	n := 100
	if v := os.Getenv("SLUICE_BENCH_EXECUTIONS"); v != "" {
		fmt.Sscan(v, &n)
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var st store.Store
			if dialect == "sqlite" {
				st = openSQLite(b)
			} else {
				st = openPostgres(b)
			}
			bd := setupWith(b, st)
			p := bd.save(b, linearPipeline("throughput", "wait", 10))
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				ids := make([]string, n)
				for i := range ids {
					ids[i] = bd.trigger(b, p, nil).ID
				}
				for _, id := range ids {
					bd.waitStatus(b, id, store.StatusSucceeded)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(n*10*b.N)/total.Seconds(), "stages/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
