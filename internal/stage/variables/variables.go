// Package variables implements Spinnaker's "evaluateVariables" stage: each
// variable is evaluated in order, so later ones can use earlier ones, and
// becomes a stage output visible downstream as ${key}.
package variables

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// Type is the evaluateVariables stage type.
//
// It is not stage.Inline: its task evaluates expressions, each of which may
// run for expr's time limit, and an Inline task would do that inside a
// transaction, on SQLite holding the one write connection.
type Type struct{}

// Spec is the fields of an evaluateVariables stage. Variables stay as
// written when the stage starts (RawFields): the task evaluates them.
type Spec struct {
	Variables               stage.ListField[Variable] `json:"variables" hint:"e.g. [{\"key\": \"env\", \"value\": \"prod\"}]"`
	FailOnFailedExpressions stage.BoolField           `json:"failOnFailedExpressions"`
}

// Variable is one variable: its value may use the variables before it.
type Variable struct {
	stage.Field
	Key   stage.StringField `json:"key"`
	Value stage.JSONField   `json:"value"`
}

// Check implements stage.Spec.
func (s *Spec) Check(c *stage.Checker) {
	if s.Variables.Missing() {
		c.Errorf(&s.Variables, `is required: a list of {"key": "…", "value": "…"}`)
	}
	seen := map[string]bool{}
	for i := range s.Variables.Items {
		v := &s.Variables.Items[i]
		if v.Null() {
			c.Errorf(v, `must be an object with "key" and "value"`)
		}
		if !v.Set() {
			continue // not an object: Decode reported it
		}
		key := v.Key.Value
		switch {
		case v.Key.Missing() || v.Key.Set() && strings.TrimSpace(key) == "":
			c.Errorf(&v.Key, "must be a non-empty string")
		case seen[key]:
			c.Errorf(&v.Key, "%q is defined twice", key)
		}
		seen[key] = true
		if !v.Value.Present() {
			c.Errorf(&v.Value, "is required")
		}
	}
}

func (Type) Name() string { return "evaluateVariables" }

// RawFields keeps "variables" unevaluated at stage start: the task
// evaluates them one by one.
func (Type) RawFields() []string { return []string{"variables"} }

// KnownFields implements stage.FieldDeclarer: the keys of Spec.
func (Type) KnownFields() *pipeline.KnownFields { return stage.KnownFields(&Spec{}) }

func (Type) Validate(fields map[string]any) []stage.FieldError {
	return stage.Validate(fields, &Spec{})
}

func (Type) Tasks(map[string]any) []string { return []string{"evaluateVariables"} }

func (Type) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	var s Spec
	if err := stage.Decode(t.Context, &s); err != nil {
		return stage.Fail(err.Error()), nil
	}
	vars := map[string]any{}
	var failures []string
	for _, v := range s.Variables.Items {
		key := v.Key.Value
		value, msgs := t.Eval(ctx, v.Value.Value, vars)
		for _, msg := range msgs {
			failures = append(failures, fmt.Sprintf("variable %q: %s", key, msg))
		}
		vars[key] = value
	}
	ctxVals := map[string]any{"evaluatedVariables": vars}
	if len(failures) > 0 {
		// As Orca: an expression that fails is left as written and
		// recorded; failOnFailedExpressions makes it fail the stage.
		if s.FailOnFailedExpressions.Value {
			return stage.Fail(strings.Join(failures, "; ")), nil
		}
		ctxVals["expressionFailures"] = failures
	}
	return stage.Succeed().WithOutputs(vars).WithContext(ctxVals), nil
}

var (
	_ stage.FieldDeclarer = Type{}
	_ stage.Type          = Type{}
	_ stage.RawFielder    = Type{}
	_ stage.Spec          = (*Spec)(nil)
)
