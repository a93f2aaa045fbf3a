package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/preconditions"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/trigger"
)

// setupEngine serves the API with the real engine on a real SQLite store.
func setupEngine(t *testing.T, edit func(*httpapi.Config)) (*apiclient.Client, *testBundle) {
	t.Helper()
	return setupEngineWith(t, edit)
}

// setupEngineWith is setupEngine with stage types beyond the built-in
// ones.
func setupEngineWith(t *testing.T, edit func(*httpapi.Config), extra ...stage.Type) (*apiclient.Client, *testBundle) {
	t.Helper()
	return setup(t, func(cfg *httpapi.Config) {
		reg := stage.NewRegistry(append([]stage.Type{wait.Type{}, judgment.Type{}, variables.Type{}, preconditions.Type{}, steered{}}, extra...)...)
		cfg.Engine = sluicetest.StartEngine(t, engine.Config{Store: cfg.Store, Stages: reg, Logger: cfg.Logger})
		cfg.Stages = reg
		cfg.Validate.TriggerTypes = trigger.Builtin(nil)
		if edit != nil {
			edit(cfg)
		}
	})
}

// apply saves a pipeline document or fails the test.
func apply(t *testing.T, c *apiclient.Client, app, name, doc string) {
	t.Helper()
	if _, err := c.PutPipeline(context.Background(), app, name, []byte(doc), ""); err != nil {
		t.Fatalf("put %s/%s: %v", app, name, err)
	}
}

// waitFor polls the execution until cond holds, failing after a deadline.
func waitFor(t *testing.T, c *apiclient.Client, id, what string, cond func(*apitype.Execution) bool) *apitype.Execution {
	t.Helper()
	var last *apitype.Execution
	sluicetest.WaitFor(t, fmt.Sprintf("execution %s to get %s", id, what), 0, func() bool {
		e, err := c.GetExecution(context.Background(), id)
		if err != nil {
			t.Fatalf("get execution: %v", err)
		}
		last = e
		return cond(e)
	})
	return last
}

func execStatus(want string) func(*apitype.Execution) bool {
	return func(e *apitype.Execution) bool { return string(e.Status) == want }
}

func stageStatus(ref, want string) func(*apitype.Execution) bool {
	return func(e *apitype.Execution) bool {
		for _, s := range e.Stages {
			if s.RefID == ref {
				return string(s.Status) == want
			}
		}
		return false
	}
}

func stageByRef(t *testing.T, e *apitype.Execution, ref string) apitype.Stage {
	t.Helper()
	for _, s := range e.Stages {
		if s.RefID == ref {
			return s
		}
	}
	t.Fatalf("execution %s has no stage %s", e.ID, ref)
	return apitype.Stage{}
}

const judgedPipeline = `{
  "application": "demo", "name": "judged",
  "parameterConfig": [{"name": "env", "default": "staging"}],
  "stages": [
    {"refId": "1", "type": "wait", "name": "Warm up", "waitTime": 0},
    {"refId": "2", "type": "manualJudgment", "name": "Approve", "requisiteStageRefIds": ["1"],
     "judgmentInputs": [{"value": "promote"}, {"value": "hold"}]},
    {"refId": "3", "type": "wait", "name": "Cool down", "requisiteStageRefIds": ["2"], "waitTime": 0}
  ]
}`

const longWaitPipeline = `{
  "application": "demo", "name": "long",
  "stages": [{"refId": "1", "type": "wait", "name": "Long", "waitTime": 3600}]
}`

