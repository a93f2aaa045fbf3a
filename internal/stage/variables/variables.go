// Package variables implements Spinnaker's "evaluateVariables" stage: each
// variable is evaluated in order, so later ones can use earlier ones, and
// becomes a stage output visible downstream as ${key}.
package variables

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/stage"
)

// Type is the evaluateVariables stage type.
type Type struct{}

func (Type) Name() string { return "evaluateVariables" }

// Inline implements stage.Inline: the task only reads its input and the clock.
func (Type) Inline() {}

// RawFields keeps "variables" unevaluated at stage start: the task
// evaluates them one by one.
func (Type) RawFields() []string { return []string{"variables"} }

func (Type) Validate(fields map[string]any) []stage.FieldError {
	raw, present := fields["variables"]
	if !present || raw == nil {
		return []stage.FieldError{{Field: "variables", Msg: `is required: a list of {"key": "…", "value": "…"}`}}
	}
	list, ok := raw.([]any)
	if !ok {
		return []stage.FieldError{{Field: "variables", Msg: `must be a list of {"key": "…", "value": "…"}`}}
	}
	var errs []stage.FieldError
	seen := map[string]bool{}
	for i, item := range list {
		field := fmt.Sprintf("variables[%d]", i)
		m, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, stage.FieldError{Field: field, Msg: `must be an object with "key" and "value"`})
			continue
		}
		key, _ := m["key"].(string)
		switch {
		case strings.TrimSpace(key) == "":
			errs = append(errs, stage.FieldError{Field: field + ".key", Msg: "must be a non-empty string"})
		case seen[key]:
			errs = append(errs, stage.FieldError{Field: field + ".key", Msg: fmt.Sprintf("%q is defined twice", key)})
		}
		seen[key] = true
		if _, ok := m["value"]; !ok {
			errs = append(errs, stage.FieldError{Field: field + ".value", Msg: "is required"})
		}
	}
	return errs
}

func (Type) Tasks(map[string]any) []string { return []string{"evaluateVariables"} }

func (Type) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	list, _ := t.Context["variables"].([]any)
	vars := map[string]any{}
	var failures []string
	for _, item := range list {
		m, _ := item.(map[string]any)
		key, _ := m["key"].(string)
		v, msgs := t.Eval(ctx, m["value"], vars)
		for _, msg := range msgs {
			failures = append(failures, fmt.Sprintf("variable %q: %s", key, msg))
		}
		vars[key] = v
	}
	res := stage.Result{Status: stage.Succeeded, Outputs: vars, Context: map[string]any{"evaluatedVariables": vars}}
	if len(failures) > 0 {
		// As Orca: an expression that fails is left as written and
		// recorded; failOnFailedExpressions makes it fail the stage.
		res.Context["expressionFailures"] = failures
		if fail, _, _ := stage.Bool(t.Context, "failOnFailedExpressions"); fail {
			return stage.Result{Status: stage.Terminal, Error: strings.Join(failures, "; ")}, nil
		}
	}
	return res, nil
}
