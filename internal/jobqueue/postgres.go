package jobqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlstore"
)

// Advisory lock keys, per schema so that stores in different schemas of
// one database (tests, several installations) do not meet.
const (
	nodeLockKey    = `hashtextextended('sluice.node:' || coalesce(current_schema(), '') || ':' || $1, 0)`
	migrateLockKey = `hashtextextended('sluice.river-migrate:' || coalesce(current_schema(), ''), 0)`
)

// newPostgres builds the queue on a Postgres store shared by several
// processes, this one named cfg.NodeID.
func newPostgres(ctx context.Context, st *postgres.Store, cfg Config) (*Queue, error) {
	pool := st.Pool()
	// River works on a pool of its own whose commits do not wait for the
	// disk (see postgres.Store.QueuePool); what the engine commits, the
	// jobs it inserts and completes among it, goes through the store's
	// transactions on pool, durably.
	queuePool, err := st.QueuePool(ctx)
	if err != nil {
		return nil, err
	}
	own, err := json.Marshal(insertPayload{Queue: river.QueueDefault, Node: cfg.NodeID})
	if err != nil {
		return nil, err
	}
	drv := &wakingPgxDriver{Driver: riverpgxv5.New(queuePool), waker: newWaker(), own: string(own)}
	if err := migratePostgres(ctx, pool, riverpgxv5.New(pool)); err != nil {
		return nil, err
	}
	client, err := river.NewClient(drv, riverConfig(cfg, cfg.NodeID))
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	n := &pgNode{pool: pool, id: cfg.NodeID, log: cfg.Logger, every: cfg.DeadNodeCheck, lockWait: cfg.NodeLockWait}
	peers := &insertNotifier{pool: queuePool, log: cfg.Logger, payload: string(own), pending: newSignal()}
	return &Queue{
		log:    cfg.Logger,
		nodeID: cfg.NodeID,
		client: client,
		insert: func(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error {
			if attempts, ok := plain(args, opts); ok {
				return insertPostgres(ctx, tx, args, attempts)
			}
			raw, err := postgres.DriverTx(ctx, tx)
			if err == nil {
				_, err = client.InsertTx(ctx, raw, args, opts)
			}
			return err
		},
		complete: n.completeTx,
		wake:     drv.fetchNow,
		notify:   peers.pending.raise,
		count:    jobCounter(drv.GetExecutor()),
		beforeStart: func(ctx context.Context) error {
			if err := n.start(ctx); err != nil {
				return err
			}
			peers.start()
			return nil
		},
		afterStop: func(ctx context.Context) error {
			peers.stop()
			return n.stop(ctx)
		},
	}, nil
}

// wakingPgxDriver is River's Postgres driver whose listener this process can
// wake (waker), so that its producer fetches the jobs this process committed
// without waiting for their insert notification to come back from the
// server; the listener skips the notifications whose payload is own, which
// this process sent (insertNotifier).
type wakingPgxDriver struct {
	*riverpgxv5.Driver
	waker
	own string
}

func (d *wakingPgxDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return d.listener(d.Driver.GetListener(params), d.own)
}

// insertPayload is River's insert notification's payload, which names the
// queue whose producers are to fetch, with the node that sent it: River
// reads the queue alone, and the sender's own listener skips it.
type insertPayload struct {
	Queue string `json:"queue"`
	Node  string `json:"node"`
}

// notifySQL sends River's insert notification with the payload $1.
const notifySQL = `SELECT pg_notify(current_schema() || '.river_insert', $1)`

// insertNotifier sends River's insert notification for the jobs this
// process inserted, after their transactions committed, on the queue's pool
// (whose commits do not wait for the disk), at most one at a time: requests
// that come while one is on its way are sent together after it.
//
// The engine's transactions do not notify themselves. A Postgres
// transaction that notifies takes a lock, one for the whole server, at its
// commit and holds it until the commit is on the disk (async.c,
// PreCommit_Notify), so durable transactions that notify commit one after
// another, each waiting for a flush of its own. Only the other processes
// need the notification — this one is woken in-process (waker) — and a
// notification lost with a crash only delays them to their next poll
// (riverConfig's FetchPollInterval): the jobs are in the table.
type insertNotifier struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	payload string // an insertPayload
	pending signal // raised for a notification not yet sent

	cancel context.CancelFunc
	done   chan struct{}
}