// TestListAwaitingJudgment: awaiting=judgment lists the running
// executions whose manual judgment waits, and no others; a judged one
// leaves the list.
func TestListAwaitingJudgment(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "judged", judgedPipeline)
	apply(t, c, "demo", "long", longWaitPipeline)
	judged, err := c.Trigger(ctx, "demo", "judged", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	long, err := c.Trigger(ctx, "demo", "long", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, judged.ID, "stage 2 RUNNING", stageStatus("2", "RUNNING"))
	waitFor(t, c, long.ID, "stage 1 RUNNING", stageStatus("1", "RUNNING"))
	list, err := c.ListExecutions(ctx, apiclient.ListOptions{AwaitingJudgment: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Executions) != 1 || list.Executions[0].ID != judged.ID {
		t.Fatalf("awaiting judgment: %d executions (%v); want only %s", len(list.Executions), list.Executions, judged.ID)
	}
	if _, err := c.ListExecutions(ctx, apiclient.ListOptions{AwaitingJudgment: true, Statuses: []status.Status{status.Succeeded}}); err == nil || !strings.Contains(err.Error(), "RUNNING") {
		t.Errorf("awaiting with status SUCCEEDED: %v; want a 400 that says RUNNING", err)
	}
	if _, err := c.Judge(ctx, judged.ID, "2", apitype.JudgmentRequest{Status: "continue", Input: "promote"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, judged.ID, "stage 2 SUCCEEDED", stageStatus("2", "SUCCEEDED"))
	if list, err = c.ListExecutions(ctx, apiclient.ListOptions{AwaitingJudgment: true}); err != nil || len(list.Executions) != 0 {
		t.Errorf("after the judgment: %v, %v; want none", list, err)
	}
}

func TestTriggerAndJudge(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "judged", judgedPipeline)

	exec, err := c.Trigger(ctx, "demo", "judged", apitype.TriggerRequest{Parameters: map[string]any{"env": "prod"}})
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	if exec.ID == "" || exec.Application != "demo" || exec.PipelineName != "judged" || exec.Revision != 1 || len(exec.Stages) != 3 || exec.BuildTime == 0 {
		t.Errorf("triggered execution = %+v", exec)
	}
	var trigger struct {
		Type       string         `json:"type"`
		User       string         `json:"user"`
		Parameters map[string]any `json:"parameters"`
	}
	if err := json.Unmarshal(exec.Trigger, &trigger); err != nil {
		t.Fatal(err)
	}
	if trigger.Type != "manual" || trigger.User != testUser || trigger.Parameters["env"] != "prod" {
		t.Errorf("trigger = %+v, want manual by %s with env=prod", trigger, testUser)
	}

	waitFor(t, c, exec.ID, "stage 2 RUNNING", stageStatus("2", "RUNNING"))

	// Judging a stage that is not a waiting judgment is a conflict.
	_, err = c.Judge(ctx, exec.ID, "3", apitype.JudgmentRequest{Status: "continue"})
	e := apiError(t, err, 409, "conflict")
	if strings.HasPrefix(e.Message, "conflict") || !strings.Contains(e.Message, "Cool down") {
		t.Errorf("409 message = %q, want the engine's words naming the stage", e.Message)
	}
	// A judgment must be continue or stop.
	_, err = c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "maybe"})
	e = apiError(t, err, 400, "bad_request")
	containsAll(t, "paths", detailPaths(e), "status")
	// Continue on a judgment with inputs needs one of them.
	_, err = c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "continue"})
	e = apiError(t, err, 400, "bad_request")
	containsAll(t, "paths", detailPaths(e), "input")
	if len(e.Details) != 1 || !strings.Contains(e.Details[0].Message, "promote, hold") {
		t.Errorf("400 for continue without an input: details %v, want the inputs listed", e.Details)
	}
	// Unknown stage.
	_, err = c.Judge(ctx, exec.ID, "Nope", apitype.JudgmentRequest{Status: "continue"})
	e = apiError(t, err, 404, "not_found")
	if !strings.Contains(e.Message, "2 (Approve)") {
		t.Errorf("404 message = %q, want the stages listed", e.Message)
	}

	// Judge by name.
	after, err := c.Judge(ctx, exec.ID, "Approve", apitype.JudgmentRequest{Status: "continue", Input: "promote"})
	if err != nil {
		t.Fatalf("judge: %v", err)
	}
	if after.ID != exec.ID {
		t.Errorf("judge returned execution %q", after.ID)
	}
	done := waitFor(t, c, exec.ID, "SUCCEEDED", execStatus("SUCCEEDED"))
	if done.EndTime == nil || done.StartTime == nil {
		t.Errorf("finished execution lacks start or end time: %+v", done)
	}
	var judged map[string]any
	if err := json.Unmarshal(stageByRef(t, done, "2").Context, &judged); err != nil {
		t.Fatal(err)
	}
	if judged["judgmentStatus"] != "continue" || judged["judgmentInput"] != "promote" || !strings.Contains(string(stageByRef(t, done, "2").Context), testUser) {
		t.Errorf("judged stage context = %v, want continue/promote by %s", judged, testUser)
	}

	// Judging again is a conflict.
	_, err = c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "continue", Input: "promote"})
	apiError(t, err, 409, "conflict")
}

