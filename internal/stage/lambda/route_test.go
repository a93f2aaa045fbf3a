package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

// helloVersions creates demo-<short> from hello and publishes versions
// v1..vn (HELLO_VERSION), returning their numbers.
func helloVersions(t *testing.T, env *localEnv, short string, n int) (*fnFixture, []string) {
	t.Helper()
	fx := newFixture(t, env, short, helloZip(t), map[string]string{"HELLO_VERSION": "v0"})
	var vs []string
	for i := 1; i <= n; i++ {
		vs = append(vs, fx.publish(map[string]string{"HELLO_VERSION": "v" + strconv.Itoa(i)}, ""))
	}
	return fx, vs
}

func weightsOf(a *lambda.GetAliasOutput) map[string]float64 {
	if a.RoutingConfig == nil || len(a.RoutingConfig.AdditionalVersionWeights) == 0 {
		return map[string]float64{}
	}
	return a.RoutingConfig.AdditionalVersionWeights
}

func TestRouteSimpleSelectors(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "simple", 3)
	typ := typeOf(t, env.accounts, RouteTypeName)

	tests := []struct {
		fields map[string]any
		want   string
	}{
		{map[string]any{"versionNameA": "$LATEST"}, vs[2]},
		{map[string]any{"versionNameA": "$PREVIOUS"}, vs[1]},
		{map[string]any{"versionNameA": "$OLDEST"}, vs[0]},
		{map[string]any{"versionNameA": "$PROVIDED", "versionNumberA": vs[1]}, vs[1]},
		{map[string]any{"versionNameA": "$PROVIDED", "versionNumberA": 3.0}, vs[2]},
		{map[string]any{"versionNameA": vs[0]}, vs[0]},
	}
	for i, tc := range tests {
		fields := fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE", "trafficPercentA": 100})
		for k, v := range tc.fields {
			fields[k] = v
		}
		before := fx.alias("live")
		r := newStageRun(t, typ, fixtureApp, fields)
		out := r.mustSucceed()
		a := fx.alias("live")
		if a == nil || aws.ToString(a.FunctionVersion) != tc.want || len(weightsOf(a)) != 0 {
			t.Fatalf("%v: alias = %+v, want 100%% to version %s", tc.fields, a, tc.want)
		}
		wantOut := map[string]any{"deployment:aliasDeployed": "live", "deployment:majorVersionDeployed": tc.want,
			"deployment:strategyUsed": "SimpleDeploymentStrategy"}
		for k, v := range wantOut {
			if out[k] != v {
				t.Errorf("%v: output %s = %v, want %v", tc.fields, k, out[k], v)
			}
		}
		if _, ok := out["deployment:minorVersionDeployed"]; ok {
			t.Errorf("%v: $SIMPLE reported a minor version", tc.fields)
		}
		// The first run created the alias: its record says it did not exist.
		rec := out[PreviousRoutingKey].(map[string]any)
		if i == 0 {
			if before != nil || rec["existed"] != false || rec["functionVersion"] != "" {
				t.Errorf("first run: rollback record %v, want existed false", rec)
			}
		} else if rec["existed"] != true || rec["functionVersion"] != aws.ToString(before.FunctionVersion) {
			t.Errorf("%v: rollback record %v, want the alias's version before, %s", tc.fields, rec, aws.ToString(before.FunctionVersion))
		}
	}
}

func TestRouteUnresolvableSelector(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, _ := helloVersions(t, env, "lonely", 1)
	typ := typeOf(t, env.accounts, RouteTypeName)

	for _, tc := range []struct {
		fields map[string]any
		want   []string
	}{
		{map[string]any{"deploymentStrategy": "$SIMPLE", "versionNameA": "$PREVIOUS"},
			[]string{"versionNameA: $PREVIOUS names no version of demo-lonely", "its published versions are 1"}},
		{map[string]any{"deploymentStrategy": "$SIMPLE", "versionNameA": "$PROVIDED", "versionNumberA": "7"},
			[]string{"versionNameA: $PROVIDED (version 7) names no version of demo-lonely", "its published versions are 1"}},
		{map[string]any{"deploymentStrategy": "$WEIGHTED", "versionNameA": "$LATEST", "trafficPercentA": 90, "versionNameB": "$PREVIOUS"},
			[]string{"versionNameB: $PREVIOUS names no version of demo-lonely", "its published versions are 1"}},
	} {
		fields := fx.fields(tc.fields)
		fields["aliasName"] = "live"
		r := newStageRun(t, typ, fixtureApp, fields)
		msg := r.mustFail()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: error %q does not contain %q", tc.fields, msg, w)
			}
		}
		if fx.alias("live") != nil {
			t.Errorf("%v: the alias was created although the selector names nothing", tc.fields)
		}
	}

	// A function with no published version at all.
	bare := newFixture(t, env, "bare", helloZip(t), nil)
	r := newStageRun(t, typ, fixtureApp, bare.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST"}))
	if msg := r.mustFail(); !strings.Contains(msg, "$LATEST names no version of demo-bare: it has no published versions") {
		t.Errorf("error %q", msg)
	}
}

