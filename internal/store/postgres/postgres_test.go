package postgres_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

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
