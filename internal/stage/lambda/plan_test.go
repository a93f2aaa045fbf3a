package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// accountState is what a plan must leave as it found it: the function's
// versions, its $LATEST configuration and its aliases.
type accountState struct {
	Versions []int
	Latest   string // RevisionId, CodeSha256, MemorySize, Environment
	Aliases  map[string]string
}

func readAccountState(t *testing.T, e *localEnv, fn string) accountState {
	t.Helper()
	ctx := context.Background()
	out := getConfig(t, e, fn)
	c := out.Configuration
	env := map[string]string{}
	if c.Environment != nil {
		env = c.Environment.Variables
	}
	st := accountState{Versions: versionsOf(t, e, fn), Aliases: map[string]string{},
		Latest: fmt.Sprintf("rev=%s sha=%s mem=%d env=%v", aws.ToString(c.RevisionId), aws.ToString(c.CodeSha256), aws.ToInt32(c.MemorySize), env)}
	as, err := e.c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as.Aliases {
		var w map[string]float64
		if a.RoutingConfig != nil {
			w = a.RoutingConfig.AdditionalVersionWeights
		}
		st.Aliases[aws.ToString(a.Name)] = fmt.Sprintf("%s %v rev=%s", aws.ToString(a.FunctionVersion), w, aws.ToString(a.RevisionId))
	}
	return st
}

// planChange finds the change of field in p.
func planChange(t *testing.T, p apitype.StagePlan, field string) apitype.PlanChange {
	t.Helper()
	for _, c := range p.Changes {
		if c.Field == field {
			return c
		}
	}
	t.Fatalf("the plan of stage %q has no change of %s: %+v", p.Name, field, p.Changes)
	return apitype.PlanChange{}
}