func TestJudgeStopFailsTheExecution(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "judged", judgedPipeline)
	exec, err := c.Trigger(ctx, "demo", "judged", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, exec.ID, "stage 2 RUNNING", stageStatus("2", "RUNNING"))
	if _, err := c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "stop"}); err != nil {
		t.Fatalf("judge stop: %v", err)
	}
	done := waitFor(t, c, exec.ID, "a final status", func(e *apitype.Execution) bool { return e.EndTime != nil })
	if done.Status != "TERMINAL" {
		t.Errorf("status after stop = %s, want TERMINAL", done.Status)
	}
	if st := stageByRef(t, done, "3").Status; st != "NOT_STARTED" {
		t.Errorf("stage after the stopped judgment is %s, want NOT_STARTED", st)
	}
}

func TestTriggerErrors(t *testing.T) {
	t.Parallel()
	c, b := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "params", `{"application":"demo","name":"params",
	  "parameterConfig":[{"name":"version","required":true},{"name":"region","hasOptions":true,"options":[{"value":"eu"},{"value":"us"}],"default":"eu"}],
	  "stages":[{"refId":"1","type":"wait","waitTime":0}]}`)

	_, err := c.Trigger(ctx, "demo", "params", apitype.TriggerRequest{})
	e := apiError(t, err, 400, "invalid_parameters")
	containsAll(t, "paths", detailPaths(e), "parameters.version")

	_, err = c.Trigger(ctx, "demo", "nope", apitype.TriggerRequest{})
	e = apiError(t, err, 404, "not_found")
	if !strings.Contains(e.Message, "demo/nope") {
		t.Errorf("404 message = %q", e.Message)
	}

	resp := b.do(t, "POST", "/api/v1/pipelines/demo/params/executions", "application/json", `{"params":{}}`)
	body := readErrorBody(t, resp)
	if resp.StatusCode != 400 || !strings.Contains(body.Error.Message, `unknown field "params"`) {
		t.Errorf("unknown field: %d %q", resp.StatusCode, body.Error.Message)
	}
	resp = b.do(t, "POST", "/api/v1/pipelines/demo/params/executions", "text/plain", `{}`)
	if body := readErrorBody(t, resp); resp.StatusCode != 415 {
		t.Errorf("text/plain trigger = %d %+v, want 415", resp.StatusCode, body.Error)
	}

	// A trigger names no user: the identity comes from authentication.
	resp = b.do(t, "POST", "/api/v1/pipelines/demo/params/executions", "application/json", `{"user":"webhook","parameters":{"version":"42"}}`)
	body = readErrorBody(t, resp)
	if resp.StatusCode != 400 || !strings.Contains(body.Error.Message, `unknown field "user"`) {
		t.Errorf("trigger with a user: %d %q, want 400 about the unknown field user", resp.StatusCode, body.Error.Message)
	}
	exec, err := c.Trigger(ctx, "demo", "params", apitype.TriggerRequest{Parameters: map[string]any{"version": "42"}})
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	if exec.User != testUser {
		t.Errorf("user = %q, want %s", exec.User, testUser)
	}
}

