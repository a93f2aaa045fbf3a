package engine_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/preconditions"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// probe is a stage type for tests: it polls `polls` times, then ends with
// `result` (SUCCEEDED by default) and copies `output` to its outputs. It
// counts how often each stage completed a run so tests can check that no
// stage is completed twice.
type probe struct {
	mu       sync.Mutex
	finished map[string]int // stage ID → runs that returned a final status
	canceled map[string]int
}

func newProbe() *probe { return &probe{finished: map[string]int{}, canceled: map[string]int{}} }

func (*probe) Name() string                               { return "probe" }
func (*probe) Validate(map[string]any) []stage.FieldError { return nil }
func (*probe) Tasks(map[string]any) []string              { return []string{"probe"} }

func (p *probe) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	polls, _, _ := stage.Number(t.Context, "polls")
	done, _, _ := stage.Number(t.Context, "pollsDone")
	if done < polls {
		return stage.Result{Status: status.Running, RetryAfter: time.Millisecond, Context: map[string]any{"pollsDone": done + 1}}, nil
	}
	p.mu.Lock()
	p.finished[t.StageID]++
	p.mu.Unlock()
	res := stage.Result{Status: status.Succeeded}
	if r, _ := t.Context["result"].(string); r != "" {
		res.Status = status.Status(r)
		res.Error = "probe asked to end " + r
	}
	if out, ok := t.Context["output"].(map[string]any); ok {
		res.Outputs = out
	}
	return res, nil
}

func (p *probe) Cancel(_ context.Context, t *stage.Task) error {
	p.mu.Lock()
	p.canceled[t.StageID]++
	p.mu.Unlock()
	if change, _ := t.Context["applied"].(string); change != "" {
		return &stage.AppliedError{Change: change} // as a Lambda stage past its change
	}
	return nil
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type bundle struct {
	engine *engine.Engine
	store  store.Store
	probe  *probe
}

// TestScenarios runs every scenario on an engine over SQLite and one over
// Postgres (when SLUICE_TEST_POSTGRES_DSN is set).
func TestScenarios(t *testing.T) {
	scenarios := []scenario{
		{"FanOutAndJoin", scenarioFanOutAndJoin},
		{"FailureOptions", scenarioFailureOptions},
		{"PreconditionFailPipeline", scenarioPreconditionFailPipeline},
		{"StageEnabledSkips", scenarioStageEnabledSkips},
		{"Judgment", scenarioJudgment},
		{"CancelDuringWait", scenarioCancelDuringWait},
		{"CancelAfterChangeApplied", scenarioCancelAfterChangeApplied},
		{"SkipWait", scenarioSkipWait},
		{"PauseResumeAcrossTimeout", scenarioPauseResumeAcrossTimeout},
		{"RestartStage", scenarioRestartStage},
		{"ConcurrencyQueue", scenarioConcurrencyQueue},
		{"ParametersAndVariables", scenarioParametersAndVariables},
		{"ExecutionTimes", scenarioExecutionTimes},
		{"SpelCollections", scenarioSpelCollections},
	}
	runScenarios(t, func(t testing.TB, st store.Store) *bundle { return setupWith(t, st) }, scenarios)
}

// scenario is one engine test that runs on a bundle shared with others.
type scenario struct {
	name string
	run  func(*testing.T, *bundle)
}

// runScenarios runs the scenarios in parallel on a bundle made by setup,
// once on SQLite and once on Postgres (when SLUICE_TEST_POSTGRES_DSN is
// set).
func runScenarios(t *testing.T, setup func(testing.TB, store.Store) *bundle, scenarios []scenario) {
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				sc.run(t, b)
			})
		}
	})
}

// sqliteStore and postgresStore open a fresh store of each dialect (the
// Postgres one skips without a database).
func sqliteStore(t testing.TB) store.Store   { return sluicetest.OpenSQLite(t) }
func postgresStore(t testing.TB) store.Store { return sluicetest.OpenPostgres(t) }

// setupWith starts an engine on st with the built-in stage types, the probe
// and any extra types.
func setupWith(t testing.TB, st store.Store, extra ...stage.Type) *bundle {
	t.Helper()
	p := newProbe()
	types := append([]stage.Type{wait.Type{}, judgment.Type{}, variables.Type{}, preconditions.Type{}, p}, extra...)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := sluicetest.StartEngine(t, engine.Config{Store: st, Stages: stage.NewRegistry(types...), Logger: logger, EventPollInterval: 50 * time.Millisecond})
	return &bundle{engine: e, store: st, probe: p}
}

// save stores a pipeline document given as JSON.
func (b *bundle) save(t testing.TB, doc string) *store.Pipeline {
	t.Helper()
	p, err := pipeline.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse pipeline: %v", err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := b.store.PipelineSave(context.Background(), &store.PipelineSaveParams{
		Application: p.Application, Name: p.Name, Document: raw, User: "tester",
	})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

func (b *bundle) trigger(t testing.TB, p *store.Pipeline, params map[string]any) *store.Execution {
	t.Helper()
	exec, err := b.engine.Trigger(context.Background(), &engine.TriggerParams{Pipeline: p, User: "tester", Parameters: params})
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	return exec
}

// waitFor waits until cond holds for the execution, driven by its events.
func (b *bundle) waitFor(t testing.TB, id string, what string, cond func(*store.Execution) bool) *store.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	events := b.engine.Subscribe(ctx, id, 0).C
	for {
		exec, err := b.store.ExecutionGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(exec) {
			return exec
		}
		select {
		case <-events:
		case <-ctx.Done():
			t.Fatalf("execution %s: timed out waiting for %s; now %s", id, what, describe(exec))
		}
	}
}

