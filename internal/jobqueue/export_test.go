package jobqueue

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// PostgresListener is the listener the queue gives River on Postgres, on
// pool, for a process whose own notifications carry the payload own, and
// the function that wakes it.
func PostgresListener(pool *pgxpool.Pool, own string) (riverdriver.Listener, func()) {
	d := &wakingPgxDriver{Driver: riverpgxv5.New(pool), waker: newWaker(), own: own}
	return d.GetListener(&riverdriver.GetListenenerParams{}), d.fetchNow
}

// CompleteSQL is the statement that completes a running job on Postgres,
// deleting it or, with keep, marking it completed.
func CompleteSQL(keep bool) string { return completeSQL(keep) }
