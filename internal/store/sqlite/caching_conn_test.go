package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// Compile-time: the wrapper forwards everything the driver's connection
// offers database/sql.
var _ baseConn = (*cachingConn)(nil)

// countingConnector opens modernc.org/sqlite connections that count the
// statements prepared on them and the prepared statements closed: the
// cache's own prepares, since the uncached path (the driver's QueryContext
// and ExecContext) does not go through PrepareContext.
type countingConnector struct {
	driver.Connector
	prepares atomic.Int64
	closes   atomic.Int64
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countingConn{baseConn: dc.(baseConn), counts: c}, nil
}

type countingConn struct {
	baseConn
	counts *countingConnector
}

func (c countingConn) Unwrap() driver.Conn { return c.baseConn }

func (c countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.baseConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.counts.prepares.Add(1)
	return countingStmt{baseStmt: s.(baseStmt), counts: c.counts}, nil
}

type countingStmt struct {
	baseStmt
	counts *countingConnector
}

func (s countingStmt) Close() error {
	s.counts.closes.Add(1)
	return s.baseStmt.Close()
}

// openCounting opens a database in tb's temporary directory with a
// statement cache of size entries per connection and at most conns
// connections, and a table t(x INTEGER PRIMARY KEY, s TEXT) holding
// (1,'a'), (2,'b'), (3,'c'). The counts start at zero after that.
func openCounting(tb testing.TB, size, conns int) (*sql.DB, *countingConnector) {
	tb.Helper()
	base, err := sqlite.NewConnector(filepath.Join(tb.TempDir(), "cache.db") +
		"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		tb.Fatal(err)
	}
	counts := &countingConnector{Connector: base}
	db := sql.OpenDB(cachingConnector{Connector: counts, size: size})
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	tb.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(tb.Context(), "CREATE TABLE t(x INTEGER PRIMARY KEY, s TEXT); INSERT INTO t VALUES (1,'a'), (2,'b'), (3,'c')"); err != nil {
		tb.Fatal(err)
	}
	counts.prepares.Store(0)
	counts.closes.Store(0)
	return db, counts
}

