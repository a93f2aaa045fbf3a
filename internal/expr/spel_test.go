package expr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// spelEnv has lists of maps, as trigger parameters and stage outputs hold
// them.
func spelEnv() *Env {
	env := testEnv()
	env.Context["deploys"] = []any{
		map[string]any{"name": "a", "status": "SUCCEEDED", "n": float64(1)},
		map[string]any{"name": "b", "status": "TERMINAL", "n": float64(2)},
		map[string]any{"name": "c", "status": "SUCCEEDED", "n": float64(3)},
	}
	env.Context["regions"] = map[string]any{"us": "us-east-1"}
	return env
}

// TestEvalSpelCollections checks selection, projection, inline lists and
// division against SpEL's results for the same expressions.
func TestEvalSpelCollections(t *testing.T) {
	t.Parallel()
	env := spelEnv()
	tests := []struct {
		src  string
		want any
	}{
		// Selection: bare names and #this are the element.
		{"deploys.?[status == 'SUCCEEDED'].![name]", []any{"a", "c"}},
		{"deploys.?[#this.status == 'TERMINAL'].size()", 1},
		{"{1, 2, 3, 4}.?[#this > 2]", []any{3, 4}},
		{"items.?[#this != 'b']", []any{"a", "c"}},
		{"deploys.?[n > 5]", []any{}},
		// First and last match; none is null.
		{"deploys.^[status == 'SUCCEEDED'].name", "a"},
		{"deploys.$[status == 'SUCCEEDED'].name", "c"},
		{"deploys.^[status == 'CANCELED']", nil},
		// Projection.
		{"deploys.![n * 2]", []any{float64(2), float64(4), float64(6)}},
		{"deploys.![name + '-' + status]", []any{"a-SUCCEEDED", "b-TERMINAL", "c-SUCCEEDED"}},
		{"items.![#this.toUpperCase()]", []any{"A", "B", "C"}},
		{"deploys.![{name: name, size: n > 1 ? 'big' : 'small'}][0]", map[string]any{"name": "a", "size": "small"}},
		{"deploys.![{'x', name}][1]", []any{"x", "b"}},
		{"1 + {1, 2}.![#this * 2].size()", 3},
		// Roots stay reachable with #root inside, and after the brackets.
		{"deploys.?[name == #root.trigger.parameters.env].size()", 0},
		{"deploys.![name].contains('b') ? parameters.env : 'none'", "prod"},
		// Nested: the inner brackets see the inner element.
		{"{{1, 2}, {3}}.![#this.?[#this > 1]]", []any{[]any{2}, []any{3}}},
		// Inline lists and maps.
		{"{1, 'a', null}", []any{1, "a", nil}},
		{"{}", []any{}},
		{"{:}", map[string]any{}},
		{"{'a': 1}", map[string]any{"a": 1}},
		{"{true ? 1 : 2, 3}", []any{1, 3}},
		{"{'x' ?: 'y'}", []any{"x"}},
		{"'b' in {'a', 'b'}", true},
		// Division as in Java.
		{"7 / 2", 3},
		{"-7 / 2", -3},
		{"7 div 2", 3},
		{"7.0 / 2", 3.5},
		{"7 / 2.0", 3.5},
		{"7 % 2", 1},
	}
	for _, tt := range tests {
		got, err := Eval(context.Background(), tt.src, env)
		if err != nil {
			t.Errorf("Eval(%q): %v", tt.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Eval(%q) = %#v, want %#v", tt.src, got, tt.want)
		}
	}
}

// TestEvalSpelCollectionErrors checks that what SpEL would do differently
// or cannot do fails with a message naming the expression and the fix.
func TestEvalSpelCollectionErrors(t *testing.T) {
	t.Parallel()
	env := spelEnv()
	tests := []struct{ src, want string }{
		{"regions.?[value == 'x']", ".?[…] over a map is not supported; select over its keys(…), values(…) or toPairs(…)"},
		{"missing.![x]", ".![…] applies to a list, and the value before it is null"},
		{"waitTime.^[x]", ".^[…] applies to a list, not to 30"},
		{"1 / 0", "division by zero in 1 / 0"},
		{"-9223372036854775807 - 1 / -1", ""},
	}
	for _, tt := range tests {
		_, err := Eval(context.Background(), tt.src, env)
		if tt.want == "" {
			continue // only must not panic
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Eval(%q) error = %v, want an *Error", tt.src, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.src) {
			t.Errorf("Eval(%q) error = %q, want it to name the expression and contain %q", tt.src, err, tt.want)
		}
	}
}

// TestSpelCollectionLimits checks that a selection or projection over a
// huge list hits the same limits as filter and map.
func TestSpelCollectionLimits(t *testing.T) {
	t.Parallel()
	env := spelEnv()
	tests := []struct {
		src  string
		want error
	}{
		{"(1..1000000).![repeat('x', 1000)].size()", ErrTooLarge},
		{"(1..100000).![(1..100000).?[#this == 1]].size()", ErrTimeout},
	}
	for _, tt := range tests {
		_, err := EvalWithOptions(context.Background(), tt.src, env, Options{})
		if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTimeout) {
			t.Errorf("Eval(%q) error = %v, want %v (or the other limit)", tt.src, err, tt.want)
		}
	}
}

