package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/pipelinestage"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// TestPipelineStage runs the pipeline stage and pipeline trigger
// scenarios on SQLite and on Postgres (when SLUICE_TEST_POSTGRES_DSN is
// set).
func TestPipelineStage(t *testing.T) {
	scenarios := []scenario{
		{"ParentWaitsForChild", scenarioParentWaitsForChild},
		{"ChildByName", scenarioChildByName},
		{"NoWait", scenarioChildNoWait},
		{"ChildFails", scenarioChildFails},
		{"ChildCanceled", scenarioChildCanceled},
		{"CancelParent", scenarioCancelParent},
		{"CannotStart", scenarioChildCannotStart},
		{"OtherApplication", scenarioChildOtherApplication},
		{"PipelineTrigger", scenarioPipelineTrigger},
		{"StartsItself", scenarioStartsItself},
	}
	runScenarios(t, setupChildren, scenarios)
}

// setupChildren starts an engine with the pipeline stage, where
// application "pa" may start pipelines of "pb" and no other application
// may start another's.
func setupChildren(t testing.TB, st store.Store) *bundle {
	p := newProbe()
	types := []stage.Type{wait.Type{}, judgment.Type{}, variables.Type{}, p, pipelinestage.Type{}}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := sluicetest.StartEngine(t, engine.Config{Store: st, Stages: stage.NewRegistry(types...), Logger: logger,
		EventPollInterval: 50 * time.Millisecond,
		CheckApplication: func(from, to string) error {
			if from == "pa" && to == "pb" {
				return nil
			}
			return fmt.Errorf("pipelines of application %s may not start pipelines of application %s", from, to)
		}})
	return &bundle{engine: e, store: st, probe: p}
}