func TestRouteWeighted(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "canary", 2)
	fx.setAlias("live", vs[0], nil)
	before := fx.alias("live")
	typ := typeOf(t, env.accounts, RouteTypeName)

	r := newStageRun(t, typ, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$WEIGHTED",
		"versionNameA": "$PREVIOUS", "trafficPercentA": 90, "versionNameB": "$LATEST", "trafficPercentB": 10}))
	out := r.mustSucceed()
	a := fx.alias("live")
	if got, want := aws.ToString(a.FunctionVersion), vs[0]; got != want {
		t.Errorf("alias version %s, want %s", got, want)
	}
	if got, want := weightsOf(a), map[string]float64{vs[1]: 0.1}; !reflect.DeepEqual(got, want) {
		t.Errorf("alias weights %v, want %v", got, want)
	}
	for k, v := range map[string]any{"deployment:majorVersionDeployed": vs[0], "deployment:minorVersionDeployed": vs[1],
		"deployment:strategyUsed": "WeightedDeploymentStrategy", "deployment:aliasDeployed": "live"} {
		if out[k] != v {
			t.Errorf("output %s = %v, want %v", k, out[k], v)
		}
	}

	// The rollback record: what the alias routed before, and the stage
	// that restores it.
	wantRec := map[string]any{"account": "local", "region": "us-east-1", "functionName": "demo-canary", "alias": "live",
		"functionVersion": vs[0], "additionalVersionWeights": map[string]any{}, "existed": true}
	if got := out[PreviousRoutingKey]; !reflect.DeepEqual(got, wantRec) {
		t.Errorf("%s = %#v, want %#v", PreviousRoutingKey, got, wantRec)
	}
	wantStage := map[string]any{"type": "sluice.LambdaRestoreRouting", "name": "Restore demo-canary:live", "context": wantRec}
	if got := out[RollbackStageKey]; !reflect.DeepEqual(got, wantStage) {
		t.Errorf("%s = %#v, want %#v", RollbackStageKey, got, wantStage)
	}
	if aws.ToString(before.RevisionId) == aws.ToString(a.RevisionId) {
		t.Error("the alias's RevisionId did not change")
	}

	// A second Route stage records the weighted routing it replaces.
	r = newStageRun(t, typ, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST"}))
	out = r.mustSucceed()
	rec := out[PreviousRoutingKey].(map[string]any)
	if rec["functionVersion"] != vs[0] || !reflect.DeepEqual(rec["additionalVersionWeights"], map[string]any{vs[1]: 0.1}) {
		t.Errorf("record of the weighted routing = %v", rec)
	}

	// 100% and 0% route a single version.
	for _, tc := range []struct {
		pct  float64
		want string
	}{{100, vs[0]}, {0, vs[1]}} {
		r = newStageRun(t, typ, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$WEIGHTED",
			"versionNameA": "$PREVIOUS", "trafficPercentA": tc.pct, "versionNameB": "$LATEST"}))
		r.mustSucceed()
		if a := fx.alias("live"); aws.ToString(a.FunctionVersion) != tc.want || len(weightsOf(a)) != 0 {
			t.Errorf("trafficPercentA %v: alias %s %v, want 100%% to %s", tc.pct, aws.ToString(a.FunctionVersion), weightsOf(a), tc.want)
		}
	}
}

