// Package status owns Sluice's one status vocabulary: the statuses of
// executions, stages and tasks. The values are Orca's, and they are the
// strings the store keeps and the API sends, so a Status goes from the
// engine to the database to a client's screen unchanged.
//
// It is a leaf, as River's rivertype is: it imports nothing of Sluice's, so
// the store, the stage types, the engine, the API's wire types and every
// client of the API can share it without an import cycle. It holds the
// values and what they mean; which status follows which is the engine's
// business (package engine), not this package's.
package status

// Status is the status of an execution, a stage or a task. The zero value
// is not a status; a stored row always has one.
type Status string

const (
	// NotStarted: an execution that has not begun (it waits for its start
	// job, or in its pipeline's concurrency queue), a stage whose
	// requisites are not done, a task its stage has not reached.
	NotStarted Status = "NOT_STARTED"

	// Running: in progress. A task that returns Running is not done: it runs
	// again after its RetryAfter, or waits for something outside it (a
	// judgment, a skip, the stage's timeout).
	Running Status = "RUNNING"

	// Paused: someone paused the execution; its running stages are paused
	// with it and their clocks stop until it resumes.
	Paused Status = "PAUSED"

	// Succeeded: done, and it worked.
	Succeeded Status = "SUCCEEDED"

	// FailedContinue: failed, but the stages after it may still run: the
	// stage set continuePipeline, or it is a rollback stage.
	FailedContinue Status = "FAILED_CONTINUE"

	// Terminal: failed, and it fails the execution (failPipeline, the
	// default): running branches are canceled and nothing new starts.
	Terminal Status = "TERMINAL"

	// Canceled: someone canceled the execution, or a stage's branch was
	// canceled because another stage failed the execution.
	Canceled Status = "CANCELED"

	// Stopped: failed, and it halts its own branch only (failPipeline
	// false); the execution fails at the end only if the stage set
	// completeOtherBranchesThenFail.
	Stopped Status = "STOPPED"

	// Skipped: not run: a stage whose stageEnabled was not true or which
	// had no tasks, a task that had nothing to do.
	Skipped Status = "SKIPPED"
)

// All returns every status, in the order of a run's life: not started,
// running or paused, then the final ones.
func All() []Status {
	return []Status{NotStarted, Running, Paused, Succeeded, FailedContinue, Terminal, Canceled, Stopped, Skipped}
}

// Known reports whether s is one of the statuses.
func (s Status) Known() bool {
	switch s {
	case NotStarted, Running, Paused, Succeeded, FailedContinue, Terminal, Canceled, Stopped, Skipped:
		return true
	}
	return false
}

// Complete reports whether s is final: nothing changes it except a restart.
func (s Status) Complete() bool {
	switch s {
	case Succeeded, FailedContinue, Terminal, Canceled, Stopped, Skipped:
		return true
	}
	return false
}

// Active reports whether s is under way: running, or paused part way.
func (s Status) Active() bool {
	return s == Running || s == Paused
}

// Failed reports whether s is a failure: Terminal, Stopped or
// FailedContinue. Canceled is not a failure of its own.
func (s Status) Failed() bool {
	return s == Terminal || s == Stopped || s == FailedContinue
}
