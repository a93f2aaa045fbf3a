// Package engine runs pipeline executions as a state machine whose every
// step is a River job. It owns execution and stage status, the order in
// which stages run, failure handling, concurrency queueing, and the
// operations people perform on a running execution (cancel, pause, resume,
// restart, judge, skip a wait). It must not talk to AWS or HTTP itself:
// stage types do the work (package stage), the store keeps the state
// (package store), and httpapi is the only door in.
//
// # Jobs
//
// Two job kinds move an execution along, and a third follows its end:
//
//   - sluice.start_execution: NOT_STARTED → RUNNING, then start every stage
//     whose requisites are done.
//   - sluice.run_stage: run the current task of one RUNNING stage and act
//     on its result — the next task, a snooze (the task polls), a park
//     (the task waits for a judgment), or the stage's completion, which
//     starts the stages downstream of it in the same transaction.
//   - sluice.execution_ended: inserted by the transaction that gives an
//     execution its final status; it wakes the pipeline stage of a parent
//     waiting for the execution, and starts the pipelines whose pipeline
//     triggers match its end (children.go, pipeline_trigger.go).
//
// A third, sluice.notify, delivers one notification (notifications.go):
// the transition whose status change fires it records the delivery on the
// execution and inserts the job in its transaction, so each event is
// enqueued exactly once; the job sends it through the Notifier, at least
// once, retrying with backoff, and records every attempt.
// A fourth kind starts executions: sluice.cron_tick, one tick of one cron
// trigger, which starts the execution and schedules the next tick in the
// transaction that completes it (cron.go). Trigger records the firing of
// the trigger that started an execution, and a delivery's ID, in the
// transaction that inserts it. A fifth deletes them again:
// sluice.retention, one tick of the retention policy (Config.Retention),
// a chain of unique jobs like cron ticks that deletes aged-out
// executions in batches of their own transactions (retention.go).
//
// Starting a stage (evaluating stageEnabled and ${…}, planning tasks) and
// completing an execution are not jobs of their own: they happen inside the
// transaction that made them due, which keeps a stage transition to a
// couple of milliseconds.
//
// # Transactions
//
// Every state change is made under the execution's lock (store.Tx
// ExecutionLock) in one transaction that also inserts the jobs it makes
// due and, for the job doing it, marks that job completed (River's
// JobCompleteTx on SQLite; on Postgres a statement of the engine's own that
// does the same, see completePostgresJob). So there is never a RUNNING
// stage without a job that will move it, and a job whose transition
// committed is never run again.
//
// A run_stage job works in three steps (runStageWorker.decide, perform and
// record). It first loads the stage under the lock and decides. A task of
// an Inline stage type (wait, manualJudgment: it only reads its input and
// the clock) runs right there and its result is recorded in the same
// transaction. Any other task runs outside any transaction (it may call AWS
// for seconds, or, evaluateVariables and checkPreconditions, evaluate
// expressions for up to their time limit each); its result is
// recorded in a second transaction, which first checks that the stage is
// still where the task found it. A crash between the two runs the task
// again: tasks are idempotent (ARCHITECTURE.md rule 5).
//
// An execution's copy of its pipeline document never changes, so the
// engine keeps recently parsed ones (doccache.go) rather than parse the
// document at every step.
//
// # Generations
//
// Each stage carries a generation number. Anything other than the stage's
// own job that reschedules it — a judgment, skipping a wait, cancel, pause,
// resume, restart — bumps the generation and inserts a fresh job. Jobs of
// older generations (a wait's timer, a judgment's timeout) find nothing to
// do when they fire. Timers are therefore never cancelled, only outdated.
//
// # Statuses and failure
//
// The statuses are package status's, one vocabulary for executions, stages
// and tasks; every change of one is recorded as an event (execution.status,
// stage.status, task.status, with apitype's payloads) in the transaction
// that makes it. Statuses, failure options (failPipeline, continuePipeline,
// completeOtherBranchesThenFail) and the final execution status follow Orca
// (shared/reference/engine-semantics.md A2, A4): a TERMINAL stage halts the
// execution (running branches are canceled, nothing new starts); STOPPED
// halts its branch; FAILED_CONTINUE lets downstream stages run.
// A stage starts when every requisite is SUCCEEDED, FAILED_CONTINUE or
// SKIPPED. stageEnabled that is false, fails, or is not a boolean skips the
// stage and says why in its context (skipReason).
//
// # Time
//
// stageTimeoutMs counts from the stage's start and excludes paused time;
// the wait stage's clock likewise stops while the execution is paused. A
// parked task with a timeout snoozes until its deadline, so the timeout
// fires even if nobody acts.
//
// A stage with restrictExecutionDuringTimeWindow: true starts with its
// execution window's tasks (marked "window" in its task book), which the
// window stage type (pipeline.ExecutionWindowType) runs: they snooze until
// the window opens, have no timeout, and their time is not counted in
// stageTimeoutMs, as Orca's synthetic window stage. SkipWait on a stage in
// its window sets stage.SkipWindowKey and runs it again.
//
// # Rollback
//
// A stage that changes something worth undoing records how in its outputs
// ("rollback:stage": a stage type, name and context; Route stages record
// the alias routing they replaced). When an execution fails and
// rollbackOnFailure is set (on the pipeline, or on the recording stage),
// and when someone calls Rollback, the engine appends one stage per record,
// newest change first, chained, and runs them as visible stages; see
// rollback.go.
//
// # Events
//
// Subscribe streams the event log to any number of readers: the API's
// server-sent events, `sluice run --follow`, the console. One reader per
// process reads the log, woken by this process's commits and polling for
// other processes', and hands each event to every subscriber it concerns
// without waiting for any: a subscriber that falls behind is dropped and
// resumes from its last event. A new subscriber catches up from the store
// and then joins; fanout.go says how that keeps every stream free of gaps
// and duplicates, and events.go how the reader finds events that commit
// out of ID order.
//
// # Crashes
//
// The engine's jobs live in package jobqueue, which makes the jobs a dead
// process left running available again: at start on SQLite, where one
// process owns the database, and within seconds on Postgres, where every
// process holds an advisory lock on its node ID and its peers watch for
// locks that came free. Every task may so run twice; stage types re-read
// the world before acting.
package engine
