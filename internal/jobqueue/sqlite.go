package jobqueue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
	"github.com/sluice-cd/sluice/internal/store/sqlstore"
)

// newSQLite builds the queue on a SQLite store, whose process owns the
// database file.
func newSQLite(ctx context.Context, st *sqlite.Store, cfg Config) (*Queue, error) {
	done := newCompletedSet()
	drv := newWakingSQLiteDriver(st.DB(), done)
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("migrate river tables: %w", err)
	}
	client, err := river.NewClient(drv, riverConfig(cfg, ""))
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	return &Queue{
		log:    cfg.Logger,
		client: client,
		insert: func(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error {
			if attempts, ok := plain(args, opts); ok {
				return insertSQLite(ctx, tx, args, attempts)
			}
			raw, err := sqlite.DriverTx(ctx, tx)
			if err == nil {
				_, err = client.InsertTx(ctx, raw, args, opts)
			}
			return err
		},
		complete:    completeSQLiteTx,
		wake:        drv.fetchNow,
		done:        done,
		count:       jobCounter(drv.GetExecutor()),
		beforeStart: func(ctx context.Context) error { return rescueSQLiteJobs(ctx, st.DB()) },
		afterStop:   func(context.Context) error { return nil },
	}, nil
}

// completeSQLiteTx does what River's JobCompleteTx does — end the running
// job, in the caller's transaction — with a one-row statement of its own:
// it deletes the job (see "Completed jobs are deleted" in the package
// doc), or with keep marks it completed. JobCompleteTx runs River's
// general statement for any outcome of many jobs (a CASE per column, the
// whole row returned and decoded) inside a savepoint: three statements
// where one does.
func completeSQLiteTx(ctx context.Context, tx store.Tx, job *rivertype.JobRow, keep bool) error {
	query, args := `DELETE FROM river_job WHERE id = ? AND state = 'running'`, []any{job.ID}
	if keep {
		query = `UPDATE river_job SET state = 'completed', finalized_at = ? WHERE id = ? AND state = 'running'`
		args = []any{sqliteTime(time.Now()), job.ID}
	}
	return sqlstore.ExecOne(ctx, tx, query, args, func(err error) error {
		if errors.Is(err, store.ErrNotFound) {
			return errors.New("the job is no longer running (it was rescued or cancelled)")
		}
		return err
	})
}

// sqliteTime formats t as River's SQLite driver stores times: text in
// exactly this format, which SQLite's date functions compare correctly.
func sqliteTime(t time.Time) string {
	return t.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
}

// rescueSQLiteJobs makes the jobs left running by a process that died
// available again. Every running job is such a job: this process owns the
// database file and has not started working yet.
func rescueSQLiteJobs(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx,
		`UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec') WHERE state = 'running'`)
	if err != nil {
		return fmt.Errorf("rescue jobs of a previous process: %w", err)
	}
	return nil
}

// wakingSQLiteDriver is River's SQLite driver with one change: this process
// can make its producer fetch jobs at once (waker). SQLite has no
// LISTEN/NOTIFY, so River's SQLite listener polls a notification table
// every 50 ms, and a job that becomes due by time alone (a snooze ending) is
// only found by the producer's next periodic fetch. Queue.Committed and
// Queue.FetchAfter wake it, and the listener answers with an insert
// notification at once — which is what keeps a stage transition in single
// milliseconds.
//
// Its executor is also the completer's, which leaves alone the jobs that
// completed themselves (see completedSet).
type wakingSQLiteDriver struct {
	*riversqlite.Driver
	waker
	done *completedSet
}

func newWakingSQLiteDriver(db *sql.DB, done *completedSet) *wakingSQLiteDriver {
	return &wakingSQLiteDriver{Driver: riversqlite.New(db), waker: newWaker(), done: done}
}

func (d *wakingSQLiteDriver) GetExecutor() riverdriver.Executor {
	return completingExecutor{Executor: d.Driver.GetExecutor(), done: d.done}
}

func (d *wakingSQLiteDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return d.listener(d.Driver.GetListener(params), "")
}
