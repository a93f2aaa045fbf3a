package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// Executions started by other executions: the pipeline stage starts a
// child and waits for it; a pipeline trigger starts a pipeline when
// another ends (pipeline_trigger.go).
//
// A child is started in the transaction that records the pipeline stage's
// result (applyResult, on stage.Result.Start) and writes the child's id
// into the stage's context, under the parent's lock: a task run again
// after a crash finds the id and starts nothing. The stage then parks. An
// execution that ends inserts an execution_ended job in the transaction
// that ends it; that job wakes the parent's stage (a new generation, so a
// run of it already in flight finds nothing to do) and fires the pipeline
// triggers. It locks only the parent, never the child it came from, so it
// takes locks in the same order as everything else that holds a parent
// and then creates or reads a child.

// executionEndedArgs follows an execution that has just ended.
type executionEndedArgs struct {
	ExecutionID string `json:"execution_id"`
}

func (executionEndedArgs) Kind() string { return "sluice.execution_ended" }

type executionEndedWorker struct {
	river.WorkerDefaults[executionEndedArgs]
	e *Engine
}

func (w *executionEndedWorker) Work(ctx context.Context, job *river.Job[executionEndedArgs]) error {
	// The pipelines that may be triggered are read before the transaction,
	// which on SQLite holds the one write connection.
	candidates, err := w.e.pipelinesTriggeredBy(ctx, job.Args.ExecutionID)
	if err != nil {
		return err
	}
	return w.e.inTx(ctx, func(t *txn) error {
		ended, err := t.tx.ExecutionGet(ctx, job.Args.ExecutionID)
		if errors.Is(err, store.ErrNotFound) {
			return t.completeJob(job.JobRow)
		}
		if err != nil {
			return err
		}
		var trigger map[string]any
		if err := unmarshalObject(ended.Trigger, &trigger); err != nil {
			return fmt.Errorf("execution %s trigger: %w", ended.ID, err)
		}
		if stageID, _ := trigger["parentPipelineStageId"].(string); stageID != "" {
			parent, _ := trigger["parentExecution"].(map[string]any)
			if parentID, _ := parent["id"].(string); parentID != "" {
				if err := t.wakeParent(parentID, stageID, ended.ID); err != nil {
					return err
				}
			}
		}
		if err := t.firePipelineTriggers(ended, candidates); err != nil {
			return err
		}
		return t.completeJob(job.JobRow)
	})
}

// ended is called when the execution reaches a final status: it inserts
// the job that follows up on it when there is something to follow up — a
// parent's pipeline stage that waits for it, or a pipeline trigger on its
// pipeline in the trigger index — and nothing otherwise, so an execution
// nobody follows costs no job.
func (r *run) ended() error {
	var trigger map[string]any
	if err := unmarshalObject(r.exec.Trigger, &trigger); err != nil {
		return fmt.Errorf("execution %s trigger: %w", r.exec.ID, err)
	}
	if stageID, _ := trigger["parentPipelineStageId"].(string); stageID == "" {
		rows, err := pipelineTriggersOf(r.t.ctx, r.t.tx, r.exec.PipelineConfigID)
		if err != nil || len(rows) == 0 {
			return err
		}
	}
	return r.t.insertJob(executionEndedArgs{ExecutionID: r.exec.ID}, nil)
}

// wakeParent runs the parent's pipeline stage again, if it still waits for
// child.
func (t *txn) wakeParent(parentID, stageID, child string) error {
	r, err := t.load(parentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, s := range r.stages {
		if s.row.ID != stageID {
			continue
		}
		if id, _ := s.context()["executionId"].(string); id == child && s.row.Status == status.Running {
			if err := r.reschedule(s); err != nil {
				return err
			}
		}
	}
	return r.save()
}

// startChild starts the execution a pipeline stage asked for and records
// it in the stage's context. A reason the child cannot start is returned
// as failMsg, for the stage to fail with; err is for what the user cannot
// fix.
func (r *run) startChild(s *stageRun, req *stage.PipelineStart) (failMsg string, err error) {
	t := r.t
	p, err := t.findPipeline(req.Application, req.Pipeline)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Sprintf("The referenced pipeline cannot be located (%s): application %s has no pipeline with that id or name; set pipeline to the id (or name) of one of its pipelines",
			req.Pipeline, req.Application), nil
	}
	if err != nil {
		return "", err
	}
	if err := t.e.checkApplication(r.exec.Application, p.Application); err != nil {
		return fmt.Sprintf("pipeline stage %q may not start pipeline %s/%s: %v", s.row.Name, p.Application, p.Name, err), nil
	}
	if d := r.chainDepth(); d >= MaxChainDepth {
		return fmt.Sprintf("pipeline stage %q may not start pipeline %s/%s: execution %s is already %d pipelines deep (parent of a parent …), the most Sluice starts; does a pipeline start itself?",
			s.row.Name, p.Application, p.Name, r.exec.ID, d), nil
	}
	user := r.triggerUser()
	parent := r.env(nil).Execution
	parent["type"] = "PIPELINE"
	child, err := t.createExecution(&TriggerParams{
		Pipeline: p, Type: "pipeline", User: user, Parameters: req.Parameters,
		Extra: map[string]any{
			"parentExecution":       parent,
			"parentPipelineStageId": s.row.ID,
			"strategy":              false,
			"correlationId":         fmt.Sprintf("%s_%s_%s_%v", r.exec.ID, s.row.ID, p.ID, epochMs(r.exec.StartTime)),
		},
	})
	var verr *pipeline.ValidationError
	if errors.As(err, &verr) {
		return fmt.Sprintf("pipeline stage %q could not start pipeline %s/%s: %v", s.row.Name, p.Application, p.Name, err), nil
	}
	if err != nil {
		return "", err
	}
	s.context()["executionId"] = child.ID
	s.context()["executionName"] = p.Name
	s.dirty = true
	return "", nil
}

