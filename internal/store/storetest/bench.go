package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// BenchmarkExecutionInsert measures ExecutionInsert outside InTx of an
// execution with five stages: one transaction of six inserts.
func BenchmarkExecutionInsert(b *testing.B, s store.Store) {
	ctx := b.Context()
	i := 0
	for b.Loop() {
		e := newExecution(fmt.Sprintf("bench-%d", i), "app", "p", status.NotStarted, time.Time{}, 5)
		e.UpdatedAt = time.Time{}
		if err := s.ExecutionInsert(ctx, e); err != nil {
			b.Fatalf("ExecutionInsert: %v", err)
		}
		i++
	}
}

// BenchmarkStageUpdateInTx measures one engine step: InTx, ExecutionLock
// (execution and five stages read), StageUpdate, commit.
func BenchmarkStageUpdateInTx(b *testing.B, s store.Store) {
	ctx := b.Context()
	e := newExecution("bench", "app", "p", status.Running, at(0), 5)
	mustInsert(b, s, e)
	i := 0
	for b.Loop() {
		err := s.InTx(ctx, func(tx store.Tx) error {
			e, err := tx.ExecutionLock(ctx, "bench")
			if err != nil {
				return err
			}
			st := e.Stages[i%len(e.Stages)]
			st.Context = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
			st.UpdatedAt = time.Time{}
			return tx.StageUpdate(ctx, st)
		})
		if err != nil {
			b.Fatalf("InTx: %v", err)
		}
		i++
	}
}

// BenchmarkExecutionList times the lists of listCases on a store of
// 1,000 executions (small) and one of large executions, both filled with
// FillExecutions: for each list, rounds rounds of 100 calls on small then
// 100 on large, each round's median per call. It logs min/median/max of
// each store's medians (with the rows a call returned: at 1,000 some
// lists have less than a page) and of the per-round ratio large ÷ small,
// and reports the largest median ratio. Run it with -benchtime=1x.
func BenchmarkExecutionList(b *testing.B, small, large HistoryStore, n, rounds int) {
	ctx := b.Context()
	for _, s := range []struct {
		st HistoryStore
		n  int
	}{{small, 1000}, {large, n}} {
		begin := time.Now()
		if err := s.st.FillExecutions(ctx, 0, s.n); err != nil {
			b.Fatal(err)
		}
		size, err := s.st.Size(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("filled %d executions in %s: %d bytes, %d bytes per execution", s.n, time.Since(begin).Round(time.Second), size, size/int64(s.n))
	}
	rows := map[HistoryStore]int{}
	timeCalls := func(st HistoryStore, params store.ExecutionListParams) time.Duration {
		const calls = 100
		d := make([]time.Duration, calls)
		for i := range d {
			begin := time.Now()
			page, err := st.ExecutionList(ctx, &params)
			if err != nil {
				b.Fatal(err)
			}
			d[i] = time.Since(begin)
			rows[st] = len(page.Executions)
		}
		return spread.Median(d)
	}
	worst := 0.0
	for b.Loop() {
		b.Logf("%-30s %-30s %-30s %s", "list (rows returned)", "1,000: min/median/max", fmt.Sprintf("%d: min/median/max", n), "ratio min/median/max")
		smallCursor, largeCursor := firstCursor(b, small), firstCursor(b, large)
		for i, tc := range listCases(smallCursor) {
			largeParams := listCases(largeCursor)[i].params
			var ds, dl []time.Duration
			var ratios []float64
			for range rounds {
				s, l := timeCalls(small, tc.params), timeCalls(large, largeParams)
				ds, dl = append(ds, s), append(dl, l)
				ratios = append(ratios, float64(l)/float64(s))
			}
			slices.Sort(ds)
			slices.Sort(dl)
			slices.Sort(ratios)
			med := spread.Median(ratios)
			worst = max(worst, med)
			b.Logf("%-30s %-30s %-30s %.2f/%.2f/%.2f", tc.name, fmt.Sprintf("%s (%d)", minMedMaxMs(ds), rows[small]),
				fmt.Sprintf("%s (%d)", minMedMaxMs(dl), rows[large]), ratios[0], med, ratios[len(ratios)-1])
		}
	}
	b.ReportMetric(worst, "worst-median-ratio")
	b.ReportMetric(0, "ns/op")
}

// minMedMaxMs shows the min, median and max of sorted d in milliseconds.
func minMedMaxMs(d []time.Duration) string {
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	return fmt.Sprintf("%.3f/%.3f/%.3f ms", ms(d[0]), ms(spread.Median(d)), ms(d[len(d)-1]))
}
