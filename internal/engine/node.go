package engine

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// nodeLock is how a process that restarts on Postgres picks up at once the
// jobs it was running when it died. River cannot tell a dead process's
// running jobs from a live one's, so by itself it runs them again only
// after Config.RescueAfter (over twenty minutes by default, since a task may
// legitimately run that long). A process with a Config.NodeID instead holds
// a Postgres advisory lock on that ID for as long as it runs, on a
// connection of its own, and uses the ID as its River client ID, so River
// records it on every job the process takes. Getting the lock proves that
// the process that held it before is gone — its session ended — so any job
// still running under that ID is an orphan and is made available again.
// A second live process with the same ID cannot get the lock and does not
// start.
type nodeLock struct {
	conn *pgx.Conn
}

// lockNode takes node id's lock in the pool's database and schema and
// rescues the jobs left running under it.
func lockNode(ctx context.Context, pool *pgxpool.Pool, id string) (*nodeLock, error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("lock node %q: %w", id, err)
	}
	var locked bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('sluice.node:' || coalesce(current_schema(), '') || ':' || $1, 0))`, id).Scan(&locked)
	if err == nil && !locked {
		err = fmt.Errorf("another Sluice process is running as node %q on this database; give each process its own node ID (sluice serve --node-id)", id)
	}
	if err == nil {
		_, err = conn.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, id)
		if err != nil {
			err = fmt.Errorf("rescue the jobs node %q left running: %w", id, err)
		}
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return &nodeLock{conn: conn}, nil
}

// release ends the lock's session, which releases the lock.
func (l *nodeLock) release(ctx context.Context) error {
	return l.conn.Close(ctx)
}
