package postgres_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cd/sluice/internal/sluicetest"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/storetest"
)

// openTest opens a store in a fresh schema, dropped when tb ends.
func openTest(tb testing.TB) *postgres.Store {
	tb.Helper()
	dsn := sluicetest.PostgresDSN(tb)
	schema := sluicetest.NewSchema(tb, dsn)
	s, err := postgres.Open(tb.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	// Registered after newSchema's cleanup, so it runs first.
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	sluicetest.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

// TestReadsBesideWriter: reads take other connections of the pool.
func TestReadsBesideWriter(t *testing.T) {
	storetest.ReadsBesideWriter(t, openTest(t))
}

func TestDriverTx(t *testing.T) {
	s := openTest(t)
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		if _, err := postgres.DriverTx(t.Context(), tx); err != nil {
			t.Errorf("DriverTx(): %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSchemaIsolation checks that WithSchema keeps the tables in the
// schema: two stores in two schemas do not see each other's rows.
func TestSchemaIsolation(t *testing.T) {
	a, b := openTest(t), openTest(t)
	if err := a.ExecutionInsert(t.Context(), &store.Execution{ID: "e", Status: status.Running}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ExecutionGet(t.Context(), "e"); err == nil {
		t.Error("store in another schema sees the execution")
	}
	var schema string
	if err := a.Pool().QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var n int
	err := a.Pool().QueryRow(t.Context(),
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'execution'", schema).Scan(&n)
	if err != nil || n != 1 {
		t.Errorf("execution table in %s: %d, %v", schema, n, err)
	}
}

// TestConcurrentOpen opens one fresh schema from several goroutines at
// once, as processes starting together would: the advisory lock lets one
// of them migrate and the others find the work done.
func TestConcurrentOpen(t *testing.T) {
	dsn := sluicetest.PostgresDSN(t)
	schema := sluicetest.NewSchema(t, dsn)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Open: %v", err)
	}
	s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var count int
	if err := s.Pool().QueryRow(t.Context(), "SELECT count(*) FROM sluice_migration").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); count != want {
		t.Errorf("sluice_migration has %d rows, want %d, one per migration", count, want)
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://user:secret@[::1:5432/db")
	if err == nil {
		t.Fatal("Open with a malformed URL: got nil error")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
}

func BenchmarkExecutionInsert(b *testing.B) {
	storetest.BenchmarkExecutionInsert(b, openTest(b))
}

func BenchmarkStageUpdateInTx(b *testing.B) {
	storetest.BenchmarkStageUpdateInTx(b, openTest(b))
}

// migrationCount is the number of migration files in this package.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("migration/*.up.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return len(files)
}

// TestExecutionListPlans: the console's and the API's lists of executions
// can be read through their indexes, without scanning or sorting the
// table.
func TestExecutionListPlans(t *testing.T) {
	t.Parallel()
	storetest.ExecutionListPlans(t, openTest(t))
}

// BenchmarkExecutionList times the console's lists at 1,000 executions
// and at SLUICE_BENCH_HISTORY (default 1,000,000), with autovacuum off
// for Sluice's tables, so nothing vacuums or analyzes them (no
// statistics, and dead row versions stay); see
// storetest.BenchmarkExecutionList. Run it with -benchtime=1x.
func BenchmarkExecutionList(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("SLUICE_BENCH_HISTORY"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("SLUICE_BENCH_HISTORY=%q: want a number of executions, at least 1000", v)
		}
	}
	var stores []*postgres.Store
	for range 2 {
		s := openTest(b)
		for _, table := range []string{"execution", "stage", "event"} {
			if _, err := s.Pool().Exec(b.Context(), "ALTER TABLE "+table+" SET (autovacuum_enabled = off, toast.autovacuum_enabled = off)"); err != nil {
				b.Fatal(err)
			}
		}
		stores = append(stores, s)
	}
	storetest.BenchmarkExecutionList(b, stores[0], stores[1], n, 9)
}

// TestStageUpdatesAreHeapOnly: an engine step's stage updates — status,
// context, tasks, times — are heap-only (HOT) updates, which add no index
// entries: no index of stage names a column they change, and its pages keep
// room for the new versions (migration 006). Three stages of the first of
// ten executions, a judgment among them, each go NOT_STARTED → RUNNING →
// SUCCEEDED, one transaction per update as engine steps are; each
// transaction reads the backend's counters before and after its update.
// The six new versions fit in the room the page was left, so the test does
// not depend on Postgres pruning the old ones, which it cannot while other
// tests' transactions are open.
func TestStageUpdatesAreHeapOnly(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	// Ten executions, so that the first one's page is as full as inserts
	// make it.
	var first *store.Execution
	for e := range 10 {
		id := fmt.Sprintf("e-%d", e)
		exec := &store.Execution{ID: id, Application: "app", PipelineName: "deploy", Status: status.Running,
			Pipeline: json.RawMessage(`{}`), Trigger: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
		for i := range 10 {
			typ := "wait"
			if i == 1 {
				typ = "manualJudgment"
			}
			exec.Stages = append(exec.Stages, &store.Stage{
				ID: fmt.Sprintf("%s-s%d", id, i), ExecutionID: id, Seq: i, RefID: fmt.Sprint(i + 1),
				Name: fmt.Sprintf("stage %d", i+1), Type: typ, Status: status.NotStarted,
				Context: json.RawMessage(`{"waitTime":0,"comments":"` + strings.Repeat("x", 100) + `"}`), UpdatedAt: now,
			})
		}
		if err := s.ExecutionInsert(ctx, exec); err != nil {
			t.Fatal(err)
		}
		first = cmp.Or(first, exec)
	}
	var updated, hot int64
	for _, st := range first.Stages[:3] {
		for _, to := range []status.Status{status.Running, status.Succeeded} {
			err := s.InTx(ctx, func(tx store.Tx) error {
				if _, err := tx.ExecutionLock(ctx, first.ID); err != nil {
					return err
				}
				u0, h0, err := counters(ctx, tx)
				if err != nil {
					return err
				}
				st.Status = to
				st.Tasks = json.RawMessage(`[{"id":"1","name":"wait","status":"` + string(to) + `"}]`)
				st.StartTime = &now
				if err := tx.StageUpdate(ctx, st); err != nil {
					return err
				}
				u1, h1, err := counters(ctx, tx)
				updated, hot = updated+u1-u0, hot+h1-h0
				return err
			})
			if err != nil {
				t.Fatalf("update stage %s to %s: %v", st.ID, to, err)
			}
		}
	}
	if updated != 6 || hot != updated {
		t.Errorf("%d of %d stage updates were heap-only; want all 6", hot, updated)
	}
}

// counters returns the stage updates this backend has counted and not yet
// reported, and how many of them were heap-only. It first sends what tx
// holds.
func counters(ctx context.Context, tx store.Tx) (updated, hot int64, err error) {
	ptx, err := postgres.DriverTx(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	err = ptx.QueryRow(ctx, `SELECT pg_stat_get_xact_tuples_updated('stage'::regclass),
pg_stat_get_xact_tuples_hot_updated('stage'::regclass)`).Scan(&updated, &hot)
	return updated, hot, err
}

// TestStepRoundTrips: a transaction like an engine step — lock and read an
// execution with its stages, then update a stage and the execution,
// record an event and an audit entry, and commit — costs two round trips: the
// writes are held, and the server checks what their callers require (a
// row changed), so COMMIT goes with them.
func TestStepRoundTrips(t *testing.T) {
	var trips roundTrips
	dsn := sluicetest.PostgresDSN(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(sluicetest.NewSchema(t, dsn)), postgres.WithTracer(&trips))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	exec := &store.Execution{ID: "e-1", Application: "app", PipelineName: "deploy", Status: status.Running,
		Pipeline: json.RawMessage(`{}`), Trigger: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now,
		Stages: []*store.Stage{{ID: "s-1", ExecutionID: "e-1", RefID: "1", Name: "wait", Type: "wait", Status: status.NotStarted, UpdatedAt: now}}}
	if err := s.ExecutionInsert(ctx, exec); err != nil {
		t.Fatal(err)
	}
	step := func() error {
		return s.InTx(ctx, func(tx store.Tx) error {
			e, err := tx.ExecutionLock(ctx, "e-1")
			if err != nil {
				return err
			}
			st := e.Stages[0]
			st.Status = status.Running
			if err := tx.StageUpdate(ctx, st); err != nil {
				return err
			}
			if err := tx.ExecutionUpdate(ctx, e); err != nil {
				return err
			}
			if err := tx.EventInsert(ctx, &store.Event{ExecutionID: "e-1", StageID: "s-1", Type: "stage.status"}); err != nil {
				return err
			}
			return tx.AuditInsert(ctx, &store.AuditEntry{User: "ann", Action: "step", ExecutionID: "e-1"})
		})
	}
	// The first run prepares the statements, a round trip each.
	if err := step(); err != nil {
		t.Fatal(err)
	}
	trips.n.Store(0)
	if err := step(); err != nil {
		t.Fatal(err)
	}
	if n := trips.n.Load(); n != 2 {
		t.Errorf("a step took %d round trips; want 2", n)
	}
}

// roundTrips counts what a pool's connections send that waits for an
// answer: each statement sent alone and each batch.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}

func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}

func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestEventsBeforeBatches migrates a database whose events were written
// one per row (schema version 7).
func TestEventsBeforeBatches(t *testing.T) {
	dsn := sluicetest.PostgresDSN(t)
	schema := sluicetest.NewSchema(t, dsn)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Simple protocol: a migration file is several statements.
	exec := func(q string) error { _, err := conn.Exec(t.Context(), q, pgx.QueryExecModeSimpleProtocol); return err }
	if err := exec(`CREATE SCHEMA ` + pgx.Identifier{schema}.Sanitize() + `; SET search_path TO ` + pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	storetest.MigrateBefore(t, exec, 8,
		`CREATE TABLE sluice_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
		`INSERT INTO sluice_migration VALUES (%d, '%s', now())`)
	storetest.EventsBeforeBatches(t, exec, func() store.Store {
		s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