func TestRouteWeightedChecks(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "checks", 1)
	other := fx.publish(map[string]string{"HELLO_VERSION": "v2"}, fixtureRole2)
	fx.setAlias("live", vs[0], nil)
	before := fx.alias("live")
	typ := typeOf(t, env.accounts, RouteTypeName)

	weighted := func(more map[string]any) map[string]any {
		return withFields(fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$WEIGHTED", "versionNameA": "$PREVIOUS",
			"trafficPercentA": 90, "versionNameB": "$LATEST"}), more)
	}

	// Different roles: refused before the alias is touched, naming both
	// versions and the roles.
	r := newStageRun(t, typ, fixtureApp, weighted(nil))
	msg := r.mustFail()
	for _, w := range []string{"versions " + vs[0] + " and " + other + " of demo-checks have different execution roles",
		fixtureRole, fixtureRole2} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	// The same version on both sides.
	r = newStageRun(t, typ, fixtureApp, weighted(map[string]any{"versionNameA": "$LATEST"}))
	if msg := r.mustFail(); !strings.Contains(msg, "versionNameA $LATEST and versionNameB $LATEST both name version "+other) {
		t.Errorf("error %q", msg)
	}
	if a := fx.alias("live"); aws.ToString(a.RevisionId) != aws.ToString(before.RevisionId) {
		t.Errorf("a refused weighted route changed the alias: %+v", a)
	}

	// Validation, by field name.
	for _, tc := range []struct {
		more  map[string]any
		field string
		msg   string
	}{
		{map[string]any{"trafficPercentA": 150}, "trafficPercentA", "from 0 to 100, not 150"},
		{map[string]any{"trafficPercentA": -1}, "trafficPercentA", "from 0 to 100"},
		{map[string]any{"trafficPercentA": "lots"}, "trafficPercentA", "must be a number"},
		{map[string]any{"trafficPercentA": nil}, "trafficPercentA", "required for $WEIGHTED"},
		{map[string]any{"versionNameA": "$PROVIDED", "versionNumberA": "$LATEST"}, "versionNumberA", `published version number, not "$LATEST"`},
		{map[string]any{"versionNameB": "$NEWEST"}, "versionNameB", `"$NEWEST" is not a version selector`},
		{map[string]any{"versionNameB": nil}, "versionNameB", "required"},
		{map[string]any{"versionNameA": "$MOVING"}, "versionNameA", ""},
		{map[string]any{"provisionedConcurrentExecutions": 5}, "provisionedConcurrentExecutions", "$WEIGHTED"},
		{map[string]any{"deploymentStrategy": "$CANARY"}, "deploymentStrategy", "must be one of $SIMPLE, $WEIGHTED, $BLUEGREEN"},
		{map[string]any{"aliasName": nil}, "aliasName", "required"},
		{map[string]any{"trafficPercentA": "${parameters.pct}"}, "", ""},
	} {
		errs := fieldErrors(typ.Validate(weighted(tc.more)))
		if tc.field == "" {
			if len(errs) > 0 {
				t.Errorf("Validate(%v) = %v, want none", tc.more, errs)
			}
			continue
		}
		if m, ok := errs[tc.field]; !ok || !strings.Contains(m, tc.msg) {
			t.Errorf("Validate(%v) = %v, want %s: …%s…", tc.more, errs, tc.field, tc.msg)
		}
	}
}

