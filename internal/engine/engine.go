package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/store"
)

// ErrConflict is returned (wrapped, with a message naming the state) when an
// operation is not allowed in the execution's or stage's current state, such
// as judging a stage that is not waiting for a judgment.
var ErrConflict = errors.New("conflict")

// conflictf returns an error wrapping ErrConflict.
func conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

// Defaults for Config.
const (
	DefaultWorkers    = 32
	DefaultJobTimeout = 20 * time.Minute
	// DefaultJudgmentTimeout is how long a manual judgment waits when its
	// stage sets no stageTimeoutMs (Orca's three days).
	DefaultJudgmentTimeout = 72 * time.Hour
)

// Config configures an Engine. The zero value of every optional field
// means the documented default.
type Config struct {
	Store  store.Store     // required
	Stages *stage.Registry // required
	// Logger defaults to a logger that discards everything.
	Logger *slog.Logger
	// Clock defaults to time.Now.
	Clock func() time.Time
	// Workers is how many jobs run at once in this process (DefaultWorkers).
	Workers int
	// JobTimeout bounds one job run (DefaultJobTimeout); a task that calls a
	// slow API must return Running and be polled rather than block.
	JobTimeout time.Duration
	// RescueAfter is how long a job left running by a dead process waits
	// before another process runs it again. On SQLite, where one process
	// owns the database, the engine instead rescues such jobs at start.
	// Defaults to JobTimeout plus one minute.
	RescueAfter time.Duration
	// EventPollInterval is how often subscribers look for events written by
	// other processes (default 500ms). Events from this process are
	// delivered at once.
	EventPollInterval time.Duration
	// NodeID names this process among those sharing a Postgres database,
	// the same across its restarts (at most 100 characters). With it, a
	// restarted process runs again at once the jobs it was running when it
	// died, rather than after RescueAfter, and a second process with the
	// same ID fails to start; see nodeLock. Ignored on SQLite, where one
	// process owns the database.
	NodeID string
}

// Engine runs executions. Each step of work is a River job; the engine keeps
// no execution in memory between jobs.
type Engine struct {
	store    store.Store
	stages   *stage.Registry
	log      *slog.Logger
	now      func() time.Time
	q        queue
	docs     *docCache
	events   *broker
	pollEach time.Duration

	nodeID   string
	nodeLock *nodeLock // held while started, on Postgres with a NodeID

	mu      sync.Mutex
	started bool
}

// New builds an engine and migrates River's tables in the store's database.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Stages == nil {
		return nil, errors.New("engine: Config.Store and Config.Stages are required")
	}
	if len(cfg.NodeID) > 100 {
		return nil, fmt.Errorf("engine: node ID %q is longer than 100 characters", cfg.NodeID)
	}
	e := &Engine{
		store:    cfg.Store,
		stages:   cfg.Stages,
		log:      cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		now:      cfg.Clock,
		docs:     newDocCache(),
		events:   newBroker(),
		pollEach: cmp.Or(cfg.EventPollInterval, 500*time.Millisecond),
	}
	if cfg.Store.Dialect() == store.DialectPostgres {
		e.nodeID = cfg.NodeID
	}
	if e.now == nil {
		e.now = time.Now
	}
	jobTimeout := cmp.Or(cfg.JobTimeout, DefaultJobTimeout)
	workers := river.NewWorkers()
	river.AddWorker(workers, &startExecutionWorker{e: e})
	river.AddWorker(workers, &runStageWorker{e: e})
	q, err := newQueue(ctx, cfg.Store, queueConfig{
		Workers:     workers,
		MaxWorker:   cmp.Or(cfg.Workers, DefaultWorkers),
		Logger:      e.log.With("subsystem", "river"),
		JobTimeout:  jobTimeout,
		RescueAfter: cmp.Or(cfg.RescueAfter, jobTimeout+time.Minute),
		ClientID:    e.nodeID,
	})
	if err != nil {
		return nil, err
	}
	e.q = q
	return e, nil
}

// Start starts the workers. Jobs left running by a previous process on
// SQLite are made available again first.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return nil
	}
	if e.store.Dialect() == store.DialectSQLite {
		if err := rescueOrphanJobs(ctx, e.store); err != nil {
			return err
		}
	}
	if pool, ok := e.store.DB().(*pgxpool.Pool); ok && e.nodeID != "" {
		l, err := lockNode(ctx, pool, e.nodeID)
		if err != nil {
			return err
		}
		e.nodeLock = l
	}
	if err := e.q.start(ctx); err != nil {
		e.releaseNode(ctx)
		return fmt.Errorf("start river: %w", err)
	}
	e.started = true
	return nil
}

// releaseNode lets go of the node's lock, if the engine holds it.
func (e *Engine) releaseNode(ctx context.Context) {
	if e.nodeLock == nil {
		return
	}
	if err := e.nodeLock.release(ctx); err != nil {
		e.log.WarnContext(ctx, "release node lock", "node_id", e.nodeID, "error", err)
	}
	e.nodeLock = nil
}

// Stop stops taking new jobs and waits for running ones to finish, or for
// ctx to end. It is safe to call before Start and more than once.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		return nil
	}
	e.started = false
	err := e.q.stop(ctx)
	e.releaseNode(ctx)
	return err
}

// inTx runs fn in a store transaction with a fresh transition builder and,
// after commit, wakes the workers and the event subscribers.
func (e *Engine) inTx(ctx context.Context, fn func(t *txn) error) error {
	var t *txn
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		t = &txn{e: e, tx: tx, ctx: ctx, now: e.now().UTC()}
		return fn(t)
	})
	if err != nil {
		return err
	}
	if t.jobs > 0 {
		e.q.committed()
	}
	if t.events > 0 {
		e.events.notify()
	}
	return nil
}

// change runs fn on the execution loaded and locked in a transaction, and
// saves what fn changed when it returns nil.
func (e *Engine) change(ctx context.Context, executionID string, fn func(t *txn, r *run) error) error {
	return e.inTx(ctx, func(t *txn) error {
		r, err := t.load(executionID)
		if err != nil {
			return err
		}
		if err := fn(t, r); err != nil {
			return err
		}
		return r.save()
	})
}

// inJobTx is inTx for a job's own transition: the transaction that
// records what a job did, inserts the jobs it makes due and completes the
// job itself. Such a transaction may commit without waiting for the disk
// flush (Postgres synchronous_commit off): if the database crashes and
// loses it, it loses the job's completion with it, so the job runs again
// from the state before — which tasks, being idempotent, handle. What people
// do (trigger, judge, cancel) always commits durably through inTx.
func (e *Engine) inJobTx(ctx context.Context, fn func(t *txn) error) error {
	return e.inTx(ctx, func(t *txn) error {
		if err := e.q.relaxCommit(ctx, t.tx); err != nil {
			return err
		}
		return fn(t)
	})
}

// txn carries one transaction and counts what it wrote.
type txn struct {
	e      *Engine
	tx     store.Tx
	ctx    context.Context
	now    time.Time
	jobs   int
	events int
}

func (t *txn) insertJob(args river.JobArgs, opts *river.InsertOpts) error {
	t.jobs++
	return t.e.q.insertTx(t.ctx, t.tx, args, opts)
}
