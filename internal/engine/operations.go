package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// TriggerParams are the arguments of Trigger.
type TriggerParams struct {
	Pipeline   *store.Pipeline // the saved revision to run
	Type       string          // trigger type; "manual" when empty
	User       string
	Parameters map[string]any
	// Extra holds further trigger fields (a webhook's payload, a parent
	// execution, …); they appear under trigger.* in expressions.
	Extra map[string]any
	// TriggerKey, when set, names the pipeline's trigger that fired
	// (trigger.Key): its last firing is recorded with the execution.
	TriggerKey string
	// DeliveryID, when set with TriggerKey, is the ID the sender gave the
	// delivery: a second delivery with it starts nothing and Trigger
	// returns ErrReplayed.
	DeliveryID string
	// Artifacts are the artifacts the trigger brings; Trigger binds the
	// pipeline's expectedArtifacts to them (bindArtifacts).
	Artifacts []pipeline.Artifact
	// ExpectedArtifactIDs are the ids of the expected artifacts this
	// trigger expects (a trigger's expectedArtifactIds); nil expects every
	// one, as a manual run does.
	ExpectedArtifactIDs []string
}

// ErrReplayed is returned by Trigger for a delivery that already fired the
// trigger (TriggerParams.DeliveryID).
var ErrReplayed = errors.New("delivery already fired this trigger")

