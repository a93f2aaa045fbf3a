package store

import (
	"context"
	"time"
)

// Purger deletes execution history that has aged out. Both stores
// implement it (package sqlstore); the engine's retention job is its one
// caller. It stands apart from Querier because it is housekeeping, not an
// operation on one record: nothing else may delete an execution.
type Purger interface {
	// ExecutionApplications lists the applications that have executions,
	// in byte order, reading one index entry per application.
	ExecutionApplications(ctx context.Context) ([]string, error)
	// ExecutionPurge deletes, in one transaction of its own, at most
	// params.Limit aged-out executions of one application (see
	// ExecutionPurgeParams), oldest first, with their stages, events and
	// trigger deliveries. It never deletes an execution that is not in a
	// final status, nor one whose parent execution (the parentExecution of
	// its trigger: a pipeline stage's child) or one of whose children is
	// not; on Postgres it skips executions another transaction has locked.
	ExecutionPurge(ctx context.Context, params *ExecutionPurgeParams) (*ExecutionPurgeResult, error)
}

// ExecutionPurgeParams choose what ExecutionPurge deletes. An execution of
// Application has aged out when it is not one of the newest Keep (by
// CreatedAt, then ID; Keep 0 sets no limit by count) or was created before
// CreatedBefore (zero: no limit by age). It is deleted when it has aged
// out, its status is final, and it ended (its EndTime, else its UpdatedAt)
// before EndedBefore.
type ExecutionPurgeParams struct {
	Application   string
	Keep          int
	CreatedBefore time.Time
	EndedBefore   time.Time
	// Limit bounds the executions one call deletes (default 500), and so
	// the length of its transaction.
	Limit int
}

// ExecutionPurgeResult counts what one ExecutionPurge deleted.
type ExecutionPurgeResult struct {
	Executions int64
	Stages     int64
	Events     int64
	// Deliveries are trigger deliveries the executions started: once
	// deleted, a replay of such a delivery starts a new execution.
	Deliveries int64
}
