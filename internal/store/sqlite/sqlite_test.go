package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
	"github.com/sluice-cd/sluice/internal/store/sqlstore"
	"github.com/sluice-cd/sluice/internal/store/storetest"
)

// openTest opens a store on a fresh file in tb's temporary directory.
func openTest(tb testing.TB, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "sluice.db"), append(opts, sqlite.WithVerifiedStageCache())...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), ":memory:", sqlite.WithVerifiedStageCache())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestReadsBesideWriter holds a write transaction open and reads: on the
// one write connection alone, the reads would wait for it.
func TestReadsBesideWriter(t *testing.T) {
	storetest.ReadsBesideWriter(t, openTest(t))
}

// TestOpenSettings checks what River, the single-writer design and the
// pool for reads rely on.
func TestOpenSettings(t *testing.T) {
	s := openTest(t)
	db := s.DB()
	if n := db.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("MaxOpenConnections = %d, want 1", n)
	}
	checkPragmas(t, "write connection", db, map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "1", // NORMAL
		"busy_timeout": "5000",
		"query_only":   "0",
	})
	reads := s.ReadDB()
	if reads == nil {
		t.Fatal("a file database has no pool for reads")
	}
	if n := reads.Stats().MaxOpenConnections; n != sqlite.ReadConns {
		t.Errorf("read pool: MaxOpenConnections = %d, want %d", n, sqlite.ReadConns)
	}
	checkPragmas(t, "read connection", reads, map[string]string{
		"journal_mode": "wal",
		"busy_timeout": "5000",
		"query_only":   "1",
	})
	if _, err := reads.ExecContext(t.Context(), "DELETE FROM execution"); err == nil {
		t.Error("a read connection deleted rows: it must be query_only")
	}
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		if raw, err := sqlite.DriverTx(t.Context(), tx); err != nil || raw == nil {
			t.Errorf("DriverTx() = %v, %v; want the *sql.Tx", raw, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkPragmas checks the PRAGMA values of the connections of db.
func checkPragmas(t *testing.T, what string, db *sql.DB, want map[string]string) {
	t.Helper()
	for pragma, want := range want {
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("%s: PRAGMA %s: %v", what, pragma, err)
		}
		if got != want {
			t.Errorf("%s: PRAGMA %s = %q, want %q", what, pragma, got, want)
		}
	}
}

// TestInMemoryHasNoReadPool: a private in-memory database exists on one
// connection only, so a pool for reads would open empty databases.
func TestInMemoryHasNoReadPool(t *testing.T) {
	s, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ReadDB() != nil {
		t.Error(`":memory:" store has a pool for reads`)
	}
}

// openTwice opens one fresh file twice, as two processes would if one
// ignored the file's lock (the sqlite3 shell, say).
func openTwice(t *testing.T) [2]*sqlite.Store {
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores [2]*sqlite.Store
	for i := range stores {
		s, err := sqlite.OpenUnlocked(t.Context(), path)
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	return stores
}

// TestBeginImmediate opens one file twice, as two processes would if one
// ignored the file's lock (the sqlite3 shell, say), and writes from both at
// once: with BEGIN IMMEDIATE the second writer waits for the lock at BEGIN
// instead of failing to upgrade a read lock.
func TestBeginImmediate(t *testing.T) {
	stores := openTwice(t)
	if err := stores[0].ExecutionInsert(t.Context(), &store.Execution{ID: "e", Status: status.Running}); err != nil {
		t.Fatal(err)
	}
	if err := stores[0].StageInsert(t.Context(), &store.Stage{ID: "s", ExecutionID: "e", Status: status.Running}); err != nil {
		t.Fatal(err)
	}
	// Read, then write, in each transaction: under deferred BEGIN two such
	// transactions in different connections fail with SQLITE_BUSY.
	var wg sync.WaitGroup
	errs := make(chan error, 2*20)
	for _, s := range stores {
		wg.Go(func() {
			for range 20 {
				errs <- s.InTx(context.Background(), func(tx store.Tx) error {
					e, err := tx.ExecutionLock(t.Context(), "e")
					if err != nil {
						return err
					}
					// The context is a JSON string that grows by an x per
					// transaction.
					var xs string
					if len(e.Stages[0].Context) > 0 {
						if err := json.Unmarshal(e.Stages[0].Context, &xs); err != nil {
							return err
						}
					}
					e.Stages[0].Context, err = json.Marshal(xs + "x")
					if err != nil {
						return err
					}
					return tx.StageUpdate(t.Context(), e.Stages[0])
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("InTx: %v", err)
		}
	}
	e, err := stores[1].ExecutionGet(t.Context(), "e")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.Stages[0].Context) - len(`""`); n != 40 {
		t.Errorf("stage context %s has %d x's, want 40", e.Stages[0].Context, n)
	}
}

// TestStageCacheSeesOtherWriters takes turns writing one stage from two
// stores on one file, as a process that ignored the file's lock would:
// each store's next lock must see the other's write, which its stage cache
// learns of from the database's data version. (The stores verify their
// caches, so a stale hit fails the lock itself.)
func TestStageCacheSeesOtherWriters(t *testing.T) {
	stores := openTwice(t)
	ctx := t.Context()
	if err := stores[0].ExecutionInsert(ctx, &store.Execution{ID: "e", Status: status.Running, Stages: []*store.Stage{{ID: "s", Status: status.Running}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		s := stores[i%2]
		want := strconv.Itoa(i - 1)
		err := s.InTx(ctx, func(tx store.Tx) error {
			e, err := tx.ExecutionLock(ctx, "e")
			if err != nil {
				return err
			}
			if i > 0 && string(e.Stages[0].Context) != want {
				t.Errorf("turn %d: store %d locked the stage with context %s, want %s, the other store's", i, i%2, e.Stages[0].Context, want)
			}
			e.Stages[0].Context = json.RawMessage(strconv.Itoa(i))
			return tx.StageUpdate(ctx, e.Stages[0])
		})
		if err != nil {
			t.Fatalf("turn %d: store %d: %v", i, i%2, err)
		}
	}
	// Store 0's first lock found what it had inserted; every other lock
	// followed the other store's write.
	if hits := stores[0].StageCacheHits() + stores[1].StageCacheHits(); hits != 1 {
		t.Errorf("the stores found the stages in their caches %d times, want 1", hits)
	}
	// With no other writer since its own last write, each lock finds them.
	for range 3 {
		if err := stores[1].InTx(ctx, func(tx store.Tx) error {
			_, err := tx.ExecutionLock(ctx, "e")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if hits := stores[1].StageCacheHits(); hits != 3 {
		t.Errorf("store 1 found the stages in its cache %d times in three locks of its own, want 3", hits)
	}
}

// TestForgetStages: a transaction that forgets an execution's stages
// (store.StageForgetter) leaves them out of the stage cache, whether it
// locked the execution or not; the next lock reads them and puts them back.
func TestForgetStages(t *testing.T) {
	// Room for two executions: forgetting one the cache does not hold
	// must not push out one it does.
	st := openTest(t, sqlite.WithStageCache(2))
	ctx := t.Context()
	for _, id := range []string{"e", "f"} {
		if err := st.ExecutionInsert(ctx, &store.Execution{ID: id, Status: status.Running, Stages: []*store.Stage{{ID: id + "-s", Status: status.Running}}}); err != nil {
			t.Fatal(err)
		}
	}
	// step locks id (forgetting it after the lock when forget says so, or
	// forgetting forgot without a lock) and reports whether the lock found
	// its stages in the cache.
	step := func(id string, forget bool, forgot string) bool {
		t.Helper()
		before := st.StageCacheHits()
		err := st.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.ExecutionLock(ctx, id); err != nil {
				return err
			}
			f, ok := tx.(store.StageForgetter)
			if !ok {
				t.Fatalf("a transaction of the SQLite store (%T) is not a store.StageForgetter", tx)
			}
			if forget {
				f.ForgetStages(id)
			}
			if forgot != "" {
				f.ForgetStages(forgot)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return st.StageCacheHits() > before
	}
	for i, tc := range []struct {
		id      string
		forget  bool
		forgot  string
		wantHit bool
	}{
		{"e", false, "", true},  // inserted: the insert put it in the cache
		{"e", true, "", true},   // found, then forgotten
		{"e", false, "", false}, // read again, and put back
		{"e", false, "", true},
		{"f", false, "e", true}, // e forgotten by a transaction that did not lock it
		{"e", false, "", false},
		{"e", false, "", true},
		{"f", false, "g", true}, // g, never cached, forgotten: e and f stay
		{"e", false, "", true},
		{"f", false, "", true},
	} {
		if hit := step(tc.id, tc.forget, tc.forgot); hit != tc.wantHit {
			t.Errorf("lock %d of %s: found in the cache %v, want %v", i, tc.id, hit, tc.wantHit)
		}
	}
}

// TestMigrationsIdempotent opens a file a second time: nothing is applied
// twice.
func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	for range 2 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		var n int
		if err := s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM sluice_migration").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := migrationCount(t); n != want {
			t.Errorf("sluice_migration has %d rows, want %d, one per migration", n, want)
		}
		s.Close()
	}
}

// TestOpenLocksTheFile checks that one Store at a time has a database
// file: the job queue's rescue of jobs left running relies on it.
func TestOpenLocksTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := sqlite.Open(t.Context(), path); !errors.Is(err, sqlite.ErrInUse) {
		t.Fatalf("second Open while the first is open: %v, want ErrInUse", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s.Close()
}

func TestOpenRejectsQueryInPath(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), "x.db?mode=ro"); err == nil {
		t.Error("Open(path with ?): got nil error")
	}
}

func BenchmarkExecutionInsert(b *testing.B) {
	storetest.BenchmarkExecutionInsert(b, openTest(b))
}

func BenchmarkStageUpdateInTx(b *testing.B) {
	storetest.BenchmarkStageUpdateInTx(b, openTest(b))
}

// TestOpenRefusesNewerDatabase opens a database that a newer Sluice
// migrated: its tables may mean something this one does not know.
func TestOpenRefusesNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.DB().ExecContext(t.Context(), "INSERT INTO sluice_migration (version, name, applied_at) VALUES (999, '999_future', '2030-01-01T00:00:00Z')")
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(t.Context(), path); !errors.Is(err, sqlstore.ErrNewerDatabase) {
		t.Fatalf("Open: %v, want ErrNewerDatabase", err)
	}
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
// read through their indexes, without scanning or sorting the table.
func TestExecutionListPlans(t *testing.T) {
	t.Parallel()
	storetest.ExecutionListPlans(t, openTest(t))
}

// BenchmarkExecutionList times the console's lists at 1,000 executions
// and at SLUICE_BENCH_HISTORY (default 1,000,000); see
// storetest.BenchmarkExecutionList. Run it with -benchtime=1x.
func BenchmarkExecutionList(b *testing.B) {
	storetest.BenchmarkExecutionList(b, openTest(b), openTest(b), benchHistory(b), 9)
}

// benchHistory is SLUICE_BENCH_HISTORY, default 1,000,000.
func benchHistory(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("SLUICE_BENCH_HISTORY"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("SLUICE_BENCH_HISTORY=%q: want a number of executions, at least 1000", v)
		}
	}
	return n
}

// TestEventsBeforeBatches migrates a database whose events were written
// one per row (schema version 6).
func TestEventsBeforeBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) error { _, err := db.ExecContext(t.Context(), q); return err }
	storetest.MigrateBefore(t, exec, 7,
		`CREATE TABLE sluice_migration (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`,
		`INSERT INTO sluice_migration VALUES (%d, '%s', '2025-01-01T00:00:00.000000Z')`)
	storetest.EventsBeforeBatches(t, exec, func() store.Store {
		db.Close()
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
