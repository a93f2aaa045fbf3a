package stage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/preconditions"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ    stage.Type
		fields map[string]any
		want   string // substring of the one problem; "" for none
	}{
		{wait.Type{}, map[string]any{"waitTime": int64(5)}, ""},
		{wait.Type{}, map[string]any{"waitTime": "30"}, ""},
		{wait.Type{}, map[string]any{"waitTime": "${parameters.delay}"}, ""},
		{wait.Type{}, map[string]any{}, "waitTime: is required"},
		{wait.Type{}, map[string]any{"waitTime": -1.0}, "waitTime: must be 0 or more"},
		{wait.Type{}, map[string]any{"waitTime": "soon"}, `waitTime: must be a number, not "soon"`},
		{judgment.Type{}, map[string]any{"judgmentInputs": []any{map[string]any{"value": "a"}}}, ""},
		{judgment.Type{}, map[string]any{"judgmentInputs": "a,b"}, "judgmentInputs: must be a list"},
		{judgment.Type{}, map[string]any{"judgmentInputs": []any{map[string]any{"value": "a"}, map[string]any{"value": "a"}}}, `judgmentInputs[1].value: "a" is listed twice`},
		{judgment.Type{}, map[string]any{"instructions": 3.0}, "instructions: must be a string"},
		{variables.Type{}, map[string]any{"variables": []any{map[string]any{"key": "x", "value": 1.0}}}, ""},
		{variables.Type{}, map[string]any{}, "variables: is required"},
		{variables.Type{}, map[string]any{"variables": []any{map[string]any{"value": 1.0}}}, "variables[0].key: must be a non-empty string"},
		{variables.Type{}, map[string]any{"variables": []any{map[string]any{"key": "x", "value": 1.0}, map[string]any{"key": "x", "value": 2.0}}}, `variables[1].key: "x" is defined twice`},
		{preconditions.Type{}, map[string]any{"preconditions": []any{map[string]any{"type": "expression", "context": map[string]any{"expression": "${true}"}}}}, ""},
		{preconditions.Type{}, map[string]any{"preconditions": []any{map[string]any{"type": "clusterSize"}}}, `preconditions[0].type: clusterSize is not a supported precondition type`},
		{preconditions.Type{}, map[string]any{"preconditions": []any{map[string]any{"type": "expression", "failPipeline": "no", "context": map[string]any{"expression": "true"}}}}, `preconditions[0].failPipeline: must be true (a failure halts the pipeline) or false (it halts only this branch), not a string`},
		{preconditions.Type{}, map[string]any{"preconditions": []any{map[string]any{"type": "expression", "failPipeline": "${parameters.strict}", "context": map[string]any{"expression": "true"}}}}, ""},
		{preconditions.Type{}, map[string]any{"preconditions": []any{map[string]any{"type": "expression", "failPipeline": nil, "context": map[string]any{"expression": "true"}}}}, ""},
		{preconditions.Type{}, map[string]any{"preconditions": []any{map[string]any{"type": "stageStatus", "context": map[string]any{"stageName": "x"}}}}, "preconditions[0].context.stageStatus: is required"},
	}
	for _, c := range cases {
		errs := c.typ.Validate(c.fields)
		switch {
		case c.want == "" && len(errs) > 0:
			t.Errorf("%s %v: unexpected problems %v", c.typ.Name(), c.fields, errs)
		case c.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want)):
			t.Errorf("%s %v: problems %v, want one containing %q", c.typ.Name(), c.fields, errs, c.want)
		}
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func(ctx map[string]any, now time.Time) stage.Result {
		res, err := wait.Type{}.Run(context.Background(), &stage.Task{Context: ctx, StartTime: start, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run(map[string]any{"waitTime": int64(10)}, start.Add(4*time.Second)); res.Status != status.Running || res.RetryAfter != 6*time.Second {
		t.Errorf("4 s into a 10 s wait: %+v, want Running with 6 s left", res)
	}
	if res := run(map[string]any{"waitTime": int64(10)}, start.Add(10*time.Second)); res.Status != status.Succeeded {
		t.Errorf("at the end of the wait: %+v", res)
	}
	if res := run(map[string]any{"waitTime": int64(10), "skipRemainingWait": true}, start); res.Status != status.Succeeded {
		t.Errorf("skipped wait: %+v", res)
	}
}

func TestJudgmentRun(t *testing.T) {
	t.Parallel()
	run := func(ctx map[string]any) stage.Result {
		res, _ := judgment.Type{}.Run(context.Background(), &stage.Task{Context: ctx})
		return res
	}
	if res := run(map[string]any{}); res.Status != status.Running || res.RetryAfter != 0 {
		t.Errorf("unjudged: %+v, want Running parked", res)
	}
	if res := run(map[string]any{"judgmentStatus": "continue"}); res.Status != status.Succeeded {
		t.Errorf("continue: %+v", res)
	}
	res := run(map[string]any{"judgmentStatus": "stop", "lastModifiedBy": "ann", "judgmentInput": "rollback"})
	if res.Status != status.Terminal || !strings.Contains(res.Error, "ann") || !strings.Contains(res.Error, "rollback") {
		t.Errorf("stop: %+v, want Terminal naming who and the input", res)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := stage.NewRegistry(wait.Type{}, judgment.Type{})
	r.Alias("waitStage", "wait")
	if !r.Known("waitStage") || r.Known("nope") {
		t.Errorf("Known: alias %v, unknown %v", r.Known("waitStage"), r.Known("nope"))
	}
	if got := strings.Join(r.Names(), ","); got != "manualJudgment,wait,waitStage" {
		t.Errorf("Names = %s", got)
	}
	if p := r.ValidateFields("wait", map[string]any{}); len(p) != 1 || p[0].Field != "waitTime" {
		t.Errorf("ValidateFields = %v", p)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a type twice did not panic")
		}
	}()
	stage.NewRegistry(wait.Type{}, wait.Type{})
}

// TestExpressionsRunOutsideTransactions: a stage type whose task evaluates
// expressions (a RawFielder: it keeps fields as written for its task) must
// not be Inline, or the engine would evaluate them inside a transaction,
// on SQLite holding the one write connection for up to the time limit of
// each expression.
func TestExpressionsRunOutsideTransactions(t *testing.T) {
	t.Parallel()
	for _, typ := range []stage.Type{wait.Type{}, judgment.Type{}, variables.Type{}, preconditions.Type{}} {
		if _, evaluates := typ.(stage.RawFielder); evaluates && stage.IsInline(typ) {
			t.Errorf("%s evaluates expressions in its task and is Inline", typ.Name())
		}
	}
}
