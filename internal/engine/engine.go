package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-cd/sluice/internal/jobqueue"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/trigger"
)

// ErrConflict is returned (wrapped, with a message naming the state) when an
// operation is not allowed in the execution's or stage's current state, such
// as judging a stage that is not waiting for a judgment.
var ErrConflict = errors.New("conflict")

// ConflictError is the error of an operation the execution's or stage's
// current state does not allow. Its message is written for the user: it
// says what state things are in and what is allowed. It is ErrConflict for
// errors.Is.
type ConflictError struct {
	Msg string
}

func (e *ConflictError) Error() string        { return e.Msg }
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// conflictf returns a *ConflictError.
func conflictf(format string, args ...any) error {
	return &ConflictError{Msg: fmt.Sprintf(format, args...)}
}

// Defaults for Config.
const (
	DefaultWorkers    = jobqueue.DefaultMaxWorkers
	DefaultJobTimeout = jobqueue.DefaultJobTimeout
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
	// RescueAfter is how long a job left running by a process the job
	// queue could not tell was dead waits before River runs it again
	// (jobqueue.Config.RescueAfter). Defaults to JobTimeout plus one minute.
	RescueAfter time.Duration
	// EventPollInterval is how often the reader of the event log looks for
	// events written by other processes (default 500ms). Events from this
	// process are delivered at once.
	EventPollInterval time.Duration
	// SubscriberBuffer is how many events may wait for one subscriber
	// (Subscribe) before it is dropped with ErrSubscriberTooSlow
	// (DefaultSubscriberBuffer).
	SubscriberBuffer int
	// NodeID names this process among those sharing a Postgres database,
	// the same across its restarts (jobqueue.Config.NodeID). Ignored on
	// SQLite, where one process owns the database.
	NodeID string
	// DeadNodeCheck is how often, on Postgres, this process looks for jobs
	// of dead peers (jobqueue.Config.DeadNodeCheck).
	DeadNodeCheck time.Duration
	// Metrics, when set, gets the engine's Prometheus collectors
	// (metrics.go); nil exports none.
	Metrics prometheus.Registerer
	// Notifier delivers the notifications of pipelines and stages; nil
	// sends none, and records none.
	Notifier Notifier
	// NotifyAttempts is how many times a notification is sent before it
	// is given up (DefaultNotifyAttempts).
	NotifyAttempts int
	// NotifyBackoff is the wait after a notification's first failed
	// attempt, doubled after each (DefaultNotifyBackoff).
	NotifyBackoff time.Duration
	// CronTimeZone is the time zone of cron triggers that name none
	// (trigger.DefaultTimeZone, Echo's default).
	CronTimeZone string
	// CheckApplication says whether executions of application from may
	// start executions of another application, to: a pipeline stage
	// starting a child, a pipeline trigger firing. Its error says why not
	// and how to allow it. Nil allows only the same application.
	CheckApplication func(from, to string) error
	// Retention says which executions are deleted, and how often
	// (retention.go); the zero value keeps them all.
	Retention Retention
}

// jobQueue is what the engine needs of the durable job queue
// (jobqueue.Queue): jobs go in and are completed only inside the store
// transaction that changes the execution.
type jobQueue interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error
	CompleteTx(ctx context.Context, tx store.Tx, job *rivertype.JobRow) error
	// Committed wakes this process's workers after a commit that inserted
	// jobs; FetchAfter wakes them when a snooze of d ends.
	Committed()
	// CompletedBy says a commit completed the job with this ID, so River
	// need not mark it completed again when its worker returns.
	CompletedBy(jobID int64)
	FetchAfter(d time.Duration)
	// JobCounts counts the queue's jobs by state.
	JobCounts(ctx context.Context) (map[rivertype.JobState]int, error)
}

// Engine runs executions. Each step of work is a River job; the engine keeps
// no execution in memory between jobs.
type Engine struct {
	store   store.Store
	stages  *stage.Registry
	log     *slog.Logger
	now     func() time.Time
	q       jobQueue
	docs    *docCache
	events  *broker
	fanout  *fanout
	metrics *metrics // nil without Config.Metrics

	notifier       Notifier
	notifyAttempts int
	notifyBackoff  time.Duration
	cronTZ         string
	// checkApp is Config.CheckApplication.
	checkApp func(from, to string) error
	// retention is Config.Retention with its defaults; deleted counts
	// what it deleted (nil without Config.Metrics).
	retention Retention
	deleted   *prometheus.CounterVec

	mu      sync.Mutex
	started bool

	// beforeCommit, set by tests only, runs at the end of every
	// transaction of inTx that succeeded, before the commit; completed
	// says whether the transaction completed a job.
	beforeCommit func(ctx context.Context, tx store.Tx, completed bool) error
}