func (b *bundle) waitStatus(t testing.TB, id string, want status.Status) *store.Execution {
	t.Helper()
	return b.waitFor(t, id, "status "+string(want), func(e *store.Execution) bool { return e.Status.Complete() || e.Status == want })
}

func (b *bundle) waitStage(t testing.TB, id, refID string, want status.Status) *store.Execution {
	t.Helper()
	return b.waitFor(t, id, fmt.Sprintf("stage %s %s", refID, want), func(e *store.Execution) bool {
		return stageOf(e, refID).Status == want
	})
}

func describe(e *store.Execution) string {
	s := string(e.Status) + ":"
	for _, st := range e.Stages {
		s += fmt.Sprintf(" %s=%s", st.RefID, st.Status)
	}
	return s
}

func stageOf(e *store.Execution, refID string) *store.Stage {
	for _, s := range e.Stages {
		if s.RefID == refID {
			return s
		}
	}
	panic("no stage " + refID)
}

func contextOf(t *testing.T, s *store.Stage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s.Context, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantStatuses(t *testing.T, e *store.Execution, exec status.Status, stages map[string]status.Status) {
	t.Helper()
	if e.Status != exec {
		t.Errorf("execution status = %s, want %s (%s)", e.Status, exec, describe(e))
	}
	for ref, want := range stages {
		if got := stageOf(e, ref).Status; got != want {
			t.Errorf("stage %s status = %s, want %s (%s)", ref, got, want, describe(e))
		}
	}
}

func scenarioFanOutAndJoin(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"diamond","stages":[
		{"refId":"1","type":"probe","name":"start","output":{"a":1}},
		{"refId":"2","type":"probe","name":"left","requisiteStageRefIds":["1"],"polls":3},
		{"refId":"3","type":"probe","name":"right","requisiteStageRefIds":["1"],"output":{"b":"${a + 1}"}},
		{"refId":"4","type":"probe","name":"join","requisiteStageRefIds":["2","3"],"output":{"sum":"${a + b}"}}]}`)
	exec := b.waitStatus(t, b.trigger(t, p, nil).ID, status.Succeeded)
	wantStatuses(t, exec, status.Succeeded, map[string]status.Status{
		"1": status.Succeeded, "2": status.Succeeded, "3": status.Succeeded, "4": status.Succeeded})
	join := stageOf(exec, "4")
	for _, ref := range []string{"2", "3"} {
		if up := stageOf(exec, ref); up.EndTime.After(*join.StartTime) {
			t.Errorf("join started at %v before stage %s ended at %v", join.StartTime, ref, up.EndTime)
		}
	}
	var out map[string]any
	json.Unmarshal(join.Outputs, &out)
	if out["sum"] != float64(3) {
		t.Errorf("join outputs = %v, want sum 3 from ancestor outputs", out)
	}
	b.probe.mu.Lock()
	defer b.probe.mu.Unlock()
	for _, st := range exec.Stages {
		if n := b.probe.finished[st.ID]; n != 1 {
			t.Errorf("stage %s finished %d times, want 1", st.RefID, n)
		}
	}
}

func scenarioFailureOptions(t *testing.T, b *bundle) {
	cases := []struct {
		name    string
		options string
		exec    status.Status
		failed  status.Status
		after   status.Status // the stage downstream of the failure
		sibling status.Status // an independent branch
	}{
		{"halt pipeline", ``, status.Terminal, status.Terminal, status.NotStarted, status.Canceled},
		{"halt branch", `"failPipeline":false,`, status.Succeeded, status.Stopped, status.NotStarted, status.Succeeded},
		{"halt branch then fail", `"failPipeline":false,"completeOtherBranchesThenFail":true,`, status.Terminal, status.Stopped, status.NotStarted, status.Succeeded},
		{"ignore failure", `"failPipeline":false,"continuePipeline":true,`, status.Succeeded, status.FailedContinue, status.Succeeded, status.Succeeded},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := b.save(t, fmt.Sprintf(`{"application":"app","name":"fail%d","stages":[
				{"refId":"1","type":"probe","name":"fails",%s"result":"TERMINAL"},
				{"refId":"2","type":"probe","name":"after","requisiteStageRefIds":["1"]},
				{"refId":"3","type":"probe","name":"sibling","polls":20}]}`, i, c.options))
			exec := b.waitFor(t, b.trigger(t, p, nil).ID, "completion", func(e *store.Execution) bool { return e.Status.Complete() })
			wantStatuses(t, exec, c.exec, map[string]status.Status{"1": c.failed, "2": c.after, "3": c.sibling})
			if msg, _ := contextOf(t, stageOf(exec, "1"))["error"].(string); msg == "" {
				t.Errorf("failed stage has no error message in its context")
			}
		})
	}
}

// scenarioPreconditionFailPipeline runs a checkPreconditions stage whose
// preconditions carry their own failPipeline, with Orca's outcome: a
// failing precondition with failPipeline false stops only the stage's
// branch (STOPPED), one with failPipeline true (or left out, where the
// stage's own failPipeline counts) halts the pipeline as the stage's
// failure options say.
func scenarioPreconditionFailPipeline(t *testing.T, b *bundle) {
	const pass = `{"type":"expression","context":{"expression":"${1 == 1}"}}`
	cases := []struct {
		name          string
		options       string // the stage's failure options
		preconditions string
		exec          status.Status
		check         status.Status
		after         status.Status // downstream of the check
		sibling       status.Status // an independent branch
		errorHas      string
	}{
		{"failPipeline false stops the branch", ``,
			`{"type":"expression","failPipeline":false,"context":{"expression":"${1 == 2}"}},` + pass,
			status.Succeeded, status.Stopped, status.NotStarted, status.Succeeded, "precondition 1 (expression)"},
		{"failPipeline true halts the pipeline", ``,
			`{"type":"expression","failPipeline":true,"context":{"expression":"false"}}`,
			status.Terminal, status.Terminal, status.NotStarted, status.Canceled, "precondition 1 (expression)"},
		{"one halting failure wins", ``,
			`{"type":"expression","failPipeline":false,"context":{"expression":"false"}},{"type":"stageStatus","context":{"stageName":"sibling","stageStatus":"TERMINAL"}}`,
			status.Terminal, status.Terminal, status.NotStarted, status.Canceled, "precondition 2 (stageStatus)"},
		{"failPipeline false that passes", ``,
			`{"type":"expression","failPipeline":false,"context":{"expression":"true"}}`,
			status.Succeeded, status.Succeeded, status.Succeeded, status.Succeeded, ""},
		{"left out: the stage's failPipeline false", `"failPipeline":false,`,
			`{"type":"expression","context":{"expression":"false"}}`,
			status.Succeeded, status.Stopped, status.NotStarted, status.Succeeded, "precondition 1"},
		{"true under a stage with failPipeline false", `"failPipeline":false,`,
			`{"type":"expression","failPipeline":true,"context":{"expression":"false"}}`,
			status.Succeeded, status.Stopped, status.NotStarted, status.Succeeded, "precondition 1"},
		{"continuePipeline", `"continuePipeline":true,`,
			`{"type":"expression","failPipeline":false,"context":{"expression":"false"}}`,
			status.Succeeded, status.FailedContinue, status.Succeeded, status.Succeeded, "precondition 1"},
		{"an expression for failPipeline", ``,
			`{"type":"expression","failPipeline":"${parameters.strict == 'yes'}","context":{"expression":"false"}}`,
			status.Succeeded, status.Stopped, status.NotStarted, status.Succeeded, "precondition 1"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := b.save(t, fmt.Sprintf(`{"application":"app","name":"precond%d","parameterConfig":[{"name":"strict","default":"no"}],"stages":[
				{"refId":"1","type":"checkPreconditions","name":"check",%s"preconditions":[%s]},
				{"refId":"2","type":"probe","name":"after","requisiteStageRefIds":["1"]},
				{"refId":"3","type":"probe","name":"sibling","polls":20}]}`, i, c.options, c.preconditions))
			exec := b.waitFor(t, b.trigger(t, p, nil).ID, "completion", func(e *store.Execution) bool { return e.Status.Complete() })
			wantStatuses(t, exec, c.exec, map[string]status.Status{"1": c.check, "2": c.after, "3": c.sibling})
			msg, _ := contextOf(t, stageOf(exec, "1"))["error"].(string)
			if !strings.Contains(msg, c.errorHas) || (c.errorHas == "") != (msg == "") {
				t.Errorf("check's error = %q, want one naming %q", msg, c.errorHas)
			}
		})
	}
}

func scenarioStageEnabledSkips(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"enabled","parameterConfig":[{"name":"go","default":"no"}],"stages":[
		{"refId":"1","type":"probe","name":"on","stageEnabled":{"type":"expression","expression":"parameters.go == 'yes'"}},
		{"refId":"2","type":"probe","name":"broken","stageEnabled":{"type":"expression","expression":"#stage('nope').status == 'x'"}},
		{"refId":"3","type":"probe","name":"after","requisiteStageRefIds":["1","2"]},
		{"refId":"4","type":"manualJudgment","name":"Promote?","judgmentInputs":[{"value":"promote"}],"stageEnabled":{"type":"expression","expression":"false"}},
		{"refId":"5","type":"probe","name":"promote","requisiteStageRefIds":["4"],"stageEnabled":{"type":"expression","expression":"#judgment('Promote?') == 'promote'"}}]}`)
	exec := b.waitStatus(t, b.trigger(t, p, nil).ID, status.Succeeded)
	wantStatuses(t, exec, status.Succeeded, map[string]status.Status{"1": status.Skipped, "2": status.Skipped, "3": status.Succeeded, "4": status.Skipped, "5": status.Skipped})
	// Each reason is a sentence that names the condition once and, when it
	// could not be evaluated, the evaluation's own error.
	for ref, want := range map[string][]string{
		"1": {`skipped because its condition (stageEnabled "parameters.go == 'yes'") is false`},
		"2": {`skipped because its condition (stageEnabled "#stage('nope').status == 'x'") could not be evaluated: `, `"nope"`},
		"5": {`skipped because its condition (stageEnabled "#judgment('Promote?') == 'promote'") could not be evaluated: `, `#judgment("Promote?"): stage "Promote?" was skipped, so nobody judged it and it has no judgment input`},
	} {
		t.Logf("stage %s: %s", ref, contextOf(t, stageOf(exec, ref))["skipReason"])
		why, _ := contextOf(t, stageOf(exec, ref))["skipReason"].(string)
		if !strings.HasPrefix(why, want[0]) || !strings.Contains(why, want[len(want)-1]) || strings.Contains(why, "${") || strings.Contains(why, "failed") {
			t.Errorf("stage %s skipReason = %q, want a sentence starting %q naming the condition once", ref, why, want[0])
		}
	}
	exec = b.waitStatus(t, b.trigger(t, p, map[string]any{"go": "yes"}).ID, status.Succeeded)
	wantStatuses(t, exec, status.Succeeded, map[string]status.Status{"1": status.Succeeded})
}

