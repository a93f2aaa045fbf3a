package stage

import (
	"context"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
)

// Executions is what the engine lets a task see of other executions: the
// pipeline stage follows the child execution it started, and cancels it
// when its own execution is canceled. Starting one is not here: a task
// asks for it with StartPipeline, and the engine starts the child in the
// transaction that records the stage's result, so that a crash can
// neither lose nor duplicate it.
type Executions interface {
	// Execution returns an execution, as committed, with its stages.
	Execution(ctx context.Context, id string) (*ExecutionView, error)
	// CancelChild cancels execution childID because its parent, parentID,
	// is being canceled; the cancellation names who canceled the parent.
	// A child that has already ended is left alone.
	CancelChild(ctx context.Context, parentID, childID string) error
}

// ExecutionView is an execution as a task sees it.
type ExecutionView struct {
	ID          string
	Application string
	Name        string // the pipeline's name
	Status      status.Status
	Canceled    bool
	EndTime     time.Time   // zero until it ends
	Stages      []StageView // in execution order
}

// StageView is one stage of an ExecutionView.
type StageView struct {
	ID                   string
	RefID                string
	Name                 string
	Type                 string
	Status               status.Status
	RequisiteStageRefIDs []string
	Context              map[string]any
	Outputs              map[string]any
}

// PipelineStart is a request, in a Result, to start an execution of a
// saved pipeline as the child of the task's stage (StartPipeline).
type PipelineStart struct {
	// Application is the child pipeline's application.
	Application string
	// Pipeline is the child pipeline's id (Spinnaker's pipeline config
	// id), or its name within Application.
	Pipeline string
	// Parameters are the child's trigger parameters, before its
	// parameterConfig defaults.
	Parameters map[string]any
}

// StartPipeline ends the task SUCCEEDED and asks the engine to start
// the child execution req describes, in the transaction that records the
// result, unless the stage's context already has an "executionId" (a
// child started by an earlier run of the task). The engine records the
// child's id and pipeline name in the stage's context as executionId and
// executionName; if the child cannot be started (no such pipeline, a
// parameter missing, no right on its application) the stage fails with
// the reason.
func StartPipeline(req PipelineStart) Result {
	return Result{Status: status.Succeeded, Start: &req}
}
