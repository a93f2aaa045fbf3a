package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

// progressiveEnv is a canaryEnv whose alias live routes only version 1,
// with the Route stage type bound to the example canary config.
func progressiveEnv(t *testing.T, failureRate string) (*canaryEnv, stage.Type) {
	t.Helper()
	c := newCanaryEnv(t, failureRate)
	c.fn.setAlias("live", c.v1, map[string]float64{})
	typ := typeWith(t, RouteTypeName, Options{Accounts: c.env.accounts,
		Analysis: Analysis{Configs: exampleConfigs(t), LocalLambdaURL: c.env.srv.URL()}})
	return c, typ
}

// routesOnly fails the test unless alias live routes only version.
func (c *canaryEnv) routesOnly(t *testing.T, version string) {
	t.Helper()
	a := c.fn.alias("live")
	if aws.ToString(a.FunctionVersion) != version || a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
		t.Errorf("alias live routes %s %v; want only version %s", aws.ToString(a.FunctionVersion), a.RoutingConfig, version)
	}
}

// progressiveStage is a $PROGRESSIVE Route of alias live: 20 % judged over
// 2.5 s in 0.25 s samples — long enough that a loaded machine's thinner
// traffic still gives each sample requests of both versions — then 60 %,
// then all of it.
func progressiveStage(progressive map[string]any) map[string]any {
	p := map[string]any{
		"steps": []any{
			map[string]any{"weight": 20, "pause": 2.5},
			map[string]any{"weight": "60", "pause": "PT0.3S", "analysis": false},
		},
		"analysis": map[string]any{"canaryConfigName": "lambda-errors-latency", "scopes": []any{map[string]any{"step": 0.25}}},
	}
	maps.Copy(p, progressive)
	return map[string]any{"functionName": "hello", "aliasName": "live", "deploymentStrategy": "$PROGRESSIVE", "progressive": p}
}

func rolloutOf(t *testing.T, outputs map[string]any) rollout {
	t.Helper()
	b, err := json.Marshal(outputs[rolloutKey])
	if err != nil {
		t.Fatal(err)
	}
	var r rollout
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("rollout %s: %v", b, err)
	}
	return r
}

// TestProgressiveShiftPromotes: a healthy version 2 takes 20 %, passes
// its analysis, takes 60 %, then all of it; the history records each step
// and the analysis.
func TestProgressiveShiftPromotes(t *testing.T) {
	t.Parallel()
	c, typ := progressiveEnv(t, "0")
	stop := c.traffic(t)
	r := newStageRun(t, typ, fixtureApp, progressiveStage(nil))
	out := r.mustSucceed()
	stop()
	c.routesOnly(t, c.v2)
	ro := rolloutOf(t, out)
	if ro.Status != rolloutPromoted || len(ro.History) != 3 {
		t.Fatalf("rollout %s with %d steps; want promoted after 3", ro.Status, len(ro.History))
	}
	for i, want := range []float64{20, 60, 100} {
		if h := ro.History[i]; h.Weight != want || h.Outcome != "passed" {
			t.Errorf("step %d: %v%% %s; want %v%% passed", i+1, h.Weight, h.Outcome, want)
		}
	}
	if a := ro.History[0].Analysis; a == nil || a.Decision == nil || a.Decision.Result != "pass" || a.Control.Version != c.v1 || a.Experiment.Version != c.v2 {
		t.Errorf("step 1's analysis: %+v; want version %s passing against %s", a, c.v2, c.v1)
	}
	if ro.History[1].Analysis != nil {
		t.Error("step 2 (analysis: false) was analysed")
	}
	if out["deployment:majorVersionDeployed"] != c.v2 || out["deployment:strategyUsed"] != "ProgressiveDeploymentStrategy" {
		t.Errorf("outputs %v", out)
	}
}

// TestProgressiveShiftRestoresABadVersion: version 2 fails every
// request; the analysis of the first step fails it, the stage puts the
// alias back on version 1 itself and fails saying which metric and what
// figures.
func TestProgressiveShiftRestoresABadVersion(t *testing.T) {
	t.Parallel()
	c, typ := progressiveEnv(t, "1")
	stop := c.traffic(t)
	r := newStageRun(t, typ, fixtureApp, progressiveStage(nil))
	msg := r.mustFail()
	stop()
	c.routesOnly(t, c.v1)
	for _, want := range []string{"canary analysis of step 1 (20%) failed", "error rate High", "the alias was restored to 100% to version " + c.v1} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	ro := rolloutOf(t, r.outputs)
	if ro.Status != rolloutRestored || len(ro.History) != 1 || ro.History[0].Outcome != "failed" || ro.History[0].Analysis == nil {
		t.Errorf("rollout %s, history %+v; want restored after step 1 failed with its analysis", ro.Status, ro.History)
	}
}