func outputsOf(t *testing.T, s *store.Stage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s.Outputs, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func triggerOf(t *testing.T, e *store.Execution) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Trigger, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// childOf returns the execution the pipeline stage refID started.
func (b *bundle) childOf(t *testing.T, parent *store.Execution, refID string) *store.Execution {
	t.Helper()
	id, _ := contextOf(t, stageOf(parent, refID))["executionId"].(string)
	if id == "" {
		t.Fatalf("stage %s has no executionId in its context: %s", refID, stageOf(parent, refID).Context)
	}
	child, err := b.store.ExecutionGet(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return child
}

// executionsOf lists the executions of one pipeline.
func (b *bundle) executionsOf(t *testing.T, app, name string) []*store.Execution {
	t.Helper()
	page, err := b.store.ExecutionList(context.Background(), &store.ExecutionListParams{Application: app, PipelineName: name, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Executions
}

func scenarioParentWaitsForChild(t *testing.T, b *bundle) {
	child := b.save(t, `{"application":"app","name":"kid","parameterConfig":[{"name":"n","required":true},{"name":"d","default":"dflt"}],"stages":[
		{"refId":"1","type":"probe","name":"first","polls":3,"output":{"greeting":"${parameters.n}","list":[1]}},
		{"refId":"2","type":"probe","name":"second","requisiteStageRefIds":["1"],"output":{"list":[2],"d":"${parameters.d}","parent":"${trigger.parentExecution.name}"}}]}`)
	parent := b.save(t, fmt.Sprintf(`{"application":"app","name":"parent","stages":[
		{"refId":"1","type":"pipeline","name":"Run kid","application":"app","pipeline":%q,"pipelineParameters":{"n":"hi"}},
		{"refId":"2","type":"probe","name":"after","requisiteStageRefIds":["1"],"output":{"seen":"${greeting}-${d}"}}]}`, child.ID))
	exec := b.waitStatus(t, b.trigger(t, parent, nil).ID, status.Succeeded)
	wantStatuses(t, exec, status.Succeeded, map[string]status.Status{"1": status.Succeeded, "2": status.Succeeded})
	kid := b.childOf(t, exec, "1")
	if kid.Status != status.Succeeded || kid.PipelineConfigID != child.ID {
		t.Errorf("child %s of pipeline %s is %s, want SUCCEEDED of %s", kid.ID, kid.PipelineConfigID, kid.Status, child.ID)
	}
	ctx := contextOf(t, stageOf(exec, "1"))
	if ctx["executionName"] != "kid" || ctx["status"] != "SUCCEEDED" {
		t.Errorf("stage context executionName=%v status=%v, want kid, SUCCEEDED", ctx["executionName"], ctx["status"])
	}
	out := outputsOf(t, stageOf(exec, "1"))
	want := map[string]any{"greeting": "hi", "list": []any{float64(1), float64(2)}, "d": "dflt", "parent": "parent"}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("stage outputs = %v, want the child's merged outputs %v", out, want)
	}
	if got := outputsOf(t, stageOf(exec, "2"))["seen"]; got != "hi-dflt" {
		t.Errorf("downstream stage saw %v, want hi-dflt from the pipeline stage's outputs", got)
	}
	trig := triggerOf(t, kid)
	pe, _ := trig["parentExecution"].(map[string]any)
	params, _ := trig["parameters"].(map[string]any)
	switch {
	case trig["type"] != "pipeline":
		t.Errorf("child trigger type = %v, want pipeline", trig["type"])
	case pe["id"] != exec.ID || pe["application"] != "app" || pe["name"] != "parent":
		t.Errorf("child trigger parentExecution = id %v app %v name %v, want %s app parent", pe["id"], pe["application"], pe["name"], exec.ID)
	case trig["parentPipelineStageId"] != stageOf(exec, "1").ID:
		t.Errorf("child trigger parentPipelineStageId = %v, want %s", trig["parentPipelineStageId"], stageOf(exec, "1").ID)
	case !reflect.DeepEqual(params, map[string]any{"n": "hi", "d": "dflt"}):
		t.Errorf("child parameters = %v, want n=hi and d's default", params)
	case trig["user"] != "tester" || kid.User != "tester":
		t.Errorf("child runs as %v (trigger) / %v, want the parent's trigger user tester", trig["user"], kid.User)
	}
	if n := len(b.executionsOf(t, "app", "kid")); n != 1 {
		t.Errorf("%d executions of the child pipeline, want 1", n)
	}
}

func scenarioChildByName(t *testing.T, b *bundle) {
	b.save(t, `{"application":"app","name":"named-kid","stages":[{"refId":"1","type":"probe","name":"only","output":{"x":1}}]}`)
	parent := b.save(t, `{"application":"app","name":"by-name","stages":[
		{"refId":"1","type":"pipeline","name":"Run","application":"app","pipeline":"named-kid"}]}`)
	exec := b.waitStatus(t, b.trigger(t, parent, nil).ID, status.Succeeded)
	if got := outputsOf(t, stageOf(exec, "1"))["x"]; got != float64(1) {
		t.Errorf("outputs x = %v, want 1", got)
	}
}

func scenarioChildNoWait(t *testing.T, b *bundle) {
	child := b.save(t, `{"application":"app","name":"slow-kid","stages":[{"refId":"1","type":"wait","name":"Long","waitTime":3600}]}`)
	parent := b.save(t, fmt.Sprintf(`{"application":"app","name":"no-wait","stages":[
		{"refId":"1","type":"pipeline","name":"Fire","application":"app","pipeline":%q,"waitForCompletion":false}]}`, child.ID))
	exec := b.waitStatus(t, b.trigger(t, parent, nil).ID, status.Succeeded)
	kid := b.childOf(t, exec, "1")
	if kid.Status.Complete() {
		t.Errorf("child is %s, want it still running after the parent succeeded", kid.Status)
	}
	var book struct {
		Tasks []struct{ Name string } `json:"tasks"`
	}
	json.Unmarshal(stageOf(exec, "1").Tasks, &book)
	if len(book.Tasks) != 1 || book.Tasks[0].Name != "startPipeline" {
		t.Errorf("tasks = %+v, want only startPipeline", book.Tasks)
	}
	if err := b.engine.Cancel(context.Background(), kid.ID, "tester", "done"); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(t, kid.ID, status.Canceled)
}

func scenarioChildFails(t *testing.T, b *bundle) {
	child := b.save(t, `{"application":"app","name":"kid-fails","stages":[
		{"refId":"1","type":"probe","name":"ok","output":{"before":true}},
		{"refId":"2","type":"probe","name":"boom","requisiteStageRefIds":["1"],"result":"TERMINAL"}]}`)
	parent := b.save(t, fmt.Sprintf(`{"application":"app","name":"parent-fails","stages":[
		{"refId":"1","type":"pipeline","name":"Run","application":"app","pipeline":%q},
		{"refId":"2","type":"probe","name":"after","requisiteStageRefIds":["1"]}]}`, child.ID))
	exec := b.waitStatus(t, b.trigger(t, parent, nil).ID, status.Terminal)
	wantStatuses(t, exec, status.Terminal, map[string]status.Status{"1": status.Terminal, "2": status.NotStarted})
	ctx := contextOf(t, stageOf(exec, "1"))
	msg, _ := ctx["error"].(string)
	for _, want := range []string{"Exception in child pipeline stage (kid-fails: boom): probe asked to end TERMINAL",
		"At least one monitored pipeline failed, look for errors in failed pipelines"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stage error = %q, want it to contain %q", msg, want)
		}
	}
	exc, _ := ctx["exception"].(map[string]any)
	details, _ := exc["details"].(map[string]any)
	source, _ := exc["source"].(map[string]any)
	if errs, _ := details["errors"].([]any); len(errs) != 2 || source["stageName"] != "boom" {
		t.Errorf("exception = %v, want Orca's details.errors (2) and source naming stage boom", exc)
	}
	if ctx["status"] != "TERMINAL" {
		t.Errorf("context status = %v, want TERMINAL", ctx["status"])
	}
}

func scenarioChildCanceled(t *testing.T, b *bundle) {
	child := b.save(t, `{"application":"app","name":"kid-canceled","stages":[{"refId":"1","type":"wait","name":"Long","waitTime":3600}]}`)
	parent := b.save(t, fmt.Sprintf(`{"application":"app","name":"parent-of-canceled","stages":[
		{"refId":"1","type":"pipeline","name":"Run","application":"app","pipeline":%q}]}`, child.ID))
	id := b.trigger(t, parent, nil).ID
	exec := b.waitFor(t, id, "a child", func(e *store.Execution) bool { return contextOf(t, stageOf(e, "1"))["executionId"] != nil })
	kid := b.childOf(t, exec, "1")
	b.waitStage(t, kid.ID, "1", status.Running)
	if err := b.engine.Cancel(context.Background(), kid.ID, "ann", "not needed"); err != nil {
		t.Fatal(err)
	}
	exec = b.waitStatus(t, id, status.Canceled)
	wantStatuses(t, exec, status.Canceled, map[string]status.Status{"1": status.Canceled})
}

func scenarioCancelParent(t *testing.T, b *bundle) {
	child := b.save(t, `{"application":"app","name":"kid-of-canceled","stages":[{"refId":"1","type":"wait","name":"Long","waitTime":3600}]}`)
	parent := b.save(t, fmt.Sprintf(`{"application":"app","name":"canceled-parent","stages":[
		{"refId":"1","type":"pipeline","name":"Run","application":"app","pipeline":%q}]}`, child.ID))
	id := b.trigger(t, parent, nil).ID
	exec := b.waitFor(t, id, "a child", func(e *store.Execution) bool { return contextOf(t, stageOf(e, "1"))["executionId"] != nil })
	kid := b.childOf(t, exec, "1")
	b.waitStage(t, kid.ID, "1", status.Running)
	if err := b.engine.Cancel(context.Background(), id, "ann", "changed my mind"); err != nil {
		t.Fatal(err)
	}
	exec = b.waitStatus(t, id, status.Canceled)
	wantStatuses(t, exec, status.Canceled, map[string]status.Status{"1": status.Canceled})
	kid = b.waitStatus(t, kid.ID, status.Canceled)
	wantStatuses(t, kid, status.Canceled, map[string]status.Status{"1": status.Canceled})
	var state struct{ CanceledBy, CancellationReason string }
	json.Unmarshal(kid.State, &state)
	if state.CanceledBy != "ann" || !strings.Contains(state.CancellationReason, id) {
		t.Errorf("child canceled by %q because %q, want ann and the parent's id", state.CanceledBy, state.CancellationReason)
	}
}

func scenarioChildCannotStart(t *testing.T, b *bundle) {
	b.save(t, `{"application":"app","name":"needs-n","parameterConfig":[{"name":"n","required":true}],"stages":[{"refId":"1","type":"probe","name":"x"}]}`)
	for _, c := range []struct{ name, stage, want string }{
		{"missing", `"application":"app","pipeline":"no-such-pipeline"`, "The referenced pipeline cannot be located (no-such-pipeline)"},
		{"parameter", `"application":"app","pipeline":"needs-n"`, `parameter "n" is required`},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := b.save(t, fmt.Sprintf(`{"application":"app","name":"cannot-%s","stages":[{"refId":"1","type":"pipeline","name":"Run",%s}]}`, c.name, c.stage))
			exec := b.waitStatus(t, b.trigger(t, parent, nil).ID, status.Terminal)
			if msg, _ := contextOf(t, stageOf(exec, "1"))["error"].(string); !strings.Contains(msg, c.want) {
				t.Errorf("stage error = %q, want it to contain %q", msg, c.want)
			}
		})
	}
	if n := len(b.executionsOf(t, "app", "needs-n")); n != 0 {
		t.Errorf("%d executions of needs-n, want none", n)
	}
}

