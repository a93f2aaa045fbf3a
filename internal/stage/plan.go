package stage

import (
	"context"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// Planner is implemented by stage types that can say, before a run, what
// the stage would change: `sluice pipeline plan` and the console's plan
// beside the Run button. Plan reads the world and changes nothing. The
// engine composes the plans of a pipeline's stages, in order, and hands
// each the plans of the stages upstream of it.
//
// A stage type that changes nothing outside Sluice (wait, manualJudgment)
// plans with Action apitype.PlanNoAWSChange and a one-line summary.
type Planner interface {
	Plan(ctx context.Context, in *PlanInput) apitype.StagePlan
}

// PlanInput is what a stage's plan is made from.
type PlanInput struct {
	Application string
	RefID, Name string
	// Context is the stage's fields with the expressions that can be
	// known before the run (trigger parameters, parameterConfig defaults)
	// evaluated; the others are left as written and listed in RunTime.
	Context map[string]any
	// RunTime maps each top-level field whose value is known only at run
	// time to the expression it holds.
	RunTime map[string]string
	// Upstream holds the plans of the stages this one follows (its
	// ancestors), nearest last.
	Upstream []apitype.StagePlan
}