// New builds an engine and migrates River's tables in the store's database.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Stages == nil {
		return nil, errors.New("engine: Config.Store and Config.Stages are required")
	}
	e := &Engine{
		store:  cfg.Store,
		stages: cfg.Stages,
		log:    cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		now:    cfg.Clock,
		docs:   newDocCache(),
		events: newBroker(),

		notifier:       cfg.Notifier,
		notifyAttempts: cmp.Or(cfg.NotifyAttempts, DefaultNotifyAttempts),
		notifyBackoff:  cmp.Or(cfg.NotifyBackoff, DefaultNotifyBackoff),
		cronTZ:         cmp.Or(cfg.CronTimeZone, trigger.DefaultTimeZone),
		checkApp:       cfg.CheckApplication,
		retention:      cfg.Retention,
	}
	e.retention.Interval = cmp.Or(e.retention.Interval, DefaultRetentionInterval)
	e.retention.BatchSize = cmp.Or(e.retention.BatchSize, DefaultRetentionBatchSize)
	if e.checkApp == nil {
		e.checkApp = func(from, to string) error {
			return fmt.Errorf("executions of application %s may not start executions of application %s", from, to)
		}
	}
	if _, err := time.LoadLocation(e.cronTZ); err != nil {
		return nil, fmt.Errorf("engine: cron time zone: %w", err)
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.fanout = newFanout(e.store, e.log, e.now, e.events, cmp.Or(cfg.EventPollInterval, 500*time.Millisecond),
		cmp.Or(cfg.SubscriberBuffer, DefaultSubscriberBuffer))
	jobTimeout := cmp.Or(cfg.JobTimeout, DefaultJobTimeout)
	workers := river.NewWorkers()
	river.AddWorker(workers, &startExecutionWorker{e: e})
	river.AddWorker(workers, &runStageWorker{e: e})
	river.AddWorker(workers, &notifyWorker{e: e})
	river.AddWorker(workers, &cronTickWorker{e: e})
	river.AddWorker(workers, &executionEndedWorker{e: e})
	river.AddWorker(workers, &retentionWorker{e: e})
	q, err := jobqueue.New(ctx, jobqueue.Config{
		Store:         cfg.Store,
		Workers:       workers,
		MaxWorkers:    cfg.Workers,
		Logger:        e.log.With("subsystem", "jobqueue"),
		JobTimeout:    jobTimeout,
		RescueAfter:   cfg.RescueAfter,
		NodeID:        cfg.NodeID,
		DeadNodeCheck: cfg.DeadNodeCheck,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e.q = q
	if cfg.Metrics != nil {
		if e.metrics, err = newMetrics(cfg.Metrics, q); err != nil {
			return nil, fmt.Errorf("engine: metrics: %w", err)
		}
		if e.deleted, err = newRetentionMetric(cfg.Metrics); err != nil {
			return nil, fmt.Errorf("engine: metrics: %w", err)
		}
	}
	return e, nil
}

// Start starts the workers. The job queue first makes available again the
// jobs a dead process left running (see package jobqueue).
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return nil
	}
	if err := e.q.Start(ctx); err != nil {
		return err
	}
	if err := e.indexAllTriggers(ctx); err != nil {
		return errors.Join(err, e.q.Stop(ctx))
	}
	if err := e.scheduleAllCron(ctx); err != nil {
		return errors.Join(err, e.q.Stop(ctx))
	}
	if err := e.startRetention(ctx); err != nil {
		return errors.Join(fmt.Errorf("schedule retention: %w", err), e.q.Stop(ctx))
	}
	e.started = true
	return nil
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
	return e.q.Stop(ctx)
}

// inTx runs fn in a store transaction with a fresh transition builder and,
// after commit, wakes the workers and the event subscribers.
//
// The commit is durable when inTx returns, on both stores: SQLite's flushes
// its write-ahead log before returning, and shows readers nothing before it
// is flushed (package sqlite); Postgres's waits for its WAL flush
// (synchronous_commit on, the server's default, which Sluice lowers only for
// River's own bookkeeping, on a pool of its own: postgres.Store.QueuePool)
// and shows nothing before either. So whatever the engine acknowledges — a
// trigger, judgment, cancel, pause or rollback the API answered, a stage
// completion its events reported — survives a power loss or an
// operating-system crash, not only a crash of the process. A job's own
// transaction is no exception: its completion may be followed at once by
// calls out of the process and by events that people read.
func (e *Engine) inTx(ctx context.Context, fn func(t *txn) error) error {
	var t *txn
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		t = &txn{e: e, tx: tx, ctx: ctx, now: e.now().UTC()}
		err := fn(t)
		if t.decodeErr != nil {
			return t.decodeErr
		}
		if err != nil {
			return err
		}
		if e.beforeCommit != nil {
			return e.beforeCommit(ctx, tx, t.completed != 0)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if t.completed != 0 {
		e.q.CompletedBy(t.completed)
	}
	if t.jobs > 0 {
		e.q.Committed()
	}
	if t.events > 0 {
		e.events.notify()
	}
	e.metrics.record(t.ended, t.firings)
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

// txn carries one transaction and counts what it wrote.
type txn struct {
	e      *Engine
	tx     store.Tx
	ctx    context.Context
	now    time.Time
	jobs   int
	events int
	// completed is the ID of the job that runs the transaction when the
	// transaction completed it; zero otherwise.
	completed int64
	ended     []ended  // executions and stages this transaction ended, for metrics
	firings   []firing // triggers that fired in this transaction, for metrics
	// decodeErr is the first stored stage column that failed to decode on
	// first use (stageRun.decode): inTx fails with it, whatever fn
	// returned, since what fn did rested on an empty map.
	decodeErr error
}

// fire notes a firing of a trigger of typ for the metrics to count once
// the transaction commits; outcome is started, missed or refused.
func (t *txn) fire(application, typ, outcome string) {
	t.firings = append(t.firings, firing{application: application, typ: typ, outcome: outcome})
}

// end notes an execution (or a stage, of type name) that this transaction
// ended, for the metrics to count once it commits.
func (t *txn) end(stage bool, application, name string, to status.Status, started *time.Time) {
	d := time.Duration(-1)
	if started != nil {
		d = t.now.Sub(*started)
	}
	t.ended = append(t.ended, ended{stage: stage, application: application, name: name, status: to, duration: d})
}

func (t *txn) insertJob(args river.JobArgs, opts *river.InsertOpts) error {
	t.jobs++
	return t.e.q.InsertTx(t.ctx, t.tx, args, opts)
}
