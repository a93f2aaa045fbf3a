package jobqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/riverqueue/river"

	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/sqlstore"
)

// maxAttempts is River's MaxAttempts for jobs that do not set their own
// (riverConfig), which the queue's own insert gives them too.
const maxAttempts = 10

// plain reports whether a job of args inserted with opts takes River's
// defaults for everything but its kind, its arguments and its attempts,
// and returns its attempts: opts nil, or setting MaxAttempts alone, and
// no options of the arguments' own (river.JobArgsWithInsertOpts). Such a
// job — every stage's run_stage job, a notification's delivery — is
// inserted with one plain statement of the queue's own (insertSQLite,
// insertPostgres) instead of River's InsertTx. River's statement is
// written for a batch of jobs with any options (on SQLite each column
// pulled out of a JSON document with json_extract; on Postgres an array
// per column, unnested), returns the whole row, which River decodes, and
// is followed by a second statement, the insert notification, which on
// Postgres holds a server-wide lock until the commit is on the disk
// (insertNotifier); on Postgres it must also go to the server at once,
// since River works on the transaction itself. The queue's statement
// writes the row River's would, and is held to go with the transaction's
// other writes (sqlstore.ExecHeld). Every other job, which may be unique,
// scheduled or carry other options, goes through River, and so does one
// given empty options (bench.BareRiver uses that to insert as River does).
func plain(args river.JobArgs, opts *river.InsertOpts) (attempts int, ok bool) {
	if _, own := args.(river.JobArgsWithInsertOpts); own {
		return 0, false
	}
	if opts == nil {
		return maxAttempts, true
	}
	rest := *opts
	rest.MaxAttempts = 0
	if opts.MaxAttempts <= 0 || !reflect.ValueOf(rest).IsZero() {
		return 0, false
	}
	return opts.MaxAttempts, true
}

// insertSQLite inserts a plain job (see plain) as River's SQLite driver
// would: its times from the database's clock in River's format, args,
// metadata and tags as JSONB. There is no insert notification: SQLite has
// no other process to tell, and this one fetches at once when the
// transaction has committed (Queue.Committed).
func insertSQLite(ctx context.Context, tx store.Tx, args river.JobArgs, attempts int) error {
	raw, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode arguments: %w", err)
	}
	return sqlstore.ExecHeld(ctx, tx, `INSERT INTO river_job
(args, created_at, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
VALUES (jsonb(?), datetime('now', 'subsec'), ?, ?, jsonb('{}'), 1, 'default', datetime('now', 'subsec'), 'available', jsonb('[]'))`,
		[]any{string(raw), args.Kind(), attempts}, nil)
}

// insertPostgres inserts a plain job (see plain) as River's Postgres driver
// would, held to go with the transaction's other writes. It sends no insert
// notification, as River's insert does: Queue.Committed sends it after the
// commit (see insertNotifier).
func insertPostgres(ctx context.Context, tx store.Tx, args river.JobArgs, attempts int) error {
	raw, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode arguments: %w", err)
	}
	return sqlstore.ExecHeld(ctx, tx, `INSERT INTO river_job (args, kind, max_attempts, priority, queue, state)
VALUES ($1, $2, $3, 1, 'default', 'available')`, []any{string(raw), args.Kind(), attempts}, nil)
}
