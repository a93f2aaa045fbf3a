package web

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

func TestInvokeResults(t *testing.T) {
	t.Parallel()
	logTail := "START RequestId: 1\nhello from v2\nEND RequestId: 1\n"
	var outputs map[string]any
	err := json.Unmarshal([]byte(`{"invokeResultsList": [
		{"body": "{\"message\":\"hello from v2\"}", "errors": [], "logs": "`+base64.StdEncoding.EncodeToString([]byte(logTail))+`", "statusCode": 200, "executedVersion": "2"},
		{"payload": "plain text", "errorMessage": "boom", "logResult": "not base64!"},
		{"body": "ok", "logs": "`+base64.StdEncoding.EncodeToString([]byte(logTail))+`", "logText": "`+strings.ReplaceAll(logTail, "\n", "\\n")+`"}
	]}`), &outputs)
	if err != nil {
		t.Fatal(err)
	}
	got := invokeResults(outputs, nil)
	if len(got) != 3 {
		t.Fatalf("got %d invocations, want 3", len(got))
	}
	// Sluice's logText is shown as the log, once, not as another field.
	if third := got[2]; third.Log != logTail || len(third.Fields) != 0 {
		t.Errorf("third = %+v, want the log once and no fields", third)
	}
	first := got[0]
	if !strings.Contains(first.Body, `"message": "hello from v2"`) {
		t.Errorf("body = %q, want indented JSON", first.Body)
	}
	if first.Log != logTail || first.Error != "" {
		t.Errorf("log = %q, error = %q", first.Log, first.Error)
	}
	if len(first.Fields) != 2 || first.Fields[0] != (keyValue{"executedVersion", "2"}) || first.Fields[1] != (keyValue{"statusCode", "200"}) {
		t.Errorf("fields = %+v", first.Fields)
	}
	second := got[1]
	if second.Body != "plain text" || second.Error != "boom" || second.Log != "not base64!" {
		t.Errorf("second = %+v", second)
	}
	// The list may be in the context instead.
	if got := invokeResults(nil, outputs); len(got) != 3 {
		t.Errorf("from the context: %d invocations", len(got))
	}
}

func TestStageErrors(t *testing.T) {
	t.Parallel()
	ctx := map[string]any{
		"error":          "precondition 1 failed",
		"exception":      map[string]any{"details": map[string]any{"error": "precondition 1 failed", "errors": []any{"second"}}},
		"failureMessage": "",
	}
	outputs := map[string]any{"failureMessage": "No version found"}
	got := stageErrors(ctx, outputs)
	want := []string{"precondition 1 failed", "second", "No version found"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("errors = %q, want %q", got, want)
	}
}

func TestTaskTimeline(t *testing.T) {
	t.Parallel()
	start, end := int64(1000), int64(3000)
	s := &apitype.Stage{
		StartTime: &start,
		EndTime:   &end,
		Tasks:     json.RawMessage(`{"gen":1,"current":1,"tasks":[{"name":"a","status":"SUCCEEDED","startTime":1000,"endTime":2000},{"name":"b","status":"SUCCEEDED","startTime":2000,"endTime":3000},{"name":"c","status":"NOT_STARTED"}]}`),
	}
	got := taskTimeline(s, 5000)
	if len(got) != 3 {
		t.Fatalf("got %d tasks", len(got))
	}
	if got[0].BarX != 0 || got[0].BarW != 50 || got[1].BarX != 50 || got[1].BarW != 50 || got[1].Elapsed != 1000 {
		t.Errorf("timeline = %+v", got)
	}
	if got[2].StartTime != 0 || got[2].BarW != 0 {
		t.Errorf("a task that did not start has a bar: %+v", got[2])
	}
}

func TestAliasTraffic(t *testing.T) {
	t.Parallel()
	colors := map[string]int{}
	colorOf := func(v string) int {
		if _, ok := colors[v]; !ok {
			colors[v] = len(colors)
		}
		return colors[v]
	}
	tests := []struct {
		alias apitype.FunctionAlias
		want  string
	}{
		{apitype.FunctionAlias{FunctionVersion: "6", AdditionalVersionWeights: map[string]float64{"7": 0.1}}, "v6 90% · v7 10%"},
		{apitype.FunctionAlias{FunctionVersion: "7"}, "v7 100%"},
		{apitype.FunctionAlias{FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"3": 0.125, "2": 0.3}}, "v1 57.5% · v2 30% · v3 12.5%"},
		{apitype.FunctionAlias{FunctionVersion: "$LATEST"}, "$LATEST 100%"},
	}
	for _, tt := range tests {
		av := newAliasView(tt.alias, colorOf)
		if av.Text != tt.want {
			t.Errorf("traffic = %q, want %q", av.Text, tt.want)
		}
		last := av.Segments[len(av.Segments)-1]
		if x := last.X + last.W; x < 99.99 || x > 100.01 {
			t.Errorf("%s: the bar ends at %g, want 100", tt.want, x)
		}
	}
}

func TestSelectStage(t *testing.T) {
	t.Parallel()
	ms := func(v int64) *int64 { return &v }
	e := &apitype.Execution{Stages: []apitype.Stage{
		{ID: "a", RefID: "1", Name: "Plan", Status: "SUCCEEDED", StartTime: ms(1)},
		{ID: "b", RefID: "2", Name: "Bake", Status: "RUNNING", StartTime: ms(2)},
		{ID: "c", RefID: "3", Name: "Check", Status: "TERMINAL", StartTime: ms(3)},
		{ID: "d", RefID: "4", Name: "Approve", Status: "NOT_STARTED"},
	}}
	for _, tt := range []struct{ want, got string }{
		{"", "c"}, {"a", "a"}, {"4", "d"}, {"Bake", "b"}, {"nope", "c"},
	} {
		if s := selectStage(e, tt.want); s.ID != tt.got {
			t.Errorf("selectStage(%q) = %s, want %s", tt.want, s.ID, tt.got)
		}
	}
	e.Stages[2].Status = "SUCCEEDED"
	if s := selectStage(e, ""); s.ID != "b" {
		t.Errorf("without a failure the running stage is shown, got %s", s.ID)
	}
}