// stepper runs a stage's task once at a time, as the engine would after
// each RetryAfter, so a test can give commands in between.
type stepper struct {
	t     *testing.T
	typ   stage.Type
	ctx   map[string]any
	out   map[string]any
	start time.Time
}

func (s *stepper) run(task string) stage.Result {
	s.t.Helper()
	res, err := s.typ.Run(context.Background(), &stage.Task{Name: task, Application: fixtureApp, Context: maps.Clone(s.ctx),
		StartTime: s.start, TaskStartTime: s.start, Now: time.Now()})
	if err != nil {
		s.t.Fatalf("%s: %v", task, err)
	}
	maps.Copy(s.ctx, res.Context)
	maps.Copy(s.out, res.Outputs)
	return res
}

func (s *stepper) command(name string) {
	list, _ := s.ctx[stage.CommandsKey].([]any)
	s.ctx[stage.CommandsKey] = append(list, map[string]any{"command": name, "user": "ann"})
}

// TestProgressiveShiftCommands: pause holds the step however long it
// waits; resume goes on; promote sends everything to the new version at
// once; abort restores. Steerable offers only what applies.
func TestProgressiveShiftCommands(t *testing.T) {
	t.Parallel()
	c, typ := progressiveEnv(t, "0")
	fields := progressiveStage(map[string]any{"analysis": nil, "steps": []any{
		map[string]any{"weight": 10, "pause": 3600}, map[string]any{"weight": 50, "pause": 3600}}})
	delete(fields["progressive"].(map[string]any), "analysis")
	steerable := typ.(stage.Steerable)

	newStepper := func() *stepper {
		c.fn.setAlias("live", c.v1, map[string]float64{})
		s := &stepper{t: t, typ: typ, ctx: maps.Clone(fields), out: map[string]any{}, start: time.Now()}
		for _, task := range []string{taskResolveRoute, taskRecordRouting} {
			if res := s.run(task); res.Status != status.Succeeded {
				t.Fatalf("%s: %s %s", task, res.Status, res.Error)
			}
		}
		return s
	}
	routes := func(version string, weights map[string]float64) {
		t.Helper()
		a := c.fn.alias("live")
		got := map[string]float64{}
		if a.RoutingConfig != nil {
			got = a.RoutingConfig.AdditionalVersionWeights
		}
		if aws.ToString(a.FunctionVersion) != version || fmt.Sprint(got) != fmt.Sprint(weights) {
			t.Fatalf("alias routes %s %v; want %s %v", aws.ToString(a.FunctionVersion), got, version, weights)
		}
	}

	s := newStepper()
	if res := s.run(taskShiftTraffic); res.Status != status.Running || res.RetryAfter < time.Hour-time.Minute {
		t.Fatalf("first step: %s after %s; want Running for about an hour", res.Status, res.RetryAfter)
	}
	routes(c.v1, map[string]float64{c.v2: 0.1})
	if got := steerable.Commands(s.ctx); fmt.Sprint(got) != "[pause promote abort]" {
		t.Errorf("commands while shifting: %v", got)
	}
	s.command(CommandPause)
	if res := s.run(taskShiftTraffic); res.Status != status.Running || res.RetryAfter != 0 {
		t.Fatalf("paused: %s after %s; want parked (Running, no retry)", res.Status, res.RetryAfter)
	}
	if got := steerable.Commands(s.ctx); fmt.Sprint(got) != "[resume promote abort]" {
		t.Errorf("commands while paused: %v", got)
	}
	s.command(CommandResume)
	if res := s.run(taskShiftTraffic); res.Status != status.Running || res.RetryAfter < time.Hour-time.Minute {
		t.Fatalf("resumed: %s after %s", res.Status, res.RetryAfter)
	}
	routes(c.v1, map[string]float64{c.v2: 0.1})
	s.command(CommandPromote)
	if res := s.run(taskShiftTraffic); res.Status != status.Succeeded {
		t.Fatalf("promoted: %s %s", res.Status, res.Error)
	}
	routes(c.v2, map[string]float64{})
	if ro := rolloutOf(t, s.out); ro.Status != rolloutPromoted || ro.History[0].Outcome != "skipped: promoted by ann" {
		t.Errorf("rollout after promote: %+v", ro)
	}
	if got := steerable.Commands(s.ctx); len(got) != 0 {
		t.Errorf("commands after promotion: %v", got)
	}

	s = newStepper()
	s.run(taskShiftTraffic)
	s.command(CommandAbort)
	routes(c.v1, map[string]float64{c.v2: 0.1})
	before := maps.Clone(s.ctx)
	res := s.run(taskShiftTraffic)
	if res.Status != status.Terminal || !strings.Contains(res.Error, "aborted by ann; the alias was restored to 100% to version "+c.v1) {
		t.Fatalf("abort: %s %q", res.Status, res.Error)
	}
	routes(c.v1, map[string]float64{})
	// The same run again, as after a crash before its result was
	// recorded: the alias is restored already and is not touched twice.
	revision := aws.ToString(c.fn.alias("live").RevisionId)
	s.ctx = before
	if res := s.run(taskShiftTraffic); res.Status != status.Terminal {
		t.Fatalf("restore run again: %s %q", res.Status, res.Error)
	}
	if got := aws.ToString(c.fn.alias("live").RevisionId); got != revision {
		t.Errorf("the repeated restore changed the alias (revision %s, was %s)", got, revision)
	}
}

