package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

// Config is what a dialect package hands New.
type Config struct {
	// Dialect selects the SQL variant. Required.
	Dialect store.Dialect
	// Pool is the driver adapter. Required. The Store closes it.
	Pool Pool
	// Reads, when set, is a second pool for the reads made outside a
	// transaction — the Querier methods that only read, called on the
	// Store — and for Ping, so that they need not wait for a connection
	// of Pool (SQLite's one connection, held by a transaction). It must
	// see every transaction of Pool that has committed, and it is only
	// read from. The Store closes it. Zero value: Pool serves everything.
	Reads Pool
	// Migrations holds NNN_name.up.sql files at its root. Required.
	Migrations fs.FS
	// Now is the clock for times the caller left zero. Zero value: time.Now.
	Now func() time.Time
	// StageCache, when above zero, keeps the stages of up to that many
	// executions between transactions, for ExecutionLock (stageCache).
	// Only for a database that this Store alone writes, through the one
	// connection of Pool, in a dialect with a data version (SQLite).
	StageCache int
	// VerifyStageCache makes ExecutionLock read the stages it found in the
	// cache all the same, and fail when they differ: for tests.
	VerifyStageCache bool
}

// Store implements store.Store over a Pool.
type Store struct {
	querier
	pool  Pool
	reads Pool // nil: pool serves reads too
}

var _ store.Store = (*Store)(nil)

// New applies cfg.Migrations and returns the Store. On error the pool is
// left open for the caller to close.
func New(ctx context.Context, cfg Config) (*Store, error) {
	d, err := newDialect(cfg.Dialect)
	if err != nil {
		return nil, err
	}
	if cfg.Pool == nil || cfg.Migrations == nil {
		return nil, fmt.Errorf("sqlstore: Config.Pool and Config.Migrations are required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if err := migrate(ctx, cfg.Pool, d, cfg.Migrations, normTime(now())); err != nil {
		return nil, err
	}
	if cfg.StageCache > 0 && d.dataVersion == "" {
		return nil, fmt.Errorf("sqlstore: %s has no data version for a stage cache", d.name)
	}
	s := &Store{
		querier: querier{d: d, ex: cfg.Pool, pool: cfg.Pool, now: now},
		pool:    cfg.Pool,
		reads:   cfg.Reads,
	}
	if cfg.StageCache > 0 {
		s.querier.stages = newStageCache(cfg.StageCache, cfg.VerifyStageCache)
	}
	if cfg.Reads != nil {
		s.querier.reads = &querier{d: d, ex: cfg.Reads, pool: cfg.Reads, now: now}
	}
	return s, nil
}

// InTx implements store.Store. fn's error is returned unchanged.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	var t *tx
	err := runTx(ctx, s.pool, false, func(ptx PoolTx) error {
		t = &tx{querier: s.querier.bind(ptx), ptx: ptx}
		return fn(t)
	})
	if err == nil {
		t.txs.committed()
	}
	return err
}

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return s.d.name }

// Ping implements store.Store. With a pool for reads, it pings that pool:
// what a health check asks is whether reads are answered, and on SQLite
// the write pool's one connection may be held by a transaction.
func (s *Store) Ping(ctx context.Context) error {
	if s.reads != nil {
		return s.reads.Ping(ctx)
	}
	return s.pool.Ping(ctx)
}

// Close implements store.Store. It closes the pool for reads first, so
// that on SQLite the write connection is the last to close: the last one
// checkpoints the write-ahead log into the database file and removes it.
func (s *Store) Close() error {
	var err error
	if s.reads != nil {
		err = s.reads.Close()
	}
	return errors.Join(err, s.pool.Close())
}

// tx implements store.Tx.
type tx struct {
	querier
	ptx PoolTx
}

// DriverTx returns the driver's transaction under tx, a transaction of a
// Store of this package: *sql.Tx on SQLite, pgx.Tx on Postgres. Where the
// driver pipelines, what tx holds is sent first, so an error of a held
// write can come from here. The dialect packages wrap it with their
// driver's type.
func DriverTx(ctx context.Context, t store.Tx) (any, error) {
	tx, err := ofStore(t)
	if err != nil {
		return nil, err
	}
	return tx.ptx.Driver(ctx)
}

// ExecHeld runs a statement of the caller's own in tx, a transaction of a
// Store of this package, held and sent with the next one where the driver
// pipelines (see Pipeliner), else at once; failed, when set, is given its
// error, translated, and returns the error to report. query uses the
// driver's own placeholders. The job queue uses it for its statements on
// its own tables, which share the transaction.
func ExecHeld(ctx context.Context, t store.Tx, query string, args []any, failed func(error) error) error {
	tx, err := ofStore(t)
	if err != nil {
		return err
	}
	return tx.execHeld(ctx, query, args, failed)
}

// ExecOne is ExecHeld for a statement that must change a row; failed is
// given store.ErrNotFound when it changed none. Where the driver
// pipelines, the database checks it (see execOne).
func ExecOne(ctx context.Context, t store.Tx, query string, args []any, failed func(error) error) error {
	tx, err := ofStore(t)
	if err != nil {
		return err
	}
	return tx.execOne(ctx, query, args, failed, nil)
}

// ofStore returns t as a transaction of a Store of this package.
func ofStore(t store.Tx) (*tx, error) {
	tx, ok := t.(*tx)
	if !ok {
		return nil, fmt.Errorf("sqlstore: %T is not a transaction of this store", t)
	}
	return tx, nil
}