// TestRollbackOffered: Roll back is offered only where a stage recorded how
// to undo its change and the execution was not rolled back yet; the notes
// say who rolled back and that the rollback failed.
func TestRollbackOffered(t *testing.T) {
	t.Parallel()
	route := apitype.Stage{Outputs: json.RawMessage(`{"rollback:stage":{"type":"Aws.LambdaTrafficRoutingStage","context":{}}}`)}
	wait := apitype.Stage{Outputs: json.RawMessage(`{}`)}
	for _, tc := range []struct {
		name  string
		e     apitype.Execution
		offer bool
		notes []string
	}{
		{"nothing to undo", apitype.Execution{Stages: []apitype.Stage{wait}}, false, nil},
		{"a Route to undo", apitype.Execution{Stages: []apitype.Stage{wait, route}}, true, nil},
		{"rolled back, failed", apitype.Execution{Stages: []apitype.Stage{route},
			State: json.RawMessage(`{"rolledBack":true,"rolledBackBy":"ann","rollbackFailed":"the rollback failed, so what it should have undone is still in place: \"Undo\" FAILED_CONTINUE"}`)},
			false, []string{"Rolled back by ann: the stages that undo what it changed were added to it.",
				`Rollback failed: the rollback failed, so what it should have undone is still in place: "Undo" FAILED_CONTINUE`}},
		{"rolled back on failure", apitype.Execution{Stages: []apitype.Stage{route},
			State: json.RawMessage(`{"rolledBack":true,"rolledBackBy":"rollbackOnFailure"}`)},
			false, []string{"Rolled back because it failed and rollbackOnFailure is set: the stages that undo what it changed were added to it."}},
	} {
		if got := canRollBack(&tc.e); got != tc.offer {
			t.Errorf("%s: canRollBack = %v, want %v", tc.name, got, tc.offer)
		}
		if _, notes := triggerAndNotes(&tc.e); strings.Join(notes, "|") != strings.Join(tc.notes, "|") {
			t.Errorf("%s: notes = %q, want %q", tc.name, notes, tc.notes)
		}
	}
}

// TestSkipWindowAction: a stage waiting for its execution window offers to
// skip the window, confirming with the stage's skipWindowText; a wait stage
// past its window offers to skip the wait; neither is offered otherwise.
func TestSkipWindowAction(t *testing.T) {
	t.Parallel()
	e := &apitype.Execution{ID: "e1"}
	for _, tt := range []struct {
		name, typ, tasks string
		st               status.Status
		want, confirm    string
	}{
		{"in its window", "Aws.LambdaDeploymentStage", `{"current":0,"tasks":[{"name":"suspendExecutionDuringTimeWindow","window":true},{"name":"deploy"}]}`,
			status.Running, "act-skip-window", "ask #releases first"},
		{"a wait stage in its window", "wait", `{"current":0,"tasks":[{"name":"suspendExecutionDuringTimeWindow","window":true},{"name":"wait"}]}`,
			status.Running, "act-skip-window", "outside its execution window"},
		{"a wait stage past its window", "wait", `{"current":1,"tasks":[{"name":"suspendExecutionDuringTimeWindow","window":true},{"name":"wait"}]}`,
			status.Running, "act-skip-wait", ""},
		{"past its window", "Aws.LambdaDeploymentStage", `{"current":1,"tasks":[{"name":"suspendExecutionDuringTimeWindow","window":true},{"name":"deploy"}]}`,
			status.Running, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := `{"progress":"waiting for the execution window"}`
			if tt.typ != "wait" {
				ctx = `{"progress":"waiting for the execution window","skipWindowText":"ask #releases first"}`
			}
			s := &apitype.Stage{ID: "s1", RefID: "1", Name: "Deploy", Type: tt.typ, Status: tt.st, Tasks: json.RawMessage(tt.tasks), Context: json.RawMessage(ctx)}
			v := newStageView(e, s, 0)
			var got, confirm string
			for _, a := range v.Actions {
				if strings.HasPrefix(a.ID, "act-skip") {
					got, confirm = a.ID, a.Confirm
				}
			}
			if got != tt.want || !strings.Contains(confirm, tt.confirm) {
				t.Errorf("skip action %q confirming %q; want %q confirming %q", got, confirm, tt.want, tt.confirm)
			}
			if inWindow := tt.want == "act-skip-window"; (v.Window != "") != inWindow {
				t.Errorf("window line %q; want one only while the stage waits for its window", v.Window)
			}
		})
	}
}

// TestChildLink: a pipeline stage links to the execution it started.
func TestChildLink(t *testing.T) {
	t.Parallel()
	e := &apitype.Execution{ID: "p"}
	s := &apitype.Stage{ID: "s", RefID: "1", Type: "pipeline", Status: "RUNNING",
		Context: json.RawMessage(`{"executionId":"c-1","executionName":"deploy","status":"RUNNING"}`)}
	v := newStageView(e, s, 0)
	if v.Child == nil || v.Child.URL != "/executions/c-1" || v.Child.Name != "deploy" || v.Child.Status != "RUNNING" {
		t.Errorf("child = %+v, want a link to /executions/c-1 named deploy", v.Child)
	}
	s.Context = json.RawMessage(`{}`)
	if v := newStageView(e, s, 0); v.Child != nil {
		t.Errorf("child = %+v before the stage started one, want none", v.Child)
	}
}
