// Package preconditions implements Spinnaker's "checkPreconditions" stage
// with its "expression" and "stageStatus" precondition types. Every
// precondition is checked; the stage fails naming each one that does not
// hold, with the status Orca gives it: each precondition's failPipeline
// (default: the stage's) decides whether its failure halts the pipeline
// (TERMINAL) or only this branch (STOPPED).
package preconditions

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
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
	Type stage.StringField `json:"type"` // "expression" or "stageStatus"
	// FailPipeline false makes this precondition's failure stop only the
	// stage's branch (STOPPED) instead of the pipeline (TERMINAL). Left
	// out, it is the stage's failPipeline, as in Orca, where each
	// precondition runs as a synthetic stage whose context is the stage's
	// with the precondition's keys on top. A JSON boolean, null (true), or
	// an expression that evaluates to one.
	FailPipeline stage.JSONField `json:"failPipeline"`
	Context      struct {
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
		if p.FailPipeline.Set() && !stage.ContainsExpression(p.FailPipeline.Value) {
			if _, ok := p.FailPipeline.Value.(bool); !ok {
				c.Errorf(&p.FailPipeline, "must be true (a failure halts the pipeline) or false (it halts only this branch), not %s", stage.JSONKind(p.FailPipeline.Value))
			}
		}
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

// KnownFields implements stage.FieldDeclarer: the keys of Spec, and a key
// of Orca's preconditions Sluice keeps without acting on.
func (Type) KnownFields() *pipeline.KnownFields {
	k := stage.KnownFields(&Spec{})
	each := k.Keys["preconditions"]
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
	stageFails := failsPipeline(t.Context)
	var failed []string
	halts := false // a failed precondition halts the pipeline
	results := make([]any, 0, len(s.Preconditions.Items))
	for i, p := range s.Preconditions.Items {
		ok, why := check(ctx, t, &p)
		typ := p.Type.Value
		fails := stageFails
		if !ok && p.FailPipeline.Present() {
			f, err := preconditionFails(ctx, t, &p)
			if err != nil {
				why += "; " + err.Error() + ", so it halts the pipeline"
			}
			fails = f
		}
		results = append(results, map[string]any{"type": typ, "passed": ok, "detail": why, "failPipeline": fails})
		if !ok {
			halts = halts || fails
			failed = append(failed, fmt.Sprintf("precondition %d (%s): %s", i+1, typ, why))
		}
	}
	res := stage.Succeed()
	switch {
	case len(failed) == 0:
	case halts || continuesPipeline(t.Context):
		// Orca: a TERMINAL precondition makes the stage fail as its own
		// failure options say; with continuePipeline every precondition
		// ends FAILED_CONTINUE, and so does the stage.
		res = stage.Fail(strings.Join(failed, "; "))
	default:
		// Every failed precondition has failPipeline false: each ends
		// STOPPED, and so does the stage, halting only its branch.
		res = stage.Result{Status: status.Stopped, Error: strings.Join(failed, "; ") + " (failPipeline false: this branch stops, the pipeline goes on)"}
	}
	return res.WithContext(map[string]any{"preconditionResults": results}), nil
}

// failsPipeline is Orca's shouldFailPipeline on a stage context: true
// unless failPipeline is false.
func failsPipeline(ctx map[string]any) bool {
	b, ok := ctx["failPipeline"].(bool)
	return !ok || b
}

// continuesPipeline is Orca's continuePipelineOnFailure.
func continuesPipeline(ctx map[string]any) bool {
	b, _ := ctx["continuePipeline"].(bool)
	return b
}

// preconditionFails reads a precondition's failPipeline, evaluating it when
// it is an expression: whether its failure halts the pipeline.
func preconditionFails(ctx context.Context, t *stage.Task, p *Precondition) (bool, error) {
	v := p.FailPipeline.Value
	if stage.ContainsExpression(v) {
		got, msgs := t.Eval(ctx, v, nil)
		if len(msgs) > 0 {
			return true, fmt.Errorf("failPipeline: %s", strings.Join(msgs, "; "))
		}
		v = got
	}
	switch v := v.(type) {
	case nil:
		return true, nil
	case bool:
		return v, nil
	}
	return true, fmt.Errorf("failPipeline must be true or false, not %s", stage.JSONKind(v))
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
