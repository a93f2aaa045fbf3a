// Package jobqueue owns Sluice's durable job queue: River on the store's own
// database, so that a state change and the job that follows it commit in
// one transaction. It holds River's client and drivers, completes a running
// job inside the caller's transaction, names the process (its node ID) and
// rescues the jobs a dead process left running. Dialect SQL lives here, one
// file per dialect — as River keeps its own inside its drivers — and nowhere
// else: the engine sees only Queue's methods.
//
// It must not know what a job does: the engine registers the workers.
//
// # Jobs left running
//
// River marks a job running when a process takes it, and the worker's
// transaction ends it (see "Completed jobs are deleted"). A process that
// dies in between leaves the job running, and River by itself runs it
// again only after Config.RescueAfter (over twenty minutes by default,
// since a job may legitimately take that long). The queue does better on
// both dialects:
//
//   - SQLite: one process owns the database file (sqlite.Open locks it), so
//     every job found running at Start was left by a process that is gone;
//     Start makes them available again.
//
//   - Postgres: several processes share the database. Each has a node ID —
//     Config.NodeID, or a made-up one — which is also its River client ID,
//     so River records it on every job the process takes. While it runs,
//     the process holds a session advisory lock on that ID on a connection
//     of its own. Taking the lock at Start proves that an earlier process
//     with the ID is gone, so its running jobs are made available at once;
//     a second live process with the ID cannot take the lock and fails to
//     start. And every DeadNodeCheck (2 s by default) each process looks at
//     the nodes that have running jobs and tries each one's lock: a lock it
//     gets is a node whose session ended — the process died, or its
//     connection did — and that node's running jobs are made available
//     again. A killed server's executions so resume on its peers within
//     seconds. The check takes the lock for one statement only, and a
//     restarting process waits up to NodeLockWait for its lock, so the two
//     never make a live node fail to start.
//
// A job run twice is safe: tasks re-read the world before acting, and a
// job whose transition committed was completed in the same transaction
// (ARCHITECTURE.md rules 4 and 5). A rescued job whose first run is in
// fact still going — a process cut off from the database but alive — can
// no longer complete: completion checks the job is still running and
// taken by this node.
//
// # Durability and completion
//
// A job's completion commits with the state change it belongs to, in the
// engine's store transaction, and is as durable as that (package sqlite,
// package postgres): the queue completes it with a one-row statement of
// its own on both dialects, and on SQLite River's batch completer, which
// would mark it completed again when the worker returns, leaves alone the
// jobs the engine reports with CompletedBy (completed.go). River's own bookkeeping
// — fetching jobs, a snooze or retry, maintenance — need not be durable: a
// power loss that undoes it leaves a job available, or running until it is
// rescued, and the job runs again (rule 5). On Postgres it goes through a
// pool of its own whose commits do not wait for the disk
// (postgres.Store.QueuePool); on SQLite the store's flushes carry it to
// the disk with the engine's commits.
//
// # Completed jobs are deleted
//
// A job the engine completes (CompleteTx) is deleted in its transaction,
// not marked completed. River keeps a completed job for a day
// (CompletedJobRetentionPeriod) and then its cleaner deletes it; for
// Sluice the row records nothing its own tables do not (the stage, its
// tasks, the event log), and keeping it costs twice: a job's state is in
// most of river_job's indexes, so marking it completed writes an entry in
// each (on Postgres the update is never heap-only), and the cleaner then
// deletes it anyway. A deletion writes the row's removal alone. Measured
// on 500 executions of ten stages, interleaved, deleting made the engine
// 1.09 times as fast on both stores (docs/benchmarks.md, "A step's events
// in one row, and completed jobs deleted").
//
// A unique job (River's UniqueOpts: the cron's and retention's ticks) is
// marked completed as before: River's uniqueness counts completed jobs,
// so deleting it would let a second insert of the same tick in. River's
// batch completer, which marks a job completed when its worker returns,
// finds no running job to mark.
//
// # Inserting
//
// A job with no options (every stage's run_stage job) is inserted with a
// one-row statement of the queue's own that writes the row River's InsertTx
// would, held to go with the transaction's other writes (insert.go). Jobs
// with options — unique, scheduled, their own attempts — go through
// River's InsertTx.
//
// Queue.Committed, after the commit, makes this process's producer fetch
// at once, and on Postgres has River's insert notification sent to the
// other processes from outside the transaction (insertNotifier: a
// transaction that notifies holds a server-wide lock until its commit is
// on the disk).
//
// River's own tables are migrated at New; on Postgres under an advisory
// lock, so servers starting together on an empty database do not race.
package jobqueue