// TestPlanAgainstLocalLambda plans a Deploy with new code and a memory
// size from a parameter's default, a $WEIGHTED Route to the version the
// Deploy publishes, a Delete and an Invoke against a real local Lambda;
// checks what the plan says, that it changed nothing in the account, and
// then that a run does what the plan said.
func TestPlanAgainstLocalLambda(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	const fn = "planned"
	withVersions(t, e, fn, 2) // versions 1 and 2, memory 128
	ctx := context.Background()
	if _, err := e.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String("live"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	key := fn + "/3.zip"
	e.put(t, key, variantZip(t, helloZip(t), 3))

	deploy := deployFields(fn, key, map[string]any{
		"refId": "1", "name": "Deploy", "publish": true, "prefixApplicationNameToFunction": false,
		"memorySize": "${parameters.memory}", "envVariables": map[string]any{"BUILD": "${trigger.parameters.build}"},
		"description": "${#stage('Deploy').context.buildUrl}",
	})
	doc := map[string]any{
		"application": fixtureApp, "name": "release",
		"parameterConfig": []any{map[string]any{"name": "memory", "default": "256"}, map[string]any{"name": "build"}},
		"stages": []any{
			deploy,
			map[string]any{"refId": "2", "requisiteStageRefIds": []any{"1"}, "type": "wait", "name": "Settle", "waitTime": 0},
			map[string]any{"refId": "3", "requisiteStageRefIds": []any{"2"}, "type": RouteTypeName, "name": "Shift", "account": "local",
				"functionName": fn, "prefixApplicationNameToFunction": false, "aliasName": "live", "deploymentStrategy": "$WEIGHTED",
				"versionNameA": "$LATEST", "versionNameB": "$PREVIOUS", "trafficPercentA": 10, "leaveAbsent": true},
			map[string]any{"refId": "4", "requisiteStageRefIds": []any{"3"}, "type": DeleteTypeName, "name": "Prune", "account": "local",
				"functionName": fn, "prefixApplicationNameToFunction": false, "version": "$OLDEST"},
			map[string]any{"refId": "5", "requisiteStageRefIds": []any{"4"}, "type": InvokeTypeName, "name": "Smoke", "account": "local",
				"functionName": fn, "prefixApplicationNameToFunction": false, "aliasName": "live", "executionCount": 1},
		},
	}
	r := startEngineRun(t, openStore(t, "sqlite"), Options{Accounts: e.accounts})
	saved := r.save(t, doc)

	before := readAccountState(t, e, fn)
	plan, err := r.e.Plan(ctx, &engine.PlanParams{Pipeline: saved, User: "tester", Parameters: map[string]any{"build": "b-42"}})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if after := readAccountState(t, e, fn); !reflect.DeepEqual(before, after) {
		t.Fatalf("the plan changed the account:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := plan.Parameters["memory"]; got != "256" {
		t.Errorf("plan parameters memory = %v, want the default 256", got)
	}

	d := plan.Stages[0]
	if d.Action != apitype.PlanUpdate || d.Error != "" {
		t.Fatalf("Deploy plan: action %q error %q, want update: %+v", d.Action, d.Error, d)
	}
	if c := planChange(t, d, "memorySize"); c.Kind != apitype.ChangeModify || fmt.Sprint(c.Old) != "128" || fmt.Sprint(c.New) != "256" {
		t.Errorf("memorySize change = %+v, want ~ 128 → 256", c)
	}
	if c := planChange(t, d, "envVariables"); !strings.Contains(fmt.Sprint(c.New), "BUILD:b-42") {
		t.Errorf("envVariables change = %+v, want BUILD b-42 from the trigger parameter", c)
	}
	latest := getConfig(t, e, fn).Configuration
	if c := planChange(t, d, "code"); c.Kind != apitype.ChangeModify || c.Old != aws.ToString(latest.CodeSha256) || c.New == c.Old {
		t.Errorf("code change = %+v, want ~ from %s to a new CodeSha256", c, aws.ToString(latest.CodeSha256))
	}
	if c := planChange(t, d, "version"); c.Kind != apitype.ChangeAdd || c.New != "3" || !strings.Contains(c.Note, "would publish version 3") {
		t.Errorf("version change = %+v, want + 3 (would publish)", c)
	}
	if len(d.RunTime) != 1 || d.RunTime[0].Field != "description" || !strings.Contains(d.RunTime[0].Expression, "#stage('Deploy')") {
		t.Errorf("Deploy run-time fields = %+v, want description with its expression", d.RunTime)
	}
	for _, c := range d.Changes {
		if c.Field == "description" {
			t.Errorf("the plan guessed description, an expression known at run time: %+v", c)
		}
	}

	if w := plan.Stages[1]; w.Action != apitype.PlanNoAWSChange || !strings.Contains(w.Summary, "no AWS change") {
		t.Errorf("wait plan = %+v, want no AWS change", w)
	}

	rt := plan.Stages[2]
	c := planChange(t, rt, "alias live")
	if c.Kind != apitype.ChangeModify || c.Old != "routes 100% to version 2" || c.New != "routes 10% to version 3 and 90% to version 2" {
		t.Errorf("Route alias change = %+v, want ~ 100%% to 2 → 10%% to 3 and 90%% to 2", c)
	}
	if !strings.Contains(strings.Join(rt.Notes, "\n"), "the version the Deploy stage 'Deploy' publishes") {
		t.Errorf("Route notes = %q, want $LATEST named as the version the Deploy stage publishes", rt.Notes)
	}

	del := plan.Stages[3]
	if del.Action != apitype.PlanDelete || len(del.Changes) != 1 || del.Changes[0].Field != "version 1" || del.Changes[0].Kind != apitype.ChangeRemove {
		t.Errorf("Delete plan = %+v, want - version 1", del)
	}
	if inv := plan.Stages[4]; inv.Action != apitype.PlanInvoke || !strings.Contains(inv.Summary, "alias live") || len(inv.Changes) != 0 {
		t.Errorf("Invoke plan = %+v, want an invocation of alias live and no change", inv)
	}

	// The run does what the plan said.
	ex, err := r.e.Trigger(ctx, &engine.TriggerParams{Pipeline: saved, User: "tester", Parameters: map[string]any{"build": "b-42"}})
	if err != nil {
		t.Fatal(err)
	}
	if done := r.waitDone(t, ex.ID); done.Status != status.Succeeded {
		t.Fatalf("the run ended %s", done.Status)
	}
	if got := versionsOf(t, e, fn); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("versions after the run = %v, want [2 3] (3 published, 1 deleted, as planned)", got)
	}
	if got := aws.ToInt32(getConfig(t, e, fn).Configuration.MemorySize); got != 256 {
		t.Errorf("memory after the run = %d, want 256 as planned", got)
	}
	a, err := e.c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if got := describeRouting(aws.ToString(a.FunctionVersion), a.RoutingConfig.AdditionalVersionWeights); "routes "+got != c.New {
		t.Errorf("alias live after the run %q, the plan said %q", got, c.New)
	}

	// Planned again, nothing is left to change but the run-time field.
	again, err := r.e.Plan(ctx, &engine.PlanParams{Pipeline: saved, User: "tester", Parameters: map[string]any{"build": "b-42"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := again.Stages[0]; d.Action != apitype.PlanNoChange {
		t.Errorf("Deploy planned after the run: %s %+v, want noChange", d.Action, d.Changes)
	}
}

// TestPlanCreateAndSkip plans a Deploy of a function that does not exist
// yet and a stage that stageEnabled turns off with the given parameters.
func TestPlanCreateAndSkip(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	e.put(t, "new/1.zip", helloZip(t))
	doc := map[string]any{
		"application": fixtureApp, "name": "create",
		"parameterConfig": []any{map[string]any{"name": "cleanup", "default": "false"}},
		"stages": []any{
			deployFields("brand-new", "new/1.zip", map[string]any{"refId": "1", "name": "Deploy", "publish": true, "aliases": []any{"live"}}),
			map[string]any{"refId": "2", "requisiteStageRefIds": []any{"1"}, "type": DeleteTypeName, "name": "Cleanup", "account": "local",
				"functionName": "brand-new", "version": "$OLDEST",
				"stageEnabled": map[string]any{"type": "expression", "expression": "parameters.cleanup == 'true'"}},
			map[string]any{"refId": "3", "requisiteStageRefIds": []any{"1"}, "type": "manualJudgment", "name": "Approve",
				"judgmentInputs": []any{map[string]any{"value": "promote"}}},
		},
	}
	r := startEngineRun(t, openStore(t, "sqlite"), Options{Accounts: e.accounts})
	saved := r.save(t, doc)
	plan, err := r.e.Plan(context.Background(), &engine.PlanParams{Pipeline: saved, User: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	d := plan.Stages[0]
	if d.Action != apitype.PlanCreate || !strings.Contains(d.Summary, "would be created") {
		t.Fatalf("Deploy of a missing function: %+v, want create", d)
	}
	if c := planChange(t, d, "alias live"); c.Kind != apitype.ChangeAdd {
		t.Errorf("alias change = %+v, want +", c)
	}
	if c := planChange(t, d, "version"); c.New != "1" {
		t.Errorf("version change = %+v, want + 1", c)
	}
	if s := plan.Stages[1]; s.Skipped == "" || !strings.Contains(s.Skipped, "parameters.cleanup") {
		t.Errorf("Cleanup plan = %+v, want skipped by its stageEnabled", s)
	}
	if j := plan.Stages[2]; j.Action != apitype.PlanNoAWSChange || !strings.Contains(j.Summary, "promote") {
		t.Errorf("judgment plan = %+v, want no AWS change naming its input", j)
	}
	if _, err := e.c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(fixtureApp + "-brand-new")}); !isNotFound(err) {
		t.Errorf("the plan created the function: GetFunction = %v", err)
	}
	// A required parameter left out is refused as a run would refuse it.
	doc["parameterConfig"] = []any{map[string]any{"name": "ticket", "required": true}}
	if _, err := r.e.Plan(context.Background(), &engine.PlanParams{Pipeline: r.save(t, doc), User: "tester"}); err == nil || !strings.Contains(err.Error(), "ticket") {
		t.Errorf("plan without a required parameter: %v, want an error naming it", err)
	}
}

// save saves doc as a pipeline.
func (r *engineRun) save(t *testing.T, doc map[string]any) *store.Pipeline {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse(raw)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if raw, err = json.Marshal(p); err != nil {
		t.Fatal(err)
	}
	saved, err := r.st.PipelineSave(context.Background(), &store.PipelineSaveParams{Application: p.Application, Name: p.Name, Document: raw, User: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

var _ stage.Planner = wait.Type{}
var _ stage.Planner = judgment.Type{}

// TestPlanUpdateCodeAndRefusedDelete plans an Update Code of the code the
// function has (nothing to do), one of new code (a version published),
// and a Delete of a version an alias routes to (a run would refuse it).
func TestPlanUpdateCodeAndRefusedDelete(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	const fn = "codeonly"
	withVersions(t, e, fn, 2)
	ctx := context.Background()
	if _, err := e.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	e.put(t, fn+"/new.zip", variantZip(t, helloZip(t), 7))
	update := func(ref, key string) map[string]any {
		return map[string]any{"refId": ref, "type": UpdateCodeTypeName, "name": "Code " + ref, "account": "local", "functionName": fn,
			"prefixApplicationNameToFunction": false, "s3bucket": testBucket, "s3key": key, "publish": true}
	}
	doc := map[string]any{"application": fixtureApp, "name": "code", "stages": []any{
		update("same", fn+"/2.zip"),
		update("new", fn+"/new.zip"),
		map[string]any{"refId": "del", "type": DeleteTypeName, "name": "Prune", "account": "local", "functionName": fn,
			"prefixApplicationNameToFunction": false, "version": "$OLDEST"},
	}}
	r := startEngineRun(t, openStore(t, "sqlite"), Options{Accounts: e.accounts})
	before := readAccountState(t, e, fn)
	plan, err := r.e.Plan(ctx, &engine.PlanParams{Pipeline: r.save(t, doc), User: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if s := plan.Stages[0]; s.Action != apitype.PlanNoChange || planChange(t, s, "code").Kind != apitype.ChangeSame || planChange(t, s, "version").Kind != apitype.ChangeSame {
		t.Errorf("Update Code with the code version 2 has: %+v, want noChange, = code, = version", s)
	}
	if s := plan.Stages[1]; s.Action != apitype.PlanUpdate || planChange(t, s, "code").Kind != apitype.ChangeModify || planChange(t, s, "version").New != "3" {
		t.Errorf("Update Code with new code: %+v, want ~ code and + version 3", s)
	}
	if s := plan.Stages[2]; s.Action != apitype.PlanError || !strings.Contains(s.Error, "refuse to delete version 1: alias live uses it") {
		t.Errorf("Delete of the version alias live routes to: %+v, want an error naming the alias", s)
	}
	if after := readAccountState(t, e, fn); !reflect.DeepEqual(before, after) {
		t.Errorf("the plan changed the account:\nbefore %+v\nafter  %+v", before, after)
	}
}
