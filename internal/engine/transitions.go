package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// begin moves a NOT_STARTED execution to RUNNING and starts its initial
// stages.
func (r *run) begin() error {
	r.state.Queued = false
	r.dirty = true
	if err := r.setExecStatus(status.Running); err != nil {
		return err
	}
	return r.advance()
}

// advance starts every stage whose requisites are all done, then finishes
// the execution when nothing is left to run. Starting a stage may complete
// it at once (skipped, no tasks), so it loops until nothing changes.
func (r *run) advance() error {
	for {
		if r.exec.Canceled || r.exec.Status != status.Running {
			break
		}
		var ready *stageRun
		for _, s := range r.stages {
			if s.row.Status != status.NotStarted || r.state.Halted && !s.isRollback() {
				continue
			}
			up := r.upstream(s)
			if len(up) != len(s.row.RequisiteStageRefIDs) {
				continue // validation forbids unknown refIds; never start such a stage
			}
			all := true
			for _, u := range up {
				all = all && okToFollow(u.row.Status)
			}
			if all {
				ready = s
				break
			}
		}
		if ready == nil {
			break
		}
		if err := r.startStage(ready); err != nil {
			return err
		}
	}
	for _, s := range r.stages {
		if s.row.Status.Active() {
			return nil
		}
	}
	if r.exec.Status.Complete() {
		return nil
	}
	return r.finish()
}

// startStage evaluates stageEnabled and the stage's expressions, plans its
// tasks and schedules the first one.
func (r *run) startStage(s *stageRun) error {
	typ, ok := r.t.e.stages.Lookup(s.row.Type)
	if !ok {
		return r.failStage(s, status.Terminal, fmt.Sprintf(
			"unknown stage type %q; known types: %s", s.row.Type, strings.Join(r.t.e.stages.Names(), ", ")))
	}
	if s.def != nil && s.def.StageEnabled != nil {
		enabled, why := r.stageEnabled(s)
		if !enabled {
			s.context()["skipReason"] = why
			s.newGen()
			if err := r.setStageStatus(s, status.Skipped, apitype.StageStatusData{Reason: why}); err != nil {
				return err
			}
			return nil
		}
	}

	// Evaluate ${…} in the stage's fields, except those the stage type
	// evaluates itself.
	raw := map[string]bool{"stageEnabled": true}
	if rf, ok := typ.(stage.RawFielder); ok {
		for _, f := range rf.RawFields() {
			raw[f] = true
		}
	}
	toEval := map[string]any{}
	for k, v := range s.context() {
		if !raw[k] {
			toEval[k] = v
		}
	}
	var summary *expr.Summary
	if expr.Holds(toEval) { // most contexts hold none, and need no env
		var resolved any
		resolved, summary = expr.Resolve(r.t.ctx, toEval, r.env(s))
		if m, ok := resolved.(map[string]any); ok {
			maps.Copy(s.context(), m)
		}
	}
	if summary != nil && !summary.Empty() {
		s.context()["expressionEvaluationSummary"] = summaryJSON(summary)
		if s.def != nil && s.def.FailOnFailedExpressions {
			return r.failStage(s, s.failureStatus(), "failOnFailedExpressions is set and "+summaryText(summary))
		}
	}

	tasks := typ.Tasks(s.context())
	if len(tasks) == 0 {
		return r.setStageStatus(s, status.Skipped, apitype.StageStatusData{Reason: "the stage has no tasks"})
	}
	b := s.newGen()
	if on, _ := s.context()["restrictExecutionDuringTimeWindow"].(bool); on && s.row.Type != pipeline.ExecutionWindowType {
		// Orca's synthetic window stage before this one: its tasks first.
		wtyp, ok := r.t.e.stages.Lookup(pipeline.ExecutionWindowType)
		if !ok {
			return r.failStage(s, status.Terminal, "restrictExecutionDuringTimeWindow is set, but this server runs no execution windows")
		}
		for _, name := range wtyp.Tasks(s.context()) {
			b.Tasks = append(b.Tasks, taskRecord{Name: name, Status: status.NotStarted, Window: true})
		}
	}
	for _, name := range tasks {
		b.Tasks = append(b.Tasks, taskRecord{Name: name, Status: status.NotStarted})
	}
	if err := r.setStageStatus(s, status.Running, apitype.StageStatusData{}); err != nil {
		return err
	}
	if err := r.setTaskStatus(s, 0, status.Running); err != nil {
		return err
	}
	return r.schedule(s)
}