// runTx runs fn in a transaction of pool, committing when fn returns nil.
// It rolls back when fn fails or panics; a failed rollback means a broken
// connection, which the pool discards, so its error is not reported over
// fn's.
func runTx(ctx context.Context, pool Pool, readOnly bool, fn func(PoolTx) error) error {
	ptx, err := pool.Begin(ctx, readOnly)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(ptx); err != nil {
		return err
	}
	done = true
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// querier implements store.Querier on an Executor: the pool (auto-commit)
// or one transaction.
type querier struct {
	d   *dialect
	ex  Executor
	now func() time.Time
	// pool is set outside a transaction: operations of several statements
	// open their own transaction on it.
	pool Pool
	// reads is set outside a transaction when the Store has a pool for
	// reads (Config.Reads): the querier on that pool.
	reads *querier
	// stages is the Store's stage cache, if it keeps one (Config.StageCache);
	// txs is a transaction's part in it.
	stages *stageCache
	txs    *txStages
}

// bind returns q running in ptx.
func (q querier) bind(ptx PoolTx) querier {
	b := querier{d: q.d, ex: ptx, now: q.now, stages: q.stages}
	if q.stages != nil {
		b.txs = &txStages{c: q.stages, views: map[string]*txView{}}
	}
	return b
}

// reader returns the querier an operation that only reads runs on: q, or,
// outside a transaction, the one on the pool for reads if there is one.
// Each method that only reads starts with it; one that writes must not, since
// the pool for reads is read-only.
func (q *querier) reader() *querier {
	if q.reads != nil {
		return q.reads
	}
	return q
}

// atomic runs fn in q's transaction, or, outside one, in a new transaction.
func (q *querier) atomic(ctx context.Context, readOnly bool, fn func(q *querier) error) error {
	if q.pool == nil {
		return fn(q)
	}
	var b querier
	err := runTx(ctx, q.pool, readOnly, func(ptx PoolTx) error {
		b = q.bind(ptx)
		return fn(&b)
	})
	if err == nil {
		b.txs.committed()
	}
	return err
}

func (q *querier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return q.ex.Exec(ctx, q.d.rebind(query), args...)
}

func (q *querier) queryRow(ctx context.Context, query string, args ...any) Row {
	return q.ex.QueryRow(ctx, q.d.rebind(query), args...)
}

func (q *querier) query(ctx context.Context, query string, args []any, scan func(Row) error) error {
	return q.ex.Query(ctx, q.d.rebind(query), args, scan)
}

// execHeld runs a write whose outcome the caller only reports: now, or, in
// a transaction that pipelines, when the statement is sent with the next
// one or with COMMIT (see Pipeliner). failed, when set, is given the
// statement's error, translated, and returns the error to report.
func (q *querier) execHeld(ctx context.Context, query string, args []any, failed func(error) error) error {
	if p, ok := q.ex.(Pipeliner); ok {
		p.Hold(Held{Query: q.d.rebind(query), Args: args, Checked: true,
			Done: func(_ int64, err error) error { return annotate(err, failed) }})
		return nil
	}
	_, err := q.exec(ctx, query, args...)
	return annotate(err, failed)
}

// execOne is execHeld for a write that must change a row: failed is given
// store.ErrNotFound when it changed none, and changed, when set, runs when
// it changed one. Where the transaction pipelines, the database checks
// that a row changed (dialect.mustChange), so the write too can go with
// COMMIT.
func (q *querier) execOne(ctx context.Context, query string, args []any, failed func(error) error, changed func()) error {
	done := func(err error) error {
		if err != nil {
			return annotate(err, failed)
		}
		if changed != nil {
			changed()
		}
		return nil
	}
	if p, ok := q.ex.(Pipeliner); ok {
		p.Hold(Held{Query: q.d.rebind(q.d.mustChange(query)), Args: args, Checked: true,
			Done: func(_ int64, err error) error { return done(err) }})
		return nil
	}
	n, err := q.exec(ctx, query, args...)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return done(err)
}

// insertHeld is execHeld for an INSERT of one row into a table with an
// integer key, which it passes to set once the row is in.
func (q *querier) insertHeld(ctx context.Context, query string, args []any, set func(id int64), failed func(error) error) error {
	if ins, ok := q.ex.(RowIDInserter); ok {
		id, err := ins.InsertRowID(ctx, q.d.rebind(query), args...)
		if err != nil {
			return annotate(err, failed)
		}
		set(id)
		return nil
	}
	query += `
RETURNING id`
	scan := func(r Row) error {
		var id int64
		if err := r.Scan(&id); err != nil {
			return annotate(err, failed)
		}
		set(id)
		return nil
	}
	if p, ok := q.ex.(Pipeliner); ok {
		p.Hold(Held{Query: q.d.rebind(query), Args: args, Checked: true, Row: scan})
		return nil
	}
	return scan(q.queryRow(ctx, query, args...))
}

// annotate returns err as failed makes it, nil when err is.
func annotate(err error, failed func(error) error) error {
	if err == nil || failed == nil {
		return err
	}
	return failed(err)
}

// queryRowHeld runs a statement that returns one row, which scan reads:
// now, or, in a transaction that pipelines, with the next statement sent.
// It is not Checked: a transaction holding it at its end commits in a
// round trip of its own, after scan has run.
func (q *querier) queryRowHeld(ctx context.Context, query string, args []any, scan func(Row) error) error {
	if p, ok := q.ex.(Pipeliner); ok {
		p.Hold(Held{Query: q.d.rebind(query), Args: args, Row: scan})
		return nil
	}
	return scan(q.queryRow(ctx, query, args...))
}

// stamp returns t normalised, or now when t is zero.
func (q *querier) stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = q.now()
	}
	return normTime(t)
}
