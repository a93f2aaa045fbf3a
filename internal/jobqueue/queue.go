package jobqueue

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
)

// Defaults for Config.
const (
	DefaultMaxWorkers    = 32
	DefaultJobTimeout    = 20 * time.Minute
	DefaultDeadNodeCheck = 2 * time.Second
	DefaultNodeLockWait  = 5 * time.Second
	// MaxNodeIDLen bounds Config.NodeID.
	MaxNodeIDLen = 100
)

// Config configures a Queue. The zero value of every optional field means
// the documented default.
type Config struct {
	// Store is the database the queue shares: a *sqlite.Store or a
	// *postgres.Store. Required.
	Store store.Store
	// Workers are the job kinds this process runs. Required.
	Workers *river.Workers
	// MaxWorkers is how many jobs run at once in this process
	// (DefaultMaxWorkers).
	MaxWorkers int
	// Logger defaults to a logger that discards everything.
	Logger *slog.Logger
	// JobTimeout bounds one job run (DefaultJobTimeout).
	JobTimeout time.Duration
	// RescueAfter is when River itself runs again a job left running by a
	// process the queue could not tell was dead. Default: JobTimeout plus
	// one minute.
	RescueAfter time.Duration
	// NodeID names this process among those sharing a Postgres database,
	// the same across its restarts, at most MaxNodeIDLen characters (see the
	// package documentation). Empty makes one up, unique to this run: a
	// restart then leaves its jobs to its peers (or to River's rescuer when
	// it has none). Ignored on SQLite.
	NodeID string
	// DeadNodeCheck is how often a Postgres process looks for running jobs
	// of nodes whose lock is free (DefaultDeadNodeCheck).
	DeadNodeCheck time.Duration
	// NodeLockWait is how long Start waits for the node's lock on Postgres
	// before deciding another live process holds it (DefaultNodeLockWait).
	NodeLockWait time.Duration
}

// Queue is River on the store's database. Insert and complete jobs only
// inside a store transaction (InsertTx, CompleteTx), so that they commit
// with the state change they belong to.
type Queue struct {
	log    *slog.Logger
	nodeID string // for the log; empty on SQLite
	client interface {
		Start(ctx context.Context) error
		Stop(ctx context.Context) error
	}
	insert func(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error
	// complete ends the running job in tx: it deletes it, or with keep
	// marks it completed.
	complete func(ctx context.Context, tx store.Tx, job *rivertype.JobRow, keep bool) error
	// wake, when set, makes this process fetch due jobs at once; notify,
	// when set, tells the other processes that jobs were committed.
	wake, notify func()
	// done, when set, holds the jobs that completed themselves, which
	// River's completer leaves alone (see completedSet). SQLite only: on
	// Postgres the completer's statement is one per batch, on a connection
	// of River's pool, and leaving jobs out of it measured no faster.
	done *completedSet
	// count counts the jobs by state.
	count func(ctx context.Context) (map[rivertype.JobState]int, error)
	// beforeStart runs at Start, before River does: it rescues jobs left
	// running and, on Postgres, takes the node's lock and starts watching
	// for dead nodes. afterStop undoes what it set up.
	beforeStart func(ctx context.Context) error
	afterStop   func(ctx context.Context) error
}

// New builds the River client for the store's dialect and migrates River's
// tables. Nothing runs until Start.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Store == nil || cfg.Workers == nil {
		return nil, errors.New("jobqueue: Config.Store and Config.Workers are required")
	}
	if len(cfg.NodeID) > MaxNodeIDLen {
		return nil, fmt.Errorf("node ID %q is longer than %d characters", cfg.NodeID, MaxNodeIDLen)
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	cfg.JobTimeout = cmp.Or(cfg.JobTimeout, DefaultJobTimeout)
	cfg.RescueAfter = cmp.Or(cfg.RescueAfter, cfg.JobTimeout+time.Minute)
	cfg.MaxWorkers = cmp.Or(cfg.MaxWorkers, DefaultMaxWorkers)
	cfg.DeadNodeCheck = cmp.Or(cfg.DeadNodeCheck, DefaultDeadNodeCheck)
	cfg.NodeLockWait = cmp.Or(cfg.NodeLockWait, DefaultNodeLockWait)
	switch st := cfg.Store.(type) {
	case *sqlite.Store:
		return newSQLite(ctx, st, cfg)
	case *postgres.Store:
		if cfg.NodeID == "" {
			cfg.NodeID = madeUpNodeID()
		}
		return newPostgres(ctx, st, cfg)
	default:
		return nil, fmt.Errorf("jobqueue: no job queue for a store of type %T", cfg.Store)
	}
}