func TestRouteBlueGreenSuccess(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "bg", 2)
	fx.setAlias("live", vs[0], nil)
	typ := typeOf(t, env.accounts, RouteTypeName)

	r := newStageRun(t, typ, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$BLUEGREEN",
		"healthCheckType": "$LAMBDA", "timeout": 10, "executionCount": 3,
		"payload":        map[string]any{"ping": true},
		"expectedSubset": map[string]any{"version": "v2", "functionVersion": vs[1], "event": map[string]any{"ping": true}}}))
	out := r.mustSucceed()
	a := fx.alias("live")
	if aws.ToString(a.FunctionVersion) != vs[1] || len(weightsOf(a)) != 0 {
		t.Errorf("alias routes %s %v, want 100%% to %s", aws.ToString(a.FunctionVersion), weightsOf(a), vs[1])
	}
	if out["deployment:majorVersionDeployed"] != vs[1] || out["deployment:strategyUsed"] != "BlueGreenDeploymentStrategy" {
		t.Errorf("outputs %v", out)
	}
	list := results(t, out)
	if len(list) != 3 {
		t.Fatalf("%d test invocations, want 3", len(list))
	}
	for _, inv := range list {
		if inv.ExecutedVersion != vs[1] {
			t.Errorf("a test invocation ran version %s, want the newest, %s", inv.ExecutedVersion, vs[1])
		}
	}

	// The plugin's form: the expected output as an embedded artifact,
	// compared JSON-aware (the probe answers deterministically).
	px := newFixture(t, env, "bgprobe", probeZip(t), map[string]string{"PROBE_VERSION": "p0"})
	p1 := px.publish(map[string]string{"PROBE_VERSION": "p1"}, "")
	p2 := px.publish(map[string]string{"PROBE_VERSION": "p2"}, "")
	px.setAlias("live", p1, nil)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	r = newStageRun(t, typ, fixtureApp, px.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$BLUEGREEN", "timeout": 30,
		"payloadArtifact": map[string]any{"account": "embedded-artifact", "artifact": map[string]any{"type": "embedded/base64", "name": "in", "reference": b64(`{"ping":true}`)}},
		"outputArtifact": map[string]any{"account": "embedded-artifact", "artifact": map[string]any{"type": "embedded/base64", "name": "out",
			"reference": b64("{\n  \"event\": {\"ping\": true},\n  \"version\": \"p2\"\n}")}}}))
	r.mustSucceed()
	if a := px.alias("live"); aws.ToString(a.FunctionVersion) != p2 {
		t.Errorf("alias routes %s, want %s", aws.ToString(a.FunctionVersion), p2)
	}
}

func TestRouteBlueGreenFailure(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "bgfail", 1)
	bad := fx.publish(map[string]string{"HELLO_VERSION": "v2", "FAILURE_RATE": "1"}, "")
	fx.setAlias("live", vs[0], map[string]float64{})
	typ := typeOf(t, env.accounts, RouteTypeName)
	fields := func(more map[string]any) map[string]any {
		return withFields(fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$BLUEGREEN", "timeout": 10, "executionCount": 3,
			"payload": map[string]any{"ping": true}, "expectedSubset": map[string]any{"version": "v2"}}), more)
	}

	for _, tc := range []struct {
		name    string
		more    map[string]any
		deleted bool
		note    string
	}{
		{"kept", nil, false, "version " + bad + " was kept (set destroyOnFail to delete it)"},
		{"destroyOnFail", map[string]any{"destroyOnFail": true}, true, "destroyOnFail deleted version " + bad},
	} {
		before := fx.alias("live")
		r := newStageRun(t, typ, fixtureApp, fields(tc.more))
		msg := r.mustFail()
		for _, w := range []string{"$BLUEGREEN check of version " + bad + " of demo-bgfail failed on invocation 1 of 3",
			"hello v2 failed on purpose (FAILURE_RATE=1)", "alias live was left as it was", tc.note} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q does not contain %q", tc.name, msg, w)
			}
		}
		after := fx.alias("live")
		if aws.ToString(after.RevisionId) != aws.ToString(before.RevisionId) || aws.ToString(after.FunctionVersion) != vs[0] {
			t.Errorf("%s: the alias changed: before %+v, after %+v", tc.name, before, after)
		}
		if r.runs[taskUpdateAlias] != 0 || r.runs[taskRecordRouting] != 0 {
			t.Errorf("%s: tasks after the failed check ran: %v", tc.name, r.runs)
		}
		if got := fx.versionExists(bad); got == tc.deleted {
			t.Errorf("%s: version %s exists = %v", tc.name, bad, got)
		}
	}

	// A mismatch (not a function error) fails the same way.
	good := fx.publish(map[string]string{"HELLO_VERSION": "v3"}, "")
	r := newStageRun(t, typ, fixtureApp, fields(map[string]any{"expectedSubset": map[string]any{"version": "v4"}}))
	if msg := r.mustFail(); !strings.Contains(msg, `expectedSubset: at $.version: want "v4", got "v3"`) || !strings.Contains(msg, "version "+good) {
		t.Errorf("error %q", msg)
	}
}

