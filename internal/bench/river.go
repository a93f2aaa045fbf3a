package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/sluice-cd/sluice/internal/jobqueue"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
)

// BareRiver is the yardstick for the engine's throughput: what River alone
// does on the store's database with Sluice's settings. It inserts `chains`
// jobs, one transaction each as a trigger is, and runs every chain to
// `jobs` jobs: each job, in one store transaction, inserts the next job of
// its chain (the last one does not) and completes itself — the least a
// stage transition can cost, with none of the engine's work. The queue is
// Sluice's (package jobqueue): River's client with the engine's settings,
// the store's connections, pragmas and durable commits. Jobs are inserted
// with River's InsertTx: they are given empty options, which River treats
// as none, because with none the queue inserts with a one-row statement of
// its own — the engine's cut, not River's (jobqueue.Queue.InsertTx). A job
// completes itself as River's API does it, marked completed and kept:
// JobCompleteTx on SQLite; on Postgres a one-row statement of the queue's
// (Queue.MarkCompletedTx), since JobCompleteTx's cached generic plan there
// grows with the table (docs/benchmarks.md, issue 2). The engine deletes
// the jobs it completes instead (package jobqueue, "Completed jobs are
// deleted"): that is one of its cuts, not River's. The yardstick does not
// tell the queue of the completions (Queue.CompletedBy), so River's
// completer marks every job again, as it does for River's own users.
// After a commit that inserted a job it wakes the producer
// (Queue.Committed) on SQLite only, whose River listener polls a table: on
// Postgres River's InsertTx has notified inside the transaction, as River
// does, and the queue's notification after the commit is the engine's cut.
// It returns the time until the last job of every chain completed.
func BareRiver(ctx context.Context, st store.Store, chains, jobs int) (time.Duration, error) {
	_, wake := st.(*sqlite.Store)
	w := &chainWorker{st: st, jobs: jobs, wake: wake, done: make(chan struct{})}
	w.left.Store(int64(chains))
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	q, err := jobqueue.New(ctx, jobqueue.Config{Store: st, Workers: workers})
	if err != nil {
		return 0, err
	}
	w.q = q
	if err := q.Start(ctx); err != nil {
		return 0, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		q.Stop(ctx)
	}()
	begin := time.Now()
	for i := range chains {
		err := st.InTx(ctx, func(tx store.Tx) error {
			return q.InsertTx(ctx, tx, chainArgs{Chain: i, Step: 1}, &river.InsertOpts{})
		})
		if err != nil {
			return 0, err
		}
		if w.wake {
			q.Committed()
		}
	}
	timeout := time.NewTimer(10 * time.Minute)
	defer timeout.Stop()
	select {
	case <-w.done:
	case <-timeout.C:
		return 0, fmt.Errorf("%d of %d chains did not finish in 10 minutes", w.left.Load(), chains)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if err := w.err.Load(); err != nil {
		return 0, *err
	}
	return time.Since(begin), nil
}

// chainArgs is step Step of chain Chain.
type chainArgs struct {
	Chain int `json:"chain"`
	Step  int `json:"step"`
}

func (chainArgs) Kind() string { return "bench.chain" }

type chainWorker struct {
	river.WorkerDefaults[chainArgs]
	st   store.Store
	q    *jobqueue.Queue
	jobs int
	wake bool          // call Committed after a commit that inserted a job
	left atomic.Int64  // chains not finished
	done chan struct{} // closed when every chain finished, or a job failed
	end  sync.Once
	err  atomic.Pointer[error]
}

func (w *chainWorker) Work(ctx context.Context, job *river.Job[chainArgs]) error {
	last := job.Args.Step >= w.jobs
	err := w.st.InTx(ctx, func(tx store.Tx) error {
		if !last {
			if err := w.q.InsertTx(ctx, tx, chainArgs{Chain: job.Args.Chain, Step: job.Args.Step + 1}, &river.InsertOpts{}); err != nil {
				return err
			}
		}
		if raw, err := sqlite.DriverTx(ctx, tx); err == nil {
			_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, raw, job)
			return err
		}
		return w.q.MarkCompletedTx(ctx, tx, job.JobRow)
	})
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			w.err.CompareAndSwap(nil, &err)
			w.end.Do(func() { close(w.done) })
		}
		return err
	}
	if !last {
		if w.wake {
			w.q.Committed()
		}
	} else if w.left.Add(-1) == 0 {
		w.end.Do(func() { close(w.done) })
	}
	return nil
}
