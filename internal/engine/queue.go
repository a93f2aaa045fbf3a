package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-cd/sluice/internal/store"
)

// queue is the engine's view of River: insert a job in a store transaction,
// complete the running job in one, start and stop the workers. It hides the
// driver's transaction type (*sql.Tx for SQLite, pgx.Tx for Postgres) so
// the rest of the engine is not generic.
type queue interface {
	start(ctx context.Context) error
	stop(ctx context.Context) error
	insertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error
	// completeTx marks the running job completed inside tx, so the state
	// change and the job's completion commit together.
	completeTx(ctx context.Context, tx store.Tx, job *rivertype.JobRow) error
	// committed is called after a transaction that inserted jobs commits,
	// so that this process fetches them at once rather than at the next poll.
	committed()
	// relaxCommit lets a job's transaction commit without waiting for the
	// database's disk flush. See Engine.inJobTx for why that is safe.
	relaxCommit(ctx context.Context, tx store.Tx) error
	// fetchAfter makes this process look for due jobs after d: a job
	// snoozed for d is then found at once rather than at the next poll.
	fetchAfter(d time.Duration)
}

// queueConfig are the River settings the engine chooses.
type queueConfig struct {
	Workers   *river.Workers
	MaxWorker int
	Logger    *slog.Logger
	// JobTimeout bounds one job run; RescueAfter is when a job left running
	// by a dead process is run again.
	JobTimeout  time.Duration
	RescueAfter time.Duration
	// ClientID is River's client ID; empty lets River make one up.
	ClientID string
}

func (c queueConfig) riverConfig() *river.Config {
	return &river.Config{
		ID:                   c.ClientID,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.MaxWorker}},
		Workers:              c.Workers,
		Logger:               c.Logger,
		FetchCooldown:        time.Millisecond,
		FetchPollInterval:    250 * time.Millisecond,
		JobTimeout:           c.JobTimeout,
		RescueStuckJobsAfter: c.RescueAfter,
		MaxAttempts:          10,
		// Completed jobs are kept for a day for debugging, then removed.
		CompletedJobRetentionPeriod: 24 * time.Hour,
	}
}

// riverQueue implements queue for one River driver.
type riverQueue[TTx any] struct {
	client   *river.Client[TTx]
	complete func(ctx context.Context, tx store.Tx, job *rivertype.JobRow) error
	wake     func()
	relax    func(ctx context.Context, tx store.Tx) error
}

// completePostgresJob does what River's JobCompleteTx does — mark the
// running job completed, in the caller's transaction — with a statement of
// its own, held to go with the transaction's other writes. JobCompleteTx runs
// River's general many-jobs statement, and Postgres caches a generic plan
// for it on each connection the first time it is used, while river_job is
// still small: a sequential scan, which it then keeps as the table grows.
// On a fresh database that made completing a job cost more than the rest of
// the engine step together (3.5 ms mean, measured with pg_stat_statements,
// at 11,000 jobs), and it grew with every job.
func completePostgresJob(ctx context.Context, tx store.Tx, job *rivertype.JobRow) error {
	return heldExec(ctx, tx, "UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1 AND state = 'running'",
		[]any{job.ID}, func(n int64) error {
			if n == 0 {
				return errors.New("the job is no longer running (River rescued or cancelled it)")
			}
			return nil
		})
}

// heldExec runs one of the engine's statements on River's tables in the
// store's transaction, held to go with the store's next statement where the
// store pipelines. check, when set, checks the rows it changed.
func heldExec(ctx context.Context, tx store.Tx, query string, args []any, check func(rowsAffected int64) error) error {
	h, ok := tx.(interface {
		ExecHeld(ctx context.Context, query string, args []any, done func(int64, error) error) error
	})
	if !ok {
		return fmt.Errorf("engine: store transaction %T cannot run statements", tx)
	}
	return h.ExecHeld(ctx, query, args, func(n int64, err error) error {
		if err != nil || check == nil {
			return err
		}
		return check(n)
	})
}

// noArgs lets JobCompleteTx complete a job without knowing its args type.
type noArgs struct{}

func (noArgs) Kind() string { return "" }

func (q *riverQueue[TTx]) start(ctx context.Context) error { return q.client.Start(ctx) }
func (q *riverQueue[TTx]) stop(ctx context.Context) error  { return q.client.Stop(ctx) }

func (q *riverQueue[TTx]) insertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	raw, err := rawTx[TTx](ctx, tx)
	if err == nil {
		_, err = q.client.InsertTx(ctx, raw, args, opts)
	}
	if err != nil {
		return fmt.Errorf("insert %s job: %w", args.Kind(), err)
	}
	return nil
}