// destroyOnFail never deletes a version an alias routes to.
func TestRouteBlueGreenDestroyKeepsAliasedVersion(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "bgkeep", 1)
	bad := fx.publish(map[string]string{"HELLO_VERSION": "v2", "FAILURE_RATE": "1"}, "")
	fx.setAlias("live", vs[0], nil)
	fx.setAlias("beta", bad, nil)
	typ := typeOf(t, env.accounts, RouteTypeName)
	r := newStageRun(t, typ, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$BLUEGREEN",
		"expectedRegex": "v2", "destroyOnFail": true}))
	if msg := r.mustFail(); !strings.Contains(msg, "destroyOnFail kept version "+bad+" because alias beta routes to it") {
		t.Errorf("error %q", msg)
	}
	if !fx.versionExists(bad) {
		t.Error("the aliased version was deleted")
	}
}

// The update is made on the revision read before: a change made by
// someone else in between is not overwritten.
func TestRouteConcurrentChange(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "race", 3)
	fx.setAlias("live", vs[0], nil)
	typ := typeOf(t, env.accounts, RouteTypeName)

	r := newStageRun(t, typ, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST"}))
	for _, task := range []string{taskResolveRoute, taskRecordRouting} {
		if res := r.task(task); res.Status != status.Succeeded {
			t.Fatalf("%s: %s %s", task, res.Status, res.Error)
		}
	}
	fx.setAlias("live", vs[1], nil) // someone else
	res := r.task(taskUpdateAlias)
	if res.Status != status.Terminal {
		t.Fatalf("update after a concurrent change: %s", res.Status)
	}
	for _, w := range []string{"alias live of demo-race was changed while the stage ran", "routed 100% to version " + vs[0],
		"now routes 100% to version " + vs[1], "did not overwrite"} {
		if !strings.Contains(res.Error, w) {
			t.Errorf("error %q does not contain %q", res.Error, w)
		}
	}
	if a := fx.alias("live"); aws.ToString(a.FunctionVersion) != vs[1] {
		t.Errorf("the alias was overwritten: %s", aws.ToString(a.FunctionVersion))
	}
	// Nothing was changed by the stage: nothing to roll back.
	for _, k := range []string{PreviousRoutingKey, RollbackStageKey} {
		if v, ok := r.outputs[k]; !ok || v != nil {
			t.Errorf("output %s = %v, want null (withdrawn)", k, v)
		}
	}
}

// Every task may run twice: a second run of the update changes nothing.
func TestRouteUpdateRunsTwice(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, vs := helloVersions(t, env, "twice", 2)
	fx.setAlias("live", vs[0], nil)
	typ := typeOf(t, env.accounts, RouteTypeName)

	r := newStageRun(t, typ, fixtureApp, fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$WEIGHTED",
		"versionNameA": "$OLDEST", "trafficPercentA": 75.5, "versionNameB": "$LATEST"}))
	r.mustSucceed()
	first := fx.alias("live")
	if got := weightsOf(first)[vs[1]]; got != 0.245 {
		t.Errorf("weight of version %s = %v, want 0.245", vs[1], got)
	}
	if res := r.task(taskUpdateAlias); res.Status != status.Succeeded {
		t.Fatalf("second run: %s %s", res.Status, res.Error)
	}
	if again := fx.alias("live"); aws.ToString(again.RevisionId) != aws.ToString(first.RevisionId) {
		t.Error("the second run of the update changed the alias")
	}
}

