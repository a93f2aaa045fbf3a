// Package preconditions implements Spinnaker's "checkPreconditions" stage
// with its "expression" and "stageStatus" precondition types. Every
// precondition is checked; the stage fails naming each one that does not
// hold.
package preconditions

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/stage"
)

// Type is the checkPreconditions stage type.
type Type struct{}

func (Type) Name() string { return "checkPreconditions" }

// Inline implements stage.Inline: the task only reads its input and the clock.
func (Type) Inline() {}

// RawFields keeps the preconditions as written: the task evaluates them.
func (Type) RawFields() []string { return []string{"preconditions"} }

func (Type) Validate(fields map[string]any) []stage.FieldError {
	raw, present := fields["preconditions"]
	if !present || raw == nil {
		return []stage.FieldError{{Field: "preconditions", Msg: "is required: a list of {type, context} preconditions"}}
	}
	list, ok := raw.([]any)
	if !ok {
		return []stage.FieldError{{Field: "preconditions", Msg: "must be a list of {type, context} preconditions"}}
	}
	var errs []stage.FieldError
	for i, item := range list {
		field := fmt.Sprintf("preconditions[%d]", i)
		m, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, stage.FieldError{Field: field, Msg: "must be an object with type and context"})
			continue
		}
		c, _ := m["context"].(map[string]any)
		switch m["type"] {
		case "expression":
			if _, ok := c["expression"]; !ok {
				errs = append(errs, stage.FieldError{Field: field + ".context.expression", Msg: "is required for an expression precondition"})
			}
		case "stageStatus":
			for _, k := range []string{"stageName", "stageStatus"} {
				if s, _ := c[k].(string); s == "" {
					errs = append(errs, stage.FieldError{Field: field + ".context." + k, Msg: "is required for a stageStatus precondition"})
				}
			}
		default:
			errs = append(errs, stage.FieldError{Field: field + ".type",
				Msg: fmt.Sprintf("%v is not a supported precondition type; use \"expression\" or \"stageStatus\"", m["type"])})
		}
	}
	return errs
}

func (Type) Tasks(map[string]any) []string { return []string{"checkPreconditions"} }

func (Type) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	list, _ := t.Context["preconditions"].([]any)
	var failed []string
	results := make([]any, 0, len(list))
	for i, item := range list {
		m, _ := item.(map[string]any)
		c, _ := m["context"].(map[string]any)
		ok, why := check(ctx, t, m["type"], c)
		results = append(results, map[string]any{"type": m["type"], "passed": ok, "detail": why})
		if !ok {
			failed = append(failed, fmt.Sprintf("precondition %d (%v): %s", i+1, m["type"], why))
		}
	}
	res := stage.Result{Context: map[string]any{"preconditionResults": results}}
	if len(failed) > 0 {
		res.Status = stage.Terminal
		res.Error = strings.Join(failed, "; ")
		return res, nil
	}
	res.Status = stage.Succeeded
	return res, nil
}

func check(ctx context.Context, t *stage.Task, typ any, c map[string]any) (bool, string) {
	switch typ {
	case "expression":
		expression := c["expression"]
		if s, ok := expression.(string); ok && !strings.Contains(s, "${") {
			expression = "${" + s + "}"
		}
		v, msgs := t.Eval(ctx, expression, nil)
		if len(msgs) > 0 {
			return false, strings.Join(msgs, "; ")
		}
		if b, ok := v.(bool); ok && b || fmt.Sprint(v) == "true" {
			return true, fmt.Sprintf("%v is true", c["expression"])
		}
		return false, fmt.Sprintf("expression %v is %v, not true", c["expression"], v)
	case "stageStatus":
		name, _ := c["stageName"].(string)
		want, _ := c["stageStatus"].(string)
		got, msgs := t.Eval(ctx, fmt.Sprintf("${#stage(%q).status}", name), nil)
		if len(msgs) > 0 {
			return false, strings.Join(msgs, "; ")
		}
		if !strings.EqualFold(fmt.Sprint(got), want) {
			return false, fmt.Sprintf("stage %q is %v, not %s", name, got, want)
		}
		return true, fmt.Sprintf("stage %q is %s", name, want)
	}
	return false, fmt.Sprintf("unsupported precondition type %v", typ)
}