func scenarioJudgment(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"judged","stages":[
		{"refId":"1","type":"manualJudgment","name":"Approve","judgmentInputs":[{"value":"promote"},{"value":"rollback"}]},
		{"refId":"2","type":"probe","name":"promote","requisiteStageRefIds":["1"],"stageEnabled":{"type":"expression","expression":"#judgment('Approve') == 'promote'"}},
		{"refId":"3","type":"probe","name":"rollback","requisiteStageRefIds":["1"],"stageEnabled":{"type":"expression","expression":"#judgment('Approve') == 'rollback'"}}]}`)
	ctx := context.Background()

	t.Run("continue", func(t *testing.T) {
		id := b.trigger(t, p, nil).ID
		b.waitStage(t, id, "1", status.Running)
		if err := b.engine.Judge(ctx, id, "Approve", engine.Judgment{Status: "continue", Input: "nonsense", User: "ann"}); err == nil {
			t.Error("judging with an input that is not an option succeeded")
		}
		// Continue without an input would skip both branches: refused,
		// naming the inputs.
		err := b.engine.Judge(ctx, id, "Approve", engine.Judgment{Status: "continue", User: "ann"})
		var verr *pipeline.ValidationError
		if !errors.As(err, &verr) || !strings.Contains(err.Error(), "promote, rollback") {
			t.Errorf("continue without an input: got %v, want a validation error listing promote, rollback", err)
		}
		if exec, _ := b.store.ExecutionGet(ctx, id); stageOf(exec, "1").Status != status.Running {
			t.Errorf("after a refused judgment stage 1 is %s, want RUNNING", stageOf(exec, "1").Status)
		}
		if err := b.engine.Judge(ctx, id, "1", engine.Judgment{Status: "continue", Input: "rollback", User: "ann"}); err != nil {
			t.Fatal(err)
		}
		exec := b.waitStatus(t, id, status.Succeeded)
		wantStatuses(t, exec, status.Succeeded, map[string]status.Status{"1": status.Succeeded, "2": status.Skipped, "3": status.Succeeded})
		if by := contextOf(t, stageOf(exec, "1"))["lastModifiedBy"]; by != "ann" {
			t.Errorf("judged by %v, want ann", by)
		}
		err = b.engine.Judge(ctx, id, "1", engine.Judgment{Status: "continue", Input: "promote", User: "bob"})
		if !errors.Is(err, engine.ErrConflict) {
			t.Errorf("second judgment: got %v, want ErrConflict", err)
		}
	})
	// A stage's context is decoded when first used; one that does not
	// decode fails the judgment with its own error, and nothing is written.
	t.Run("stored context does not decode", func(t *testing.T) {
		id := b.trigger(t, p, nil).ID
		b.waitStage(t, id, "1", status.Running)
		var good json.RawMessage
		setContext := func(c json.RawMessage) {
			err := b.store.InTx(ctx, func(tx store.Tx) error {
				e, err := tx.ExecutionLock(ctx, id)
				if err != nil {
					return err
				}
				s := stageOf(e, "1")
				good, s.Context = s.Context, c
				return tx.StageUpdate(ctx, s)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		bad := json.RawMessage(`["not an object"]`)
		setContext(bad)
		stored := func() *store.Stage {
			e, err := b.store.ExecutionGet(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return stageOf(e, "1")
		}
		err := b.engine.Judge(ctx, id, "1", engine.Judgment{Status: "continue", Input: "promote", User: "ann"})
		if err == nil || !strings.Contains(err.Error(), "stored context") || !strings.Contains(err.Error(), stored().ID) {
			t.Errorf("judging a stage whose context does not decode: got %v, want an error naming the stage and its stored context", err)
		}
		s := stored()
		if s.Status != status.Running || string(s.Context) != string(bad) {
			t.Errorf("after the failed judgment stage 1 is %s with context %s, want RUNNING with %s", s.Status, s.Context, bad)
		}
		// Mended, the stage takes a judgment again, and the pipeline's
		// next execution is no longer queued behind this one.
		setContext(good)
		if err := b.engine.Judge(ctx, id, "1", engine.Judgment{Status: "stop", User: "ann"}); err != nil {
			t.Fatal(err)
		}
		b.waitStatus(t, id, status.Terminal)
	})
	t.Run("stop", func(t *testing.T) {
		id := b.trigger(t, p, nil).ID
		b.waitStage(t, id, "1", status.Running)
		if err := b.engine.Judge(ctx, id, "1", engine.Judgment{Status: "stop", User: "ann"}); err != nil {
			t.Fatal(err)
		}
		exec := b.waitStatus(t, id, status.Terminal)
		wantStatuses(t, exec, status.Terminal, map[string]status.Status{"1": status.Terminal, "2": status.NotStarted, "3": status.NotStarted})
	})
}

func scenarioCancelDuringWait(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"long","stages":[
		{"refId":"1","type":"wait","name":"Wait","waitTime":3600},
		{"refId":"2","type":"probe","name":"busy","polls":1000000},
		{"refId":"3","type":"probe","name":"after","requisiteStageRefIds":["1"]}]}`)
	id := b.trigger(t, p, nil).ID
	b.waitStage(t, id, "1", status.Running)
	b.waitStage(t, id, "2", status.Running)
	if err := b.engine.Cancel(context.Background(), id, "ann", "changed my mind"); err != nil {
		t.Fatal(err)
	}
	exec := b.waitStatus(t, id, status.Canceled)
	wantStatuses(t, exec, status.Canceled, map[string]status.Status{"1": status.Canceled, "2": status.Canceled, "3": status.NotStarted})
	b.probe.mu.Lock()
	hooked := b.probe.canceled[stageOf(exec, "2").ID]
	b.probe.mu.Unlock()
	if hooked != 1 {
		t.Errorf("cancel hook ran %d times, want 1", hooked)
	}
	if err := b.engine.Cancel(context.Background(), id, "ann", ""); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("cancel of a canceled execution: %v, want ErrConflict", err)
	}
}

