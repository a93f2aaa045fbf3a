// Package judgment implements Spinnaker's "manualJudgment" stage: it waits
// for a person to continue or stop the pipeline, optionally choosing one of
// the stage's judgmentInputs. Waiting costs a row, not a goroutine: the
// engine parks the task and the judgment schedules it again.
package judgment

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
)

// DefaultTimeout is how long a judgment waits without stageTimeoutMs
// (Orca's three days).
const DefaultTimeout = 72 * time.Hour

// Type is the manualJudgment stage type.
type Type struct{}

func (Type) Name() string { return "manualJudgment" }

// Inline implements stage.Inline: the task only reads its input and the clock.
func (Type) Inline()                       {}
func (Type) DefaultTimeout() time.Duration { return DefaultTimeout }

func (Type) Validate(fields map[string]any) []stage.FieldError {
	var errs []stage.FieldError
	if _, _, err := stage.String(fields, "instructions"); err != nil {
		errs = append(errs, stage.FieldError{Field: "instructions", Msg: err.Error()})
	}
	inputs, present := fields["judgmentInputs"]
	if !present || inputs == nil {
		return errs
	}
	list, ok := inputs.([]any)
	if !ok {
		return append(errs, stage.FieldError{Field: "judgmentInputs", Msg: `must be a list of {"value": "…"} objects`})
	}
	seen := map[string]bool{}
	for i, item := range list {
		field := fmt.Sprintf("judgmentInputs[%d]", i)
		m, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, stage.FieldError{Field: field, Msg: `must be an object like {"value": "promote"}`})
			continue
		}
		v, ok := m["value"].(string)
		if !ok || v == "" {
			errs = append(errs, stage.FieldError{Field: field + ".value", Msg: "must be a non-empty string"})
			continue
		}
		if seen[v] {
			errs = append(errs, stage.FieldError{Field: field + ".value", Msg: fmt.Sprintf("%q is listed twice", v)})
		}
		seen[v] = true
	}
	return errs
}

func (Type) Tasks(map[string]any) []string { return []string{"waitForJudgment"} }

func (Type) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	status, _ := t.Context["judgmentStatus"].(string)
	switch status {
	case "continue":
		return stage.Result{Status: stage.Succeeded}, nil
	case "stop":
		who, _ := t.Context["lastModifiedBy"].(string)
		msg := "stopped by manual judgment"
		if who != "" {
			msg += " of " + who
		}
		if in, _ := t.Context["judgmentInput"].(string); in != "" {
			msg += fmt.Sprintf(" (input %q)", in)
		}
		return stage.Result{Status: stage.Terminal, Error: msg}, nil
	}
	return stage.Result{Status: stage.Running}, nil
}
