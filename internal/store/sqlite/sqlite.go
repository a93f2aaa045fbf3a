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
// Writes have exactly one connection, because River (riversqlite) shares
// the *sql.DB that DB returns and requires it, and because SQLite has one
// writer anyway. Consequences: every write transaction begins with BEGIN
// IMMEDIATE (the _txlock DSN parameter), so two writers, even in different
// processes, never deadlock upgrading a read lock; and inside InTx all work
// must go through the Tx, since the Store's own writes wait for the one
// connection the transaction holds.
//
// Reads have a pool of their own: read-only connections (query_only) to the
// same file, ReadConns of them by default. In WAL mode readers run beside
// the writer, each on the snapshot of the last commit when its read
// transaction began, so the reads made outside a transaction — API GETs,
// the event streams, /health's Ping — never wait for a transaction that
// holds the write connection, however long it runs (a stage that starts
// evaluates its expressions inside one). A read that begins after InTx returned sees
// what it committed. Inside InTx, reads go through the Tx as before: a
// read on the Store there would not see the transaction's own writes.
//
// A ":memory:" database has no pool for reads: a private in-memory
// database exists on one connection only, and a shared-cache one
// ("file::memory:?cache=shared") locks tables instead of using a
// write-ahead log, so the writer would lock its readers out all the same.
// It is for tests, which do not need reads beside a writer.
//
// Every commit is on the disk when it returns, and reads show nothing that
// is not (durable.go): the store flushes the write-ahead log itself, one
// flush for every commit that ended before it began, rather than SQLite
// flushing at each commit under the write lock (synchronous=FULL).
//
// Every connection keeps its prepared statements (cachingConn): without
// that, SQLite parsed every query, the store's and River's, afresh each
// time.
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
	reads  *sql.DB // nil for ":memory:" or WithReadConns(0)
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
	readConns   int
	relaxed     bool
	stageCache  int
	verifyCache bool
}

// StageCache is how many executions' stages the Store keeps between
// transactions unless WithStageCache says otherwise: enough for the
// executions a busy engine has running. Whatever the number, the cache
// holds no more than 32 MB of stages.
const StageCache = 1024

// ReadConns is how many connections the pool for reads has unless
// WithReadConns says otherwise. Reads through modernc.org/sqlite are
// CPU-bound, so more than the cores buys little; a few keep one slow read
// (a long event list) from holding up the others.
const ReadConns = 4

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

// WithReadConns sets how many read-only connections serve the reads made
// outside a transaction, and Ping. Zero means none: every read waits for the
// one write connection, as before there was a pool for reads (benchmarks
// compare the two). Default: ReadConns. A ":memory:" database has none
// whatever this says.
func WithReadConns(n int) Option {
	return func(o *options) { o.readConns = max(n, 0) }
}

// WithRelaxedCommits makes commits return before they are on the disk, as
// they did before Sluice was durable by default: a power loss or an
// operating-system crash can then lose the last acknowledged changes
// (never corrupt the file; a crash of the process alone loses nothing).
// Benchmarks use it to measure what durability costs.
func WithRelaxedCommits() Option {
	return func(o *options) { o.relaxed = true }
}

// WithStageCache sets how many executions' stages the Store keeps between
// transactions, so that locking an execution reads only its row (package
// sqlstore's stageCache). Zero turns the cache off. Default: StageCache.
func WithStageCache(n int) Option {
	return func(o *options) { o.stageCache = max(n, 0) }
}

// WithVerifiedStageCache makes every lock that finds an execution's stages
// in the cache read them from the database all the same, and fail when the
// two differ. Tests use it to check the cache under everything they do.
func WithVerifiedStageCache() Option {
	return func(o *options) { o.verifyCache = true }
}

// Open opens (creating if needed) the database at path and applies the
// migrations. path is a file path or ":memory:" (one private in-memory
// database, for tests; it lives as long as the Store, on one connection).
// A file database is locked for this Store alone; ErrInUse (wrapped) says
// another has it.
//
// The write connection uses WAL (file databases), synchronous=NORMAL,
// foreign keys and a busy timeout, and begins write transactions
// IMMEDIATE; the read connections are query_only, with the same busy
// timeout.
//
// Every commit of the Store is durable when it returns — a transaction of
// InTx, or a write outside one — so what the API acknowledged survives a
// power loss: the Store flushes the write-ahead log itself after the
// commit, one flush for all the commits that ended before it began (see
// walSync), rather than SQLite doing it under the write lock at every
// commit (synchronous=FULL). And a read of the Store returns only what is
// on the disk, waiting for the flush when it may have seen a commit not yet
// flushed. River's own commits on the shared connection (fetching jobs, its
// bookkeeping) are not flushed on their own; each flush carries them to the
// disk with the rest. WithRelaxedCommits turns the flushes off.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := defaultOptions()
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

func defaultOptions() options {
	return options{now: time.Now, busyTimeout: 5 * time.Second, readConns: ReadConns, stageCache: StageCache}
}