// cached returns the texts in the cache of db's (one) connection, most
// recently used first.
func cached(t *testing.T, db *sql.DB) []string {
	t.Helper()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var texts []string
	err = conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		for el := c.lru.Front(); el != nil; el = el.Next() {
			texts = append(texts, el.Value.(*cachedStmt).query)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return texts
}

func queryStrings(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) []string {
	t.Helper()
	rows, err := q.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestStmtCacheReuse runs each text several times with different
// arguments: it is prepared once, and each run sees its own arguments.
func TestStmtCacheReuse(t *testing.T) {
	t.Parallel()
	db, counts := openCounting(t, 8, 1)
	ctx := t.Context()
	for i := range 5 {
		var n int64
		var s string
		if err := db.QueryRowContext(ctx, "SELECT ? + 1, ? || 'x'", i, fmt.Sprint(i)).Scan(&n, &s); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(i) + "x"; n != int64(i+1) || s != want {
			t.Errorf("run %d: got %d, %q; want %d, %q", i, n, s, i+1, want)
		}
		res, err := db.ExecContext(ctx, "INSERT INTO t(s) VALUES (?)", fmt.Sprint("row", i))
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := res.LastInsertId(); id != int64(4+i) {
			t.Errorf("run %d: LastInsertId = %d, want %d", i, id, 4+i)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Errorf("run %d: RowsAffected = %d, want 1", i, n)
		}
	}
	if got := queryStrings(t, db, "SELECT s FROM t WHERE x > ? ORDER BY x", 5); !slices.Equal(got, []string{"row2", "row3", "row4"}) {
		t.Errorf("rows inserted: got %q", got)
	}
	if n := counts.prepares.Load(); n != 3 {
		t.Errorf("prepared %d statements for 3 texts run 11 times, want 3", n)
	}
}

// TestStmtCacheOpenRows runs a text again, and other statements, inside one
// transaction while the rows of its cached statement are open: the second
// run takes the uncached path and the open rows go on undisturbed.
func TestStmtCacheOpenRows(t *testing.T) {
	t.Parallel()
	db, counts := openCounting(t, 8, 1)
	ctx := t.Context()
	const q = "SELECT s FROM t ORDER BY x"
	if got := queryStrings(t, db, q); len(got) != 3 {
		t.Fatalf("got %q, want 3 rows", got)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	next := func() {
		t.Helper()
		if !rows.Next() {
			t.Fatalf("rows ended after %q: %v", got, rows.Err())
		}
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	next()
	if again := queryStrings(t, tx, q); !slices.Equal(again, []string{"a", "b", "c"}) {
		t.Errorf("same text with rows open: got %q, want a b c", again)
	}
	next()
	if _, err := tx.ExecContext(ctx, "UPDATE t SET s = 'z' WHERE x = 1"); err != nil {
		t.Fatal(err)
	}
	next()
	if rows.Next() {
		t.Errorf("open rows go on past 3 rows")
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("open rows: got %q, want a b c", got)
	}
	if again := queryStrings(t, tx, q); !slices.Equal(again, []string{"z", "b", "c"}) {
		t.Errorf("after rows closed: got %q, want z b c", again)
	}
	if n := counts.prepares.Load(); n != 2 {
		t.Errorf("prepared %d statements, want 2 (the SELECT once, the UPDATE)", n)
	}
}

// TestStmtCacheCanceledRows cancels a query's context while its rows are
// open: database/sql closes them from another goroutine, and the statement
// runs correctly afterwards.
func TestStmtCacheCanceledRows(t *testing.T) {
	t.Parallel()
	db, counts := openCounting(t, 8, 1)
	// Far more rows than can be read before database/sql closes them.
	const q = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?) SELECT n FROM c"
	ctx, cancel := context.WithCancel(t.Context())
	rows, err := db.QueryContext(ctx, q, 100_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	cancel()
	for rows.Next() {
	}
	if err := rows.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("rows.Err() = %v, want context.Canceled", err)
	}
	rows.Close()
	if _, err := db.QueryContext(ctx, q, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("query with canceled context: %v, want context.Canceled", err)
	}
	if got := queryStrings(t, db, q, 3); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Errorf("after cancellation: got %q, want 1 2 3", got)
	}
	if n := counts.prepares.Load(); n != 1 {
		t.Errorf("prepared %d statements, want 1", n)
	}
}

// TestStmtCacheEviction fills a two-entry cache: the least recently used
// statement is closed, a busy one only when its rows close, and the rest
// when the connection closes.
func TestStmtCacheEviction(t *testing.T) {
	t.Parallel()
	db, counts := openCounting(t, 2, 1)
	ctx := t.Context()
	q := func(n int) string { return fmt.Sprintf("SELECT s FROM t WHERE x = %d", n) }
	run := func(n int) {
		t.Helper()
		var s string
		if err := db.QueryRowContext(ctx, q(n)).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q(n), err)
		}
		if want := string(rune('a' + n - 1)); s != want {
			t.Errorf("%s: got %q, want %q", q(n), s, want)
		}
	}
	check := func(step string, wantCached []string, wantPrepares, wantCloses int64) {
		t.Helper()
		if got := cached(t, db); !slices.Equal(got, wantCached) {
			t.Errorf("%s: cached %q, want %q", step, got, wantCached)
		}
		if p, c := counts.prepares.Load(), counts.closes.Load(); p != wantPrepares || c != wantCloses {
			t.Errorf("%s: %d prepared, %d closed; want %d, %d", step, p, c, wantPrepares, wantCloses)
		}
	}

	run(1)
	run(2)
	run(1)
	check("1 2 1", []string{q(1), q(2)}, 2, 0)
	run(3)
	check("then 3", []string{q(3), q(1)}, 3, 1)

	// A busy statement is evicted but closed only with its rows.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT s FROM t ORDER BY x") // evicts q(1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	next := func() {
		t.Helper()
		if !rows.Next() {
			t.Fatalf("rows ended after %q: %v", got, rows.Err())
		}
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	next()
	for _, n := range []int{2, 3} { // evict q(3), then the busy SELECT
		var s string
		if err := conn.QueryRowContext(ctx, q(n)).Scan(&s); err != nil {
			t.Fatal(err)
		}
	}
	next()
	if c := counts.closes.Load(); c != 3 {
		t.Errorf("with the evicted statement's rows open: %d closed, want 3", c)
	}
	next()
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("rows of an evicted statement: got %q, want a b c", got)
	}
	conn.Close()
	check("busy evicted", []string{q(3), q(2)}, 6, 4)

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if p, c := counts.prepares.Load(), counts.closes.Load(); p != c {
		t.Errorf("after Close: %d prepared, %d closed", p, c)
	}
}

