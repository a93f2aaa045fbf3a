package lambda

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/fnbuild"
)

// The Spinnaker Lambda plugin's own functional tests
// (spinnaker-plugins/aws-lambda-deployment-plugin-spinnaker,
// testing/Scenario1..8/pipeline.json, expected outcomes in
// testing/TESTCASES.md), run stage by stage with the plugin's fields and
// checked against the plugin's expected results — on the local Lambda and
// on moto_server. What differs from the plugin's documents: the code is
// the hello function (provided.al2023) instead of a Python zip, the account
// is named (the plugin leaves "account" empty for its test harness to
// fill), and each scenario has its own function (7 and 8 reuse
// scenario 4's name in the plugin).

// scenarioApp is the application of the scenarios' pipelines ("sandbox"
// in the plugin's Scenario2).
const scenarioApp = "sandbox"

// scenarioEnv is where the scenarios run: an environment, the account
// that names it and an execution role it accepts.
type scenarioEnv struct {
	*localEnv
	account, role string
	queueARN      string // an SQS queue for Scenario 3
}

// deployStage is the plugin's Deploy stage of scenario n, as its
// pipeline.json writes it, with more on top.
func (e *scenarioEnv) deployStage(n int, more map[string]any) map[string]any {
	f := map[string]any{
		"type": DeployTypeName, "name": "AWS Lambda Deployment",
		"KMSKeyArn": "", "kmskeyArn": "", "account": e.account, "credentials": "", "cloudProvider": "aws",
		"aliases": "prod", "deadLetterConfig": map[string]any{"targetArn": ""}, "describeName": "functional",
		"description":  fmt.Sprintf("Functional Test for Scenario %d.", n),
		"envVariables": map[string]any{"scenario": fmt.Sprint(n)},
		"functionName": fmt.Sprintf("%s-test-functional-scenario%d", scenarioApp, n), "functionUid": fmt.Sprintf("scenario%d", n),
		"stackName": "test", "handler": "bootstrap", "runtime": "provided.al2023", "architectures": []any{fnbuild.Architecture()},
		"memorySize": 128, "timeout": 100, "operation": "", "publish": true, "region": "us-east-1", "role": e.role,
		"s3bucket": testBucket, "s3key": "scenario.zip", "securityGroupIds": []any{}, "subnetIds": []any{},
		"tags": map[string]any{"Project": "Autodesk"}, "targetGroups": "", "tracingConfig": map[string]any{"mode": "PassThrough"},
		"vpcId": "",
	}
	maps.Copy(f, more)
	return f
}

// deleteStage is the plugin's Destroy stage.
func (e *scenarioEnv) deleteStage(fn string, version string) map[string]any {
	return map[string]any{"type": DeleteTypeName, "name": "AWS Lambda Destroy", "account": e.account,
		"region": "us-east-1", "functionName": fn, "version": version}
}

func (e *scenarioEnv) function(t *testing.T, fn string) (*lambda.GetFunctionOutput, bool) {
	t.Helper()
	out, err := e.c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
	if isNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("GetFunction %s: %v", fn, err)
	}
	return out, true
}

func TestPluginScenariosLocal(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	e.put(t, "scenario.zip", helloZip(t))
	runPluginScenarios(t, &scenarioEnv{localEnv: e, account: "local", role: testRole,
		queueARN: "arn:aws:sqs:us-east-1:000000000000:scenario3"})
}

func TestPluginScenariosMoto(t *testing.T) {
	e := newMotoEnv(t)
	e.put(t, "scenario.zip", helloZip(t))
	runPluginScenarios(t, &scenarioEnv{localEnv: e, account: "moto", role: motoRole, queueARN: motoQueue(t, e, "scenario3")})
}

