package jobqueue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-cd/sluice/internal/jobqueue"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

type testArgs struct {
	N int `json:"n"`
}

func (testArgs) Kind() string { return "sluice_jobqueue_test" }

// recorder is a worker that records the jobs it ran. A job whose N is
// negative blocks until the worker's context ends (River's Stop).
type recorder struct {
	river.WorkerDefaults[testArgs]
	mu   sync.Mutex
	runs map[int]int
}

func (r *recorder) Work(ctx context.Context, job *river.Job[testArgs]) error {
	if job.Args.N < 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs[job.Args.N]++
	return nil
}

func (r *recorder) count(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[n]
}

func newQueue(t *testing.T, st store.Store, nodeID string) (*jobqueue.Queue, *recorder) {
	t.Helper()
	rec := &recorder{runs: map[int]int{}}
	q, err := jobqueue.New(t.Context(), jobqueue.Config{
		Store: st, Workers: workersFor(rec), NodeID: nodeID, DeadNodeCheck: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return q, rec
}

func workersFor(rec *recorder) *river.Workers {
	workers := river.NewWorkers()
	river.AddWorker(workers, rec)
	return workers
}

func start(t *testing.T, q *jobqueue.Queue) {
	t.Helper()
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
}

// TestInsertSharesTheTransaction checks what ARCHITECTURE.md rule 4 relies
// on: a job inserted in a store transaction commits or rolls back with the
// transaction's other writes, and then runs.
func TestInsertSharesTheTransaction(t *testing.T) {
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		q, rec := newQueue(t, st, "")
		write := func(id string, n int, fail error) error {
			return st.InTx(ctx, func(tx store.Tx) error {
				if err := tx.ExecutionInsert(ctx, &store.Execution{ID: id, Status: status.NotStarted}); err != nil {
					return err
				}
				if err := q.InsertTx(ctx, tx, testArgs{N: n}, nil); err != nil {
					return err
				}
				return fail
			})
		}
		errStop := errors.New("stop")
		if err := write("rolled-back", 1, errStop); !errors.Is(err, errStop) {
			t.Fatalf("InTx: %v", err)
		}
		if err := write("committed", 2, nil); err != nil {
			t.Fatalf("InTx: %v", err)
		}
		if _, err := st.ExecutionGet(ctx, "rolled-back"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the rolled-back execution: %v, want ErrNotFound", err)
		}
		start(t, q)
		q.Committed()
		sluicetest.WaitFor(t, "the committed job to run", 0, func() bool { return rec.count(2) == 1 })
		// Jobs are fetched in insertion order: once a job inserted after
		// the rolled-back one has run, that one would have too.
		if err := write("later", 3, nil); err != nil {
			t.Fatalf("InTx: %v", err)
		}
		q.Committed()
		sluicetest.WaitFor(t, "a later job to run", 0, func() bool { return rec.count(3) == 1 })
		if n := rec.count(1); n != 0 {
			t.Errorf("the job of the rolled-back transaction ran %d times", n)
		}
	})
}
