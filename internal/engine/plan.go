package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// PlanParams are the arguments of Plan.
type PlanParams struct {
	Pipeline   *store.Pipeline // the saved revision a run would run
	User       string
	Parameters map[string]any
}

// runTimeRef matches what an expression can read only during a run: the
// execution, other stages and judgments. Such an expression is shown as
// written, never evaluated against the empty world before the run.
var runTimeRef = regexp.MustCompile(`#(stage|stageByRefId|judgment|judgement|currentStage|stageExists)\b|\bexecution\b`)

// Plan says what a run of a saved pipeline would change, stage by stage,
// and changes nothing: each stage type that is a stage.Planner reads what
// its stage targets; the others change nothing outside Sluice. Trigger
// parameters and parameterConfig defaults are evaluated as a run would;
// expressions that read the run itself (stage outputs, judgments, the
// execution) are left as written and listed as known at run time. Plan
// writes nothing to the store and starts no job.
func (e *Engine) Plan(ctx context.Context, p *PlanParams) (*apitype.Plan, error) {
	doc, err := pipeline.Parse(p.Pipeline.Document)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s/%s: %w", p.Pipeline.Application, p.Pipeline.Name, err)
	}
	params, err := applyParameters(doc, p.Parameters)
	if err != nil {
		return nil, err
	}
	trigger := map[string]any{"type": "manual", "user": p.User, "parameters": params}
	env := &expr.Env{Trigger: trigger, User: p.User, Context: map[string]any{}, Ancestors: map[string]any{}}
	if strings.Contains(string(p.Pipeline.Document), "#pipelineId") {
		if ps, err := e.store.PipelineList(ctx, &store.PipelineListParams{Application: p.Pipeline.Application}); err == nil {
			env.Pipelines = map[string]string{}
			for _, x := range ps {
				env.Pipelines[x.Name] = x.ID
			}
		}
	}
	for _, s := range doc.Stages {
		env.Stages = append(env.Stages, expr.StageInfo{ID: s.RefID, RefID: s.RefID, Name: s.Name, Type: s.Type,
			Status: string(status.NotStarted), Context: s.Fields, Outputs: map[string]any{}})
	}

	out := &apitype.Plan{Application: p.Pipeline.Application, Pipeline: p.Pipeline.Name, Revision: p.Pipeline.Revision,
		Parameters: params, Stages: make([]apitype.StagePlan, len(doc.Stages))}
	byRef := map[string]int{}
	for i, s := range doc.Stages {
		byRef[s.RefID] = i
	}
	// Plan upstream stages first, so that each stage sees their plans.
	done := make([]bool, len(doc.Stages))
	var planStage func(i int, path map[int]bool)
	planStage = func(i int, path map[int]bool) {
		if done[i] || path[i] {
			return
		}
		path[i] = true
		s := doc.Stages[i]
		for _, ref := range s.RequisiteStageRefIDs {
			if j, ok := byRef[ref]; ok {
				planStage(j, path)
			}
		}
		var upstream []apitype.StagePlan
		for _, j := range ancestorsOf(doc, byRef, i) {
			upstream = append(upstream, out.Stages[j])
		}
		out.Stages[i] = e.planStage(ctx, p.Pipeline.Application, s, env, upstream)
		done[i] = true
	}
	for i := range doc.Stages {
		planStage(i, map[int]bool{})
	}
	return out, nil
}

// ancestorsOf lists the indexes of stage i's ancestors, farthest first.
func ancestorsOf(doc *pipeline.Pipeline, byRef map[string]int, i int) []int {
	seen := map[int]bool{}
	var order []int
	var walk func(k int)
	walk = func(k int) {
		for _, ref := range doc.Stages[k].RequisiteStageRefIDs {
			j, ok := byRef[ref]
			if !ok || seen[j] {
				continue
			}
			seen[j] = true
			walk(j)
			order = append(order, j)
		}
	}
	walk(i)
	return order
}

// planStage plans one stage.
func (e *Engine) planStage(ctx context.Context, app string, s *pipeline.Stage, env *expr.Env, upstream []apitype.StagePlan) apitype.StagePlan {
	sp := apitype.StagePlan{RefID: s.RefID, Name: s.Name, Type: s.Type}
	var notes []string
	typ, ok := e.stages.Lookup(s.Type)
	if !ok {
		sp.Action, sp.Error = apitype.PlanError, fmt.Sprintf("unknown stage type %q", s.Type)
		sp.Summary = "a run would fail: " + sp.Error
		return sp
	}
	if s.StageEnabled != nil {
		src := s.StageEnabled.Expression
		if runTimeRef.MatchString(src) {
			notes = append(notes, fmt.Sprintf("runs only if stageEnabled %q, known at run time", src))
		} else if v, err := expr.Eval(ctx, src, env); err != nil {
			notes = append(notes, fmt.Sprintf("runs only if stageEnabled %q, which cannot be evaluated before the run: %v", src, err))
		} else if v != true && !strings.EqualFold(fmt.Sprint(v), "true") {
			sp.Action = apitype.PlanNoChange
			sp.Skipped = fmt.Sprintf("would be skipped: its condition (stageEnabled %q) is not true with these parameters", src)
			sp.Summary = sp.Skipped
			return sp
		}
	}
	in := &stage.PlanInput{Application: app, RefID: s.RefID, Name: s.Name, Context: map[string]any{}, RunTime: map[string]string{}, Upstream: upstream}
	raw := map[string]bool{"stageEnabled": true}
	if rf, ok := typ.(stage.RawFielder); ok {
		for _, f := range rf.RawFields() {
			raw[f] = true
		}
	}
	for k, v := range s.Fields {
		if raw[k] || !stage.ContainsExpression(v) {
			in.Context[k] = v
			continue
		}
		if text := expressionText(v); runTimeRef.MatchString(text) {
			in.Context[k], in.RunTime[k] = v, text
			continue
		}
		resolved, summary := expr.Resolve(ctx, v, env)
		if !summary.Empty() {
			in.Context[k], in.RunTime[k] = v, expressionText(v)
			continue
		}
		in.Context[k] = resolved
	}
	if planner, ok := typ.(stage.Planner); ok {
		sp = planner.Plan(ctx, in)
	} else {
		sp.Action = apitype.PlanNoAWSChange
		sp.Summary = fmt.Sprintf("no AWS change: a %s stage", s.Type)
	}
	sp.Notes = append(notes, sp.Notes...)
	sp.RunTime = nil
	for _, k := range slices.Sorted(maps.Keys(in.RunTime)) {
		sp.RunTime = append(sp.RunTime, apitype.PlanRunTimeField{Field: k, Expression: in.RunTime[k], Why: runTimeWhy(in.RunTime[k])})
	}
	return sp
}

// runTimeWhy names what an expression known only at run time reads.
func runTimeWhy(expression string) string {
	switch {
	case strings.Contains(expression, "#judgment"):
		return "a manual judgment made during the run"
	case strings.Contains(expression, "#stage"):
		return "the outputs of a stage of the run"
	case strings.Contains(expression, "execution"):
		return "the execution, which does not exist yet"
	}
	return "the outputs of the stages before it"
}

// expressionText is a field's value as written, for "known at run time".
func expressionText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