// stageEnabled evaluates the stage's stageEnabled expression. As in Orca,
// an expression that fails or is not a boolean skips the stage. The
// reason is a sentence for the stage's skipReason: it names the condition
// once and, when it could not be evaluated, the evaluation's own error.
func (r *run) stageEnabled(s *stageRun) (bool, string) {
	src := s.def.StageEnabled.Expression
	v, err := expr.Eval(r.t.ctx, src, r.env(s))
	if err != nil {
		why := err.Error()
		var e *expr.Error
		if errors.As(err, &e) {
			why = e.Msg // err repeats the expression
		}
		return false, fmt.Sprintf("skipped because its condition (stageEnabled %q) could not be evaluated: %s", src, why)
	}
	switch b := v.(type) {
	case bool:
		if !b {
			return false, fmt.Sprintf("skipped because its condition (stageEnabled %q) is false", src)
		}
		return true, ""
	case string:
		if strings.EqualFold(b, "true") {
			return true, ""
		}
	}
	return false, fmt.Sprintf("skipped because its condition (stageEnabled %q) gave %v, which is neither true nor false", src, v)
}

// schedule inserts a job that runs the stage's current task now. Later
// runs of a polling task are snoozes of that job (see runStageWorker).
func (r *run) schedule(s *stageRun) error {
	return r.t.insertJob(runStageArgs{ExecutionID: r.exec.ID, StageID: s.row.ID, Gen: s.bk().Gen}, nil)
}

// reschedule bumps the stage's generation, which makes every job already
// scheduled for it stale, and schedules one to run now.
func (r *run) reschedule(s *stageRun) error {
	s.bk().Gen++
	s.dirty = true
	return r.schedule(s)
}

// failStage ends a stage that could not run its tasks.
func (r *run) failStage(s *stageRun, to status.Status, msg string) error {
	// A task may have said more (Orca's exception.details.errors, source):
	// keep it.
	exception, _ := s.context()["exception"].(map[string]any)
	details, _ := exception["details"].(map[string]any)
	if exception == nil || details == nil {
		exception, details = map[string]any{}, map[string]any{}
	}
	details["error"] = msg
	exception["details"] = details
	s.context()["exception"] = exception
	return r.completeStage(s, to, msg)
}

// completeStage ends a stage, and the task it was running, and moves the
// execution along.
func (r *run) completeStage(s *stageRun, to status.Status, errMsg string) error {
	if errMsg != "" {
		s.context()["error"] = errMsg
	}
	for i, task := range s.bk().Tasks {
		if !task.Status.Complete() && task.Status != status.NotStarted {
			if err := r.setTaskStatus(s, i, to); err != nil {
				return err
			}
		}
	}
	s.bk().PausedAt = 0
	if err := r.setStageStatus(s, to, apitype.StageStatusData{Error: errMsg}); err != nil {
		return err
	}
	if to == status.Terminal && !r.state.Halted {
		// failPipeline: start nothing new and cancel the other branches.
		r.state.Halted = true
		r.dirty = true
		for _, o := range r.stages {
			if o != s && o.row.Status.Active() {
				if err := r.reschedule(o); err != nil {
					return err
				}
			}
		}
	}
	return r.advance()
}

// finish gives the execution its final status and starts whatever waits
// for it in the pipeline's concurrency queue — unless it failed and its
// stages ask to be rolled back, in which case the rollback stages run
// first.
func (r *run) finish() error {
	final := r.finalStatus()
	if final == status.Terminal && !r.state.RolledBack {
		n, err := r.addRollbackStages(rolledBackOnFailure, r.rollbackWanted)
		if err != nil {
			return err
		}
		if n > 0 {
			return r.advance()
		}
	}
	if r.state.RolledBack && !r.exec.Canceled {
		// A change a failed rollback stage should have undone is still
		// there: the execution has not ended as its other stages say. (A
		// rollback stage restarted and succeeding clears this.)
		msg := r.rollbackFailure()
		if msg != r.state.RollbackFailed {
			r.state.RollbackFailed = msg
			r.dirty = true
		}
		if msg != "" {
			final = status.Terminal
		}
	}
	if err := r.setExecStatus(final); err != nil {
		return err
	}
	return r.startWaiting()
}

// env builds what expressions in stage s (nil: execution level) can see.
func (r *run) env(s *stageRun) *expr.Env {
	trigger := r.trigger()
	env := &expr.Env{Trigger: trigger, User: userOf(trigger), Pipelines: r.pipelineIDs()}
	stages := make([]any, 0, len(r.stages))
	for _, o := range r.stages {
		info := expr.StageInfo{
			ID: o.row.ID, RefID: o.row.RefID, Name: o.row.Name, Type: o.row.Type,
			Status: string(o.row.Status), Context: o.context(), Outputs: o.outs(),
		}
		if o.row.StartTime != nil {
			info.StartTime = ms(*o.row.StartTime)
		}
		if o.row.EndTime != nil {
			info.EndTime = ms(*o.row.EndTime)
		}
		env.Stages = append(env.Stages, info)
		stages = append(stages, map[string]any{
			"id": o.row.ID, "refId": o.row.RefID, "name": o.row.Name, "type": o.row.Type,
			"status": string(o.row.Status), "context": o.context(), "outputs": o.outs(),
			"startTime": epochMs(o.row.StartTime), "endTime": epochMs(o.row.EndTime),
		})
	}
	// The times are Orca's: epoch milliseconds, null until they happen.
	env.Execution = map[string]any{
		"id": r.exec.ID, "application": r.exec.Application, "name": r.exec.PipelineName,
		"pipelineConfigId": r.exec.PipelineConfigID, "status": string(r.exec.Status),
		"trigger": trigger, "stages": stages, "user": r.exec.User, "canceled": r.exec.Canceled,
		"buildTime": epochMs(&r.exec.CreatedAt), "startTime": epochMs(r.exec.StartTime), "endTime": epochMs(r.exec.EndTime),
	}
	if s != nil {
		env.Current = s.row.ID
		env.Context = s.context()
		env.Ancestors = map[string]any{}
		anc := r.ancestors(s)
		for i := len(anc) - 1; i >= 0; i-- { // nearest last, so nearest wins
			maps.Copy(env.Ancestors, anc[i].outs())
		}
	}
	return env
}

