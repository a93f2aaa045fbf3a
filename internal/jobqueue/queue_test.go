package jobqueue_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-cd/sluice/internal/jobqueue"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
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

// TestPlainInsertWritesRiversRow inserts a job with no options, which the
// queue inserts with its own statement, and the same job through River's
// InsertTx (empty options, which River treats as none): the two rows agree
// in every column but the ID, the arguments and the times, and both run.
func TestPlainInsertWritesRiversRow(t *testing.T) {
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		q, rec := newQueue(t, st, "")
		for n, opts := range []*river.InsertOpts{nil, {}} {
			err := st.InTx(ctx, func(tx store.Tx) error { return q.InsertTx(ctx, tx, testArgs{N: n}, opts) })
			if err != nil {
				t.Fatal(err)
			}
		}
		var rows [][]string
		switch st := st.(type) {
		case *sqlite.Store:
			// River's SQLite driver puts a nonce of its own in the
			// metadata of every job it inserts, which only its insert reads
			// (to tell a unique job inserted from one already there).
			rows = riverJobs(t, st.DB(), `SELECT json_extract(args, '$.n'), length(created_at), kind, max_attempts,
coalesce(json(json_remove(metadata, '$."river:unique_nonce"')), 'NULL'), priority, queue, length(scheduled_at), state, coalesce(json(tags), 'NULL'),
typeof(args), typeof(metadata), typeof(tags), coalesce(unique_key, 'NULL'), coalesce(unique_states, 'NULL'),
coalesce(attempted_by, 'NULL'), coalesce(errors, 'NULL'), attempt,
created_at = scheduled_at, julianday('now') - julianday(created_at) < 1.0 / 24
FROM river_job ORDER BY id`)
		case *postgres.Store:
			db := stdlib.OpenDBFromPool(st.Pool())
			defer db.Close()
			rows = riverJobs(t, db, `SELECT args->>'n', kind, max_attempts, metadata::text, priority, queue, state::text,
tags::text, coalesce(unique_key::text, 'NULL'), coalesce(unique_states::text, 'NULL'),
coalesce(attempted_by::text, 'NULL'), coalesce(errors::text, 'NULL'), attempt,
created_at = scheduled_at, now() - created_at < interval '1 hour'
FROM river_job ORDER BY id`)
		}
		if len(rows) != 2 {
			t.Fatalf("%d jobs, want 2", len(rows))
		}
		if rows[0][0] != "0" || rows[1][0] != "1" {
			t.Fatalf("jobs with n = %s and %s, want 0 and 1", rows[0][0], rows[1][0])
		}
		if !slices.Equal(rows[0][1:], rows[1][1:]) {
			t.Errorf("the queue's insert wrote\n%q\nRiver's\n%q", rows[0], rows[1])
		}
		start(t, q)
		q.Committed()
		sluicetest.WaitFor(t, "both jobs to run", 0, func() bool { return rec.count(0) == 1 && rec.count(1) == 1 })
	})
}

// riverJobs reads every row of query as text.
func riverJobs(t *testing.T, db *sql.DB, query string) [][]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCompleteTxNeedsTheJobRunning: completing a job that is not running
// (here still available; on a cluster, rescued from this node and taken
// by another) fails the transaction, and the transaction's other writes
// are not committed. On Postgres the check is the server's, so the write
// can go with COMMIT (sqlstore.ExecOne).
func TestCompleteTxNeedsTheJobRunning(t *testing.T) {
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		q, _ := newQueue(t, st, "")
		err := st.InTx(ctx, func(tx store.Tx) error { return q.InsertTx(ctx, tx, testArgs{N: 1}, nil) })
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		err = st.InTx(ctx, func(tx store.Tx) error {
			row, err := jobID(ctx, tx)
			if err != nil {
				return err
			}
			id = row
			if err := tx.ExecutionInsert(ctx, &store.Execution{ID: "after-complete", Status: status.Running}); err != nil {
				return err
			}
			return q.CompleteTx(ctx, tx, &rivertype.JobRow{ID: id})
		})
		if err == nil || !strings.Contains(err.Error(), "no longer running") {
			t.Errorf("completing an available job: %v; want an error saying it is no longer running", err)
		}
		if _, err := st.ExecutionGet(ctx, "after-complete"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the execution written with the failed completion: %v, want ErrNotFound", err)
		}
	})
}

// jobID returns the ID of the one job in the queue's table.
func jobID(ctx context.Context, tx store.Tx) (int64, error) {
	var id int64
	if st, err := sqlite.DriverTx(ctx, tx); err == nil {
		return id, st.QueryRowContext(ctx, `SELECT id FROM river_job`).Scan(&id)
	}
	pt, err := postgres.DriverTx(ctx, tx)
	if err != nil {
		return 0, err
	}
	return id, pt.QueryRow(ctx, `SELECT id FROM river_job`).Scan(&id)
}

type selfArgs struct {
	N int `json:"n"`
}

func (selfArgs) Kind() string { return "sluice_jobqueue_test_self" }

// selfCompleter completes its job in a store transaction of its own, as
// the engine does, and records the jobs it completed.
type selfCompleter struct {
	river.WorkerDefaults[selfArgs]
	st   store.Store
	q    *jobqueue.Queue // set once the queue is made
	mu   sync.Mutex
	done map[int]bool
}

func (w *selfCompleter) Work(ctx context.Context, job *river.Job[selfArgs]) error {
	if err := w.st.InTx(ctx, func(tx store.Tx) error { return w.q.CompleteTx(ctx, tx, job.JobRow) }); err != nil {
		return err
	}
	w.q.CompletedBy(job.ID)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done[job.Args.N] = true
	return nil
}

func (w *selfCompleter) completed(n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done[n]
}

// TestCompleteTxDeletesTheJob: a job completed in its own transaction is
// deleted, except a unique one, which stays completed so that River's
// uniqueness still turns away a second insert of it.
func TestCompleteTxDeletesTheJob(t *testing.T) {
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		w := &selfCompleter{st: st, done: map[int]bool{}}
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		q, err := jobqueue.New(ctx, jobqueue.Config{Store: st, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		w.q = q
		unique := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
		insert := func(n int, opts *river.InsertOpts) {
			t.Helper()
			if err := st.InTx(ctx, func(tx store.Tx) error { return q.InsertTx(ctx, tx, selfArgs{N: n}, opts) }); err != nil {
				t.Fatal(err)
			}
			q.Committed()
		}
		insert(1, nil)
		insert(2, unique)
		start(t, q)
		sluicetest.WaitFor(t, "both jobs to complete", 0, func() bool { return w.completed(1) && w.completed(2) })

		// Stopping waits for River's completer, which handles the
		// workers' return: it must leave the table as the transactions
		// did.
		if err := q.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		var db *sql.DB
		query := `SELECT args->>'n', state::text FROM river_job ORDER BY id`
		switch st := st.(type) {
		case *sqlite.Store:
			db = st.DB()
			query = `SELECT json_extract(args, '$.n'), state FROM river_job ORDER BY id`
		case *postgres.Store:
			db = stdlib.OpenDBFromPool(st.Pool())
			defer db.Close()
		}
		jobs := func() [][]string { return riverJobs(t, db, query) }
		want := [][]string{{"2", "completed"}}
		if got := jobs(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("river_job after both jobs completed themselves: %q, want only the unique one, completed: %q", got, want)
		}
		insert(2, unique)
		if got := jobs(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("river_job after inserting the unique job again: %q, want it turned away: %q", got, want)
		}
	})
}