// scenarioChildOtherApplication: "pa" may start pipelines of "pb"; "pc"
// may not, and the stage says so naming both.
func scenarioChildOtherApplication(t *testing.T, b *bundle) {
	child := b.save(t, `{"application":"pb","name":"shared","stages":[{"refId":"1","type":"probe","name":"x"}]}`)
	allowed := b.save(t, fmt.Sprintf(`{"application":"pa","name":"caller","stages":[{"refId":"1","type":"pipeline","name":"Run","application":"pb","pipeline":%q}]}`, child.ID))
	b.waitStatus(t, b.trigger(t, allowed, nil).ID, status.Succeeded)
	refused := b.save(t, fmt.Sprintf(`{"application":"pc","name":"caller","stages":[{"refId":"1","type":"pipeline","name":"Run","application":"pb","pipeline":%q}]}`, child.ID))
	exec := b.waitStatus(t, b.trigger(t, refused, nil).ID, status.Terminal)
	msg, _ := contextOf(t, stageOf(exec, "1"))["error"].(string)
	if !strings.Contains(msg, "application pc may not start pipelines of application pb") {
		t.Errorf("stage error = %q, want it to name both applications", msg)
	}
	if n := len(b.executionsOf(t, "pb", "shared")); n != 1 {
		t.Errorf("%d executions of pb/shared, want 1 (the allowed caller's)", n)
	}
}

