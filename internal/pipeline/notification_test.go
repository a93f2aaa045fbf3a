package pipeline

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseNotifications(t *testing.T) {
	t.Parallel()
	raw := []any{
		map[string]any{"type": "slack", "address": "#deploys", "when": "pipeline.failed",
			"message": map[string]any{"pipeline.failed": map[string]any{"text": "look"}, "pipeline.complete": map[string]any{}}},
		map[string]any{"type": "email", "address": "a@example.com, b@example.com", "cc": "c@example.com", "level": "pipeline",
			"when": []any{"pipeline.starting", "pipeline.complete"}},
		map[string]any{"type": "pubsub", "address": "topic", "when": []any{"pipeline.failed"}},
		map[string]any{"type": "webhook", "address": "https://${trigger.parameters.hook}", "when": []any{"pipeline.failed"}},
	}
	got, probs := ParseNotifications("notifications", raw, PipelineNotifications)
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	want := []Notification{
		{Type: "slack", Address: "#deploys", When: []string{"pipeline.failed"}, Message: map[string]string{"pipeline.failed": "look"}},
		{Type: "email", Address: "a@example.com, b@example.com", CC: "c@example.com", Level: "pipeline", When: []string{"pipeline.starting", "pipeline.complete"}},
		{Type: "pubsub", Address: "topic", When: []string{"pipeline.failed"}},
		{Type: "webhook", Address: "https://${trigger.parameters.hook}", When: []string{"pipeline.failed"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if !got[0].Fires("pipeline.failed") || got[0].Fires("pipeline.complete") || got[2].Delivered() || !got[1].Delivered() {
		t.Error("Fires or Delivered is wrong")
	}

	for _, tt := range []struct {
		entry map[string]any
		level NotificationLevel
		want  string
	}{
		{map[string]any{"type": "slack", "address": "#d", "when": nil}, PipelineNotifications, "x[0].when: missing"},
		{map[string]any{"type": "slack", "address": "#d", "when": []any{}}, PipelineNotifications, "x[0].when: missing"},
		{map[string]any{"type": "slack", "address": "#d"}, PipelineNotifications, "x[0].when: missing"},
		{map[string]any{"type": "slack", "address": "#d", "when": 3}, PipelineNotifications, "x[0].when: must be a list of events, got 3"},
		{map[string]any{"type": "slack", "address": "#d", "when": []any{7}}, PipelineNotifications, "x[0].when[0]: must be a string, got 7"},
		{map[string]any{"type": "slack", "address": "#d", "when": []any{"manualJudgment"}}, StageNotifications, `x[0].when[0]: "manualJudgment" is not an event of a stage`},
		{map[string]any{"type": "slack", "address": "#d", "when": []any{"manualJudgmentStop"}}, JudgmentNotifications, ""},
		{map[string]any{"type": 1, "address": "#d", "when": []any{"stage.failed"}}, StageNotifications, "x[0].type: must be a string, got 1"},
		{map[string]any{"type": "googlechat", "address": "#d", "when": []any{"stage.failed"}}, StageNotifications, `x[0].address: "#d" is not an http:// or https:// webhook URL`},
		{map[string]any{"type": "slack", "address": "ftp://x y", "when": []any{"stage.failed"}}, StageNotifications, "x[0].address:"},
		{map[string]any{"type": "slack", "address": "#d", "when": []any{"stage.failed"}, "message": "hi"}, StageNotifications, "x[0].message: must be an object"},
		{map[string]any{"type": "slack", "address": "#d", "when": []any{"stage.failed"}, "message": map[string]any{"stage.failed": map[string]any{"text": 3}}}, StageNotifications, `x[0].message["stage.failed"].text: must be a string`},
	} {
		_, probs := ParseNotifications("x", []any{tt.entry}, tt.level)
		switch {
		case tt.want == "" && len(probs) > 0:
			t.Errorf("%v: %v, want no problem", tt.entry, probs)
		case tt.want != "" && (len(probs) != 1 || !strings.HasPrefix(probs[0].String(), tt.want)):
			t.Errorf("%v: %v, want one problem starting %q", tt.entry, probs, tt.want)
		}
	}
}