// scenarioCancelAfterChangeApplied: a stage canceled after its change was
// applied is not CANCELED: it ends TERMINAL naming the change, while the
// execution is CANCELED.
func scenarioCancelAfterChangeApplied(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"applied","stages":[
		{"refId":"1","type":"probe","name":"deploy","polls":1000000,"applied":"updateCode ran on function hello"}]}`)
	id := b.trigger(t, p, nil).ID
	b.waitStage(t, id, "1", status.Running)
	if err := b.engine.Cancel(context.Background(), id, "ann", "changed my mind"); err != nil {
		t.Fatal(err)
	}
	exec := b.waitStatus(t, id, status.Canceled)
	wantStatuses(t, exec, status.Canceled, map[string]status.Status{"1": status.Terminal})
	got, _ := contextOf(t, stageOf(exec, "1"))["error"].(string)
	if !strings.Contains(got, "updateCode ran on function hello") || !strings.Contains(got, "that change stays") || strings.Contains(got, "undoing") {
		t.Errorf("stage error = %q, want it to name the change that stays", got)
	}
}

func scenarioSkipWait(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"skip","stages":[{"refId":"1","type":"wait","name":"Wait","waitTime":3600}]}`)
	id := b.trigger(t, p, nil).ID
	b.waitStage(t, id, "1", status.Running)
	if err := b.engine.SkipWait(context.Background(), id, "Wait", "ann"); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(t, id, status.Succeeded)
}