// riverConfig is River's configuration with the settings the engine
// chooses.
func riverConfig(cfg Config, clientID string) *river.Config {
	return &river.Config{
		ID:                   clientID,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
		Workers:              cfg.Workers,
		Logger:               riverLogger(cfg.Logger),
		FetchCooldown:        time.Millisecond,
		FetchPollInterval:    250 * time.Millisecond,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		MaxAttempts:          maxAttempts,
		// Completed jobs are kept for a day for debugging, then removed.
		CompletedJobRetentionPeriod: 24 * time.Hour,
	}
}

// madeUpNodeID names a Postgres process that was given no node ID: its host
// and a random suffix, unique to this run.
func madeUpNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%.80s-%s", host, hex.EncodeToString(b[:]))
}

// Start rescues the jobs a dead process left running (see the package
// documentation) and starts working.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.beforeStart(ctx); err != nil {
		return err
	}
	if err := q.client.Start(ctx); err != nil {
		q.stopped(ctx)
		return fmt.Errorf("start river: %w", err)
	}
	return nil
}

// Stop stops taking jobs and waits for running ones to finish, or for ctx
// to end; then it releases what Start took.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	q.stopped(ctx)
	return err
}

func (q *Queue) stopped(ctx context.Context) {
	if err := q.afterStop(context.WithoutCancel(ctx)); err != nil {
		q.log.WarnContext(ctx, "release the node", "node_id", q.nodeID, "err", err)
	}
}

// InsertTx inserts a job in tx, a transaction of the queue's store. A job
// with nil opts whose args set no options of their own is inserted with a
// statement of the queue's own, which writes the row River's InsertTx
// would; any other through River's InsertTx (see plain).
func (q *Queue) InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if err := q.insert(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("insert %s job: %w", args.Kind(), err)
	}
	return nil
}

// CompleteTx ends the running job inside tx, so the state change the job
// made and its completion commit together: it deletes the job, or marks
// it completed when it is unique (keepCompleted). It fails when the job is
// no longer this process's to complete (River or a peer rescued it).
func (q *Queue) CompleteTx(ctx context.Context, tx store.Tx, job *rivertype.JobRow) error {
	if err := q.complete(ctx, tx, job, keepCompleted(job)); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}

// MarkCompletedTx is CompleteTx keeping the job, marked completed, as
// River's JobCompleteTx does: the completion of the bare-River yardstick
// (package bench) on Postgres, where JobCompleteTx's cached plan grows
// with the table (see pgNode.completeTx).
func (q *Queue) MarkCompletedTx(ctx context.Context, tx store.Tx, job *rivertype.JobRow) error {
	if err := q.complete(ctx, tx, job, true); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}

// keepCompleted reports whether CompleteTx keeps the job in River's table,
// marked completed, rather than deleting it: a unique job stays, because
// River's uniqueness counts completed jobs, and without the row a second
// insert of the same job would be let in.
func keepCompleted(job *rivertype.JobRow) bool { return len(job.UniqueKey) > 0 }

// Committed tells the queue that a transaction that inserted jobs has
// committed, so that this process fetches them at once rather than at its
// next poll, and on Postgres the other processes too.
func (q *Queue) Committed() {
	if q.wake != nil {
		q.wake()
	}
	if q.notify != nil {
		q.notify()
	}
}

// CompletedBy tells the queue that a transaction which completed the job
// with this ID (CompleteTx) has committed, so that River does not mark it
// completed again when its worker returns.
func (q *Queue) CompletedBy(jobID int64) {
	if q.done != nil {
		q.done.add(jobID)
	}
}

// FetchAfter makes this process look for due jobs after d: a job snoozed
// for d is then found at once rather than at the next poll.
func (q *Queue) FetchAfter(d time.Duration) {
	if q.wake != nil {
		time.AfterFunc(d, q.wake)
	}
}

// JobCounts counts the queue's jobs by state, from the database: on a
// cluster, every process's whole.
func (q *Queue) JobCounts(ctx context.Context) (map[rivertype.JobState]int, error) {
	return q.count(ctx)
}

// jobCounter counts jobs by state through a River driver's executor.
func jobCounter(exec riverdriver.Executor) func(ctx context.Context) (map[rivertype.JobState]int, error) {
	return func(ctx context.Context) (map[rivertype.JobState]int, error) {
		counts, err := exec.JobCountByAllStates(ctx, &riverdriver.JobCountByAllStatesParams{})
		if err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		return counts, nil
	}
}