// TestStmtCacheUncached runs what the cache leaves alone: scripts, and
// statements that fail to prepare, whose errors stay the driver's.
func TestStmtCacheUncached(t *testing.T) {
	t.Parallel()
	db, counts := openCounting(t, 8, 1)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, "CREATE TABLE u(x); INSERT INTO u VALUES (1); INSERT INTO u VALUES (2);"); err != nil {
		t.Fatalf("script: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version = 7; SELECT count(*) FROM u").Scan(&n); err != nil || n != 2 {
		t.Errorf("PRAGMA; SELECT: %d, %v; want 2, nil", n, err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&n); err != nil || n != 7 {
		t.Errorf("user_version = %d, %v; want 7, nil", n, err)
	}
	if got, want := cached(t, db), []string{"PRAGMA user_version"}; !slices.Equal(got, want) {
		t.Errorf("cached %q, want %q", got, want)
	}

	_, err := db.ExecContext(ctx, "SELEC 1")
	var serr *sqlite.Error
	if !errors.As(err, &serr) || serr.Code() != sqlite3.SQLITE_ERROR {
		t.Errorf("syntax error: %v (%T), want *sqlite.Error SQLITE_ERROR", err, err)
	}
	// The same failure from a cached statement, twice, and the statement
	// still works.
	for range 2 {
		_, err := db.ExecContext(ctx, "INSERT INTO t VALUES (?, ?)", 1, "dup")
		if !errors.As(err, &serr) || serr.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			t.Errorf("duplicate key: %v (%T), want *sqlite.Error SQLITE_CONSTRAINT_PRIMARYKEY", err, err)
		}
		if !errors.Is(translate(err), store.ErrConflict) {
			t.Errorf("translate(%v) is not store.ErrConflict", err)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (?, ?)", 9, "ok"); err != nil {
		t.Errorf("insert after failures: %v", err)
	}
	if p := counts.prepares.Load(); p != 2 {
		t.Errorf("%d prepared, want 2 (PRAGMA user_version, INSERT)", p)
	}
}

func TestMultiStatement(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"SELECT 1", false},
		{"SELECT 1;", false},
		{"SELECT 1; \n\t;; ", false},
		{"SELECT 1; -- done", false},
		{"SELECT 1; /* done */", false},
		{"SELECT 1 -- a; b\nFROM t", false},
		{"SELECT /* a; b */ 1", false},
		{"SELECT ';', 'it''s; ok', \"a;b\", `c;d`, [e;f]", false},
		{"SELECT '/*', 1; -- '", false},
		{"SELECT 1; SELECT 2", true},
		{"PRAGMA foreign_keys = ON; SELECT 1", true},
		{"CREATE TABLE a(x);\nCREATE TABLE b(y);", true},
		{"SELECT 1; /* c */ SELECT 2", true},
		{"SELECT 1;'x'", true},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", true}, // one statement; left uncached
		{"SELECT 'unterminated; SELECT 2", false},
		{"SELECT 1 /* unterminated; SELECT 2", false},
		{"", false},
	} {
		if got := multiStatement(tc.query); got != tc.want {
			t.Errorf("multiStatement(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
}

// TestStmtCacheForwards checks what reaches the driver through the wrapper:
// read-only BeginTx, Ping, and modernc's Limit (via Unwrap).
func TestStmtCacheForwards(t *testing.T) {
	t.Parallel()
	db, _ := openCounting(t, 8, 1)
	ctx := t.Context()
	if err := db.PingContext(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only BeginTx: %v", err)
	}
	if got := queryStrings(t, tx, "SELECT s FROM t WHERE x = 1"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("in read-only tx: got %q", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, -1); err != nil {
		t.Errorf("sqlite.Limit through the wrapper: %v", err)
	}
}

// TestStmtCacheConcurrent uses one database from many goroutines, through a
// pool of several connections (each with its own cache) and through the
// Store's single connection. Run with -race.
func TestStmtCacheConcurrent(t *testing.T) {
	t.Parallel()
	t.Run("pool", func(t *testing.T) {
		t.Parallel()
		db, counts := openCounting(t, 4, 3)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				for i := range 40 {
					q := fmt.Sprintf("SELECT s FROM t WHERE x = ? AND %d = %d", i%6, i%6)
					var s string
					if err := db.QueryRowContext(t.Context(), q, 1+(g+i)%3).Scan(&s); err != nil {
						errs <- err
						return
					}
					if want := string(rune('a' + (g+i)%3)); s != want {
						errs <- fmt.Errorf("goroutine %d, run %d: got %q, want %q", g, i, s, want)
						return
					}
					if i%10 == 0 {
						if _, err := db.ExecContext(t.Context(), "INSERT INTO t(s) VALUES (?)", "w"); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if p, c := counts.prepares.Load(), counts.closes.Load(); p != c {
			t.Errorf("after Close: %d prepared, %d closed", p, c)
		}
	})
	t.Run("store", func(t *testing.T) {
		t.Parallel()
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "sluice.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for g := range 6 {
			wg.Go(func() {
				for i := range 15 {
					id := fmt.Sprintf("e-%d-%d", g, i)
					err := s.ExecutionInsert(t.Context(), &store.Execution{ID: id, Status: status.Running})
					if err == nil {
						err = s.InTx(t.Context(), func(tx store.Tx) error {
							e, err := tx.ExecutionLock(t.Context(), id)
							if err != nil {
								return err
							}
							e.Status = status.Succeeded
							return tx.ExecutionUpdate(t.Context(), e)
						})
					}
					if err == nil {
						var e *store.Execution
						if e, err = s.ExecutionGet(t.Context(), id); err == nil && e.Status != status.Succeeded {
							err = fmt.Errorf("%s: status %s, want %s", id, e.Status, status.Succeeded)
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// BenchmarkStmtCache runs a typical store read, a primary-key lookup, with
// the cache off and on.
func BenchmarkStmtCache(b *testing.B) {
	for _, size := range []int{0, stmtCacheSize} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			db, _ := openCounting(b, size, 1)
			var s string
			for b.Loop() {
				if err := db.QueryRowContext(b.Context(), "SELECT s FROM t WHERE x = ?", 2).Scan(&s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