func scenarioPauseResumeAcrossTimeout(t *testing.T, b *bundle) {
	// The judgment times out after 1.5 s of running time. It is paused for
	// longer than that; the timeout must not fire while paused, and must
	// fire once it has run 1.5 s in all.
	p := b.save(t, `{"application":"app","name":"pause","stages":[
		{"refId":"1","type":"manualJudgment","name":"Approve","stageTimeoutMs":1500}]}`)
	ctx := context.Background()
	id := b.trigger(t, p, nil).ID
	b.waitStage(t, id, "1", status.Running)
	if err := b.engine.Pause(ctx, id, "ann"); err != nil {
		t.Fatal(err)
	}
	exec := b.waitStage(t, id, "1", status.Paused)
	if exec.Status != status.Paused {
		t.Fatalf("execution %s after pause, want PAUSED", exec.Status)
	}
	if err := b.engine.Judge(ctx, id, "1", engine.Judgment{Status: "continue"}); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("judging a paused execution: %v, want ErrConflict", err)
	}
	pausedFor := 2 * time.Second
	timer := time.NewTimer(pausedFor) // the test's subject is elapsed time itself
	<-timer.C
	exec, _ = b.store.ExecutionGet(ctx, id)
	if exec.Status != status.Paused {
		t.Fatalf("while paused the execution became %s", describe(exec))
	}
	if err := b.engine.Resume(ctx, id, "ann"); err != nil {
		t.Fatal(err)
	}
	exec = b.waitStatus(t, id, status.Terminal)
	msg, _ := contextOf(t, stageOf(exec, "1"))["error"].(string)
	if msg == "" {
		t.Fatal("timed-out stage has no error")
	}
	ran := stageOf(exec, "1").EndTime.Sub(*stageOf(exec, "1").StartTime)
	if ran < 1500*time.Millisecond+pausedFor {
		t.Errorf("stage ended %v after it started; paused time must not count toward its 1.5 s timeout", ran)
	}
}