// TestTriggerArtifacts: a trigger's artifacts bind the pipeline's
// expectedArtifacts, recorded on the execution's trigger; an expected
// artifact nothing binds is a 400 naming it, and no execution is created.
func TestTriggerArtifacts(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "arts", `{"application":"demo","name":"arts",
	  "expectedArtifacts":[{"id":"code","displayName":"zip","matchArtifact":{"type":"s3/object","reference":"s3://builds/.*[.]zip"}}],
	  "stages":[{"refId":"1","type":"wait","waitTime":0}]}`)

	exec, err := c.Trigger(ctx, "demo", "arts", apitype.TriggerRequest{Artifacts: []map[string]any{
		{"type": "s3/object", "reference": "s3://builds/orders-7.zip"}}})
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	var trig struct {
		Artifacts []map[string]any `json:"artifacts"`
		Resolved  []struct {
			ID    string         `json:"id"`
			Bound map[string]any `json:"boundArtifact"`
		} `json:"resolvedExpectedArtifacts"`
	}
	if err := json.Unmarshal(exec.Trigger, &trig); err != nil {
		t.Fatal(err)
	}
	if len(trig.Artifacts) != 1 || len(trig.Resolved) != 1 || trig.Resolved[0].ID != "code" || trig.Resolved[0].Bound["reference"] != "s3://builds/orders-7.zip" {
		t.Errorf("trigger = %s, want the artifact bound to code", exec.Trigger)
	}

	_, err = c.Trigger(ctx, "demo", "arts", apitype.TriggerRequest{Artifacts: []map[string]any{
		{"type": "s3/object", "reference": "s3://builds/orders-7.tar"}}})
	e := apiError(t, err, 400, "invalid_parameters")
	containsAll(t, "paths", detailPaths(e), "artifacts")
	if !strings.Contains(e.Message, "artifacts of this run of demo/arts") || !strings.Contains(fmt.Sprint(e.Details), `unmatched expected artifact "code" (zip)`) {
		t.Errorf("400 = %q %v, want the unmatched expected artifact named", e.Message, e.Details)
	}
	list, err := c.ListExecutions(ctx, apiclient.ListOptions{Application: "demo", Pipeline: "arts"})
	if err != nil || len(list.Executions) != 1 {
		t.Errorf("executions = %v, %v; want only the first run's", list, err)
	}
}

func TestCancelPauseResumeSkipWait(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "long", longWaitPipeline)

	// Pause, resume, then skip the wait.
	exec, err := c.Trigger(ctx, "demo", "long", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, exec.ID, "stage 1 RUNNING", stageStatus("1", "RUNNING"))
	if _, err := c.Pause(ctx, exec.ID); err != nil {
		t.Fatalf("pause: %v", err)
	}
	waitFor(t, c, exec.ID, "PAUSED", execStatus("PAUSED"))
	_, err = c.Pause(ctx, exec.ID)
	apiError(t, err, 409, "conflict")
	if _, err := c.Resume(ctx, exec.ID); err != nil {
		t.Fatalf("resume: %v", err)
	}
	waitFor(t, c, exec.ID, "RUNNING", execStatus("RUNNING"))
	if _, err := c.SkipWait(ctx, exec.ID, "Long"); err != nil {
		t.Fatalf("skip wait: %v", err)
	}
	waitFor(t, c, exec.ID, "SUCCEEDED", execStatus("SUCCEEDED"))
	_, err = c.Resume(ctx, exec.ID)
	apiError(t, err, 409, "conflict")

	// Cancel, with a reason.
	exec, err = c.Trigger(ctx, "demo", "long", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, exec.ID, "stage 1 RUNNING", stageStatus("1", "RUNNING"))
	if _, err := c.Cancel(ctx, exec.ID, "wrong build"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	done := waitFor(t, c, exec.ID, "CANCELED", execStatus("CANCELED"))
	if !done.Canceled || !strings.Contains(string(done.State), "wrong build") || !strings.Contains(string(done.State), testUser) {
		t.Errorf("canceled execution: canceled=%v state=%s, want the reason and %s", done.Canceled, done.State, testUser)
	}

	_, err = c.Cancel(ctx, "no-such-execution", "")
	apiError(t, err, 404, "not_found")
}