func runPluginScenarios(t *testing.T, e *scenarioEnv) {
	deploy := typeOf(t, e.accounts, DeployTypeName)
	del := typeOf(t, e.accounts, DeleteTypeName)
	name := func(n int) string { return fmt.Sprintf("%s-test-functional-scenario%d", scenarioApp, n) }

	t.Run("1 create", func(t *testing.T) {
		out := newStageRun(t, deploy, scenarioApp, e.deployStage(1, nil)).mustSucceed()
		if out["functionName"] != name(1) || out["lambdaCreated"] != true {
			t.Fatalf("outputs = %v", out)
		}
		if _, found := e.function(t, name(1)); !found {
			t.Fatalf("%s was not created", name(1))
		}
		// publish: true on a new function is version 1; "aliases": "prod"
		// is on $LATEST, as Clouddriver puts it.
		if vs := versionsOf(t, e.localEnv, name(1)); !slices.Equal(vs, []int{1}) {
			t.Errorf("versions = %v, want [1]", vs)
		}
		a, err := e.c.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String(name(1)), Name: aws.String("prod")})
		if err != nil || aws.ToString(a.FunctionVersion) != "$LATEST" {
			t.Errorf("alias prod = %v, %v; want $LATEST", a, err)
		}
	})

	t.Run("2 edit description and tags", func(t *testing.T) {
		newStageRun(t, deploy, scenarioApp, e.deployStage(2, nil)).mustSucceed()
		newStageRun(t, deploy, scenarioApp, e.deployStage(2, map[string]any{
			"description": "Functional Test for Scenario 2 with an updated description", "functionUid": "scenario2-updated",
			"tags": map[string]any{"Project": "Autodesk", "Updated": "True"}})).mustSucceed()
		got, _ := e.function(t, name(2))
		if d := aws.ToString(got.Configuration.Description); d != "Functional Test for Scenario 2 with an updated description" {
			t.Errorf("description = %q", d)
		}
		if !maps.Equal(got.Tags, map[string]string{"Project": "Autodesk", "Updated": "True"}) {
			t.Errorf("tags = %v", got.Tags)
		}
		// Clouddriver asks for a version; AWS publishes none for a change of
		// description and tags only.
		if vs := versionsOf(t, e.localEnv, name(2)); !slices.Equal(vs, []int{1}) {
			t.Errorf("versions = %v, want [1]", vs)
		}
	})

	t.Run("3 add an event trigger", func(t *testing.T) {
		newStageRun(t, deploy, scenarioApp, e.deployStage(3, nil)).mustSucceed()
		newStageRun(t, deploy, scenarioApp, e.deployStage(3, map[string]any{
			"batchsize": 5, "triggerArns": []any{e.queueARN}, "description": "Functional Test for Scenario 3"})).mustSucceed()
		got, _ := e.function(t, name(3))
		ms, err := e.c.ListEventSourceMappings(context.Background(), &lambda.ListEventSourceMappingsInput{FunctionName: got.Configuration.FunctionArn})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms.EventSourceMappings) != 1 || aws.ToString(ms.EventSourceMappings[0].EventSourceArn) != e.queueARN ||
			aws.ToInt32(ms.EventSourceMappings[0].BatchSize) != 5 {
			t.Fatalf("mappings = %+v, want one of %s with batch size 5", ms.EventSourceMappings, e.queueARN)
		}
	})

	t.Run("4 delete the function", func(t *testing.T) {
		newStageRun(t, deploy, scenarioApp, e.deployStage(4, nil)).mustSucceed()
		newStageRun(t, del, scenarioApp, e.deleteStage(name(4), "$ALL")).mustSucceed()
		if _, found := e.function(t, name(4)); found {
			t.Fatalf("%s still exists", name(4))
		}
	})

	t.Run("5 raise memory", func(t *testing.T) {
		newStageRun(t, deploy, scenarioApp, e.deployStage(5, nil)).mustSucceed()
		newStageRun(t, deploy, scenarioApp, e.deployStage(5, map[string]any{"memorySize": 1024})).mustSucceed()
		got, _ := e.function(t, name(5))
		if m := aws.ToInt32(got.Configuration.MemorySize); m != 1024 {
			t.Fatalf("memory = %d, want 1024", m)
		}
	})

	t.Run("6 delete through SpEL", func(t *testing.T) {
		deployCtx := e.deployStage(6, nil)
		newStageRun(t, deploy, scenarioApp, deployCtx).mustSucceed()
		fields := e.deleteStage(`${#stage("AWS Lambda Deployment")["context"]["functionName"]}`, "$ALL")
		env := &expr.Env{Stages: []expr.StageInfo{{ID: "6", RefID: "6", Name: "AWS Lambda Deployment", Type: DeployTypeName,
			Status: "SUCCEEDED", Context: deployCtx}}}
		resolved, sum := expr.Resolve(context.Background(), fields, env)
		if !sum.Empty() {
			t.Fatalf("resolve: %v", sum.Failures)
		}
		newStageRun(t, del, scenarioApp, resolved.(map[string]any)).mustSucceed()
		if _, found := e.function(t, name(6)); found {
			t.Fatalf("%s still exists", name(6))
		}
	})

	t.Run("7 delete $LATEST twice", func(t *testing.T) {
		newStageRun(t, deploy, scenarioApp, e.deployStage(7, map[string]any{"aliases": []any{"test"}})).mustSucceed()
		if vs := versionsOf(t, e.localEnv, name(7)); !slices.Equal(vs, []int{1}) {
			t.Fatalf("versions after deploy = %v, want [1]", vs)
		}
		// The newest version is deleted: alias test is on $LATEST, not on it.
		out := newStageRun(t, del, scenarioApp, e.deleteStage(name(7), "$LATEST")).mustSucceed()
		if out[outDeleteVer] != "1" {
			t.Fatalf("first delete: outputs %v", out)
		}
		if vs := versionsOf(t, e.localEnv, name(7)); len(vs) != 0 {
			t.Fatalf("versions after the first delete = %v, want none", vs)
		}
		// Again: the stage succeeds and changes nothing.
		out = newStageRun(t, del, scenarioApp, e.deleteStage(name(7), "$LATEST")).mustSucceed()
		if d := anyStrings(out["deleteTask:deleted"]); len(d) != 0 {
			t.Fatalf("second delete deleted %v", d)
		}
		if _, found := e.function(t, name(7)); !found {
			t.Fatalf("%s is gone after deleting versions", name(7))
		}
		a, err := e.c.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String(name(7)), Name: aws.String("test")})
		if err != nil || aws.ToString(a.FunctionVersion) != "$LATEST" {
			t.Fatalf("alias test = %v, %v; want $LATEST", a, err)
		}
	})

	t.Run("8 delete $PREVIOUS of one version", func(t *testing.T) {
		newStageRun(t, deploy, scenarioApp, e.deployStage(8, map[string]any{"aliases": []any{"test"}})).mustSucceed()
		msg := newStageRun(t, del, scenarioApp, e.deleteStage(name(8), "$PREVIOUS")).mustFail()
		if !strings.Contains(msg, "No version found for Lambda function. Unable to perform delete operation") {
			t.Fatalf("error = %q", msg)
		}
		if vs := versionsOf(t, e.localEnv, name(8)); !slices.Equal(vs, []int{1}) {
			t.Fatalf("versions = %v, want [1] untouched", vs)
		}
	})
}