// TestPipelineID checks #pipelineId against the list the caller gives.
func TestPipelineID(t *testing.T) {
	t.Parallel()
	env := spelEnv()
	env.Pipelines = map[string]string{"deploy": "01P1", "rollback": "01P2"}
	got, err := Eval(context.Background(), "#pipelineId('rollback')", env)
	if err != nil || got != "01P2" {
		t.Errorf("#pipelineId('rollback') = %v, %v; want 01P2", got, err)
	}
	_, err = Eval(context.Background(), "#pipelineId('nope')", env)
	if err == nil || !strings.Contains(err.Error(), `no pipeline named "nope" in this application; its pipelines are deploy, rollback`) {
		t.Errorf("#pipelineId('nope') error = %v", err)
	}
	env.Pipelines = nil
	_, err = Eval(context.Background(), "#pipelineId('deploy')", env)
	if err == nil || !strings.Contains(err.Error(), "given no list of the application's pipelines") {
		t.Errorf("#pipelineId without a list: error = %v", err)
	}
}

// TestArtifactHelpers checks #triggerResolvedArtifact,
// #triggerResolvedArtifactByType and #resolvedArtifacts against a trigger
// as the engine records it.
func TestArtifactHelpers(t *testing.T) {
	t.Parallel()
	env := spelEnv()
	env.Trigger = map[string]any{"parameters": map[string]any{}, "resolvedExpectedArtifacts": []any{
		map[string]any{"id": "a", "boundArtifact": map[string]any{"type": "s3/object", "name": "orders", "reference": "s3://b/o.zip"}},
		map[string]any{"id": "b", "boundArtifact": map[string]any{"type": "embedded/base64", "name": "event", "reference": "e30="}},
	}}
	env.Stages = append(env.Stages, StageInfo{ID: "s9", Name: "emits", Outputs: map[string]any{"artifacts": []any{map[string]any{"type": "x/y"}}}})
	ctx := context.Background()
	for src, want := range map[string]any{
		"#triggerResolvedArtifact('orders').reference":           "s3://b/o.zip",
		"#triggerResolvedArtifactByType('embedded/base64').name": "event",
		"#resolvedArtifacts().size()":                            1,
	} {
		got, err := Eval(ctx, src, env)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
	_, err := Eval(ctx, "#triggerResolvedArtifact('nope')", env)
	if err == nil || !strings.Contains(err.Error(), `unable to locate resolved artifact "nope"`) {
		t.Errorf("#triggerResolvedArtifact('nope') error = %v", err)
	}
}