func (n *insertNotifier) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-n.pending:
			}
			if _, err := n.pool.Exec(ctx, notifySQL, n.payload); err != nil && ctx.Err() == nil {
				n.log.WarnContext(ctx, "notify the other nodes of new jobs; they find them at their next poll", "err", err)
			}
		}
	}()
}

func (n *insertNotifier) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

// migratePostgres migrates River's tables under an advisory lock: servers
// starting together on an empty database would otherwise race creating
// River's types and fail on duplicate keys. The lock is a session's, held on
// a connection of its own, because River applies each version in its own
// transaction (one adds an enum value that the next uses, which Postgres
// does not allow in one transaction).
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, drv *riverpgxv5.Driver) error {
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate river tables: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock("+migrateLockKey+")"); err != nil {
		return fmt.Errorf("lock river migrations: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+migrateLockKey+")"); err != nil {
			// A connection that cannot unlock is broken: drop it, and the
			// lock with its session.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river tables: %w", err)
	}
	return nil
}

// pgNode is this process as a node of a Postgres cluster: its lock, and the
// watch for peers that died.
type pgNode struct {
	pool     *pgxpool.Pool
	id       string
	log      *slog.Logger
	every    time.Duration
	lockWait time.Duration

	mu     sync.Mutex
	conn   *pgx.Conn // holds the node's lock; nil when not started
	cancel context.CancelFunc
	done   chan struct{}
}

// completeTx does what River's JobCompleteTx does — end the running job,
// in the caller's transaction — with a statement of its own, held to go
// with the transaction's other writes: it deletes the job (see "Completed
// jobs are deleted" in the package doc), or with keep marks it completed.
// JobCompleteTx runs River's general many-jobs statement, and Postgres
// caches a generic plan for it on each connection the first time it is
// used, while river_job is still small: a sequential scan, which it then
// keeps as the table grows. On a fresh database that made completing a job
// cost more than the rest of the engine step together (3.5 ms mean,
// measured with pg_stat_statements, at 11,000 jobs), and it grew with
// every job.
//
// The job must still be running as this node's: a job rescued from this
// node (its lock was lost) and taken by a peer is the peer's to complete.
func (n *pgNode) completeTx(ctx context.Context, tx store.Tx, job *rivertype.JobRow, keep bool) error {
	return sqlstore.ExecOne(ctx, tx, completeSQL(keep), []any{job.ID, n.id}, func(err error) error {
		if errors.Is(err, store.ErrNotFound) {
			return errors.New("the job is no longer running as this node's (it was rescued or cancelled)")
		}
		return err
	})
}

// completeSQL is completeTx's statement: $1 is the job's ID, $2 this
// node's. It finds the job by its primary key alone: state is compared as
// text, which no index serves. Compared as the enum, state let the generic
// plan a connection caches choose river_job_prioritized_fetching_index
// instead, bounded by state alone and checking id on the entry of every
// running job, dead ones too until vacuum removes them: 46 buffers and
// 400 µs a call where the primary key takes 4 buffers and 20 µs
// (auto_explain and pg_stat_statements over `sluice bench engine`), and
// about a sixth of all the machine's CPU in that benchmark (perf).
func completeSQL(keep bool) string {
	const running = `id = $1 AND state::text = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $2`
	if keep {
		return `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE ` + running
	}
	return `DELETE FROM river_job WHERE ` + running
}

// start takes the node's lock, makes available the jobs an earlier process
// with this node ID left running, and starts watching for dead peers.
func (n *pgNode) start(ctx context.Context) error {
	conn, err := n.lock(ctx)
	if err != nil {
		return err
	}
	rescued, err := rescueJobs(ctx, conn, ownJobsSQL, n.id)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("rescue the jobs node %q left running: %w", n.id, err)
	}
	if len(rescued) > 0 {
		n.log.InfoContext(ctx, "jobs of this node's previous run run again", "node_id", n.id, "jobs", len(rescued))
	}
	watchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.mu.Lock()
	n.conn, n.cancel, n.done = conn, cancel, make(chan struct{})
	n.mu.Unlock()
	go n.watch(watchCtx)
	return nil
}