func scenarioRestartStage(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"restart","stages":[
		{"refId":"1","type":"probe","name":"ok"},
		{"refId":"2","type":"probe","name":"flaky","requisiteStageRefIds":["1"],"result":"${parameters.result}"},
		{"refId":"3","type":"probe","name":"after","requisiteStageRefIds":["2"]}],
		"parameterConfig":[{"name":"result","default":"TERMINAL"}]}`)
	ctx := context.Background()
	id := b.trigger(t, p, nil).ID
	exec := b.waitStatus(t, id, status.Terminal)
	wantStatuses(t, exec, status.Terminal, map[string]status.Status{"2": status.Terminal, "3": status.NotStarted})
	if err := b.engine.RestartStage(ctx, id, "2", "ann"); err != nil {
		t.Fatal(err)
	}
	// It fails again with the same parameters: restart re-runs, it does not
	// pretend. The restart is recorded on the stage.
	exec = b.waitFor(t, id, "second failure", func(e *store.Execution) bool {
		return e.Status == status.Terminal && contextOf(t, stageOf(e, "2"))["restartDetails"] != nil
	})
	details, _ := contextOf(t, stageOf(exec, "2"))["restartDetails"].(map[string]any)
	if details["restartedBy"] != "ann" || details["previousException"] == "" {
		t.Errorf("restartDetails = %v", details)
	}
	if err := b.engine.RestartStage(engine.WithAuditSource(ctx, "192.0.2.7 token"), id, "1", "ann"); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, id, "restart of stage 1", func(e *store.Execution) bool {
		return e.Status.Complete() && contextOf(t, stageOf(e, "1"))["restartDetails"] != nil
	})
	audit, err := b.store.AuditList(ctx, &store.AuditListParams{ExecutionID: id})
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, a := range audit {
		if a.Action == "restart" && a.User == "ann" {
			sources = append(sources, a.Source)
		}
	}
	// Newest first: the second restart said where it came from, the first
	// did not.
	if want := []string{"192.0.2.7 token", "engine"}; !slices.Equal(sources, want) {
		t.Errorf("audit log has restarts by ann from %q, want %q", sources, want)
	}
}

func scenarioConcurrencyQueue(t *testing.T, b *bundle) {
	ctx := context.Background()
	judge := func(id string) {
		t.Helper()
		b.waitStage(t, id, "1", status.Running)
		if err := b.engine.Judge(ctx, id, "1", engine.Judgment{Status: "continue"}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("newest waiting wins", func(t *testing.T) {
		p := b.save(t, `{"application":"app","name":"q1","stages":[{"refId":"1","type":"manualJudgment","name":"Hold"}]}`)
		first, second, third := b.trigger(t, p, nil), b.trigger(t, p, nil), b.trigger(t, p, nil)
		judge(first.ID)
		b.waitStatus(t, first.ID, status.Succeeded)
		b.waitStatus(t, second.ID, status.Canceled)
		judge(third.ID)
		b.waitStatus(t, third.ID, status.Succeeded)
	})
	t.Run("keepWaitingPipelines is FIFO", func(t *testing.T) {
		p := b.save(t, `{"application":"app","name":"q2","keepWaitingPipelines":true,"stages":[{"refId":"1","type":"manualJudgment","name":"Hold"}]}`)
		first, second, third := b.trigger(t, p, nil), b.trigger(t, p, nil), b.trigger(t, p, nil)
		judge(first.ID)
		judge(second.ID)
		b.waitStatus(t, second.ID, status.Succeeded)
		judge(third.ID)
		b.waitStatus(t, third.ID, status.Succeeded)
	})
	t.Run("maxConcurrentExecutions", func(t *testing.T) {
		p := b.save(t, `{"application":"app","name":"q3","limitConcurrent":false,"maxConcurrentExecutions":2,"keepWaitingPipelines":true,
			"stages":[{"refId":"1","type":"manualJudgment","name":"Hold"}]}`)
		first, second, third := b.trigger(t, p, nil), b.trigger(t, p, nil), b.trigger(t, p, nil)
		b.waitStage(t, first.ID, "1", status.Running)
		b.waitStage(t, second.ID, "1", status.Running)
		if x, _ := b.store.ExecutionGet(ctx, third.ID); x.Status != status.NotStarted {
			t.Fatalf("third execution is %s with two running and a limit of 2", x.Status)
		}
		judge(first.ID)
		judge(third.ID)
		judge(second.ID)
		b.waitStatus(t, third.ID, status.Succeeded)
	})
}

func scenarioParametersAndVariables(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"vars","parameterConfig":[
		{"name":"env","required":true,"hasOptions":true,"options":[{"value":"dev"},{"value":"prod"}]},
		{"name":"count","default":"3"}],
		"stages":[
		{"refId":"1","type":"evaluateVariables","name":"vars","variables":[
			{"key":"region","value":"${parameters.env == 'prod' ? 'eu-west-1' : 'us-east-1'}"},
			{"key":"label","value":"${region}-${parameters.count}"}]},
		{"refId":"2","type":"checkPreconditions","name":"check","requisiteStageRefIds":["1"],"preconditions":[
			{"type":"expression","context":{"expression":"${label == 'eu-west-1-3'}"}},
			{"type":"stageStatus","context":{"stageName":"vars","stageStatus":"SUCCEEDED"}}]}]}`)
	_, err := b.engine.Trigger(context.Background(), &engine.TriggerParams{Pipeline: p})
	var verr *pipeline.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 || verr.Problems[0].Path != "parameters.env" {
		t.Fatalf("trigger without a required parameter: %v", err)
	}
	_, err = b.engine.Trigger(context.Background(), &engine.TriggerParams{Pipeline: p, Parameters: map[string]any{"env": "qa"}})
	if !errors.As(err, &verr) {
		t.Fatalf("trigger with a parameter outside its options: %v", err)
	}
	exec := b.waitStatus(t, b.trigger(t, p, map[string]any{"env": "prod"}).ID, status.Succeeded)
	var out map[string]any
	json.Unmarshal(stageOf(exec, "1").Outputs, &out)
	if out["label"] != "eu-west-1-3" {
		t.Errorf("variables = %v", out)
	}
	v, err := b.engine.Evaluate(context.Background(), exec.ID, "", "#stage('vars').outputs.region")
	if err != nil || v != "eu-west-1" {
		t.Errorf("evaluate = %v, %v", v, err)
	}
}

