// Package postgres is the store.Store for running several Sluice processes
// on one database: Postgres through pgx/v5's pgxpool. The SQL itself is
// shared with SQLite in package sqlstore; this package owns the pool, the
// driver adapter and the Postgres migrations.
//
// The job queue (River's riverpgxv5) shares the pool that Store.Pool returns
// and takes the pgx.Tx that DriverTx returns, so a state change and the job
// that follows it commit together. Transactions are READ COMMITTED; callers serialise work on one
// execution with ExecutionLock (SELECT … FOR UPDATE).
//
// This package must not hold SQL that could be shared; it adds to sqlstore
// only what is Postgres's.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/sqlstore"
)

//go:embed migration/*.up.sql
var migrationFS embed.FS

// Store is the Postgres store.Store. Its methods are sqlstore.Store's, plus
// Pool for the job queue.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool

	mu    sync.Mutex
	queue *pgxpool.Pool // QueuePool's; nil until asked for
}

// Pool returns the store's connection pool, which the job queue shares.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// QueueMaxConns is the size of the pool QueuePool returns.
const QueueMaxConns = 8

// QueuePool returns a second pool on the store's database, opened on first
// use and closed with the store, for the job queue's own bookkeeping: River
// fetching jobs, recording the outcome of a job that did not complete
// itself (a snooze, a retry), its maintenance. Its connections commit
// without waiting for the disk (synchronous_commit off): a power loss can
// undo such a commit, and each is safe to lose — a fetch undone leaves
// the job available, a recorded snooze or retry undone leaves it running
// until the queue rescues it, and a job runs again from its last durable
// state either way (jobs may run twice). Everything that records what
// happened — the engine's transitions, the jobs they insert, a job's own
// completion — commits on Pool, durably. A commit that waits for the disk
// also carries to it every commit before it, these included.
func (s *Store) QueuePool(ctx context.Context) (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queue != nil {
		return s.queue, nil
	}
	cfg := s.pool.Config()
	cfg.MaxConns = QueueMaxConns
	cfg.MinConns = 0
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the job queue's pool: %w", err)
	}
	s.queue = p
	return p, nil
}

// Close closes the store's pools.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.queue != nil {
		s.queue.Close()
		s.queue = nil
	}
	s.mu.Unlock()
	return s.Store.Close()
}

// DriverTx returns the pgx.Tx under tx, a transaction of a Store of this
// package, for the job queue. What tx holds is sent first, so an error of a
// held write can come from here.
func DriverTx(ctx context.Context, tx store.Tx) (pgx.Tx, error) {
	raw, err := sqlstore.DriverTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	t, ok := raw.(pgx.Tx)
	if !ok {
		return nil, fmt.Errorf("postgres: %T is not a Postgres transaction", tx)
	}
	return t, nil
}

// Option configures Open.
type Option func(*options)

type options struct {
	now    func() time.Time
	schema string
	tracer pgx.QueryTracer // tests count round trips with it
}

// WithClock sets the clock used for times the caller leaves zero (pipeline
// revision times, CreatedAt/UpdatedAt of new rows). Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithSchema puts Sluice's tables in schema: Open creates it if it does not
// exist, and every connection of the pool gets search_path = schema, so
// River's tables, created through the same pool, land there too. Tests use a
// fresh schema each to run in parallel on one database. Default: the DSN's
// search_path, normally public.
func WithSchema(schema string) Option {
	return func(o *options) { o.schema = schema }
}

// DefaultMaxConns is the pool size when the DSN sets no pool_max_conns.
const DefaultMaxConns = 24

// Open connects to dsn (a postgres:// URL or key=value string, as pgx
// accepts) and applies the migrations. Concurrent Opens on one database are
// safe: migrations run under an advisory lock.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password in the message.
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default (the number of CPUs, at least 4) starves the
		// engine: River's workers and its maintenance share this pool.
		cfg.MaxConns = DefaultMaxConns
	}
	if o.schema != "" {
		if err := createSchema(ctx, cfg.ConnConfig, o.schema); err != nil {
			return nil, err
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{o.schema}.Sanitize()
	}
	cfg.ConnConfig.Tracer = o.tracer
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	migrations, err := fs.Sub(migrationFS, "migration")
	if err != nil {
		p.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, sqlstore.Config{
		Dialect:    store.DialectPostgres,
		Pool:       &pool{p: p},
		Migrations: migrations,
		Now:        o.now,
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &Store{Store: s, pool: p}, nil
}

// createSchema creates schema on a connection of its own.
func createSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		// Two processes creating the schema at once can race on the
		// catalog; the loser finds the schema there.
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != uniqueViolation {
			return fmt.Errorf("open postgres: create schema %s: %w", schema, err)
		}
	}
	return nil
}

// DropSchema drops a schema made with WithSchema and everything in it,
// River's tables included. Tests and benchmarks use it to clean up.
func DropSchema(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// conn is what *pgxpool.Pool and pgx.Tx have in common.
type conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// executor adapts a conn to sqlstore.Executor.
type executor struct{ c conn }

func (e executor) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := e.c.Exec(ctx, query, args...)
	if err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}

func (e executor) Query(ctx context.Context, query string, args []any, scan func(sqlstore.Row) error) error {
	rows, err := e.c.Query(ctx, query, args...)
	if err != nil {
		return translate(err)
	}
	return scanRows(rows, scan)
}

func (e executor) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return row{e.c.QueryRow(ctx, query, args...)}
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error { return translate(r.r.Scan(dest...)) }

// pool adapts *pgxpool.Pool to sqlstore.Pool.
type pool struct{ p *pgxpool.Pool }

func (p *pool) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return executor{p.p}.Exec(ctx, query, args...)
}

func (p *pool) Query(ctx context.Context, query string, args []any, scan func(sqlstore.Row) error) error {
	return executor{p.p}.Query(ctx, query, args, scan)
}

func (p *pool) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return executor{p.p}.QueryRow(ctx, query, args...)
}

// Begin starts a READ COMMITTED transaction, or a REPEATABLE READ READ ONLY
// one for consistent multi-statement reads. Nothing is sent yet: see tx.
func (p *pool) Begin(ctx context.Context, readOnly bool) (sqlstore.PoolTx, error) {
	opts := pgx.TxOptions{}
	if readOnly {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	return &tx{pool: p.p, opts: opts}, nil
}

func (p *pool) Ping(ctx context.Context) error { return p.p.Ping(ctx) }

func (p *pool) Close() error {
	p.p.Close()
	return nil
}

// SQLSTATE codes translate maps.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
	noDataFound         = "P0002" // raised by sluice_changed (migration 007)
)

// translate maps driver errors to what sqlstore branches on.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case uniqueViolation:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case foreignKeyViolation:
			return fmt.Errorf("%w: %w", sqlstore.ErrForeignKey, err)
		case noDataFound:
			return store.ErrNotFound
		}
	}
	return err
}
