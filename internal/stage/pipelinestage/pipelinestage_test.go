package pipelinestage

import (
	"reflect"
	"slices"
	"testing"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		fields map[string]any
		want   []string // fields with a problem
	}{
		{"ok", map[string]any{"application": "a", "pipeline": "p"}, nil},
		{"pipelineApplication", map[string]any{"pipelineApplication": "a", "pipeline": "p"}, nil},
		{"expressions", map[string]any{"application": "${parameters.app}", "pipeline": "${#pipelineId('x')}"}, nil},
		{"missing", map[string]any{}, []string{"application", "pipeline"}},
		{"parameters not an object", map[string]any{"application": "a", "pipeline": "p", "pipelineParameters": []any{1}}, []string{"pipelineParameters"}},
		{"strategy", map[string]any{"application": "a", "pipeline": "p", "pipelineParameters": map[string]any{"strategy": true}}, []string{"pipelineParameters"}},
		{"executionId is the engine's", map[string]any{"application": "a", "pipeline": "p", "executionId": "x"}, []string{"executionId"}},
		{"waitForCompletion", map[string]any{"application": "a", "pipeline": "p", "waitForCompletion": "maybe"}, []string{"waitForCompletion"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, e := range (Type{}).Validate(c.fields) {
				got = append(got, e.Field)
				if e.Msg == "" {
					t.Errorf("%s: empty message", e.Field)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("problems in %q, want %q", got, c.want)
			}
		})
	}
}

func TestTasks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		ctx  map[string]any
		want []string
	}{
		{map[string]any{}, []string{TaskStart, TaskMonitor}},
		{map[string]any{"waitForCompletion": false}, []string{TaskStart}},
		{map[string]any{"waitForCompletion": "false"}, []string{TaskStart}},
		{map[string]any{"executionId": "x"}, []string{TaskMonitor}},
	} {
		if got := (Type{}).Tasks(c.ctx); !slices.Equal(got, c.want) {
			t.Errorf("Tasks(%v) = %q, want %q", c.ctx, got, c.want)
		}
	}
}

// TestOutputs: the child's outputs merge upstream first, a later stage
// winning, lists joined without duplicates (Orca's
// PipelineExecution.getContext).
func TestOutputs(t *testing.T) {
	t.Parallel()
	child := &stage.ExecutionView{Stages: []stage.StageView{
		{ID: "c", RefID: "3", RequisiteStageRefIDs: []string{"2"}, Outputs: map[string]any{"v": "last", "list": []any{"b", "c"}}},
		{ID: "a", RefID: "1", Outputs: map[string]any{"v": "first", "list": []any{"a", "b"}, "only": 1}},
		{ID: "b", RefID: "2", RequisiteStageRefIDs: []string{"1"}, Status: status.Succeeded, Outputs: map[string]any{"v": "middle"}},
	}}
	want := map[string]any{"v": "last", "list": []any{"a", "b", "c"}, "only": 1}
	if got := Outputs(child); !reflect.DeepEqual(got, want) {
		t.Errorf("Outputs = %v, want %v", got, want)
	}
}