// TestProgressiveShiftNeverShiftsTwice: a step's run repeated with the
// context from before it — a crash after the alias was updated and before
// the engine recorded the result — finds the step applied and leaves the
// alias alone.
func TestProgressiveShiftNeverShiftsTwice(t *testing.T) {
	t.Parallel()
	c, typ := progressiveEnv(t, "0")
	fields := progressiveStage(map[string]any{"steps": []any{map[string]any{"weight": 10, "pause": 3600}}})
	delete(fields["progressive"].(map[string]any), "analysis")
	s := &stepper{t: t, typ: typ, ctx: fields, out: map[string]any{}, start: time.Now()}
	s.run(taskResolveRoute)
	s.run(taskRecordRouting)
	before := maps.Clone(s.ctx)
	s.run(taskShiftTraffic)
	revision := aws.ToString(c.fn.alias("live").RevisionId)
	s.ctx = before
	if res := s.run(taskShiftTraffic); res.Status != status.Running {
		t.Fatalf("step 1 again: %s %s", res.Status, res.Error)
	}
	if got := aws.ToString(c.fn.alias("live").RevisionId); got != revision {
		t.Errorf("the repeated step updated the alias again (revision %s, was %s)", got, revision)
	}
	// Someone else routes the alias meanwhile: the next step refuses to
	// overwrite it.
	c.fn.setAlias("live", c.v1, map[string]float64{c.v2: 0.33})
	ro := rolloutOf(t, s.ctx)
	ro.Steps[0].Pause = 0
	s.ctx[rolloutKey] = jsonValue(ro)
	res := s.run(taskShiftTraffic)
	if res.Status != status.Terminal || !strings.Contains(res.Error, "was changed while the progressive shift ran") {
		t.Errorf("alias changed by someone else: %s %q", res.Status, res.Error)
	}
}

// TestProgressiveShiftSequentialRestoresFast: with the sequential judges
// a step that would hold a minute is stopped and restored within seconds
// when the new version fails half its requests.
func TestProgressiveShiftSequentialRestoresFast(t *testing.T) {
	t.Parallel()
	c, typ := progressiveEnv(t, "0.5")
	c.traffic(t)
	fields := progressiveStage(map[string]any{
		"steps": []any{map[string]any{"weight": 20, "pause": 60}},
		"analysis": map[string]any{"canaryConfigName": "lambda-errors-latency",
			"sequential": map[string]any{"lookSeconds": 0.2, "tolerableErrorRateIncrease": 0.05}},
	})
	msg := newStageRun(t, typ, fixtureApp, fields).mustFail()
	if !strings.Contains(msg, "canary analysis of step 1 (20%) failed: sequential judges after") || !strings.Contains(msg, "restored to 100% to version "+c.v1) {
		t.Errorf("error %q", msg)
	}
	c.routesOnly(t, c.v1)
}

