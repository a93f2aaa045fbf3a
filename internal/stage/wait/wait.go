// Package wait implements the "wait" stage: it waits waitTime seconds, or
// until someone skips the remaining wait. Waiting costs a scheduled job,
// not a goroutine.
package wait

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// Type is the wait stage type.
type Type struct{}

// Spec is the fields of a wait stage.
type Spec struct {
	WaitTime stage.NumberField `json:"waitTime" hint:"seconds to wait"`
	// SkipRemainingWait is set by the engine when someone skips the wait.
	SkipRemainingWait stage.BoolField `json:"skipRemainingWait"`
}

// Check implements stage.Spec.
func (s *Spec) Check(c *stage.Checker) {
	switch {
	case s.WaitTime.Missing():
		c.Errorf(&s.WaitTime, "is required: the number of seconds to wait")
	case s.WaitTime.Set() && s.WaitTime.Value < 0:
		c.Errorf(&s.WaitTime, "must be 0 or more seconds, not %v", s.WaitTime.Value)
	}
}

func (Type) Name() string { return "wait" }

// Inline implements stage.Inline: the task only reads its input and the clock.
func (Type) Inline() {}

// KnownFields implements stage.FieldDeclarer: the keys of Spec, and Deck's
// skipWaitText, which Sluice keeps without showing.
func (Type) KnownFields() *pipeline.KnownFields {
	k := stage.KnownFields(&Spec{})
	k.Ignored = map[string]string{
		"skipWaitText": "the console and sluice execution skip-wait offer to skip the wait without this text",
	}
	return k
}

func (Type) Validate(fields map[string]any) []stage.FieldError {
	return stage.Validate(fields, &Spec{})
}

func (Type) Tasks(map[string]any) []string { return []string{"wait"} }

func (Type) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	var s Spec
	if err := stage.Decode(t.Context, &s); err != nil {
		return stage.Fail(err.Error()), nil
	}
	if s.SkipRemainingWait.Value {
		return stage.Succeed().WithContext(map[string]any{"waitSkipped": true}), nil
	}
	remaining := t.StartTime.Add(time.Duration(s.WaitTime.Value * float64(time.Second))).Sub(t.Now)
	if remaining <= 0 {
		return stage.Succeed(), nil
	}
	return stage.RetryAfter(remaining), nil
}

var (
	_ stage.FieldDeclarer = Type{}
	_ stage.Type          = Type{}
	_ stage.Inline        = Type{}
	_ stage.Spec          = (*Spec)(nil)
)

// Plan says how long the stage would wait; it changes nothing in AWS.
func (Type) Plan(_ context.Context, in *stage.PlanInput) apitype.StagePlan {
	p := apitype.StagePlan{RefID: in.RefID, Name: in.Name, Type: "wait", Action: apitype.PlanNoAWSChange,
		Summary: "no AWS change: waits for a time known at run time"}
	var s Spec
	if errs := stage.Validate(in.Context, &s); len(errs) == 0 && s.WaitTime.Set() {
		p.Summary = fmt.Sprintf("no AWS change: waits %v", time.Duration(s.WaitTime.Value*float64(time.Second)))
	}
	return p
}