// open opens the database at path, which the caller has locked.
func open(ctx context.Context, path string, o options) (*Store, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := openDB(path, q, 1)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The pool for reads connects lazily, after the migrations below have
	// put the file in WAL mode; the mode is kept in the file, so the read
	// connections need not set it.
	var reads *sql.DB
	if path != ":memory:" && o.readConns > 0 {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
		q.Add("_pragma", "query_only(1)")
		if reads, err = openDB(path, q, o.readConns); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s for reads: %w", path, err)
		}
	}
	closeAll := func() {
		if reads != nil {
			reads.Close()
		}
		db.Close()
	}

	migrations, err := fs.Sub(migrationFS, "migration")
	if err != nil {
		closeAll()
		return nil, err
	}
	writes := &pool{db: db}
	if path != ":memory:" && !o.relaxed {
		writes.wal = newWALSync(path)
	}
	cfg := sqlstore.Config{
		Dialect:          store.DialectSQLite,
		Pool:             writes,
		Migrations:       migrations,
		Now:              o.now,
		StageCache:       o.stageCache,
		VerifyStageCache: o.verifyCache,
	}
	if reads != nil {
		cfg.Reads = &pool{db: reads, wal: writes.wal, reads: true}
	}
	s, err := sqlstore.New(ctx, cfg)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &Store{Store: s, db: db, reads: reads}, nil
}

// openDB returns a pool of up to n connections to path with the DSN
// parameters q, each connection keeping its prepared statements. The
// connections stay open for the life of the pool: a ":memory:" database
// dies with its connection, and a statement cache with its.
func openDB(path string, q url.Values, n int) (*sql.DB, error) {
	connector, err := sqlite.NewConnector(path + "?" + q.Encode())
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(cachingConnector{Connector: connector, size: stmtCacheSize})
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
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

// Events are inserted without RETURNING, in and outside a transaction.
var (
	_ sqlstore.RowIDInserter = (*tx)(nil)
	_ sqlstore.RowIDInserter = (*pool)(nil)
)

// InsertRowID implements sqlstore.RowIDInserter.
func (e executor) InsertRowID(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := e.c.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, translate(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, translate(err)
	}
	return id, nil
}

// pool adapts *sql.DB to sqlstore.Pool.
type pool struct {
	db *sql.DB
	// wal, when set, makes the pool's statements and commits durable, and
	// its reads show only what is durable (see walSync). A file database
	// with durable commits has one, shared by both its pools.
	wal *walSync
	// reads says the pool is the one for reads, whose statements only
	// read; the write pool's statements outside a transaction may write.
	reads bool
}

// start is called before a statement outside a transaction, or a commit,
// and returns what to call with its outcome.
func (p *pool) start(write bool) func(error) error {
	switch {
	case p.wal == nil:
		return func(err error) error { return err }
	case write:
		p.wal.begin()
		return p.wal.committed
	}
	return func(err error) error {
		if err != nil {
			return err
		}
		return p.wal.read()
	}
}

func (p *pool) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	done := p.start(!p.reads)
	n, err := executor{p.db}.Exec(ctx, query, args...)
	return n, done(err)
}

func (p *pool) InsertRowID(ctx context.Context, query string, args ...any) (int64, error) {
	done := p.start(!p.reads)
	id, err := executor{p.db}.InsertRowID(ctx, query, args...)
	return id, done(err)
}

func (p *pool) Query(ctx context.Context, query string, args []any, scan func(sqlstore.Row) error) error {
	done := p.start(!p.reads)
	return done(executor{p.db}.Query(ctx, query, args, scan))
}

func (p *pool) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	done := p.start(!p.reads)
	return endedRow{Row: executor{p.db}.QueryRow(ctx, query, args...), done: done}
}

// endedRow is the row of a statement outside a transaction, which ends
// when the row is scanned.
type endedRow struct {
	sqlstore.Row
	done func(error) error
}

func (r endedRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, store.ErrNotFound) {
		// No row is an answer, not a failed statement.
		if derr := r.done(nil); derr != nil {
			return derr
		}
		return err
	}
	return r.done(err)
}

// Begin starts a transaction: BEGIN IMMEDIATE for writes (from the DSN's
// _txlock), a deferred BEGIN for reads.
func (p *pool) Begin(ctx context.Context, readOnly bool) (sqlstore.PoolTx, error) {
	t, err := p.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return nil, translate(err)
	}
	return &tx{executor: executor{t}, tx: t, p: p, write: !readOnly && !p.reads}, nil
}

func (p *pool) Ping(ctx context.Context) error { return p.db.PingContext(ctx) }
func (p *pool) Close() error                   { return p.db.Close() }

// tx adapts *sql.Tx to sqlstore.PoolTx.
type tx struct {
	executor
	tx    *sql.Tx
	p     *pool
	write bool
}

// Commit commits, and returns once the commit is durable, or, for a
// read-only transaction, once what it read is (see walSync).
func (t *tx) Commit(context.Context) error {
	done := t.p.start(t.write)
	return done(translate(t.tx.Commit()))
}

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