// scenarioPipelineTrigger: pipelines whose pipeline trigger names the
// upstream pipeline start once per matching end, never for a status they
// do not list, nor when disabled.
func scenarioPipelineTrigger(t *testing.T, b *bundle) {
	up := b.save(t, `{"application":"app","name":"upstream","limitConcurrent":false,"parameterConfig":[{"name":"result","default":"SUCCEEDED"}],"stages":[
		{"refId":"1","type":"probe","name":"build","result":"${parameters.result}","output":{"version":"v${parameters.result}"}}]}`)
	trig := func(statuses, enabled string) string {
		return fmt.Sprintf(`"triggers":[{"type":"pipeline","application":"app","pipeline":%q,"status":%s%s}]`, up.ID, statuses, enabled)
	}
	downstream := func(name, triggers string) {
		b.saveIndexed(t, fmt.Sprintf(`{"application":"app","name":%q,%s,"stages":[
			{"refId":"1","type":"probe","name":"deploy","output":{"got":"${trigger.parentExecution.stages[0].outputs.version}","from":"${trigger.parentExecution.id}"}}]}`, name, triggers))
	}
	downstream("on-success", trig(`["successful"]`, `,"enabled":true`))
	downstream("on-failure", trig(`["failed","canceled"]`, `,"enabled":true`))
	downstream("disabled", trig(`["successful","failed"]`, `,"enabled":false`))
	downstream("no-enabled", trig(`["successful","failed"]`, ``))

	ok := b.waitStatus(t, b.trigger(t, up, nil).ID, status.Succeeded)
	var started []*store.Execution
	sluicetest.WaitFor(t, "on-success to start", 15*time.Second, func() bool {
		started = b.executionsOf(t, "app", "on-success")
		return len(started) > 0
	})
	down := b.waitStatus(t, started[0].ID, status.Succeeded)
	// The trigger that fired shows its last firing in the index.
	onSuccess, err := b.store.PipelineGet(context.Background(), "app", "on-success")
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := b.store.TriggerList(context.Background(), &store.TriggerListParams{PipelineID: onSuccess.ID}); err != nil ||
		len(rows) != 1 || rows[0].LastExecutionID != started[0].ID || rows[0].LastOutcome != engine.OutcomeStarted {
		t.Errorf("trigger index of on-success = %+v, %v; want its last firing, execution %s", rows, err, started[0].ID)
	}
	out := outputsOf(t, stageOf(down, "1"))
	if out["got"] != "vSUCCEEDED" || out["from"] != ok.ID {
		t.Errorf("downstream saw %v, want the upstream's output vSUCCEEDED and id %s", out, ok.ID)
	}
	tr := triggerOf(t, down)
	if tr["type"] != "pipeline" || tr["user"] != "tester" || tr["parentPipelineStageId"] != nil {
		t.Errorf("downstream trigger type=%v user=%v parentPipelineStageId=%v, want pipeline, tester, none", tr["type"], tr["user"], tr["parentPipelineStageId"])
	}

	failed := b.waitStatus(t, b.trigger(t, up, map[string]any{"result": "TERMINAL"}).ID, status.Terminal)
	sluicetest.WaitFor(t, "on-failure to start", 15*time.Second, func() bool { return len(b.executionsOf(t, "app", "on-failure")) > 0 })
	// The end of the failed execution fired its triggers in one job: by now
	// everything it started is there.
	for name, want := range map[string]int{"on-success": 1, "on-failure": 1, "disabled": 0, "no-enabled": 0} {
		if got := len(b.executionsOf(t, "app", name)); got != want {
			t.Errorf("%d executions of %s, want %d", got, name, want)
		}
	}
	if tr := triggerOf(t, b.executionsOf(t, "app", "on-failure")[0]); tr["parentExecution"].(map[string]any)["id"] != failed.ID {
		t.Errorf("on-failure's parent is %v, want %s", tr["parentExecution"].(map[string]any)["id"], failed.ID)
	}
}

