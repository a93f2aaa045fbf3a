package lambda

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// restoreStage runs the rollback stage a Route stage recorded, as the
// engine would: type and context from rollback:stage.
func restoreStage(t *testing.T, env *localEnv, routeOutputs map[string]any) *stageRun {
	t.Helper()
	rs, ok := routeOutputs[RollbackStageKey].(map[string]any)
	if !ok {
		t.Fatalf("route outputs have no %s: %v", RollbackStageKey, routeOutputs)
	}
	typ := typeOf(t, env.accounts, rs["type"].(string))
	return newStageRun(t, typ, fixtureApp, rs["context"].(map[string]any))
}

func TestRestoreIsIdempotent(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "undo", 3)
	fx.setAlias("live", vs[0], map[string]float64{vs[1]: 0.25})
	route := typeOf(t, env.accounts, RouteTypeName)

	out := newStageRun(t, route, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE",
		"versionNameA": "$LATEST"})).mustSucceed()
	if a := fx.alias("live"); aws.ToString(a.FunctionVersion) != vs[2] {
		t.Fatalf("route did not move the alias: %s", aws.ToString(a.FunctionVersion))
	}

	r := restoreStage(t, env, out)
	res := r.mustSucceed()
	a := fx.alias("live")
	if aws.ToString(a.FunctionVersion) != vs[0] || !reflect.DeepEqual(weightsOf(a), map[string]float64{vs[1]: 0.25}) {
		t.Fatalf("restored alias routes %s %v, want %s with %s at 0.25", aws.ToString(a.FunctionVersion), weightsOf(a), vs[0], vs[1])
	}
	if res["restoreChanged"] != true {
		t.Errorf("first restore: restoreChanged = %v", res["restoreChanged"])
	}

	// Run again: it matches, so nothing is called and the revision stays.
	r2 := restoreStage(t, env, out)
	res2 := r2.mustSucceed()
	if again := fx.alias("live"); aws.ToString(again.RevisionId) != aws.ToString(a.RevisionId) {
		t.Error("the second restore changed the alias")
	}
	if res2["restoreChanged"] != false {
		t.Errorf("second restore: restoreChanged = %v", res2["restoreChanged"])
	}
}

func TestRestoreDeletesAliasThatDidNotExist(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, _ := helloVersions(t, env, "fresh", 1)
	route := typeOf(t, env.accounts, RouteTypeName)

	out := newStageRun(t, route, fixtureApp, fx.fields(map[string]any{"aliasName": "preview", "deploymentStrategy": "$SIMPLE",
		"versionNameA": "$LATEST"})).mustSucceed()
	if fx.alias("preview") == nil {
		t.Fatal("route did not create the alias")
	}
	if rec := out[PreviousRoutingKey].(map[string]any); rec["existed"] != false {
		t.Fatalf("record %v, want existed false", rec)
	}
	for i := range 2 {
		res := restoreStage(t, env, out).mustSucceed()
		if fx.alias("preview") != nil {
			t.Fatalf("restore %d left the alias that did not exist before", i+1)
		}
		if want := i == 0; res["restoreChanged"] != want {
			t.Errorf("restore %d: restoreChanged = %v, want %v", i+1, res["restoreChanged"], want)
		}
	}
}

// An alias deleted after the Route stage is created again.
func TestRestoreRecreatesDeletedAlias(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "gone", 2)
	fx.setAlias("live", vs[0], nil)
	route := typeOf(t, env.accounts, RouteTypeName)
	out := newStageRun(t, route, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE",
		"versionNameA": "$LATEST"})).mustSucceed()
	if _, err := env.c.DeleteAlias(context.Background(), &lambda.DeleteAliasInput{FunctionName: aws.String(fx.name), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	restoreStage(t, env, out).mustSucceed()
	if a := fx.alias("live"); a == nil || aws.ToString(a.FunctionVersion) != vs[0] {
		t.Fatalf("alias after restore = %+v, want version %s", a, vs[0])
	}
}

func TestRestoreVersionGone(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "lost", 3)
	fx.setAlias("live", vs[0], map[string]float64{vs[1]: 0.5})
	route := typeOf(t, env.accounts, RouteTypeName)
	out := newStageRun(t, route, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE",
		"versionNameA": "$LATEST"})).mustSucceed()
	if _, err := env.c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String(fx.name), Qualifier: aws.String(vs[1])}); err != nil {
		t.Fatal(err)
	}
	msg := restoreStage(t, env, out).mustFail()
	for _, w := range []string{"cannot restore alias live of demo-lost", "version " + vs[1] + " no longer exists",
		"the alias routes 100% to version " + vs[2], "its published versions are " + vs[0] + ", " + vs[2]} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	if a := fx.alias("live"); aws.ToString(a.FunctionVersion) != vs[2] {
		t.Errorf("a failed restore changed the alias to %s", aws.ToString(a.FunctionVersion))
	}
}

func TestRestoreValidate(t *testing.T) {
	t.Parallel()
	typ := newRestoreType(base{})
	ok := map[string]any{"account": "local", "region": "us-east-1", "functionName": "demo-f", "alias": "live",
		"functionVersion": "2", "additionalVersionWeights": map[string]any{"3": 0.1}, "existed": true}
	tests := []struct {
		more  map[string]any
		field string
		msg   string
	}{
		{nil, "", ""},
		{map[string]any{"existed": false, "functionVersion": "", "additionalVersionWeights": map[string]any{}}, "", ""},
		{map[string]any{"existed": nil}, "existed", "required"},
		{map[string]any{"functionVersion": ""}, "functionVersion", "required when existed is true"},
		{map[string]any{"functionVersion": "x"}, "functionVersion", "version number or $LATEST"},
		{map[string]any{"additionalVersionWeights": map[string]any{"3": 1.5}}, "additionalVersionWeights.3", "weight from 0 to 1"},
		{map[string]any{"alias": nil}, "alias", "required"},
	}
	for _, tc := range tests {
		errs := fieldErrors(typ.Validate(withFields(ok, tc.more)))
		if tc.field == "" {
			if len(errs) > 0 {
				t.Errorf("Validate(%v) = %v, want none", tc.more, errs)
			}
			continue
		}
		if m, found := errs[tc.field]; !found || !strings.Contains(m, tc.msg) {
			t.Errorf("Validate(%v) = %v, want %s: …%s…", tc.more, errs, tc.field, tc.msg)
		}
	}
}