func TestRouteValidate(t *testing.T) {
	t.Parallel()
	typ := newRouteType(base{})
	base := map[string]any{"functionName": "f", "aliasName": "live"}
	with := func(more map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		fields map[string]any
		field  string
		msg    string
	}{
		{with(map[string]any{"deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST"}), "", ""},
		{with(map[string]any{"deploymentStrategy": "$SIMPLE"}), "versionNameA", "required"},
		{with(map[string]any{"deploymentStrategy": "$SIMPLE", "versionNameA": "$ALL"}), "versionNameA", "cannot be routed to"},
		{with(map[string]any{"deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST", "aliasName": "123"}), "aliasName", "not all digits"},
		{with(map[string]any{"versionNameA": "$LATEST"}), "deploymentStrategy", "required"},
		{with(map[string]any{"deploymentStrategy": "$BLUEGREEN"}), "outputArtifact", "required for $BLUEGREEN"},
		{with(map[string]any{"deploymentStrategy": "$BLUEGREEN", "expectedRegex": "ok"}), "", ""},
		{with(map[string]any{"deploymentStrategy": "$BLUEGREEN", "expectedRegex": "ok", "timeout": 0}), "timeout", "at least 1"},
		{with(map[string]any{"deploymentStrategy": "$BLUEGREEN", "expectedRegex": "ok", "destroyOnFail": "yes"}), "destroyOnFail", "true or false"},
		{with(map[string]any{"deploymentStrategy": "$BLUEGREEN", "outputArtifact": map[string]any{"artifact": map[string]any{"type": "gcs/object", "reference": "gs://x"}}}),
			"outputArtifact", "not supported"},
		{with(map[string]any{"deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST", "triggerArns": []any{"nope"}}), "triggerArns[0]", "not an ARN"},
	}
	for _, tc := range tests {
		errs := fieldErrors(typ.Validate(tc.fields))
		if tc.field == "" {
			if len(errs) > 0 {
				t.Errorf("Validate(%v) = %v, want none", tc.fields, errs)
			}
			continue
		}
		if m, ok := errs[tc.field]; !ok || !strings.Contains(m, tc.msg) {
			t.Errorf("Validate(%v) = %v, want %s: …%s…", tc.fields, errs, tc.field, tc.msg)
		}
	}
}

// triggerArns on a Route stage are reconciled on the alias — exactly that
// target — and only when the field is present.
func TestRouteEventSourcesOnAlias(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, _ := helloVersions(t, env, "esm", 1)
	typ := typeOf(t, env.accounts, RouteTypeName)
	ctx := context.Background()
	const queue = "arn:aws:sqs:us-east-1:000000000000:jobs"
	// A mapping on the function itself must be left alone. (The local
	// Lambda refuses a second mapping of one queue to one function,
	// whatever the qualifier, so it maps another queue.)
	fnMapping, err := env.c.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String(fx.name), EventSourceArn: aws.String(queue + "-fn")})
	if err != nil {
		t.Fatal(err)
	}
	mappings := func(target string) []string {
		out, err := env.c.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(target)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range out.EventSourceMappings {
			got = append(got, aws.ToString(m.FunctionArn)+" <- "+aws.ToString(m.EventSourceArn))
		}
		return got
	}
	fnARN := "arn:aws:lambda:us-east-1:000000000000:function:demo-esm"
	route := func(more map[string]any) {
		t.Helper()
		fields := withFields(fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST"}), more)
		leave := more["leaveAbsent"] == true
		if tasks := typ.Tasks(fields); leave == (tasks[len(tasks)-1] == taskAliasESM) {
			t.Fatalf("Tasks(%v) = %v", more, tasks)
		}
		newStageRun(t, typ, fixtureApp, fields).mustSucceed()
	}

	route(map[string]any{"triggerArns": []any{queue}, "batchsize": 5})
	if got, want := mappings(fnARN+":live"), []string{fnARN + ":live <- " + queue}; !reflect.DeepEqual(got, want) {
		t.Errorf("mappings on the alias = %v, want %v", got, want)
	}
	route(map[string]any{"leaveAbsent": true}) // absent with leaveAbsent: left as it is
	if got := mappings(fnARN + ":live"); len(got) != 1 {
		t.Errorf("a route without triggerArns, with leaveAbsent, changed the alias's mappings: %v", got)
	}
	route(map[string]any{}) // absent: removed, as Orca
	if got := mappings(fnARN + ":live"); len(got) != 0 {
		t.Errorf("a route without triggerArns left mappings on the alias: %v", got)
	}
	route(map[string]any{"triggerArns": []any{queue}})
	route(map[string]any{"triggerArns": []any{}})
	if got := mappings(fnARN + ":live"); len(got) != 0 {
		t.Errorf("triggerArns [] left mappings on the alias: %v", got)
	}
	out, err := env.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: fnMapping.UUID})
	if err != nil || aws.ToString(out.FunctionArn) != fnARN {
		t.Errorf("the function's own mapping was touched: %+v, %v", out, err)
	}
}