// scenarioStartsItself: a pipeline that starts itself stops at
// MaxChainDepth, failing the deepest stage with a message that says why,
// and every parent with it.
func scenarioStartsItself(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"loop","limitConcurrent":false,"stages":[
		{"refId":"1","type":"pipeline","name":"Again","application":"app","pipeline":"loop"}]}`)
	exec := b.waitStatus(t, b.trigger(t, p, nil).ID, status.Terminal)
	wantStatuses(t, exec, status.Terminal, map[string]status.Status{"1": status.Terminal})
	all := b.executionsOf(t, "app", "loop")
	if len(all) != engine.MaxChainDepth+1 {
		t.Errorf("%d executions of loop, want %d", len(all), engine.MaxChainDepth+1)
	}
	var deepest *store.Execution
	for _, x := range all {
		x = b.waitStatus(t, x.ID, status.Terminal)
		if x.Status != status.Terminal {
			t.Errorf("execution %s ended %s, want TERMINAL", x.ID, x.Status)
		}
		if contextOf(t, stageOf(x, "1"))["executionId"] == nil {
			deepest = x
		}
	}
	if deepest == nil {
		t.Fatal("every execution started a child")
	}
	if msg, _ := contextOf(t, stageOf(deepest, "1"))["error"].(string); !strings.Contains(msg, "already 16 pipelines deep") {
		t.Errorf("deepest stage error = %q, want it to say the chain is too deep", msg)
	}
}
