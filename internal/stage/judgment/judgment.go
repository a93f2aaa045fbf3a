// Package judgment implements Spinnaker's "manualJudgment" stage: it waits
// for a person to continue or stop the pipeline, optionally choosing one of
// the stage's judgmentInputs. Waiting costs a row, not a goroutine: the
// engine parks the task and the judgment schedules it again.
package judgment

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// DefaultTimeout is how long a judgment waits without stageTimeoutMs
// (Orca's three days).
const DefaultTimeout = 72 * time.Hour

// Type is the manualJudgment stage type.
type Type struct{}

// Spec is the fields of a manualJudgment stage, and what the engine
// records in its context when someone judges.
type Spec struct {
	Instructions   stage.StringField      `json:"instructions"`
	JudgmentInputs stage.ListField[Input] `json:"judgmentInputs" hint:"e.g. [{\"value\": \"promote\"}]"`
	// Only principals with one of these roles (or admins) may judge:
	// Orca's requiredJudgmentRoles, falling back to selectedStageRoles.
	// The API enforces them.
	RequiredJudgmentRoles stage.StringsField `json:"requiredJudgmentRoles"`
	SelectedStageRoles    stage.StringsField `json:"selectedStageRoles"`

	// Set by the engine when someone judges.
	JudgmentStatus stage.StringField `json:"judgmentStatus"` // "continue" or "stop"
	JudgmentInput  stage.StringField `json:"judgmentInput"`  // the chosen input's value
	LastModifiedBy stage.StringField `json:"lastModifiedBy"` // who judged
}

// Input is one of the choices a judge may pick.
type Input struct {
	stage.Field
	Value stage.StringField `json:"value"`
}

// Check implements stage.Spec.
func (s *Spec) Check(c *stage.Checker) {
	seen := map[string]bool{}
	for i := range s.JudgmentInputs.Items {
		in := &s.JudgmentInputs.Items[i]
		switch v := in.Value.Value; {
		case in.Null():
			c.Errorf(in, `must be an object like {"value": "promote"}`)
		case !in.Set():
			// Not an object: Decode reported it.
		case in.Value.Missing() || in.Value.Set() && v == "":
			c.Errorf(&in.Value, "must be a non-empty string")
		case seen[v]:
			c.Errorf(&in.Value, "%q is listed twice", v)
		default:
			seen[v] = true
		}
	}
}

func (Type) Name() string { return "manualJudgment" }

// Inline implements stage.Inline: the task only reads its input and the clock.
func (Type) Inline()                       {}
func (Type) DefaultTimeout() time.Duration { return DefaultTimeout }

// KnownFields implements stage.FieldDeclarer: the keys of Spec.
func (Type) KnownFields() *pipeline.KnownFields { return stage.KnownFields(&Spec{}) }

func (Type) Validate(fields map[string]any) []stage.FieldError {
	return stage.Validate(fields, &Spec{})
}

func (Type) Tasks(map[string]any) []string { return []string{"waitForJudgment"} }

func (Type) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	var s Spec
	if err := stage.Decode(t.Context, &s); err != nil {
		return stage.Fail(err.Error()), nil
	}
	switch s.JudgmentStatus.Value {
	case "continue":
		return stage.Succeed(), nil
	case "stop":
		msg := "stopped by manual judgment"
		if who := s.LastModifiedBy.Value; who != "" {
			msg += " of " + who
		}
		if in := s.JudgmentInput.Value; in != "" {
			msg += fmt.Sprintf(" (input %q)", in)
		}
		return stage.Fail(msg), nil
	}
	return stage.Wait(), nil
}

var (
	_ stage.FieldDeclarer = Type{}
	_ stage.Type          = Type{}
	_ stage.Inline        = Type{}
	_ stage.Timeouter     = Type{}
	_ stage.Spec          = (*Spec)(nil)
)

// Plan says the stage waits for a person; it changes nothing in AWS.
func (Type) Plan(_ context.Context, in *stage.PlanInput) apitype.StagePlan {
	p := apitype.StagePlan{RefID: in.RefID, Name: in.Name, Type: "manualJudgment", Action: apitype.PlanNoAWSChange,
		Summary: "no AWS change: waits for a manual judgment"}
	var s Spec
	if errs := stage.Validate(in.Context, &s); len(errs) == 0 && len(s.JudgmentInputs.Items) > 0 {
		var values []string
		for _, i := range s.JudgmentInputs.Items {
			values = append(values, i.Value.Value)
		}
		p.Summary += fmt.Sprintf(" (inputs: %s); what follows it is known at run time", strings.Join(values, ", "))
	}
	return p
}
