package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// These tests read the server-rendered pages as a browser without
// JavaScript would; browser_test.go drives the same pages in Chromium.

func TestPagesWithoutJavaScript(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	ctx := context.Background()
	app, name := s.applyExample(t, "hello-judgment.json")

	// Applications: the pipeline, never run, with a Run form built from
	// parameterConfig.
	status, body := s.get(t, "/")
	if status != http.StatusOK {
		t.Fatalf("GET / = %d", status)
	}
	contains(t, body, "first-release", "Never run", `data-run="/api/v1/pipelines/hello/first-release/executions"`,
		`name="version"`, `value="v2"`, "required", "sluice run hello/first-release -p version=v2")

	exec, err := s.client.Trigger(ctx, app, name, apitype.TriggerRequest{Parameters: map[string]any{"version": "v7"}})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "the judgment", stageIs("4", "RUNNING"))

	// Execution: graph with statuses, the judgment panel, operations.
	status, body = s.get(t, "/executions/"+exec.ID)
	if status != http.StatusOK {
		t.Fatalf("GET execution = %d", status)
	}
	contains(t, body,
		`id="node-1"`, `data-status="SUCCEEDED"`, `id="node-4"`,
		"Waiting for judgment: Approve", "Promote hello-v7 to 100% of traffic, or roll it back?",
		`value="promote"`, `value="rollback"`, `value="continue"`, `value="stop"`,
		`data-action="/api/v1/executions/`+exec.ID+`/cancel"`, `/pause"`,
		"sluice judge "+exec.ID+" Approve continue --input promote",
		`data-live-events="/api/v1/executions/`+exec.ID+`/events?tail=10000"`)
	if strings.Contains(body, `id="act-rollback"`) {
		t.Error("a running execution offers Roll back")
	}
	// Two edges into the join (Approve waits for Bake and Check).
	if n := strings.Count(body, `data-to="4"`); n != 2 {
		t.Errorf("edges into stage 4: %d, want 2", n)
	}

	if _, err := s.client.Judge(ctx, exec.ID, "Approve", apitype.JudgmentRequest{Status: "continue", Input: "promote"}); err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "success", func(e *apitype.Execution) bool { return e.Status == "SUCCEEDED" })
	status, body = s.get(t, "/executions/"+exec.ID+"?stage=4")
	if status != http.StatusOK {
		t.Fatalf("GET execution = %d", status)
	}
	contains(t, body, `id="exec-status" class="badge big st-succeeded" data-status="SUCCEEDED"`,
		"Judged by", "promote", "waitForJudgment", "Restart stage")
	if strings.Contains(body, `id="act-rollback"`) {
		t.Error("an execution with nothing to undo offers Roll back")
	}
	if strings.Contains(body, "Waiting for judgment") {
		t.Error("the judgment panel is still shown after the judgment")
	}

	// Executions list with a status filter.
	_, body = s.get(t, "/executions?application=hello&status=SUCCEEDED")
	contains(t, body, `href="/executions/`+exec.ID+`"`, `value="SUCCEEDED" checked`)
	_, body = s.get(t, "/executions?status=TERMINAL")
	if strings.Contains(body, exec.ID) {
		t.Error("a TERMINAL filter lists a SUCCEEDED execution")
	}

	// Applications now show the last execution.
	_, body = s.get(t, "/")
	contains(t, body, `href="/executions/`+exec.ID+`"`, `data-status="SUCCEEDED"`)
}

func TestFailedStageShowsItsError(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	s.apply(t, "hello", "broken", []byte(failingPipeline))
	exec, err := s.client.Trigger(context.Background(), "hello", "broken", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "TERMINAL", func(e *apitype.Execution) bool { return e.Status == "TERMINAL" })
	_, body := s.get(t, "/executions/"+exec.ID)
	// The failed stage is selected by default, its error first.
	contains(t, body, `data-stage="2"`, `class="stage-error"`, "expression ${ready == true} is false, not true")
}

func TestPipelinePageRevisionsAndDiff(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	app, name := s.applyExample(t, "hello-judgment.json")
	p, err := s.client.GetPipeline(context.Background(), app, name)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(p.Document), `"waitTime":2`, `"waitTime":5`, 1)
	if changed == string(p.Document) {
		t.Fatalf("the document has no waitTime 2: %s", p.Document)
	}
	s.apply(t, app, name, []byte(changed))

	_, body := s.get(t, "/pipelines/hello/first-release")
	contains(t, body, `<svg class="graph"`, `id="node-4"`, "manualJudgment", `id="doc-text"`, `data-format="json"`,
		"revision 2", "revision 1")
	_, body = s.get(t, "/pipelines/hello/first-release?from=1&to=2")
	contains(t, body, "Revision 1 → revision 2", `<tr class="del">`, `<tr class="add">`)
	del := regexp.MustCompile(`<tr class="del">.*?waitTime&#34;: 2<`)
	add := regexp.MustCompile(`<tr class="add">.*?waitTime&#34;: 5<`)
	if !del.MatchString(body) || !add.MatchString(body) {
		t.Error("the diff does not show waitTime going from 2 to 5")
	}
	_, body = s.get(t, "/pipelines/hello/first-release?format=yaml&from=1&to=2")
	contains(t, body, `data-format="yaml"`, "waitTime: 5", "application: hello")
}

// TestPipelinePageTriggers: the pipeline page lists the triggers with
// their last firing, linked to the execution it started.
func TestPipelinePageTriggers(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	s.apply(t, "hooks", "deploy", []byte(`{"triggers": [
  {"type": "webhook", "id": "ci", "enabled": true, "source": "ci"},
  {"type": "cron", "enabled": false, "cronExpression": "0 0 12 ? * MON-FRI"}],
  "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}`))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/webhooks/webhook/ci", strings.NewReader(`{"v": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out apitype.DeliveryResult
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || len(out.Executions) != 1 {
		t.Fatalf("delivery: %d %+v %v, want one execution", resp.StatusCode, out, err)
	}
	_, body := s.get(t, "/pipelines/hooks/deploy")
	contains(t, body, `id="triggers"`, "<td>ci</td><td>webhook</td><td>ci</td>", `href="/executions/`+out.Executions[0].ID+`"`,
		"<td>started</td>", "<td>#1</td><td>cron</td>", "never")
}

func TestConsoleErrorsAndAPIStaysJSON(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	tests := []struct {
		path       string
		wantStatus int
		want       string
	}{
		{"/executions/no-such-id", 404, "execution no-such-id not found"},
		{"/pipelines/nope/nothing", 404, "pipeline nope/nothing not found"},
		{"/nowhere", 404, "There is no such page."},
		{"/functions", 200, "No accounts"},
		{"/functions/prod", 404, "There is no account"},
		{"/api/v1/nowhere", 404, `"code":"not_found"`},
	}
	for _, tt := range tests {
		status, body := s.get(t, tt.path)
		if status != tt.wantStatus || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s = %d, want %d with %q:\n%.300s", tt.path, status, tt.wantStatus, tt.want, body)
		}
	}
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	// Assets are embedded and versioned.
	_, body := s.get(t, "/")
	m := regexp.MustCompile(`/static/console\.js\?v=[0-9a-f]+`).FindString(body)
	if m == "" {
		t.Fatal("the page does not load the script")
	}
	resp, err = http.Get(s.URL + m)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("GET %s = %d, Cache-Control %q", m, resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}