// pipelineIDs maps the names of the application's pipelines to their IDs,
// for #pipelineId. It reads them only when the pipeline document mentions
// #pipelineId, so other executions pay nothing.
func (r *run) pipelineIDs() map[string]string {
	if !strings.Contains(string(r.exec.Pipeline), "#pipelineId") {
		return nil
	}
	return r.listPipelineIDs()
}

// listPipelineIDs reads the application's pipelines from the store; nil
// (the helper then says the lookup is not available) if it cannot.
func (r *run) listPipelineIDs() map[string]string {
	var q store.Querier = r.t.tx
	if r.t.tx == nil { // outside a transaction, as in Evaluate
		q = r.t.e.store
	}
	ps, err := q.PipelineList(r.t.ctx, &store.PipelineListParams{Application: r.exec.Application})
	if err != nil {
		return nil
	}
	ids := make(map[string]string, len(ps))
	for _, p := range ps {
		ids[p.Name] = p.ID
	}
	return ids
}

// epochMs is t as an expression sees a time: epoch milliseconds, or nil
// when t is unset.
func epochMs(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return int(ms(*t))
}

func userOf(trigger map[string]any) string {
	u, _ := trigger["user"].(string)
	return u
}

func summaryJSON(s *expr.Summary) map[string]any {
	out := map[string]any{}
	for _, f := range s.Failures {
		list, _ := out[f.Expression].([]any)
		out[f.Expression] = append(list, map[string]any{
			"description": f.Msg, "level": "ERROR", "path": f.Path,
		})
	}
	return out
}

func summaryText(s *expr.Summary) string {
	parts := make([]string, len(s.Failures))
	for i, f := range s.Failures {
		parts[i] = fmt.Sprintf("%s: expression %s failed: %s", f.Path, f.Expression, f.Msg)
	}
	return strings.Join(parts, "; ")
}

// task builds a stage task's input. inline says the task runs inside this
// transaction (stage.IsInline).
func (r *run) task(s *stageRun, inline bool) *stage.Task {
	b := s.bk()
	t := &stage.Task{
		Name:        b.Tasks[b.Current].Name,
		ExecutionID: r.exec.ID,
		StageID:     s.row.ID,
		StageRefID:  s.row.RefID,
		StageName:   s.row.Name,
		Application: r.exec.Application,
		Context:     maps.Clone(s.context()),
		Now:         r.t.now,
		User:        r.exec.User,
		Executions:  r.t.e,
	}
	t.Artifacts = boundArtifacts(r.trigger())
	// The env reads every stage of the execution, which most inline tasks
	// never evaluate against: for them it is made on the first Eval, in
	// the transaction. A task that calls out runs after the transaction,
	// which must make the env (and so fail on a stored column that does
	// not decode) before it ends.
	env := sync.OnceValues(func() (*expr.Env, error) {
		env := r.env(s)
		return env, r.t.decodeErr
	})
	if !inline {
		env()
	}
	t.Eval = func(ctx context.Context, v any, vars map[string]any) (any, []string) {
		env, err := env()
		if err != nil {
			return v, []string{err.Error()}
		}
		e := *env
		if len(vars) > 0 {
			e.Ancestors = maps.Clone(env.Ancestors)
			maps.Copy(e.Ancestors, vars)
		}
		out, summary := expr.Resolve(ctx, v, &e)
		var msgs []string
		if summary != nil {
			for _, f := range summary.Failures {
				msgs = append(msgs, fmt.Sprintf("expression %s failed: %s", f.Expression, f.Msg))
			}
		}
		return out, msgs
	}
	if s.row.StartTime != nil {
		// Paused time does not count: the stage "started" that much later.
		t.StartTime = s.row.StartTime.Add(time.Duration(b.PausedMs) * time.Millisecond)
	}
	t.TaskStartTime = msTime(b.Tasks[b.Current].StartTime)
	return t
}
