package jobqueue_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/sluice-cd/sluice/internal/jobqueue"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
)

// leaveRunning inserts a job and marks it running as node, as River does
// when node takes it — the state a killed process leaves behind.
func leaveRunning(t *testing.T, st *postgres.Store, q *jobqueue.Queue, n int, node string) {
	t.Helper()
	ctx := t.Context()
	err := st.InTx(ctx, func(tx store.Tx) error { return q.InsertTx(ctx, tx, testArgs{N: n}, nil) })
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool().Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
attempted_by = ARRAY[$1::text] WHERE args->>'n' = $2`, node, strconv.Itoa(n))
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeadNodesJobsRunAgain leaves jobs running as two other nodes: one
// whose process is gone (nobody holds its lock) and one alive (the test
// holds its lock, as its process would). The live queue runs the dead
// node's job within a few checks and leaves the live node's alone.
func TestDeadNodesJobsRunAgain(t *testing.T) {
	st := sluicetest.OpenPostgres(t)
	ctx := t.Context()
	q, rec := newQueue(t, st, "node-b")
	leaveRunning(t, st, q, 1, "node-dead")
	leaveRunning(t, st, q, 2, "node-alive")

	// node-alive's lock, held on a connection of its own as its process
	// would hold it.
	conn, err := pgx.ConnectConfig(ctx, st.Pool().Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('sluice.node:' || coalesce(current_schema(), '') || ':' || $1, 0))`, "node-alive"); err != nil {
		t.Fatal(err)
	}

	start(t, q)
	sluicetest.WaitFor(t, "the dead node's job to run here", 0, func() bool { return rec.count(1) == 1 })
	// Three more checks, each seen through a probe job it rescues: the live
	// node's job must still be its own.
	for i := range 3 {
		leaveRunning(t, st, q, 100+i, "node-dead")
		sluicetest.WaitFor(t, "the next dead-node check", 0, func() bool { return rec.count(100+i) == 1 })
	}
	var state, by string
	if err := st.Pool().QueryRow(ctx, `SELECT state::text, attempted_by[array_upper(attempted_by, 1)] FROM river_job WHERE args->>'n' = '2'`).Scan(&state, &by); err != nil {
		t.Fatal(err)
	}
	if state != "running" || by != "node-alive" || rec.count(2) != 0 {
		t.Errorf("the live node's job is %s as %s and ran here %d times; want running as node-alive, never here", state, by, rec.count(2))
	}
}

