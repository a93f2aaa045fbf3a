// Package sqlite is the default store.Store: one SQLite database file,
// through modernc.org/sqlite (pure Go, no cgo). The SQL itself is shared
// with Postgres in package sqlstore; this package owns the connection
// settings, the driver adapter and the SQLite migrations.
//
// One process owns a database file: Open takes an exclusive lock on
// PATH.lock (package lockfile) and Close releases it, so a second process —
// or a second Open — on the same file fails with ErrInUse. The job queue
// relies on it: jobs it finds running at start were left by a process
// that is gone.
//
// The pool has exactly one connection, because River (riversqlite) shares
// the *sql.DB that DB returns and requires it, and because SQLite has one
// writer anyway. Consequences: every write transaction begins with BEGIN
// IMMEDIATE (the _txlock DSN parameter), so two writers, even in different
// processes, never deadlock upgrading a read lock; and inside InTx all work
// must go through the Tx, since the Store's own methods wait for the one
// connection the transaction holds.
//
// The connection keeps its prepared statements (cachingConn): without that,
// SQLite parsed every query, the store's and River's, afresh each time.
//
// This package must not hold SQL that could be shared; it adds to sqlstore
// only what is SQLite's.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sluice-cd/sluice/internal/lockfile"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/sqlstore"
)

//go:embed migration/*.up.sql
var migrationFS embed.FS

// Store is the SQLite store.Store. Its methods are sqlstore.Store's, plus
// DB for the job queue.
type Store struct {
	*sqlstore.Store
	db     *sql.DB
	unlock func() error
}

// ErrInUse is returned by Open when another process (or another Store of
// this one) has the database open.
var ErrInUse = errors.New("in use by another sluice process")

// DB returns the store's one-connection *sql.DB, which the job queue shares.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database and releases its lock.
func (s *Store) Close() error {
	err := s.Store.Close()
	if uerr := s.unlock(); err == nil {
		err = uerr
	}
	return err
}

// DriverTx returns the *sql.Tx under tx, a transaction of a Store of this
// package, for the job queue.
func DriverTx(ctx context.Context, tx store.Tx) (*sql.Tx, error) {
	raw, err := sqlstore.DriverTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	t, ok := raw.(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("sqlite: %T is not a SQLite transaction", tx)
	}
	return t, nil
}

// Option configures Open.
type Option func(*options)

type options struct {
	now         func() time.Time
	busyTimeout time.Duration
}

// WithClock sets the clock used for times the caller leaves zero (pipeline
// revision times, CreatedAt/UpdatedAt of new rows). Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// process before failing with SQLITE_BUSY. Default: 5s.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// Open opens (creating if needed) the database at path and applies the
// migrations. path is a file path or ":memory:" (one private in-memory
// database, for tests; it lives as long as the Store). A file database is
// locked for this Store alone; ErrInUse (wrapped) says another has it.
//
// The connection uses WAL (file databases), synchronous=NORMAL, foreign
// keys and a busy timeout, and begins write transactions IMMEDIATE. With WAL,
// synchronous=NORMAL does not fsync at each commit: a power failure can lose
// the last transactions but never corrupts the file; a crash of the process
// alone loses nothing.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, busyTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, errors.New("open sqlite: path is empty")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite %s: path must not contain ? or #", path)
	}
	unlock := func() error { return nil }
	if path != ":memory:" {
		var err error
		if unlock, err = lockfile.Lock(path + ".lock"); err != nil {
			if errors.Is(err, lockfile.ErrLocked) {
				return nil, fmt.Errorf("open sqlite %s: %w", path, ErrInUse)
			}
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
	}
	s, err := open(ctx, path, o)
	if err != nil {
		unlock()
		return nil, err
	}
	s.unlock = unlock
	return s, nil
}

// open opens the database at path, which the caller has locked.
func open(ctx context.Context, path string, o options) (*Store, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	connector, err := sqlite.NewConnector(path + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db := sql.OpenDB(cachingConnector{Connector: connector, size: stmtCacheSize})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	// Never recycle the connection: a ":memory:" database dies with it.
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	migrations, err := fs.Sub(migrationFS, "migration")
	if err != nil {
		db.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, sqlstore.Config{
		Dialect:    store.DialectSQLite,
		Pool:       &pool{db: db},
		Migrations: migrations,
		Now:        o.now,
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &Store{Store: s, db: db}, nil
}

// conn is what *sql.DB and *sql.Tx have in common.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// executor adapts a conn to sqlstore.Executor.
type executor struct{ c conn }

func (e executor) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := e.c.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, translate(err)
	}
	return n, nil
}

func (e executor) Query(ctx context.Context, query string, args []any, scan func(sqlstore.Row) error) error {
	rows, err := e.c.QueryContext(ctx, query, args...)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return translate(err)
		}
	}
	if err := rows.Err(); err != nil {
		return translate(err)
	}
	return translate(rows.Close())
}

func (e executor) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return row{e.c.QueryRowContext(ctx, query, args...)}
}

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error { return translate(r.r.Scan(dest...)) }

// pool adapts *sql.DB to sqlstore.Pool.
type pool struct{ db *sql.DB }

func (p *pool) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return executor{p.db}.Exec(ctx, query, args...)
}

func (p *pool) Query(ctx context.Context, query string, args []any, scan func(sqlstore.Row) error) error {
	return executor{p.db}.Query(ctx, query, args, scan)
}

func (p *pool) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return executor{p.db}.QueryRow(ctx, query, args...)
}

// Begin starts a transaction: BEGIN IMMEDIATE for writes (from the DSN's
// _txlock), a deferred BEGIN for reads.
func (p *pool) Begin(ctx context.Context, readOnly bool) (sqlstore.PoolTx, error) {
	t, err := p.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return nil, translate(err)
	}
	return &tx{executor: executor{t}, tx: t}, nil
}

func (p *pool) Ping(ctx context.Context) error { return p.db.PingContext(ctx) }
func (p *pool) Close() error                   { return p.db.Close() }

// tx adapts *sql.Tx to sqlstore.PoolTx.
type tx struct {
	executor
	tx *sql.Tx
}

func (t *tx) Commit(context.Context) error { return translate(t.tx.Commit()) }

func (t *tx) Rollback(context.Context) error {
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

func (t *tx) Driver(context.Context) (any, error) { return t.tx, nil }

// translate maps driver errors to what sqlstore branches on.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var serr *sqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %w", sqlstore.ErrForeignKey, err)
		}
	}
	return err
}