// scenarioSpelCollections runs SpEL's selection, projection, inline lists
// and integer division through the engine, on a list passed as a trigger
// parameter, as an exported Spinnaker pipeline would use them.
func scenarioSpelCollections(t *testing.T, b *bundle) {
	p := b.save(t, `{"application":"app","name":"spel","stages":[
		{"refId":"1","type":"evaluateVariables","name":"vars","variables":[
			{"key":"ok","value":"${trigger.parameters.deploys.?[status == 'SUCCEEDED'].![name]}"},
			{"key":"first","value":"${parameters.deploys.^[status == 'TERMINAL'].name}"},
			{"key":"last","value":"${{1, 2, 3}.$[#this < 3]}"},
			{"key":"half","value":"${7 / 2}"},
			{"key":"self","value":"${#pipelineId('spel')}"},
			{"key":"label","value":"ok: ${parameters.deploys.?[status == 'SUCCEEDED'].size()}"}]},
		{"refId":"2","type":"checkPreconditions","name":"check","requisiteStageRefIds":["1"],"preconditions":[
			{"type":"expression","context":{"expression":"${ok.contains('c') and {'a', 'c'}.![#this + '!'].size() == 2}"}}]}]}`)
	deploys := []any{
		map[string]any{"name": "a", "status": "SUCCEEDED"},
		map[string]any{"name": "b", "status": "TERMINAL"},
		map[string]any{"name": "c", "status": "SUCCEEDED"},
	}
	exec := b.waitStatus(t, b.trigger(t, p, map[string]any{"deploys": deploys}).ID, status.Succeeded)
	var out map[string]any
	json.Unmarshal(stageOf(exec, "1").Outputs, &out)
	want := map[string]any{"ok": []any{"a", "c"}, "first": "b", "last": float64(2), "half": float64(3), "label": "ok: 2"}
	for k, v := range want {
		if !reflect.DeepEqual(out[k], v) {
			t.Errorf("variable %s = %#v, want %#v", k, out[k], v)
		}
	}
	if out["self"] != p.ID {
		t.Errorf("#pipelineId('spel') = %v, want the pipeline's ID %s", out["self"], p.ID)
	}
	v, err := b.engine.Evaluate(context.Background(), exec.ID, "", "#pipelineId('spel')")
	if err != nil || v != p.ID {
		t.Errorf("evaluate #pipelineId('spel') = %v, %v; want %s", v, err, p.ID)
	}
}

// scenarioExecutionTimes checks that expressions see the execution's
// buildTime, startTime and endTime as Orca's do: epoch milliseconds, set
// when they happen, null before.
func scenarioExecutionTimes(t *testing.T, b *bundle) {
	ctx := context.Background()
	p := b.save(t, `{"application":"app","name":"times","stages":[
		{"refId":"1","type":"evaluateVariables","name":"vars","variables":[
			{"key":"started","value":"${execution.startTime}"},{"key":"built","value":"${execution.buildTime}"}]},
		{"refId":"2","type":"wait","name":"Wait","waitTime":3600,"requisiteStageRefIds":["1"]}]}`)
	id := b.trigger(t, p, nil).ID
	exec := b.waitStage(t, id, "2", status.Running)
	if exec.StartTime == nil {
		t.Fatal("a running execution has no start time")
	}
	var out map[string]any
	json.Unmarshal(stageOf(exec, "1").Outputs, &out)
	if got, _ := out["started"].(float64); int64(got) != exec.StartTime.UnixMilli() {
		t.Errorf("${execution.startTime} in a stage = %v, want %d", out["started"], exec.StartTime.UnixMilli())
	}
	if got, _ := out["built"].(float64); int64(got) != exec.CreatedAt.UnixMilli() {
		t.Errorf("${execution.buildTime} in a stage = %v, want %d", out["built"], exec.CreatedAt.UnixMilli())
	}
	eval := func(expression string) any {
		t.Helper()
		v, err := b.engine.Evaluate(ctx, id, "", expression)
		if err != nil {
			t.Fatalf("evaluate %s: %v", expression, err)
		}
		return v
	}
	if v := eval("execution.endTime == null"); v != true {
		t.Errorf("execution.endTime == null of a running execution = %v, want true", v)
	}
	if v := eval("execution.stages[1].startTime"); fmt.Sprint(v) != fmt.Sprint(stageOf(exec, "2").StartTime.UnixMilli()) {
		t.Errorf("execution.stages[1].startTime = %v, want %d", v, stageOf(exec, "2").StartTime.UnixMilli())
	}
	if err := b.engine.Cancel(ctx, id, "ann", ""); err != nil {
		t.Fatal(err)
	}
	exec = b.waitStatus(t, id, status.Canceled)
	if v := eval("execution.endTime"); exec.EndTime == nil || fmt.Sprint(v) != fmt.Sprint(exec.EndTime.UnixMilli()) {
		t.Errorf("execution.endTime of a canceled execution = %v, want %v", v, exec.EndTime)
	}
}

// steps is a stage type for tests with three tasks, one, two and three.
// Task two polls once; the task named by failAt fails.
type steps struct{}

func (steps) Name() string                               { return "steps" }
func (steps) Validate(map[string]any) []stage.FieldError { return nil }
func (steps) Tasks(map[string]any) []string              { return []string{"one", "two", "three"} }
func (steps) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	if failAt, _ := t.Context["failAt"].(string); failAt == t.Name {
		return stage.Fail("task " + t.Name + " was told to fail"), nil
	}
	if polled, _ := t.Context["polled"].(bool); t.Name == "two" && !polled {
		return stage.RetryAfter(time.Millisecond).WithContext(map[string]any{"polled": true}), nil
	}
	return stage.Succeed(), nil
}

