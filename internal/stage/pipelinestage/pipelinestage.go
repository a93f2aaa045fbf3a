// Package pipelinestage implements Spinnaker's "pipeline" stage: it starts
// an execution of another saved pipeline (the child) with parameters and,
// unless waitForCompletion is false, waits for it and takes on its
// outcome and outputs, as Orca's PipelineStage, StartPipelineTask and
// MonitorPipelineTask do. It must not start the child itself: the task
// asks for it (stage.StartPipeline) and the engine starts it in the
// transaction that records the child's id in the stage, so a crash
// neither loses nor duplicates the child. Waiting costs a row: the engine
// runs the stage again when the child ends.
package pipelinestage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

// DefaultTimeout is how long the stage waits for its child when it sets no
// stageTimeoutMs: Orca's tasks.monitor-pipeline.timeout-millis (12 hours).
const DefaultTimeout = 12 * time.Hour

// Task names, Orca's.
const (
	TaskStart   = "startPipeline"
	TaskMonitor = "monitorPipeline"
)

// Type is the pipeline stage type.
type Type struct{}

// Spec is the fields of a pipeline stage.
type Spec struct {
	Application stage.StringField `json:"application" hint:"the application of the pipeline to run"`
	// PipelineApplication wins over Application, as in Orca.
	PipelineApplication stage.StringField `json:"pipelineApplication"`
	Pipeline            stage.StringField `json:"pipeline" hint:"the id (or name) of the pipeline to run"`
	PipelineParameters  stage.JSONField   `json:"pipelineParameters" hint:"an object of parameter names to values"`
	WaitForCompletion   stage.BoolField   `json:"waitForCompletion" hint:"true (the default) or false"`
	// SkipDownstreamOutput keeps the child's outputs out of the stage's.
	SkipDownstreamOutput stage.BoolField `json:"skipDownstreamOutput"`

	// Set by the engine when it starts the child.
	ExecutionID   stage.StringField `json:"executionId"`
	ExecutionName stage.StringField `json:"executionName"`
}

// Check implements stage.Spec.
func (s *Spec) Check(c *stage.Checker) {
	if s.PipelineApplication.Missing() || s.PipelineApplication.Set() && s.PipelineApplication.Value == "" {
		c.Required(&s.Application)
	}
	c.Required(&s.Pipeline)
	if s.PipelineParameters.Set() && s.PipelineParameters.Value != nil {
		params, ok := s.PipelineParameters.Value.(map[string]any)
		switch {
		case !ok:
			c.Errorf(&s.PipelineParameters, "must be an object of parameter names to values, not %s", stage.JSONKind(s.PipelineParameters.Value))
		case params["strategy"] == true:
			c.Errorf(&s.PipelineParameters, "strategy is true: Sluice runs pipelines, not Spinnaker deployment strategies; remove strategy")
		}
	}
}

// application is the child's application.
func (s *Spec) application() string {
	if s.PipelineApplication.Value != "" {
		return s.PipelineApplication.Value
	}
	return s.Application.Value
}

func (Type) Name() string { return "pipeline" }

// KnownFields implements stage.FieldDeclarer.
func (Type) KnownFields() *pipeline.KnownFields {
	k := stage.KnownFields(&Spec{})
	k.Ignored = map[string]string{
		"expectedArtifacts": "Sluice does not bind the artifacts a child pipeline produces",
		"skippable":         "a running pipeline stage cannot be skipped by hand in Sluice; cancel the child execution instead",
		"monitorBehavior":   "Sluice follows one child execution and fails when it fails",
	}
	return k
}

// Validate checks the stage's fields as saved. executionId and
// executionName are the engine's to write: a document that sets them
// would have the stage follow an execution it did not start, perhaps of
// an application its readers may not see.
func (Type) Validate(fields map[string]any) []stage.FieldError {
	errs := stage.Validate(fields, &Spec{})
	for _, key := range []string{"executionId", "executionName"} {
		if _, ok := fields[key]; ok {
			errs = append(errs, stage.FieldError{Field: key, Msg: "is written by Sluice when the stage starts its child; remove it from the document"})
		}
	}
	return errs
}

// DefaultTimeout implements stage.Timeouter.
func (Type) DefaultTimeout() time.Duration { return DefaultTimeout }

// Tasks starts the child unless the context already names one, and
// monitors it unless waitForCompletion is false (Orca's taskGraph).
func (Type) Tasks(ctx map[string]any) []string {
	var tasks []string
	if id, _ := ctx["executionId"].(string); id == "" {
		tasks = append(tasks, TaskStart)
	}
	if !strings.EqualFold(fmt.Sprint(ctx["waitForCompletion"]), "false") {
		tasks = append(tasks, TaskMonitor)
	}
	return tasks
}

func (Type) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	var s Spec
	if err := stage.Decode(t.Context, &s); err != nil {
		return stage.Fail(err.Error()), nil
	}
	switch t.Name {
	case TaskStart:
		if s.ExecutionID.Value != "" {
			return stage.Succeed(), nil // an earlier run started it
		}
		params, _ := s.PipelineParameters.Value.(map[string]any)
		return stage.StartPipeline(stage.PipelineStart{
			Application: s.application(), Pipeline: s.Pipeline.Value, Parameters: params,
		}), nil
	case TaskMonitor:
		return monitor(ctx, t, &s)
	}
	return stage.Result{}, fmt.Errorf("unknown task %q", t.Name)
}

