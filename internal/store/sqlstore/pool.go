package sqlstore

import (
	"context"
	"errors"
)

// ErrForeignKey is what adapters wrap a foreign key violation in, so that
// the queries can turn "no such execution" into store.ErrNotFound.
var ErrForeignKey = errors.New("foreign key violation")

// Executor runs statements on a pool or in a transaction. Queries use ?
// placeholders already rewritten for the driver. Implementations translate
// errors as described in the package comment.
type Executor interface {
	// Exec runs a statement that returns no rows and reports how many rows
	// it changed.
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	// Query runs a statement and calls scan once per row, then closes the
	// rows. scan must not run other statements.
	Query(ctx context.Context, query string, args []any, scan func(Row) error) error
	// QueryRow runs a statement that returns at most one row; Scan returns
	// store.ErrNotFound when there is none.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// RowIDInserter is implemented by an Executor that can run an INSERT into
// a table with an integer key and return the key it drew without the
// statement returning a row (SQLite's last_insert_rowid): cheaper than
// INSERT … RETURNING, a result set read through database/sql.
type RowIDInserter interface {
	InsertRowID(ctx context.Context, query string, args ...any) (int64, error)
}

// Row is one result row.
type Row interface {
	Scan(dest ...any) error
}

// Pool is a connection pool.
type Pool interface {
	Executor
	// Begin starts a transaction. A write transaction on SQLite takes the
	// write lock at once (BEGIN IMMEDIATE); a read-only one is deferred. A
	// read-only transaction on Postgres is REPEATABLE READ, a write
	// transaction READ COMMITTED.
	Begin(ctx context.Context, readOnly bool) (PoolTx, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close closes the pool.
	Close() error
}

// PoolTx is one open transaction.
type PoolTx interface {
	Executor
	Commit(ctx context.Context) error
	// Rollback aborts the transaction; it is a no-op after Commit.
	Rollback(ctx context.Context) error
	// Driver returns the driver's transaction: *sql.Tx or pgx.Tx. A
	// Pipeliner first sends what it holds.
	Driver(ctx context.Context) (any, error)
}

// Held is a statement whose outcome nothing needs before the transaction
// commits: a write that returns nothing the caller reads at once, or a read
// whose result is wanted together with the next statement's.
type Held struct {
	Query string // placeholders already rewritten
	Args  []any
	// Row, when set, runs the statement as a query and is given its one
	// row; Scan returns store.ErrNotFound when there is none.
	Row func(Row) error
	// Done, when Row is nil, is given the rows the statement changed, or
	// its error, already translated.
	Done func(rowsAffected int64, err error) error
	// Checked says that Row or Done fail only when the statement does:
	// whatever the caller requires of its outcome (a row changed, say),
	// the database checks, failing the statement and so the transaction.
	// Such a statement can be sent in the batch that ends with COMMIT,
	// which the server runs (or, after a failure, turns into ROLLBACK)
	// before the client has read any result.
	Checked bool
}

// A Pipeliner is an Executor that can hold statements and send them together
// with the next one, so that several cost one round trip to the database.
// The Postgres transaction is one. It sends what it holds, in order, before
// its next Exec, Query or QueryRow, before Driver hands the transaction to
// the job queue, and at Commit — together with COMMIT when every one is
// Checked; an error of a held statement (what its Row or Done returned) is
// returned by that call. Executors that are not Pipeliners run each
// statement at once.
type Pipeliner interface {
	Hold(h Held)
}
