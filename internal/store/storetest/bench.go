package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

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