func TestRestartStage(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "judged", judgedPipeline)
	exec, err := c.Trigger(ctx, "demo", "judged", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, exec.ID, "stage 2 RUNNING", stageStatus("2", "RUNNING"))
	// A running stage cannot be restarted.
	_, err = c.RestartStage(ctx, exec.ID, "2")
	apiError(t, err, 409, "conflict")
	if _, err := c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "continue", Input: "promote"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, exec.ID, "SUCCEEDED", execStatus("SUCCEEDED"))

	// Restarting the judgment waits for a new judgment, then runs the
	// stage after it again.
	if _, err := c.RestartStage(ctx, exec.ID, "Approve"); err != nil {
		t.Fatalf("restart: %v", err)
	}
	waitFor(t, c, exec.ID, "RUNNING with stage 2 waiting again", func(e *apitype.Execution) bool {
		return e.Status == "RUNNING" && stageStatus("2", "RUNNING")(e)
	})
	if _, err := c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "continue", Input: "promote"}); err != nil {
		t.Fatalf("judge after restart: %v", err)
	}
	waitFor(t, c, exec.ID, "SUCCEEDED again", execStatus("SUCCEEDED"))
}

// undoable is a stage type that records how to undo itself, as a Route
// stage does: with a wait stage.
type undoable struct{}

func (undoable) Name() string                               { return "undoable" }
func (undoable) Validate(map[string]any) []stage.FieldError { return nil }
func (undoable) Tasks(map[string]any) []string              { return []string{"change"} }
func (undoable) Run(context.Context, *stage.Task) (stage.Result, error) {
	return stage.Succeed().WithOutputs(map[string]any{
		"rollback:stage": map[string]any{"type": "wait", "name": "Undo", "context": map[string]any{"waitTime": 0}},
	}), nil
}