// Trigger creates an execution of a saved pipeline. It applies the
// parameterConfig defaults and checks required parameters and options
// (returning *pipeline.ValidationError with paths "parameters.NAME"). The
// execution starts at once, or waits in the pipeline's concurrency queue.
func (e *Engine) Trigger(ctx context.Context, p *TriggerParams) (*store.Execution, error) {
	var exec *store.Execution
	err := e.inTx(ctx, func(t *txn) error {
		var err error
		exec, err = t.createExecution(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return exec, nil
}

// createExecution is Trigger inside a transaction: the pipeline stage and
// pipeline triggers start executions in the transaction that makes them
// due.
func (t *txn) createExecution(p *TriggerParams) (*store.Execution, error) {
	ctx := t.ctx
	doc, err := pipeline.Parse(p.Pipeline.Document)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s/%s: %w", p.Pipeline.Application, p.Pipeline.Name, err)
	}
	if disabled, _ := doc.Extra["disabled"].(bool); disabled && p.TriggerKey != "" {
		// Echo leaves disabled pipelines out of every trigger; a person
		// may still start one.
		return nil, &pipeline.ValidationError{Problems: []pipeline.Problem{{Path: "disabled",
			Msg: "the pipeline is disabled, so its triggers start nothing (as in Spinnaker); set disabled to false to let them"}}}
	}
	params, err := applyParameters(doc, p.Parameters)
	if err != nil {
		return nil, err
	}
	trigger := map[string]any{}
	maps.Copy(trigger, p.Extra)
	trigger["type"] = cmp.Or(p.Type, "manual")
	trigger["user"] = p.User
	trigger["parameters"] = params
	if err := t.e.bindArtifacts(ctx, p, doc, trigger); err != nil {
		return nil, err
	}
	triggerJSON, err := json.Marshal(trigger)
	if err != nil {
		return nil, fmt.Errorf("encode trigger: %w", err)
	}

	now := t.now
	exec := &store.Execution{
		ID:               uuid.NewString(),
		Application:      p.Pipeline.Application,
		PipelineName:     p.Pipeline.Name,
		PipelineConfigID: p.Pipeline.ID,
		PipelineRevision: p.Pipeline.Revision,
		Status:           status.NotStarted,
		Pipeline:         p.Pipeline.Document,
		Trigger:          triggerJSON,
		State:            json.RawMessage(`{}`),
		User:             p.User,
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	for i, s := range doc.Stages {
		row, err := newStageRow(exec.ID, i, s)
		if err != nil {
			return nil, err
		}
		row.UpdatedAt = now
		exec.Stages = append(exec.Stages, row)
	}

	if p.TriggerKey != "" && p.DeliveryID != "" {
		err := t.tx.TriggerDeliveryInsert(ctx, &store.TriggerDelivery{PipelineID: p.Pipeline.ID, Key: p.TriggerKey,
			DeliveryID: p.DeliveryID, ExecutionID: exec.ID, CreatedAt: now})
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("delivery %q, trigger %s of %s/%s: %w", p.DeliveryID, p.TriggerKey, p.Pipeline.Application, p.Pipeline.Name, ErrReplayed)
		}
		if err != nil {
			return nil, err
		}
	}
	queued := false
	if limitsConcurrency(doc) {
		running, err := t.runningOf(exec.PipelineConfigID, "")
		if err != nil {
			return nil, err
		}
		queued = mustQueue(doc, running)
	}
	if queued {
		exec.State = json.RawMessage(`{"queued":true}`)
	}
	if err := t.tx.ExecutionInsert(ctx, exec); err != nil {
		return nil, err
	}
	if p.TriggerKey != "" {
		err := t.tx.TriggerFired(ctx, &store.TriggerFiring{PipelineID: p.Pipeline.ID, Key: p.TriggerKey, At: now,
			ExecutionID: exec.ID, Outcome: OutcomeStarted})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		t.fire(p.Pipeline.Application, cmp.Or(p.Type, "manual"), OutcomeStarted)
	}
	r, err := t.wrap(exec)
	if err != nil {
		return nil, err
	}
	if err := r.event("", apitype.EventExecutionCreated, apitype.ExecutionCreatedData{Status: exec.Status, Queued: queued}); err != nil {
		return nil, err
	}
	details := map[string]any{"parameters": params, "type": trigger["type"]}
	if p.TriggerKey != "" {
		details["trigger"] = p.TriggerKey
	}
	if p.DeliveryID != "" {
		details["delivery"] = p.DeliveryID
	}
	if err := r.audit(p.User, "trigger", nil, details); err != nil {
		return nil, err
	}
	if !queued {
		// It starts in the transaction that creates it: a job to start it
		// would cost a fetch and a transaction more, and delay its first
		// stages by as much. (A queued execution starts by that job, when
		// it leaves the queue.)
		if err := r.begin(); err != nil {
			return nil, err
		}
	}
	return exec, r.save()
}

// OutcomeStarted is the last outcome of a trigger whose last firing
// started an execution.
const OutcomeStarted = "started"

// bindArtifacts resolves the pipeline's expectedArtifacts against the
// trigger's artifacts, the last execution's and the defaults
// (pipeline.ResolveArtifacts), and records them on the trigger as Orca
// does: trigger.artifacts (received and bound), trigger.expectedArtifacts
// and trigger.resolvedExpectedArtifacts (each with its boundArtifact). An
// expected artifact it cannot bind is a *pipeline.ValidationError at
// "artifacts": the execution is not created.
func (e *Engine) bindArtifacts(ctx context.Context, p *TriggerParams, doc *pipeline.Pipeline, trigger map[string]any) error {
	expected, problems := doc.ExpectedArtifacts()
	if len(problems) > 0 {
		return &pipeline.ValidationError{Problems: problems}
	}
	if len(expected) == 0 && len(p.Artifacts) == 0 {
		return nil
	}
	if p.ExpectedArtifactIDs != nil {
		trigger["expectedArtifactIds"] = p.ExpectedArtifactIDs
	}
	prior := func() ([]pipeline.Artifact, error) {
		page, err := e.store.ExecutionList(ctx, &store.ExecutionListParams{
			Application: p.Pipeline.Application, PipelineName: p.Pipeline.Name, Limit: 1,
		})
		if err != nil || len(page.Executions) == 0 {
			return nil, err
		}
		return TriggerArtifacts(page.Executions[0].Trigger), nil
	}
	res, err := pipeline.ResolveArtifacts(expected, p.ExpectedArtifactIDs, p.Artifacts, prior)
	if err != nil {
		var ue *pipeline.UnmatchedArtifactError
		var ae *pipeline.AmbiguousArtifactError
		if errors.As(err, &ue) || errors.As(err, &ae) {
			return &pipeline.ValidationError{Problems: []pipeline.Problem{{Path: "artifacts", Msg: err.Error()}}}
		}
		return err
	}
	trigger["artifacts"] = orEmpty(res.Artifacts)
	trigger["expectedArtifacts"] = orEmpty(res.Expected)
	trigger["resolvedExpectedArtifacts"] = orEmpty(res.Expected)
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// TriggerArtifacts reads trigger.artifacts of a stored trigger.
func TriggerArtifacts(triggerJSON json.RawMessage) []pipeline.Artifact {
	var t struct {
		Artifacts []pipeline.Artifact `json:"artifacts"`
	}
	_ = json.Unmarshal(triggerJSON, &t)
	return t.Artifacts
}

// boundArtifacts reads trigger.resolvedExpectedArtifacts of a trigger:
// the bound artifact by expected-artifact id.
func boundArtifacts(trigger map[string]any) map[string]pipeline.Artifact {
	list, _ := trigger["resolvedExpectedArtifacts"].([]any)
	out := map[string]pipeline.Artifact{}
	for _, item := range list {
		m, _ := item.(map[string]any)
		id, _ := m["id"].(string)
		if a, ok := m["boundArtifact"].(map[string]any); ok && id != "" {
			out[id] = a
		}
	}
	return out
}

func newStageRow(execID string, seq int, s *pipeline.Stage) (*store.Stage, error) {
	fields, err := json.Marshal(s.Fields)
	if err != nil {
		return nil, fmt.Errorf("stage %q: %w", s.Name, err)
	}
	return &store.Stage{
		ID:                   uuid.NewString(),
		ExecutionID:          execID,
		Seq:                  seq,
		RefID:                s.RefID,
		Name:                 s.Name,
		Type:                 s.Type,
		RequisiteStageRefIDs: slices.Clone(s.RequisiteStageRefIDs),
		Status:               status.NotStarted,
		Context:              fields,
		Outputs:              json.RawMessage(`{}`),
		Tasks:                json.RawMessage(`{}`),
	}, nil
}

// limitsConcurrency reports whether the pipeline can make executions wait.
func limitsConcurrency(doc *pipeline.Pipeline) bool {
	return doc.LimitConcurrent || doc.MaxConcurrentExecutions > 0
}

// mustQueue applies Orca's concurrency rule: with limitConcurrent, any
// other running execution queues a new one; otherwise
// maxConcurrentExecutions (when > 0) caps how many run.
func mustQueue(doc *pipeline.Pipeline, running int) bool {
	if doc.LimitConcurrent {
		return running > 0
	}
	return doc.MaxConcurrentExecutions > 0 && running >= doc.MaxConcurrentExecutions
}

// applyParameters fills defaults and checks parameters against the
// pipeline's parameterConfig.
func applyParameters(doc *pipeline.Pipeline, given map[string]any) (map[string]any, error) {
	params := maps.Clone(given)
	if params == nil {
		params = map[string]any{}
	}
	var problems []pipeline.Problem
	for _, pc := range doc.ParameterConfig {
		v, ok := params[pc.Name]
		if (!ok || v == nil || v == "") && pc.Default != nil && pc.Default != "" {
			params[pc.Name], v, ok = pc.Default, pc.Default, true
		}
		if pc.Required && (!ok || v == nil || v == "") {
			problems = append(problems, pipeline.Problem{
				Path: "parameters." + pc.Name,
				Msg:  fmt.Sprintf("parameter %q is required%s; pass it with -p %s=VALUE", pc.Name, labelOf(pc), pc.Name),
			})
			continue
		}
		if pc.HasOptions && len(pc.Options) > 0 && ok && v != nil && v != "" {
			var allowed []string
			found := false
			for _, o := range pc.Options {
				ov := fmt.Sprint(o.Value)
				allowed = append(allowed, ov)
				found = found || ov == fmt.Sprint(v)
			}
			if !found {
				problems = append(problems, pipeline.Problem{
					Path: "parameters." + pc.Name,
					Msg:  fmt.Sprintf("%v is not one of the options of parameter %q: %s", v, pc.Name, strings.Join(allowed, ", ")),
				})
			}
		}
	}
	if len(problems) > 0 {
		return nil, &pipeline.ValidationError{Problems: problems}
	}
	return params, nil
}

func labelOf(pc pipeline.Parameter) string {
	if pc.Label == "" {
		return ""
	}
	return fmt.Sprintf(" (%s)", pc.Label)
}

// runningOf counts the executions of a pipeline that hold a concurrency
// slot: running, paused, or started but not yet picked up by a worker.
func (t *txn) runningOf(configID, except string) (int, error) {
	list, err := t.tx.ExecutionListByConfig(t.ctx, configID,
		[]status.Status{status.NotStarted, status.Running, status.Paused})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range list {
		queued, err := isQueued(x)
		if err != nil {
			return 0, err
		}
		if x.ID != except && !queued && !x.Canceled {
			n++
		}
	}
	return n, nil
}

// isQueued reports whether x waits in its pipeline's concurrency queue.
func isQueued(x *store.Execution) (bool, error) {
	if x.Status != status.NotStarted || x.Canceled {
		return false, nil
	}
	var st execState
	if err := unmarshalObject(x.State, &st); err != nil {
		return false, fmt.Errorf("execution %s state: %w", x.ID, err)
	}
	return st.Queued, nil
}

// startWaiting starts executions waiting in this pipeline's concurrency
// queue, by Orca's rules: with keepWaitingPipelines the oldest first (FIFO);
// otherwise the newest starts and the others are canceled.
func (r *run) startWaiting() error {
	t := r.t
	// Executions that have not started are few: queued ones and those a
	// worker is about to pick up.
	list, err := t.tx.ExecutionListByConfig(t.ctx, r.exec.PipelineConfigID, []status.Status{status.NotStarted})
	if err != nil {
		return err
	}
	var waiting []*store.Execution // oldest first
	for _, x := range list {
		if queued, err := isQueued(x); err != nil {
			return err
		} else if queued && x.ID != r.exec.ID {
			waiting = append(waiting, x)
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	running := 0
	if limitsConcurrency(r.doc) {
		if running, err = t.runningOf(r.exec.PipelineConfigID, r.exec.ID); err != nil {
			return err
		}
	}
	if limitsConcurrency(r.doc) && !r.doc.KeepWaitingPipelines {
		newest := waiting[len(waiting)-1]
		for _, x := range waiting[:len(waiting)-1] {
			if err := r.cancelQueued(x.ID, newest.ID); err != nil {
				return err
			}
		}
		waiting = waiting[len(waiting)-1:]
	}
	for _, x := range waiting {
		if mustQueue(r.doc, running) {
			break
		}
		w, err := t.load(x.ID)
		if err != nil {
			return err
		}
		w.state.Queued = false
		w.dirty = true
		if err := w.save(); err != nil {
			return err
		}
		if err := t.insertJob(startExecutionArgs{ExecutionID: x.ID}, nil); err != nil {
			return err
		}
		running++
	}
	return nil
}

func (r *run) cancelQueued(id, supersededBy string) error {
	w, err := r.t.load(id)
	if err != nil {
		return err
	}
	w.exec.Canceled = true
	w.state.Queued = false
	w.state.CancellationReason = fmt.Sprintf("queued but then canceled because a newer queued execution (%s) superseded it", supersededBy)
	w.dirty = true
	if err := w.setExecStatus(status.Canceled); err != nil {
		return err
	}
	return w.save()
}

// Judgment is a decision on a manual judgment stage.
type Judgment struct {
	Status string // "continue" or "stop"
	Input  string // one of the stage's judgmentInputs, if it has any
	User   string
}

// Judge records a judgment on a waiting manualJudgment stage and schedules
// the stage to act on it.
//
// On a stage that defines judgmentInputs, "continue" needs one of them:
// without it the judgment is refused with a validation error that lists
// the inputs. Orca's API takes a continue without an input, but the stages
// after a judgment with inputs branch on it (#judgment('Approve') ==
// 'promote'), so every branch would be skipped and the execution would
// succeed having done nothing; Deck never sends such a judgment (its
// Continue button stays disabled until an input is chosen), and neither
// does Sluice. "stop" needs no input, as in Deck.
func (e *Engine) Judge(ctx context.Context, executionID, stageKey string, j Judgment) error {
	if j.Status != "continue" && j.Status != "stop" {
		return &pipeline.ValidationError{Problems: []pipeline.Problem{{
			Path: "status", Msg: fmt.Sprintf("judgment status must be \"continue\" or \"stop\", not %q", j.Status)}}}
	}
	return e.change(ctx, executionID, func(t *txn, r *run) error {
		s, err := r.stage(stageKey)
		if err != nil {
			return err
		}
		if s.row.Type != "manualJudgment" {
			return conflictf("stage %q is a %s stage, not a manual judgment", s.row.Name, s.row.Type)
		}
		if r.exec.Status == status.Paused {
			return conflictf("execution %s is paused; resume it before judging stage %q", r.exec.ID, s.row.Name)
		}
		if s.row.Status != status.Running {
			return conflictf("stage %q is %s, not waiting for a judgment", s.row.Name, s.row.Status)
		}
		if prev, _ := s.context()["judgmentStatus"].(string); prev != "" {
			return conflictf("stage %q was already judged %q by %v", s.row.Name, prev, s.context()["lastModifiedBy"])
		}
		opts := judgmentOptions(s.context())
		switch {
		case j.Input != "" && len(opts) > 0 && !slices.Contains(opts, j.Input):
			return &pipeline.ValidationError{Problems: []pipeline.Problem{{
				Path: "input", Msg: fmt.Sprintf("%q is not one of the judgment inputs of stage %q: %s", j.Input, s.row.Name, strings.Join(opts, ", "))}}}
		case j.Input == "" && j.Status == "continue" && len(opts) > 0:
			return &pipeline.ValidationError{Problems: []pipeline.Problem{{
				Path: "input", Msg: fmt.Sprintf("stage %q needs one of its judgment inputs to continue: %s (the stages after it branch on the input)", s.row.Name, strings.Join(opts, ", "))}}}
		}
		s.context()["judgmentStatus"] = j.Status
		s.context()["judgmentInput"] = j.Input
		s.context()["lastModifiedBy"] = j.User
		s.context()["lastModified"] = map[string]any{"user": j.User, "lastModifiedTime": ms(t.now)}
		if err := r.event(s.row.ID, apitype.EventStageJudged, apitype.StageJudgedData{JudgmentStatus: j.Status, JudgmentInput: j.Input, User: j.User}); err != nil {
			return err
		}
		if err := r.audit(j.User, "judge", s, map[string]any{"status": j.Status, "input": j.Input}); err != nil {
			return err
		}
		if err := r.reschedule(s); err != nil {
			return err
		}
		return nil
	})
}

func judgmentOptions(ctx map[string]any) []string {
	list, _ := ctx["judgmentInputs"].([]any)
	var out []string
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			if v, ok := m["value"]; ok {
				out = append(out, fmt.Sprint(v))
			}
		}
	}
	return out
}

// SkipWait ends the remaining time of a running wait stage, or the wait of
// a stage for its execution window (Orca's "skip execution window"; a
// wait stage in its window has its window skipped, not its wait).
func (e *Engine) SkipWait(ctx context.Context, executionID, stageKey, user string) error {
	return e.change(ctx, executionID, func(t *txn, r *run) error {
		s, err := r.stage(stageKey)
		if err != nil {
			return err
		}
		if s.row.Type != "wait" && !s.inWindow() {
			return conflictf("stage %q is a %s stage and not waiting for its execution window; only a wait stage's remaining time, or an execution window, can be skipped", s.row.Name, s.row.Type)
		}
		if s.row.Status != status.Running {
			return conflictf("stage %q is %s, not waiting", s.row.Name, s.row.Status)
		}
		if s.inWindow() {
			s.context()[stage.SkipWindowKey] = true
		} else {
			s.context()["skipRemainingWait"] = true
		}
		if err := r.audit(user, "skip-wait", s, nil); err != nil {
			return err
		}
		if err := r.reschedule(s); err != nil {
			return err
		}
		return nil
	})
}

// Steer gives a command (pause, resume, promote, abort, as the stage type
// says) to a running stage that takes commands (stage.Steerable), and runs
// the stage's task again to act on it.
func (e *Engine) Steer(ctx context.Context, executionID, stageKey, command, user string) error {
	return e.change(ctx, executionID, func(t *txn, r *run) error {
		s, err := r.stage(stageKey)
		if err != nil {
			return err
		}
		typ, _ := e.stages.Lookup(s.row.Type)
		st, ok := typ.(stage.Steerable)
		if !ok {
			return conflictf("stage %q is a %s stage, which takes no commands", s.row.Name, s.row.Type)
		}
		if s.row.Status != status.Running {
			return conflictf("stage %q is %s; commands go to a running stage", s.row.Name, s.row.Status)
		}
		cmds := st.Commands(s.context())
		if !slices.Contains(cmds, command) {
			if len(cmds) == 0 {
				return conflictf("stage %q takes no commands now", s.row.Name)
			}
			return conflictf("stage %q takes %s now, not %q", s.row.Name, strings.Join(cmds, ", "), command)
		}
		list, _ := s.context()[stage.CommandsKey].([]any)
		s.context()[stage.CommandsKey] = append(slices.Clone(list), map[string]any{
			"command": command, "user": user, "at": t.now.UTC().Format(time.RFC3339Nano)})
		if err := r.audit(user, command, s, nil); err != nil {
			return err
		}
		return r.reschedule(s)
	})
}

// Cancel cancels an execution. Running stages are canceled by their own
// jobs, which run the stage type's cancel hook first.
func (e *Engine) Cancel(ctx context.Context, executionID, user, reason string) error {
	return e.change(ctx, executionID, func(t *txn, r *run) error {
		if r.exec.Status.Complete() {
			return conflictf("execution %s is already %s", r.exec.ID, r.exec.Status)
		}
		if r.exec.Canceled {
			return conflictf("execution %s is already being canceled", r.exec.ID)
		}
		r.exec.Canceled = true
		r.state.CanceledBy = user
		r.state.CancellationReason = reason
		r.state.Queued = false
		r.dirty = true
		if err := r.audit(user, "cancel", nil, map[string]any{"reason": reason}); err != nil {
			return err
		}
		if r.exec.Status == status.NotStarted {
			if err := r.setExecStatus(status.Canceled); err != nil {
				return err
			}
			return nil
		}
		if r.exec.Status == status.Paused {
			if err := r.setExecStatus(status.Running); err != nil {
				return err
			}
		}
		anyActive := false
		for _, s := range r.stages {
			if s.row.Status.Active() {
				anyActive = true
				if s.row.Status == status.Paused {
					if err := r.setStageStatus(s, status.Running, apitype.StageStatusData{}); err != nil {
						return err
					}
				}
				if err := r.reschedule(s); err != nil {
					return err
				}
			}
		}
		if !anyActive {
			if err := r.finish(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Pause pauses a running execution: running stages stop being scheduled
// until Resume, and paused time does not count against stage timeouts.
func (e *Engine) Pause(ctx context.Context, executionID, user string) error {
	return e.change(ctx, executionID, func(t *txn, r *run) error {
		if r.exec.Status != status.Running || r.exec.Canceled {
			return conflictf("execution %s is %s; only a running execution can be paused", r.exec.ID, r.exec.Status)
		}
		prev := r.state.Paused
		r.state.Paused = &pauseState{PauseTime: ms(t.now), PausedBy: user}
		if prev != nil {
			r.state.Paused.PausedMs = prev.PausedMs
		}
		if err := r.setExecStatus(status.Paused); err != nil {
			return err
		}
		for _, s := range r.stages {
			if s.row.Status == status.Running {
				if err := r.pauseStage(s); err != nil {
					return err
				}
			}
		}
		if err := r.audit(user, "pause", nil, nil); err != nil {
			return err
		}
		return nil
	})
}

// Resume resumes a paused execution.
func (e *Engine) Resume(ctx context.Context, executionID, user string) error {
	return e.change(ctx, executionID, func(t *txn, r *run) error {
		if r.exec.Status != status.Paused {
			return conflictf("execution %s is %s; only a paused execution can be resumed", r.exec.ID, r.exec.Status)
		}
		if p := r.state.Paused; p != nil {
			p.ResumeTime = ms(t.now)
			p.ResumedBy = user
			p.PausedMs += p.ResumeTime - p.PauseTime
		}
		if err := r.setExecStatus(status.Running); err != nil {
			return err
		}
		for _, s := range r.stages {
			if s.row.Status != status.Paused {
				continue
			}
			if b := s.bk(); b.PausedAt > 0 {
				b.PausedMs += ms(t.now) - b.PausedAt
				b.PausedAt = 0
			}
			if err := r.setStageStatus(s, status.Running, apitype.StageStatusData{}); err != nil {
				return err
			}
			if err := r.reschedule(s); err != nil {
				return err
			}
		}
		if err := r.audit(user, "resume", nil, nil); err != nil {
			return err
		}
		return nil
	})
}

// RestartStage resets a completed stage and everything downstream of it to
// NOT_STARTED and runs them again, recording who restarted it and when.
func (e *Engine) RestartStage(ctx context.Context, executionID, stageKey, user string) error {
	return e.change(ctx, executionID, func(t *txn, r *run) error {
		s, err := r.stage(stageKey)
		if err != nil {
			return err
		}
		if !s.row.Status.Complete() && s.row.Status != status.NotStarted {
			return conflictf("stage %q is %s; only a completed or not-started stage can be restarted", s.row.Name, s.row.Status)
		}
		if r.exec.Status == status.NotStarted {
			return conflictf("execution %s has not started yet", r.exec.ID)
		}
		if r.exec.Status.Complete() && limitsConcurrency(r.doc) {
			running, err := t.runningOf(r.exec.PipelineConfigID, r.exec.ID)
			if err != nil {
				return err
			}
			if mustQueue(r.doc, running) {
				return conflictf("pipeline %s/%s already has %d running execution(s) and limits concurrency; restart once they finish",
					r.exec.Application, r.exec.PipelineName, running)
			}
		}
		previousError, _ := s.context()["error"].(string)
		kept := r.keptOnRestart(s)
		for _, x := range append([]*stageRun{s}, r.downstream(s)...) {
			if x.row.Status.Active() {
				return conflictf("stage %q downstream of %q is still %s; wait for it or cancel the execution", x.row.Name, s.row.Name, x.row.Status)
			}
			if err := r.resetStage(x); err != nil {
				return err
			}
		}
		maps.Copy(s.context(), kept)
		s.context()["restartDetails"] = map[string]any{
			"restartedBy": user, "restartTime": ms(t.now), "previousException": previousError,
		}
		r.exec.Canceled = false
		r.exec.EndTime = nil
		r.state.Halted = false
		r.state.CanceledBy, r.state.CancellationReason = "", ""
		r.dirty = true
		if err := r.setExecStatus(status.Running); err != nil {
			return err
		}
		if err := r.event(s.row.ID, apitype.EventStageRestarted, apitype.StageRestartedData{User: user}); err != nil {
			return err
		}
		if err := r.audit(user, "restart", s, nil); err != nil {
			return err
		}
		if err := r.advance(); err != nil {
			return err
		}
		return nil
	})
}

// keptOnRestart is what a restart of s keeps of its context: the keys its
// type names as a stage.RestartKeeper (what its first run resolved).
func (r *run) keptOnRestart(s *stageRun) map[string]any {
	typ, ok := r.t.e.stages.Lookup(s.row.Type)
	if !ok {
		return nil
	}
	k, ok := typ.(stage.RestartKeeper)
	if !ok {
		return nil
	}
	kept := map[string]any{}
	for _, key := range k.KeptOnRestart() {
		if v, ok := s.context()[key]; ok {
			kept[key] = v
		}
	}
	return kept
}

// resetStage returns a stage to NOT_STARTED with the context it was
// defined with.
func (r *run) resetStage(s *stageRun) error {
	s.ctxMap = map[string]any{}
	if s.def != nil {
		raw, err := json.Marshal(s.def.Fields)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &s.ctxMap); err != nil {
			return err
		}
	}
	s.outMap = map[string]any{}
	s.newGen()
	s.row.StartTime, s.row.EndTime = nil, nil
	return r.setStageStatus(s, status.NotStarted, apitype.StageStatusData{})
}

// Evaluate evaluates an expression against an execution, as stage stageKey
// (or, when empty, the execution itself) would see it. The expression may
// be a bare body or contain ${…}.
func (e *Engine) Evaluate(ctx context.Context, executionID, stageKey, expression string) (any, error) {
	exec, err := e.store.ExecutionGet(ctx, executionID)
	if err != nil {
		return nil, err
	}
	t := &txn{e: e, ctx: ctx, now: e.now().UTC()}
	r, err := t.wrap(exec)
	if err != nil {
		return nil, err
	}
	var s *stageRun
	if stageKey != "" {
		if s, err = r.stage(stageKey); err != nil {
			return nil, err
		}
	}
	env := r.env(s)
	if t.decodeErr != nil {
		return nil, t.decodeErr
	}
	if env.Pipelines == nil && strings.Contains(expression, "#pipelineId") {
		env.Pipelines = r.listPipelineIDs()
	}
	if !strings.Contains(expression, "${") {
		v, err := expr.Eval(ctx, expression, env)
		if err != nil {
			return nil, &pipeline.ValidationError{Problems: []pipeline.Problem{{Path: "expression", Msg: err.Error()}}}
		}
		return v, nil
	}
	v, summary := expr.Resolve(ctx, expression, env)
	if summary != nil && !summary.Empty() {
		return nil, &pipeline.ValidationError{Problems: []pipeline.Problem{{Path: "expression", Msg: summaryText(summary)}}}
	}
	return v, nil
}