// TestProgressiveFieldsRefused: what a $PROGRESSIVE route cannot do is
// refused when the pipeline is saved, naming the field.
func TestProgressiveFieldsRefused(t *testing.T) {
	t.Parallel()
	typ := typeWith(t, RouteTypeName, Options{})
	base := func(p map[string]any) map[string]any {
		return map[string]any{"functionName": "f", "aliasName": "live", "deploymentStrategy": "$PROGRESSIVE", "progressive": p}
	}
	analysis := map[string]any{"canaryConfigName": "c"}
	for _, tt := range []struct {
		name string
		p    map[string]any
		want string
	}{
		{"nothing", map[string]any{}, "progressive.deploymentConfig: is required (or steps)"},
		{"both", map[string]any{"deploymentConfig": "LambdaAllAtOnce", "steps": []any{map[string]any{"weight": 10, "pause": 1}}}, "progressive.steps: cannot be given with deploymentConfig"},
		{"unknown config", map[string]any{"deploymentConfig": "LambdaCanary20Percent5Minutes"}, "is not one of CodeDeploy's Lambda configurations"},
		{"falling weights", map[string]any{"steps": []any{map[string]any{"weight": 50, "pause": 1}, map[string]any{"weight": 20, "pause": 1}}}, "progressive.steps[1].weight: is 20, not above the step before (50)"},
		{"analysis without pause", map[string]any{"analysis": analysis, "steps": []any{map[string]any{"weight": 10}}}, "progressive.steps[0].pause: must be more than 0 for a step with analysis"},
		{"analysis without config", map[string]any{"steps": []any{map[string]any{"weight": 10, "pause": 5, "analysis": true}}}, "progressive.steps[0].analysis: needs progressive.analysis"},
		{"alarms", map[string]any{"deploymentConfig": "LambdaAllAtOnce", "alarms": []any{"a", "a"}}, "progressive.alarms"},
	} {
		if errs := typ.Validate(base(tt.p)); !strings.Contains(fmt.Sprint(errs), tt.want) {
			t.Errorf("%s: Validate = %v; want %q", tt.name, errs, tt.want)
		}
	}
	for _, ok := range []map[string]any{
		{"deploymentConfig": "CodeDeployDefault.LambdaCanary10Percent30Minutes", "analysis": analysis},
		{"steps": []any{map[string]any{"weight": 10, "pause": "PT5M"}, map[string]any{"weight": 100}}, "analysis": analysis, "alarms": []any{"errors"}},
	} {
		if errs := typ.Validate(base(ok)); len(errs) > 0 {
			t.Errorf("Validate(%v) = %v; want none", ok, errs)
		}
	}
}

// TestProgressiveShiftInvokeCheck: before each step the new version is
// invoked and its answer compared; an answer that does not match stops
// the shift before the alias is touched.
func TestProgressiveShiftInvokeCheck(t *testing.T) {
	t.Parallel()
	c, typ := progressiveEnv(t, "0")
	fields := func(subset map[string]any) map[string]any {
		f := progressiveStage(map[string]any{
			"steps": []any{map[string]any{"weight": 50, "pause": 0.1}},
			"check": map[string]any{"payload": map[string]any{"from": "check"}, "expectedSubset": subset, "executionCount": 2},
		})
		delete(f["progressive"].(map[string]any), "analysis")
		return f
	}
	msg := newStageRun(t, typ, fixtureApp, fields(map[string]any{"version": "v9"})).mustFail()
	if !strings.Contains(msg, "the invoke check of version "+c.v2+" before step 1 (50%) failed on invocation 1 of 2") || !strings.Contains(msg, "the alias was not changed") {
		t.Errorf("error %q", msg)
	}
	c.routesOnly(t, c.v1)
	out := newStageRun(t, typ, fixtureApp, fields(map[string]any{"version": "v2", "event": map[string]any{"from": "check"}})).mustSucceed()
	if ro := rolloutOf(t, out); ro.Status != rolloutPromoted || ro.Checked != 2 {
		t.Errorf("rollout %s, %d steps checked; want promoted after checking both steps", ro.Status, ro.Checked)
	}
}