// monitor is Orca's MonitorPipelineTask for one child.
func monitor(ctx context.Context, t *stage.Task, s *Spec) (stage.Result, error) {
	id := s.ExecutionID.Value
	if id == "" {
		return stage.Fail("no pipeline execution ids to monitor"), nil
	}
	if t.Executions == nil {
		return stage.Result{}, fmt.Errorf("the engine gave the task no access to executions")
	}
	child, err := t.Executions.Execution(ctx, id)
	if err != nil {
		return stage.Result{}, fmt.Errorf("read child execution %s: %w", id, err)
	}
	seen := map[string]any{"status": string(child.Status)}
	if !child.Status.Complete() {
		if t.Context["status"] == seen["status"] {
			return stage.Wait(), nil
		}
		return stage.Wait().WithContext(seen), nil
	}
	var outputs map[string]any
	if !s.SkipDownstreamOutput.Value {
		outputs = Outputs(child)
	}
	switch child.Status {
	case status.Succeeded:
		return stage.Succeed().WithContext(seen).WithOutputs(outputs), nil
	case status.Canceled:
		seen["exception"] = map[string]any{"details": map[string]any{"errors": []any{"At least one monitored pipeline was cancelled"}}}
		return stage.Result{Status: status.Canceled}.WithContext(seen).WithOutputs(outputs), nil
	}
	errs, source := childErrors(child)
	errs = append(errs, "At least one monitored pipeline failed, look for errors in failed pipelines")
	exception := map[string]any{"details": map[string]any{"errors": toAny(errs)}}
	if source != nil {
		exception["source"] = source
	}
	seen["exception"] = exception
	msg := fmt.Sprintf("child pipeline %s/%s (execution %s) ended %s: %s", child.Application, child.Name, child.ID, child.Status, strings.Join(errs, "; "))
	return stage.Fail(msg).WithContext(seen).WithOutputs(outputs), nil
}

// childErrors collects the errors of the child's TERMINAL stages as Orca
// words them, and names the first such stage.
func childErrors(child *stage.ExecutionView) ([]string, map[string]any) {
	var (
		errs   []string
		source map[string]any
	)
	for i, st := range child.Stages {
		if st.Status != status.Terminal {
			continue
		}
		if source == nil {
			source = map[string]any{"executionId": child.ID, "stageId": st.ID, "stageName": st.Name, "stageIndex": i}
		}
		name := st.Name
		if name == "" {
			name = st.Type
		}
		exc, _ := st.Context["exception"].(map[string]any)
		details, _ := exc["details"].(map[string]any)
		var msgs []any
		if list, ok := details["errors"].([]any); ok && len(list) > 0 {
			msgs = list
		} else if e, ok := details["error"]; ok && e != nil {
			msgs = []any{e}
		}
		for _, m := range msgs {
			errs = append(errs, fmt.Sprintf("Exception in child pipeline stage (%s: %s): %v", child.Name, name, m))
		}
	}
	return errs, source
}

// Outputs merges the outputs of the child's stages, upstream before
// downstream, a later stage's value winning, lists joined without
// duplicates: Orca's PipelineExecution.getContext, which
// MonitorPipelineTask hands on as the stage's outputs.
func Outputs(child *stage.ExecutionView) map[string]any {
	out := map[string]any{}
	for _, st := range topological(child.Stages) {
		for k, v := range st.Outputs {
			prev, had := out[k]
			pl, okPrev := prev.([]any)
			vl, okNew := v.([]any)
			if had && okPrev && okNew {
				out[k] = distinct(append(append([]any{}, pl...), vl...))
				continue
			}
			out[k] = v
		}
	}
	return out
}

// topological orders stages so that each follows its requisites,
// otherwise keeping their order.
func topological(stages []stage.StageView) []stage.StageView {
	done := map[string]bool{}
	var out []stage.StageView
	for len(out) < len(stages) {
		progress := false
		for _, st := range stages {
			if done[st.ID] {
				continue
			}
			ready := true
			for _, ref := range st.RequisiteStageRefIDs {
				for _, o := range stages {
					if o.RefID == ref && !done[o.ID] {
						ready = false
					}
				}
			}
			if ready {
				done[st.ID] = true
				out = append(out, st)
				progress = true
			}
		}
		if !progress { // a cycle, which validation forbids: keep the rest in order
			for _, st := range stages {
				if !done[st.ID] {
					done[st.ID] = true
					out = append(out, st)
				}
			}
		}
	}
	return out
}

func distinct(list []any) []any {
	var out []any
	seen := map[string]bool{}
	for _, v := range list {
		key := fmt.Sprintf("%T:%v", v, v)
		if !seen[key] {
			seen[key] = true
			out = append(out, v)
		}
	}
	return out
}

func toAny(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

// Cancel implements stage.Canceler: canceling the parent cancels the child
// (Orca's PipelineStage.cancel). The child's stages clean up after
// themselves; the stage ends CANCELED.
func (Type) Cancel(ctx context.Context, t *stage.Task) error {
	id, _ := t.Context["executionId"].(string)
	if id == "" || t.Executions == nil {
		return nil
	}
	return t.Executions.CancelChild(ctx, t.ExecutionID, id)
}

var (
	_ stage.Type          = Type{}
	_ stage.FieldDeclarer = Type{}
	_ stage.Timeouter     = Type{}
	_ stage.Canceler      = Type{}
	_ stage.Spec          = (*Spec)(nil)
)