// TestWaitingLeavesTheStageCache: SQLite's store keeps the stages of the
// executions it locked lately. An execution that waits for a judgment, or
// has ended, is let go of (txn.rest); one whose next stage is queued is
// not.
func TestWaitingLeavesTheStageCache(t *testing.T) {
	st := sluicetest.OpenSQLite(t)
	b := setupWith(t, st)
	ctx := t.Context()
	// cached locks execution id and reports whether the cache held its
	// stages; the lock puts them back.
	cached := func(id string) bool {
		t.Helper()
		before := st.StageCacheHits()
		err := st.InTx(ctx, func(tx store.Tx) error {
			_, err := tx.ExecutionLock(ctx, id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return st.StageCacheHits() > before
	}
	p := b.save(t, `{"application":"app","name":"held","stages":[
		{"refId":"1","type":"manualJudgment","name":"Hold"},
		{"refId":"2","type":"wait","name":"After","waitTime":0,"requisiteStageRefIds":["1"]}]}`)
	// idle waits until no stage's job is due or running (a parked one is
	// scheduled or completed): the engine then locks nothing, and cached's
	// count of hits is the test's own.
	idle := func(what string) {
		t.Helper()
		sluicetest.WaitFor(t, what, 0, func() bool {
			var left int
			err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE kind = ? AND state IN ('available', 'running', 'retryable')`,
				engine.RunStageKind).Scan(&left)
			if err != nil {
				t.Fatal(err)
			}
			return left == 0
		})
	}
	id := b.trigger(t, p, nil).ID
	b.waitStage(t, id, "1", status.Running)
	idle("the judgment's job to park")
	if cached(id) {
		t.Error("an execution waiting for a judgment still had its stages in the cache")
	}
	if !cached(id) {
		t.Error("locked again at once, the execution was not in the cache")
	}
	if err := b.engine.Judge(ctx, id, "1", engine.Judgment{Status: "continue", User: "ann"}); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(t, id, status.Succeeded)
	idle("the execution's last job to end")
	if cached(id) {
		t.Error("an execution that ended still had its stages in the cache")
	}
}

// TestTaskEvents checks the task.status events: each task's start and end,
// in order, before the event that completes its stage, and agreeing with
// the stage's task records.
func TestTaskEvents(t *testing.T) {
	t.Parallel()
	b := setupWith(t, sqliteStore(t), steps{})
	p := b.save(t, `{"application":"app","name":"tasks","stages":[
		{"refId":"1","type":"steps","name":"all"},
		{"refId":"2","type":"steps","name":"broken","failAt":"two","continuePipeline":true,"requisiteStageRefIds":["1"]}]}`)
	exec := b.waitStatus(t, b.trigger(t, p, nil).ID, status.Succeeded)
	wantStatuses(t, exec, status.Succeeded, map[string]status.Status{"1": status.Succeeded, "2": status.FailedContinue})

	events, err := b.store.EventList(context.Background(), &store.EventListParams{ExecutionID: exec.ID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{} // refId → "task STATUS", then "stage STATUS" when it completed
	for _, ev := range events {
		switch apitype.EventType(ev.Type) {
		case apitype.EventTaskStatus:
			var data apitype.TaskStatusData
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatalf("task.status data %s: %v", ev.Data, err)
			}
			if ev.StageID != stageOf(exec, data.RefID).ID || data.Name != stageOf(exec, data.RefID).Name {
				t.Errorf("task.status %s names stage %s (%s) but is of stage %s", ev.Data, data.RefID, data.Name, ev.StageID)
			}
			got[data.RefID] = append(got[data.RefID], data.Task+" "+string(data.Status))
		case apitype.EventStageStatus:
			var data apitype.StageStatusData
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatalf("stage.status data %s: %v", ev.Data, err)
			}
			if data.Status.Complete() {
				got[data.RefID] = append(got[data.RefID], "stage "+string(data.Status))
			}
		}
	}
	want := map[string][]string{
		"1": {"one RUNNING", "one SUCCEEDED", "two RUNNING", "two SUCCEEDED", "three RUNNING", "three SUCCEEDED", "stage SUCCEEDED"},
		"2": {"one RUNNING", "one SUCCEEDED", "two RUNNING", "two FAILED_CONTINUE", "stage FAILED_CONTINUE"},
	}
	for ref, w := range want {
		if g := got[ref]; !slices.Equal(g, w) {
			t.Errorf("stage %s events:\n got %q\nwant %q", ref, g, w)
		}
		var book struct {
			Tasks []struct {
				Name   string        `json:"name"`
				Status status.Status `json:"status"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal(stageOf(exec, ref).Tasks, &book); err != nil {
			t.Fatal(err)
		}
		last := map[string]string{}
		for _, e := range w {
			if task, st, _ := strings.Cut(e, " "); task != "stage" {
				last[task] = st
			}
		}
		for _, task := range book.Tasks {
			if want := cmp.Or(last[task.Name], string(status.NotStarted)); string(task.Status) != want {
				t.Errorf("stage %s task %s is %s in the stage's records, want %s as its events say", ref, task.Name, task.Status, want)
			}
		}
	}
}

// TestFailedExpressionInField: a field whose expression fails reports the
// expression's own error, not that its text is not a number.
func TestFailedExpressionInField(t *testing.T) {
	t.Parallel()
	b := setupWith(t, sqliteStore(t))
	p := b.save(t, `{"application":"app","name":"badexpr","stages":[
		{"refId":"1","type":"wait","name":"Wait","waitTime":"${#stage('Nope')['outputs']['x']}"}]}`)
	exec := b.waitStatus(t, b.trigger(t, p, nil).ID, status.Terminal)
	if exec.Status != status.Terminal {
		t.Fatalf("execution = %s, want TERMINAL", describe(exec))
	}
	got, _ := contextOf(t, stageOf(exec, "1"))["error"].(string)
	if !strings.Contains(got, `no stage named "Nope"`) || strings.Contains(got, "must be a number") {
		t.Errorf("stage error = %q, want the expression's own error", got)
	}
}