func (q *riverQueue[TTx]) completeTx(ctx context.Context, tx store.Tx, job *rivertype.JobRow) error {
	if err := q.complete(ctx, tx, job); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}

// rawTx is the driver's transaction under tx.
func rawTx[TTx any](ctx context.Context, tx store.Tx) (TTx, error) {
	raw, err := tx.Raw(ctx)
	if err != nil {
		var zero TTx
		return zero, err
	}
	return raw.(TTx), nil
}

func (q *riverQueue[TTx]) committed() {
	if q.wake != nil {
		q.wake()
	}
}

func (q *riverQueue[TTx]) relaxCommit(ctx context.Context, tx store.Tx) error {
	if q.relax == nil {
		return nil
	}
	return q.relax(ctx, tx)
}

func (q *riverQueue[TTx]) fetchAfter(d time.Duration) {
	if q.wake != nil {
		time.AfterFunc(d, q.wake)
	}
}

// newQueue builds the River client for the store's dialect and migrates
// River's tables.
func newQueue(ctx context.Context, st store.Store, cfg queueConfig) (queue, error) {
	switch db := st.DB().(type) {
	case *sql.DB:
		drv := newWakingSQLiteDriver(db)
		if err := migrateRiver(ctx, drv); err != nil {
			return nil, err
		}
		client, err := river.NewClient[*sql.Tx](drv, cfg.riverConfig())
		if err != nil {
			return nil, fmt.Errorf("create river client: %w", err)
		}
		return &riverQueue[*sql.Tx]{
			client: client,
			complete: func(ctx context.Context, tx store.Tx, job *rivertype.JobRow) error {
				raw, err := rawTx[*sql.Tx](ctx, tx)
				if err == nil {
					_, err = river.JobCompleteTx[*wakingSQLiteDriver](ctx, raw, &river.Job[noArgs]{JobRow: job})
				}
				return err
			},
			wake: drv.fetchNow,
		}, nil
	case *pgxpool.Pool:
		drv := riverpgxv5.New(db)
		if err := migrateRiver(ctx, drv); err != nil {
			return nil, err
		}
		client, err := river.NewClient[pgx.Tx](drv, cfg.riverConfig())
		if err != nil {
			return nil, fmt.Errorf("create river client: %w", err)
		}
		return &riverQueue[pgx.Tx]{
			client:   client,
			complete: completePostgresJob,
			relax: func(ctx context.Context, tx store.Tx) error {
				return heldExec(ctx, tx, "SET LOCAL synchronous_commit TO OFF", nil, nil)
			},
		}, nil
	default:
		return nil, fmt.Errorf("engine: unsupported store pool %T", db)
	}
}

func migrateRiver[TTx any](ctx context.Context, drv riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river tables: %w", err)
	}
	return nil
}

// wakingSQLiteDriver is River's SQLite driver with one change: this process
// can make its producer fetch jobs at once. SQLite has no LISTEN/NOTIFY, so
// River's SQLite listener polls a notification table every 50 ms, and a job
// that becomes due by time alone (a snooze ending) is only found by the
// producer's next periodic fetch. The engine calls fetchNow after each
// commit that inserted jobs and when a snooze ends, and the listener answers
// with an insert notification at once — which is what keeps a stage
// transition in single milliseconds.
type wakingSQLiteDriver struct {
	*riversqlite.Driver
	wake chan struct{}
}

func newWakingSQLiteDriver(db *sql.DB) *wakingSQLiteDriver {
	return &wakingSQLiteDriver{Driver: riversqlite.New(db), wake: make(chan struct{}, 1)}
}

func (d *wakingSQLiteDriver) fetchNow() {
	select {
	case d.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (d *wakingSQLiteDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &wakingListener{Listener: d.Driver.GetListener(params), wake: d.wake}
}

type wakingListener struct {
	riverdriver.Listener
	wake <-chan struct{}
}

// insertNotification is what River's producer listens for to fetch jobs of
// the default queue.
var insertNotification = riverdriver.Notification{Topic: "river_insert", Payload: `{"queue":"default"}`}

// WaitForNotification waits as River's listener does, but a wake-up ends
// the wait with an insert notification.
func (l *wakingListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	select {
	case <-l.wake:
		n := insertNotification
		return &n, nil
	default:
	}
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	woken := make(chan struct{})
	go func() {
		select {
		case <-l.wake:
			close(woken)
			cancel()
		case <-waitCtx.Done():
		}
	}()
	n, err := l.Listener.WaitForNotification(waitCtx)
	select {
	case <-woken:
		n := insertNotification
		return &n, nil
	default:
	}
	return n, err
}