// lock connects and takes the node's lock, waiting up to lockWait for a
// peer's dead-node check (which holds it for one statement) or a previous
// run's session that is still ending.
func (n *pgNode) lock(ctx context.Context) (*pgx.Conn, error) {
	cc := n.pool.Config().ConnConfig.Copy()
	// Let the server notice a connection cut off without a FIN within
	// about half a minute rather than TCP's two hours, so that peers find a
	// node that vanished with its machine.
	cc.RuntimeParams["tcp_keepalives_idle"] = "10"
	cc.RuntimeParams["tcp_keepalives_interval"] = "5"
	cc.RuntimeParams["tcp_keepalives_count"] = "3"
	cc.RuntimeParams["lock_timeout"] = strconv.FormatInt(n.lockWait.Milliseconds(), 10)
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("lock node %q: %w", n.id, err)
	}
	_, err = conn.Exec(ctx, "SELECT pg_advisory_lock("+nodeLockKey+")", n.id)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
			return nil, fmt.Errorf("another Sluice process is running as node %q on this database; give each process its own node ID (sluice serve --node-id)", n.id)
		}
		return nil, fmt.Errorf("lock node %q: %w", n.id, err)
	}
	return conn, nil
}

// ownJobsSQL makes available the running jobs of node $1, whose lock this
// process holds.
const ownJobsSQL = `UPDATE river_job SET state = 'available', scheduled_at = now()
WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1
RETURNING attempted_by[array_upper(attempted_by, 1)]`

// deadNodesSQL makes available the running jobs of every other node whose
// lock it can take — a node whose session has ended. The locks are
// transaction-scoped: the statement holds them only while it runs.
const deadNodesSQL = `WITH nodes AS (
	SELECT DISTINCT attempted_by[array_upper(attempted_by, 1)] AS node
	FROM river_job WHERE state = 'running'
), dead AS (
	SELECT node FROM nodes
	WHERE node IS NOT NULL AND node <> $1
	AND pg_try_advisory_xact_lock(hashtextextended('sluice.node:' || coalesce(current_schema(), '') || ':' || node, 0))
)
UPDATE river_job SET state = 'available', scheduled_at = now()
WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] IN (SELECT node FROM dead)
RETURNING attempted_by[array_upper(attempted_by, 1)]`

// watch rescues the jobs of dead peers every n.every until ctx ends, and
// takes the node's lock again if its connection was lost.
func (n *pgNode) watch(ctx context.Context) {
	defer close(n.done)
	t := time.NewTicker(n.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.relock(ctx)
		rescued, err := rescueJobs(ctx, n.pool, deadNodesSQL, n.id)
		if err != nil && ctx.Err() == nil {
			n.log.WarnContext(ctx, "look for jobs of dead nodes", "node_id", n.id, "err", err)
		}
		jobs := map[string]int{}
		for _, node := range rescued {
			jobs[node]++
		}
		for node, count := range jobs {
			n.log.WarnContext(ctx, "a node is gone; its running jobs run again", "dead_node_id", node, "jobs", count)
		}
	}
}

// relock takes the node's lock again when the connection holding it is
// gone (the database restarted, or the network cut it). Until it has the
// lock, peers may rescue this node's running jobs; those jobs then fail to
// complete here and run again there, which tasks are written to survive.
func (n *pgNode) relock(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.conn.IsClosed() {
		return
	}
	conn, err := n.lock(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.log.ErrorContext(ctx, "lost the node's lock and cannot take it again", "node_id", n.id, "err", err)
		}
		return
	}
	n.log.WarnContext(ctx, "lost the node's lock and took it again", "node_id", n.id)
	n.conn = conn
}

// rescueJobs runs one of the statements above and returns, for each job it
// made available, the node that had it.
func rescueJobs(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, query, id string) ([]string, error) {
	rows, err := db.Query(ctx, query, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// stop stops watching and releases the node's lock by ending its session.
func (n *pgNode) stop(ctx context.Context) error {
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	n.mu.Lock()
	defer n.mu.Unlock()
	conn := n.conn
	n.conn, n.cancel, n.done = nil, nil, nil
	return conn.Close(ctx)
}
