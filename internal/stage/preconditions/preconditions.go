// Package preconditions implements Spinnaker's "checkPreconditions" stage
// with its "expression" and "stageStatus" precondition types. Every
// precondition is checked; the stage fails naming each one that does not
// hold.
package preconditions

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// Type is the checkPreconditions stage type.
//
// It is not stage.Inline: its task evaluates expressions, each of which may
// run for expr's time limit, and an Inline task would do that inside a
// transaction, on SQLite holding the one write connection.
type Type struct{}

// Spec is the fields of a checkPreconditions stage. The preconditions stay
// as written when the stage starts (RawFields): the task evaluates them.
type Spec struct {
	Preconditions stage.ListField[Precondition] `json:"preconditions" hint:"e.g. [{\"type\": \"expression\", \"context\": {\"expression\": \"…\"}}]"`
}

// Precondition is one precondition.
type Precondition struct {
	stage.Field
	Type    stage.StringField `json:"type"` // "expression" or "stageStatus"
	Context struct {
		stage.Field
		Expression  stage.JSONField   `json:"expression"`  // expression: true when it holds
		StageName   stage.StringField `json:"stageName"`   // stageStatus: the stage…
		StageStatus stage.StringField `json:"stageStatus"` // …and the status it must have
	} `json:"context"`
}

// Check implements stage.Spec.
func (s *Spec) Check(c *stage.Checker) {
	if s.Preconditions.Missing() {
		c.Errorf(&s.Preconditions, "is required: a list of {type, context} preconditions")
	}
	for i := range s.Preconditions.Items {
		p := &s.Preconditions.Items[i]
		switch {
		case p.Null():
			c.Errorf(p, "must be an object with type and context")
		case !p.Type.Set():
			if p.Type.Missing() {
				c.Errorf(&p.Type, `is required: "expression" or "stageStatus"`)
			}
		case p.Type.Value == "expression":
			if !p.Context.Expression.Present() {
				c.Errorf(&p.Context.Expression, "is required for an expression precondition")
			}
		case p.Type.Value == "stageStatus":
			for _, f := range []*stage.StringField{&p.Context.StageName, &p.Context.StageStatus} {
				if f.Missing() || f.Set() && f.Value == "" {
					c.Errorf(f, "is required for a stageStatus precondition")
				}
			}
		default:
			c.Errorf(&p.Type, `%s is not a supported precondition type; use "expression" or "stageStatus"`, p.Type.Value)
		}
	}
}

func (Type) Name() string { return "checkPreconditions" }

// RawFields keeps the preconditions as written: the task evaluates them.
func (Type) RawFields() []string { return []string{"preconditions"} }

// KnownFields implements stage.FieldDeclarer: the keys of Spec, and two
// keys of Orca's preconditions Sluice keeps without acting on.
func (Type) KnownFields() *pipeline.KnownFields {
	k := stage.KnownFields(&Spec{})
	each := k.Keys["preconditions"]
	each.Ignored = map[string]string{
		"failPipeline": "any failing precondition fails the stage, as failPipeline: true does in Spinnaker",
	}
	each.Acts = map[string]any{"failPipeline": true}
	each.Keys["context"].Ignored = map[string]string{
		"failureMessage": "the stage's error says which precondition failed and why",
	}
	return k
}

func (Type) Validate(fields map[string]any) []stage.FieldError {
	return stage.Validate(fields, &Spec{})
}

func (Type) Tasks(map[string]any) []string { return []string{"checkPreconditions"} }

func (Type) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	var s Spec
	if err := stage.Decode(t.Context, &s); err != nil {
		return stage.Fail(err.Error()), nil
	}
	var failed []string
	results := make([]any, 0, len(s.Preconditions.Items))
	for i, p := range s.Preconditions.Items {
		ok, why := check(ctx, t, &p)
		typ := p.Type.Value
		results = append(results, map[string]any{"type": typ, "passed": ok, "detail": why})
		if !ok {
			failed = append(failed, fmt.Sprintf("precondition %d (%s): %s", i+1, typ, why))
		}
	}
	res := stage.Succeed()
	if len(failed) > 0 {
		res = stage.Fail(strings.Join(failed, "; "))
	}
	return res.WithContext(map[string]any{"preconditionResults": results}), nil
}

func check(ctx context.Context, t *stage.Task, p *Precondition) (bool, string) {
	c := &p.Context
	switch p.Type.Value {
	case "expression":
		expression := c.Expression.Value
		if s, ok := expression.(string); ok && !strings.Contains(s, "${") {
			expression = "${" + s + "}"
		}
		v, msgs := t.Eval(ctx, expression, nil)
		if len(msgs) > 0 {
			return false, strings.Join(msgs, "; ")
		}
		if b, ok := v.(bool); ok && b || fmt.Sprint(v) == "true" {
			return true, fmt.Sprintf("%v is true", c.Expression.Value)
		}
		return false, fmt.Sprintf("expression %v is %v, not true", c.Expression.Value, v)
	case "stageStatus":
		name, want := c.StageName.Value, c.StageStatus.Value
		got, msgs := t.Eval(ctx, fmt.Sprintf("${#stage(%q).status}", name), nil)
		if len(msgs) > 0 {
			return false, strings.Join(msgs, "; ")
		}
		if !strings.EqualFold(fmt.Sprint(got), want) {
			return false, fmt.Sprintf("stage %q is %v, not %s", name, got, want)
		}
		return true, fmt.Sprintf("stage %q is %s", name, want)
	}
	return false, fmt.Sprintf("unsupported precondition type %s", p.Type.Value)
}

var (
	_ stage.FieldDeclarer = Type{}
	_ stage.Type          = Type{}
	_ stage.RawFielder    = Type{}
	_ stage.Spec          = (*Spec)(nil)
)
