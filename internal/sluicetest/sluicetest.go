// Package sluicetest holds what Sluice's tests share: stores on both
// dialects, waiting for a condition with a deadline, a settable clock, and
// the goroutine-leak check every test binary runs. It is imported by tests only and must not
// be imported by product code.
package sluicetest

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
	"go.uber.org/goleak"
)

// EnvPostgresDSN names the environment variable with the Postgres database
// the Postgres half of the tests runs on; .ci/run sets it.
const EnvPostgresDSN = "SLUICE_TEST_POSTGRES_DSN"

// PostgresDSN returns the test database's DSN, or skips the test.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvPostgresDSN)
	if dsn == "" {
		tb.Skipf("%s is not set; set it to a Postgres URL to run the Postgres half", EnvPostgresDSN)
	}
	return dsn
}

var schemaSeq atomic.Int64

// NewSchema returns the name of a schema no other test uses, dropped with
// everything in it when the test ends. postgres.WithSchema creates it.
func NewSchema(tb testing.TB, dsn string) string {
	tb.Helper()
	schema := fmt.Sprintf("sluice_test_%d_%d", time.Now().UnixNano(), schemaSeq.Add(1))
	tb.Cleanup(func() {
		if err := postgres.DropSchema(context.Background(), dsn, schema); err != nil {
			tb.Error(err)
		}
	})
	return schema
}

// OpenSQLite opens a SQLite store in a fresh directory, closed when the
// test ends. In a test (not a benchmark) the store checks every hit of its
// stage cache against the database (sqlite.WithVerifiedStageCache).
func OpenSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	var opts []sqlite.Option
	if _, bench := tb.(*testing.B); !bench {
		// A test checks the stage cache under all it does; a benchmark
		// measures the store as it runs.
		opts = append(opts, sqlite.WithVerifiedStageCache())
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "sluice.db"), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// OpenPostgres opens a Postgres store in a schema of its own, or skips.
// The store is closed and the schema dropped when the test ends.
func OpenPostgres(tb testing.TB) *postgres.Store {
	tb.Helper()
	dsn := PostgresDSN(tb)
	st, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(NewSchema(tb, dsn)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() }) // runs before NewSchema's drop
	return st
}

// EachStore runs f as a subtest on a fresh store of each dialect: "sqlite",
// and "postgres" when EnvPostgresDSN is set (skipped otherwise).
func EachStore(t *testing.T, f func(t *testing.T, st store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, OpenPostgres(t)) })
}

// DefaultWait is WaitFor's timeout when it is given none.
const DefaultWait = 30 * time.Second

// WaitFor polls cond until it reports true, and fails the test when timeout
// (DefaultWait when zero) passes first; what names the awaited condition in
// the failure. Polls start every millisecond and slow to every 50 ms. It is
// for conditions no event announces — another process's progress, a
// database row — and never a way to let time pass.
func WaitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	timeout = cmp.Or(timeout, DefaultWait)
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Main runs a package's tests and then fails the run if any goroutine the
// tests started is still running: a leak means something was not stopped
// or closed. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { sluicetest.Main(m) }
func Main(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, opts...)
}

// StartEngine builds an engine from cfg (Store and Stages are required),
// starts it, and stops it when the test ends, letting running jobs finish.
func StartEngine(tb testing.TB, cfg engine.Config) *engine.Engine {
	tb.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, cfg)
	if err != nil {
		tb.Fatalf("new engine: %v", err)
	}
	if err := e.Start(ctx); err != nil {
		tb.Fatalf("start engine: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			tb.Errorf("stop engine: %v", err)
		}
	})
	return e
}

// PostgresSchemaURL returns the test database's URL with search_path set
// to a schema of its own, created now and dropped when the test ends: what a
// separate process (a `sluice serve`) is given to share a fresh database.
func PostgresSchemaURL(tb testing.TB) string {
	tb.Helper()
	dsn := PostgresDSN(tb)
	schema := NewSchema(tb, dsn)
	st, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
	if err != nil {
		tb.Fatal(err)
	}
	st.Close()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", EnvPostgresDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Auth returns an authenticator over s and the secret of a new API token
// with the given roles (auth.RoleAdmin for an admin), named name.
func Auth(tb testing.TB, s store.Store, name string, roles ...string) (*auth.Authenticator, string) {
	tb.Helper()
	a, err := auth.NewAuthenticator(s, auth.Config{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	secret, _, err := a.CreateToken(tb.Context(), auth.TokenParams{Name: name, Roles: roles, CreatedBy: "test"})
	if err != nil {
		tb.Fatalf("create token %s: %v", name, err)
	}
	return a, secret
}