// TestEventsMatchOpenAPI makes the engine write an event of every type
// and reads them all from the execution's stream, whose events the
// openapi.json check holds against the Event schema.
func TestEventsMatchOpenAPI(t *testing.T) {
	t.Parallel()
	c, b := setupEngineWith(t, nil, undoable{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	apply(t, c, "demo", "undo", `{"application":"demo","name":"undo","stages":[
	  {"refId":"1","type":"undoable","name":"Change"},
	  {"refId":"2","type":"manualJudgment","name":"Approve","requisiteStageRefIds":["1"]}]}`)
	exec, err := c.Trigger(ctx, "demo", "undo", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	judge := func() {
		t.Helper()
		waitFor(t, c, exec.ID, "stage 2 RUNNING", stageStatus("2", "RUNNING"))
		if _, err := c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: apitype.JudgmentContinue}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, c, exec.ID, "SUCCEEDED", execStatus("SUCCEEDED"))
	}
	judge()
	if _, err := c.RestartStage(ctx, exec.ID, "2"); err != nil {
		t.Fatalf("restart: %v", err)
	}
	judge()
	if _, err := c.Rollback(ctx, exec.ID); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	waitFor(t, c, exec.ID, "SUCCEEDED after the rollback", func(e *apitype.Execution) bool {
		return e.Status == status.Succeeded && len(e.Stages) == 3
	})

	stored, err := b.store.EventList(ctx, &store.EventListParams{ExecutionID: exec.ID})
	if err != nil {
		t.Fatal(err)
	}
	last := stored[len(stored)-1].ID
	seen := map[apitype.EventType]int{}
	err = c.FollowExecution(ctx, exec.ID, func(ev apitype.Event) error {
		seen[ev.Type]++
		if ev.ID == last {
			return apiclient.ErrStopFollowing
		}
		return nil
	})
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	for _, typ := range []apitype.EventType{
		apitype.EventExecutionCreated, apitype.EventExecutionStatus, apitype.EventExecutionRollback,
		apitype.EventStageStatus, apitype.EventStageJudged, apitype.EventStageRestarted, apitype.EventTaskStatus,
	} {
		if seen[typ] == 0 {
			t.Errorf("the stream had no %s event; it had %v", typ, seen)
		}
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "judged", judgedPipeline)
	exec, err := c.Trigger(ctx, "demo", "judged", apitype.TriggerRequest{Parameters: map[string]any{"env": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{"${trigger.parameters.env}", "trigger.parameters.env", "${parameters.env}"} {
		got, err := c.Evaluate(ctx, exec.ID, apitype.EvaluateRequest{Expression: expr})
		if err != nil {
			t.Errorf("evaluate %s: %v", expr, err)
			continue
		}
		if got != "prod" {
			t.Errorf("evaluate %s = %v, want prod", expr, got)
		}
	}
	got, err := c.Evaluate(ctx, exec.ID, apitype.EvaluateRequest{Expression: "1 + 2", Stage: "Approve"})
	if err != nil || got != float64(3) {
		t.Errorf("evaluate 1 + 2 as stage Approve = %v, %v; want 3", got, err)
	}

	_, err = c.Evaluate(ctx, exec.ID, apitype.EvaluateRequest{Expression: "${trigger.parameters.env +}"})
	e := apiError(t, err, 400, "invalid_expression")
	containsAll(t, "paths", detailPaths(e), "expression")

	_, err = c.Evaluate(ctx, exec.ID, apitype.EvaluateRequest{})
	e = apiError(t, err, 400, "bad_request")
	containsAll(t, "paths", detailPaths(e), "expression")

	_, err = c.Evaluate(ctx, exec.ID, apitype.EvaluateRequest{Expression: "1", Stage: "9"})
	apiError(t, err, 404, "not_found")
}

func TestListExecutionsFiltersAndPages(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "long", longWaitPipeline)
	apply(t, c, "other", "long", strings.Replace(longWaitPipeline, `"demo"`, `"other"`, 1))
	var ids []string
	for _, app := range []string{"demo", "demo", "demo", "other"} {
		e, err := c.Trigger(ctx, app, "long", apitype.TriggerRequest{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	page, err := c.ListExecutions(ctx, apiclient.ListOptions{Application: "demo", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Executions) != 2 || page.NextCursor == "" {
		t.Fatalf("first page = %d executions, cursor %q; want 2 and a cursor", len(page.Executions), page.NextCursor)
	}
	seen := map[string]bool{}
	for _, e := range page.Executions {
		seen[e.ID] = true
		if e.Stages != nil {
			t.Errorf("list entry %s has stages", e.ID)
		}
	}
	page2, err := c.ListExecutions(ctx, apiclient.ListOptions{Application: "demo", Limit: 2, Cursor: page.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page2.Executions {
		seen[e.ID] = true
	}
	if len(seen) != 3 || page2.NextCursor != "" || !seen[ids[0]] || seen[ids[3]] {
		t.Errorf("demo pages hold %v (last cursor %q), want the three demo executions", seen, page2.NextCursor)
	}
	if page.Executions[0].ID != ids[2] {
		t.Errorf("first listed = %s, want the newest %s", page.Executions[0].ID, ids[2])
	}

	// limitConcurrent (the default) queues the later demo executions;
	// filter on what is running.
	waitFor(t, c, ids[0], "RUNNING", execStatus("RUNNING"))
	waitFor(t, c, ids[3], "RUNNING", execStatus("RUNNING"))
	running, err := c.ListExecutions(ctx, apiclient.ListOptions{Pipeline: "long", Statuses: []status.Status{status.Running}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range running.Executions {
		got = append(got, e.ID)
	}
	if len(got) != 2 || got[0] != ids[3] || got[1] != ids[0] {
		t.Errorf("RUNNING executions = %v, want %v", got, []string{ids[3], ids[0]})
	}
}

// TestListExecutionsSearch: q finds executions by their trigger's
// parameters (version=v2) and by words of the trigger.
func TestListExecutionsSearch(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "versioned", `{
  "application": "demo", "name": "versioned",
  "parameterConfig": [{"name": "version"}],
  "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]
}`)
	ids := map[string]string{}
	for _, v := range []string{"v1", "v2", "v20"} {
		e, err := c.Trigger(ctx, "demo", "versioned", apitype.TriggerRequest{Parameters: map[string]any{"version": v}})
		if err != nil {
			t.Fatal(err)
		}
		ids[v] = e.ID
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"version=v2", []string{ids["v2"]}},
		{"V2", []string{ids["v20"], ids["v2"]}},
		{"version=v3", nil},
		{ids["v1"][:8], []string{ids["v1"]}},
	} {
		list, err := c.ListExecutions(ctx, apiclient.ListOptions{Search: tc.q})
		if err != nil {
			t.Fatalf("q=%s: %v", tc.q, err)
		}
		var got []string
		for _, e := range list.Executions {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("q=%s lists %v, want %v", tc.q, got, tc.want)
		}
	}
}

// isStage reports whether ev is a stage.status event of the stage named
// name, to status to.
func isStage(ev apitype.Event, name string, to status.Status) bool {
	var data apitype.StageStatusData
	return ev.Type == apitype.EventStageStatus && json.Unmarshal(ev.Data, &data) == nil && data.Name == name && data.Status == to
}

// isExecution reports whether ev is an execution.status event to status
// to.
func isExecution(ev apitype.Event, to status.Status) bool {
	var data apitype.ExecutionStatusData
	return ev.Type == apitype.EventExecutionStatus && json.Unmarshal(ev.Data, &data) == nil && data.Status == to
}

func TestFollowExecution(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	apply(t, c, "demo", "judged", judgedPipeline)
	exec, err := c.Trigger(ctx, "demo", "judged", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var events []apitype.Event
	judged := false
	err = c.FollowExecution(ctx, exec.ID, func(ev apitype.Event) error {
		events = append(events, ev)
		if ev.ExecutionID != exec.ID {
			t.Errorf("event of execution %s in the stream of %s", ev.ExecutionID, exec.ID)
		}
		if !judged && isStage(ev, "Approve", status.Running) {
			judged = true
			if _, err := c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "continue", Input: "promote"}); err != nil {
				return err
			}
		}
		if isExecution(ev, status.Succeeded) {
			return apiclient.ErrStopFollowing
		}
		return nil
	})
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	if len(events) < 4 {
		t.Fatalf("got %d events, want the execution's progress", len(events))
	}
	for i := 1; i < len(events); i++ {
		if events[i].ID <= events[i-1].ID {
			t.Errorf("event ids out of order: %d after %d", events[i].ID, events[i-1].ID)
		}
	}

	// Resuming after an event replays only what came after it.
	from := events[len(events)/2].ID
	var replay []int64
	err = c.FollowExecution(ctx, exec.ID, func(ev apitype.Event) error {
		replay = append(replay, ev.ID)
		if ev.ID == events[len(events)-1].ID {
			return apiclient.ErrStopFollowing
		}
		return nil
	}, apiclient.AfterEvent(from))
	if err != nil {
		t.Fatalf("follow after %d: %v", from, err)
	}
	if len(replay) == 0 || replay[0] <= from || len(replay) != len(events)-len(events)/2-1 {
		t.Errorf("replay after %d = %v, want the %d later events", from, replay, len(events)-len(events)/2-1)
	}

	// A missing execution is a 404 at once, not a retry loop.
	err = c.FollowExecution(ctx, "no-such-execution", func(apitype.Event) error { return nil })
	apiError(t, err, 404, "not_found")
}

func TestFollowReconnectsAfterADroppedStream(t *testing.T) {
	t.Parallel()
	c, b := setupEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	apply(t, c, "demo", "judged", judgedPipeline)
	exec, err := c.Trigger(ctx, "demo", "judged", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu         sync.Mutex
		ids        []int64
		reconnects int
		dropped    bool
	)
	err = c.FollowExecution(ctx, exec.ID, func(ev apitype.Event) error {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, ev.ID)
		if isStage(ev, "Approve", status.Running) && !dropped {
			dropped = true
			// Cut the stream, then judge while it is down.
			b.server.CloseClientConnections()
			if _, err := c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "continue", Input: "promote"}); err != nil {
				return err
			}
		}
		if isExecution(ev, status.Succeeded) {
			return apiclient.ErrStopFollowing
		}
		return nil
	}, apiclient.OnReconnect(func(error) {
		mu.Lock()
		reconnects++
		mu.Unlock()
	}))
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	if !dropped || reconnects == 0 {
		t.Errorf("dropped=%v reconnects=%d; the test did not exercise a reconnect", dropped, reconnects)
	}
	seen := map[int64]bool{}
	for i, id := range ids {
		if seen[id] || (i > 0 && id < ids[i-1]) {
			t.Errorf("event %d delivered twice or out of order: %v", id, ids)
		}
		seen[id] = true
	}
}

func TestFollowAllEvents(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	apply(t, c, "demo", "quick", `{"application":"demo","name":"quick","limitConcurrent":false,"stages":[{"refId":"1","type":"wait","waitTime":0}]}`)
	want := map[string]bool{}
	for range 2 {
		e, err := c.Trigger(ctx, "demo", "quick", apitype.TriggerRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want[e.ID] = true
	}
	finished := map[string]bool{}
	err := c.FollowEvents(ctx, func(ev apitype.Event) error {
		if isExecution(ev, status.Succeeded) {
			finished[ev.ExecutionID] = true
		}
		if len(finished) == len(want) {
			return apiclient.ErrStopFollowing
		}
		return nil
	})
	if err != nil {
		t.Fatalf("follow all: %v", err)
	}
	for id := range want {
		if !finished[id] {
			t.Errorf("no completion event for %s", id)
		}
	}
}

func TestEventStreamFormat(t *testing.T) {
	t.Parallel()
	c, b := setupEngine(t, func(cfg *httpapi.Config) { cfg.HeartbeatInterval = 20 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	apply(t, c, "demo", "long", longWaitPipeline)
	exec, err := c.Trigger(ctx, "demo", "long", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", b.server.URL+"/api/v1/executions/"+exec.ID+"/events", nil)
	b.sign(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var sawID, sawData, sawHeartbeat bool
	for sc.Scan() && !(sawID && sawData && sawHeartbeat) {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			sawID = true
		case strings.HasPrefix(line, "data: "):
			var ev apitype.Event
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil || ev.ID == 0 || ev.Type == "" {
				t.Errorf("data line %q is not an event: %v", line, err)
			}
			sawData = true
		case line == ": heartbeat":
			sawHeartbeat = true
		}
	}
	if !sawID || !sawData || !sawHeartbeat {
		t.Errorf("stream had id=%v data=%v heartbeat=%v", sawID, sawData, sawHeartbeat)
	}

	req, _ = http.NewRequestWithContext(ctx, "GET", b.server.URL+"/api/v1/events", nil)
	b.sign(req)
	req.Header.Set("Last-Event-ID", "soon")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readErrorBody(t, resp2); resp2.StatusCode != 400 || !strings.Contains(body.Error.Message, "Last-Event-ID") {
		t.Errorf("bad Last-Event-ID = %d %q, want 400", resp2.StatusCode, body.Error.Message)
	}
}

// TestEventStreamTail opens the all-executions stream with ?tail=2 after an
// execution finished: it starts with that execution's last two events, not
// with the first event ever written.
func TestEventStreamTail(t *testing.T) {
	t.Parallel()
	c, b := setupEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	apply(t, c, "demo", "quick", `{"application":"demo","name":"quick","limitConcurrent":false,"stages":[{"refId":"1","type":"wait","waitTime":0}]}`)
	e, err := c.Trigger(ctx, "demo", "quick", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, e.ID, "success", func(x *apitype.Execution) bool { return x.Status == "SUCCEEDED" })
	all, err := b.store.EventList(ctx, &store.EventListParams{ExecutionID: e.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 3 {
		t.Fatalf("execution wrote %d events; the test needs at least 3", len(all))
	}
	want := []int64{all[len(all)-2].ID, all[len(all)-1].ID}

	req, _ := http.NewRequestWithContext(ctx, "GET", b.server.URL+"/api/v1/events?tail=2", nil)
	b.sign(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []int64
	sc := bufio.NewScanner(resp.Body)
	for len(got) < 2 && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				t.Fatalf("id line %q: %v", sc.Text(), err)
			}
			got = append(got, n)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("?tail=2 started with events %v; want the newest two, %v (of %d)", got, want, len(all))
	}

	for _, bad := range []string{"x", "-1", "10001"} {
		resp := b.do(t, "GET", "/api/v1/events?tail="+bad, "", "")
		if body := readErrorBody(t, resp); resp.StatusCode != 400 || !strings.Contains(body.Error.Message, "tail") {
			t.Errorf("?tail=%s = %d %q, want 400 naming tail", bad, resp.StatusCode, body.Error.Message)
		}
	}
}