// TestConcurrentNewMigrates starts queues together on an empty schema, as
// servers starting at once on a new database do: River's migrations run
// under a lock, so every one of them starts.
func TestConcurrentNewMigrates(t *testing.T) {
	dsn := sluicetest.PostgresDSN(t)
	schema := sluicetest.NewSchema(t, dsn)
	const n = 5
	stores := make([]*postgres.Store, n)
	for i := range stores {
		st, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, st := range stores {
		wg.Go(func() {
			_, errs[i] = jobqueue.New(t.Context(), jobqueue.Config{Store: st, Workers: workersFor(&recorder{runs: map[int]int{}})})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("queue %d: %v", i, err)
		}
	}
}

// TestCommittedNotifies inserts two plain jobs with the queue's own
// statement, one with River's attempts and one with its own. Their
// transaction sends no notification — a transaction that notifies holds
// Postgres's notification lock until its commit is on the disk, which
// would make durable commits take turns (insertNotifier) — and Committed
// then sends River's insert notification, which is what wakes the
// producers of the other processes; this process's own producer runs the
// jobs.
func TestCommittedNotifies(t *testing.T) {
	st := sluicetest.OpenPostgres(t)
	ctx := t.Context()
	q, rec := newQueue(t, st, "")
	start(t, q)
	conn, err := pgx.ConnectConfig(ctx, st.Pool().Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	channel := schema + ".river_insert"
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		t.Fatal(err)
	}

	err = st.InTx(ctx, func(tx store.Tx) error {
		if err := q.InsertTx(ctx, tx, testArgs{N: 1}, nil); err != nil {
			return err
		}
		return q.InsertTx(ctx, tx, testArgs{N: 2}, &river.InsertOpts{MaxAttempts: 3})
	})
	if err != nil {
		t.Fatal(err)
	}
	var attempts []int
	rows, _ := st.Pool().Query(ctx, `SELECT max_attempts FROM river_job ORDER BY id`)
	if attempts, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil || !slices.Equal(attempts, []int{10, 3}) {
		t.Errorf("the jobs' max_attempts are %v, want [10 3] (%v)", attempts, err)
	}
	quiet, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if n, err := conn.WaitForNotification(quiet); err == nil {
		t.Fatalf("the inserting transaction notified %q on %s itself", n.Payload, n.Channel)
	}
	q.Committed()
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(wait)
	if err != nil {
		t.Fatalf("no notification on %s after Committed: %v", channel, err)
	}
	var payload struct{ Queue string }
	if err := json.Unmarshal([]byte(n.Payload), &payload); err != nil || n.Channel != channel || payload.Queue != "default" {
		t.Errorf("notification %q on %s, want queue default on %s (%v)", n.Payload, n.Channel, channel, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for (rec.count(1) == 0 || rec.count(2) == 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, n := range []int{1, 2} {
		if got := rec.count(n); got != 1 {
			t.Errorf("job %d ran %d times, want once", n, got)
		}
	}
}

// TestListenerSkipsOwnNotifications gives River's Postgres listener, as the
// queue wraps it, a notification this process sent, one another process
// sent and a wake-up: it passes on the other's and answers the wake-up
// with an insert notification, but not its own, which would only make the
// producer fetch again.
func TestListenerSkipsOwnNotifications(t *testing.T) {
	st := sluicetest.OpenPostgres(t)
	ctx := t.Context()
	own, other := `{"queue":"default","node":"a"}`, `{"queue":"default","node":"b"}`
	l, wake := jobqueue.PostgresListener(st.Pool(), own)
	if err := l.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if err := l.Listen(ctx, "river_insert"); err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{own, other} {
		if _, err := st.Pool().Exec(ctx, `SELECT pg_notify(current_schema() || '.river_insert', $1)`, payload); err != nil {
			t.Fatal(err)
		}
	}
	wait := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := l.WaitForNotification(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n.Topic + " " + n.Payload
	}
	if got, want := wait(), "river_insert "+other; got != want {
		t.Errorf("first notification %q, want %q: its own must be skipped", got, want)
	}
	wake()
	if got, want := wait(), `river_insert {"queue":"default"}`; got != want {
		t.Errorf("notification after a wake-up %q, want %q", got, want)
	}
}

// TestCompleteFindsJobByKey asks Postgres for the generic plan of the
// statement that completes a job — the plan a connection caches after a
// few runs — with running jobs in the table, and wants it to find the job
// by the primary key. The statement compared state as the enum until the
// plan scanned river_job_prioritized_fetching_index over every running
// job instead.
func TestCompleteFindsJobByKey(t *testing.T) {
	st := sluicetest.OpenPostgres(t)
	ctx := t.Context()
	q, _ := newQueue(t, st, "node-a")
	for n := range 20 {
		leaveRunning(t, st, q, n, "node-a")
	}
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), `RESET plan_cache_mode`)
	for _, keep := range []bool{false, true} {
		name := "complete_" + strconv.FormatBool(keep)
		if _, err := conn.Exec(ctx, `PREPARE `+name+` (bigint, text) AS `+jobqueue.CompleteSQL(keep)); err != nil {
			t.Fatal(err)
		}
		rows, _ := conn.Query(ctx, `EXPLAIN EXECUTE `+name+` (1, 'node-a')`)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, "river_job_pkey") || strings.Contains(plan, "river_job_prioritized_fetching_index") {
			t.Errorf("keep %v: the generic plan does not find the job by river_job_pkey:\n%s", keep, plan)
		}
		if _, err := conn.Exec(ctx, `DEALLOCATE `+name); err != nil {
			t.Fatal(err)
		}
	}
}