// provisionedConcurrentExecutions is applied on the alias; the local
// Lambda does not provide it and the stage says so.
func TestRouteProvisionedConcurrencyOnLocal(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx, _ := helloVersions(t, env, "pc", 1)
	typ := typeOf(t, env.accounts, RouteTypeName)
	fields := fx.fields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST",
		"provisionedConcurrentExecutions": 2})
	if tasks := typ.Tasks(fields); !slices.Contains(tasks, taskAliasPC) {
		t.Fatalf("Tasks = %v", tasks)
	}
	msg := newStageRun(t, typ, fixtureApp, fields).mustFail()
	if !strings.Contains(msg, "Provisioned concurrency is not supported by the local Lambda") {
		t.Errorf("error %q", msg)
	}
	if a := fx.alias("live"); a == nil {
		t.Error("the alias was not routed before the concurrency task")
	}
	// Absent or 0 removes the alias's provisioned concurrency, as Orca; the
	// local Lambda has none to remove, and the stage succeeds.
	for _, more := range []map[string]any{{}, {"provisionedConcurrentExecutions": 0}} {
		out := newStageRun(t, typ, fixtureApp, fx.fields(withFields(map[string]any{"aliasName": "live", "deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST"}, more))).mustSucceed()
		if out["provisionedConcurrentExecutions"] != 0 {
			t.Errorf("%v: outputs %v, want provisionedConcurrentExecutions 0", more, out)
		}
	}
}

// The plugin's stage JSON (spinnaker-lambda-stages.md §3) validates as it is.
func TestSpinnakerStagesValidate(t *testing.T) {
	t.Parallel()
	const doc = `[
	  {"refId": "2", "type": "Aws.LambdaInvokeStage", "name": "Smoke",
	   "account": "prod-aws", "region": "us-west-2", "functionName": "myapp-api-orders", "aliasName": "",
	   "executionCount": 3, "timeout": 30,
	   "payloadArtifact": {"account": "embedded-artifact",
	     "artifact": {"type": "embedded/base64", "name": "payload", "artifactAccount": "embedded-artifact",
	                  "reference": "eyJwaW5nIjp0cnVlfQ=="}}},
	  {"refId": "3", "type": "Aws.LambdaTrafficRoutingStage", "name": "Cut over",
	   "account": "prod-aws", "region": "us-west-2", "functionName": "myapp-api-orders", "aliasName": "live",
	   "deploymentStrategy": "$BLUEGREEN", "healthCheckType": "$LAMBDA", "timeout": 30,
	   "payloadArtifact": {"account": "embedded-artifact", "artifact": {"type": "embedded/base64",
	                       "artifactAccount": "embedded-artifact", "name": "in", "reference": "eyJwaW5nIjp0cnVlfQ=="}},
	   "outputArtifact":  {"account": "embedded-artifact", "artifact": {"type": "embedded/base64",
	                       "artifactAccount": "embedded-artifact", "name": "out", "reference": "eyJwb25nIjp0cnVlfQ=="}},
	   "provisionedConcurrentExecutions": 5, "triggerArns": []},
	  {"refId": "4", "type": "Aws.LambdaTrafficRoutingStage", "functionName": "lambda-myLambda",
	   "region": "us-west-2", "deploymentStrategy": "$WEIGHTED", "versionNameA": "$PREVIOUS", "trafficPercentA": 90,
	   "versionNameB": "$LATEST", "trafficPercentB": 10, "aliasName": "alias1", "account": "aws-account"},
	  {"refId": "5", "type": "Aws.LambdaTrafficRoutingStage", "functionName": "lambda-myLambda", "region": "us-west-2",
	   "deploymentStrategy": "$SIMPLE", "versionNameA": "$PROVIDED", "versionNumberA": "7", "trafficPercentA": 100,
	   "aliasName": "alias1", "account": "aws-account"}
	]`
	var stages []map[string]any
	if err := json.Unmarshal([]byte(doc), &stages); err != nil {
		t.Fatal(err)
	}
	types := map[string]stage.Type{InvokeTypeName: newInvokeType(base{}), RouteTypeName: newRouteType(base{})}
	for _, s := range stages {
		if errs := types[s["type"].(string)].Validate(s); len(errs) > 0 {
			t.Errorf("stage %v: %v", s["refId"], errs)
		}
	}
}
