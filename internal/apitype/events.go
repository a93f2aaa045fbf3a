package apitype

import (
	"encoding/json"

	"github.com/sluice-cd/sluice/internal/status"
)

// Event is one entry of an execution's event log, as sent on the
// server-sent event streams.
type Event struct {
	// ID is the SSE id and what Last-Event-ID resumes from. Within one
	// execution IDs grow in commit order, so resuming an execution's stream
	// is exact; across executions an event may commit after a higher ID, so
	// a resumed all-executions stream may miss one that was in flight.
	ID          int64  `json:"id"`
	ExecutionID string `json:"executionId"`
	// StageID is set on stage.* and task.* events.
	StageID string `json:"stageId,omitempty"`
	// Type says what happened, and so what Data holds: the payload type
	// named beside each EventType.
	Type EventType       `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
	Time int64           `json:"time"`
}

// EventType is the type of an Event. A client that meets a type it does
// not know skips the event: types are added, never renamed.
type EventType string

// The event types, each with the type of its Data.
const (
	// EventExecutionCreated: the execution was triggered
	// (ExecutionCreatedData).
	EventExecutionCreated EventType = "execution.created"
	// EventExecutionStatus: the execution's status changed
	// (ExecutionStatusData).
	EventExecutionStatus EventType = "execution.status"
	// EventExecutionRollback: the execution failed, or someone asked for a
	// rollback, and rollback stages were added to it
	// (ExecutionRollbackData).
	EventExecutionRollback EventType = "execution.rollback"
	// EventStageStatus: a stage's status changed (StageStatusData).
	EventStageStatus EventType = "stage.status"
	// EventStageJudged: someone judged a manual judgment stage
	// (StageJudgedData).
	EventStageJudged EventType = "stage.judged"
	// EventStageRestarted: someone restarted a stage, which resets it and
	// the stages after it (StageRestartedData).
	EventStageRestarted EventType = "stage.restarted"
	// EventTaskStatus: a task of a stage started or ended (TaskStatusData).
	EventTaskStatus EventType = "task.status"
	// EventStageProgress: a running stage reached a point worth telling
	// (StageProgressData): a traffic shift's next step, an analysis
	// interval's score.
	EventStageProgress EventType = "stage.progress"
)

// StageProgressData is the Data of a stage.progress event.
type StageProgressData struct {
	RefID   string `json:"refId"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// ExecutionCreatedData is the Data of an execution.created event.
type ExecutionCreatedData struct {
	// Status is the new execution's: NOT_STARTED.
	Status status.Status `json:"status"`
	// Queued is true when the execution waits for others of its pipeline
	// to finish (limitConcurrent, maxConcurrentExecutions).
	Queued bool `json:"queued"`
}

// ExecutionStatusData is the Data of an execution.status event.
type ExecutionStatusData struct {
	// Status is the execution's new status.
	Status status.Status `json:"status"`
}

// ExecutionRollbackData is the Data of an execution.rollback event.
type ExecutionRollbackData struct {
	// Stages is how many rollback stages were added, one per change to
	// undo.
	Stages int `json:"stages"`
}

// StageStatusData is the Data of a stage.status event. The event's StageID
// names the stage; RefID and Name describe it, so that a client can show
// stages added while the execution runs (rollback stages).
type StageStatusData struct {
	// Status is the stage's new status.
	Status status.Status `json:"status"`
	RefID  string        `json:"refId"`
	Name   string        `json:"name"`
	// Reason says why a SKIPPED stage was skipped.
	Reason string `json:"reason,omitempty"`
	// Error says why the stage failed or timed out, in words that tell the
	// user what to fix.
	Error string `json:"error,omitempty"`
}

// StageJudgedData is the Data of a stage.judged event.
type StageJudgedData struct {
	// JudgmentStatus is JudgmentContinue or JudgmentStop.
	JudgmentStatus string `json:"judgmentStatus"`
	// JudgmentInput is the chosen input; empty when none was chosen.
	JudgmentInput string `json:"judgmentInput"`
	User          string `json:"user"`
}

// StageRestartedData is the Data of a stage.restarted event.
type StageRestartedData struct {
	User string `json:"user"`
}

// TaskStatusData is the Data of a task.status event. The event's StageID
// names the task's stage; RefID and Name describe the stage, as in
// StageStatusData.
type TaskStatusData struct {
	// Task is the task's name, one of the stage's tasks (Stage.Tasks).
	Task string `json:"task"`
	// Status is the task's new status: RUNNING when it starts, a final
	// status when it ends.
	Status status.Status `json:"status"`
	RefID  string        `json:"refId"`
	Name   string        `json:"name"`
}