// MaxChainDepth is how many executions deep a chain of parents (pipeline
// stages, pipeline triggers) may go: a pipeline that starts itself, or two
// that trigger each other, stop there rather than run for ever, and the
// trigger, which carries every parent, stays bounded.
const MaxChainDepth = 16

// chainDepth counts the execution's ancestors: the parentExecution of its
// trigger, of that execution's trigger, and so on.
func (r *run) chainDepth() int {
	trigger := r.trigger()
	d := 0
	for {
		parent, _ := trigger["parentExecution"].(map[string]any)
		if parent == nil {
			return d
		}
		d++
		trigger, _ = parent["trigger"].(map[string]any)
	}
}

// triggerUser is who the execution runs for: its trigger's user (Orca's
// authentication user), else whoever started it.
func (r *run) triggerUser() string {
	if u := userOf(r.trigger()); u != "" {
		return u
	}
	if r.exec.User != "" {
		return r.exec.User
	}
	return "[anonymous]"
}

// findPipeline finds a saved pipeline of application by id (Spinnaker's
// pipeline config id), or else by name.
func (t *txn) findPipeline(application, key string) (*store.Pipeline, error) {
	p, err := t.tx.PipelineGetByID(t.ctx, key)
	switch {
	case err == nil && !p.Deleted && p.Application == application:
		return p, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return t.tx.PipelineGet(t.ctx, application, key)
}

// checkApplication applies Config.CheckApplication: may executions of
// application from start executions of application to?
func (e *Engine) checkApplication(from, to string) error {
	if from == to || e.checkApp == nil {
		return nil
	}
	return e.checkApp(from, to)
}

// Execution implements stage.Executions.
func (e *Engine) Execution(ctx context.Context, id string) (*stage.ExecutionView, error) {
	x, err := e.store.ExecutionGet(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &stage.ExecutionView{ID: x.ID, Application: x.Application, Name: x.PipelineName, Status: x.Status, Canceled: x.Canceled}
	if x.EndTime != nil {
		v.EndTime = *x.EndTime
	}
	for _, row := range x.Stages {
		sv := stage.StageView{ID: row.ID, RefID: row.RefID, Name: row.Name, Type: row.Type, Status: row.Status,
			RequisiteStageRefIDs: row.RequisiteStageRefIDs}
		if err := unmarshalObject(row.Context, &sv.Context); err != nil {
			return nil, fmt.Errorf("stage %s context: %w", row.ID, err)
		}
		if err := unmarshalObject(row.Outputs, &sv.Outputs); err != nil {
			return nil, fmt.Errorf("stage %s outputs: %w", row.ID, err)
		}
		v.Stages = append(v.Stages, sv)
	}
	return v, nil
}

// CancelChild implements stage.Executions: it cancels the child in the
// name of whoever canceled the parent.
func (e *Engine) CancelChild(ctx context.Context, parentID, childID string) error {
	parent, err := e.store.ExecutionGet(ctx, parentID)
	if err != nil {
		return err
	}
	var st execState
	if err := unmarshalObject(parent.State, &st); err != nil {
		return fmt.Errorf("execution %s state: %w", parent.ID, err)
	}
	user := st.CanceledBy
	if user == "" {
		user = "parent pipeline"
	}
	err = e.Cancel(ctx, childID, user, fmt.Sprintf("parent pipeline %s/%s (execution %s) was canceled", parent.Application, parent.PipelineName, parent.ID))
	if errors.Is(err, ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil // it ended, or is being canceled already
	}
	return err
}

var _ stage.Executions = (*Engine)(nil)
