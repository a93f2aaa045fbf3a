package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/chromedp/chromedp"
)

// planPipeline deploys hello-plan with the memory size of a parameter and
// routes alias live to the version it publishes.
const planPipeline = `{
  "application": "hello", "name": "release",
  "parameterConfig": [{"name": "memory", "default": "128"}],
  "stages": [
    {"refId": "deploy", "type": "Aws.LambdaDeploymentStage", "name": "Deploy",
     "account": "local", "region": "us-east-1", "functionName": "hello-plan", "prefixApplicationNameToFunction": false,
     "memorySize": "${parameters.memory}", "publish": true},
    {"refId": "wait", "requisiteStageRefIds": ["deploy"], "type": "wait", "name": "Settle", "waitTime": 5},
    {"refId": "route", "requisiteStageRefIds": ["wait"], "type": "Aws.LambdaTrafficRoutingStage", "name": "Route",
     "account": "local", "region": "us-east-1", "functionName": "hello-plan", "prefixApplicationNameToFunction": false,
     "aliasName": "live", "deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST", "leaveAbsent": true}
  ]
}`

// TestBrowserPlan: the pipeline page's Plan button, beside Run, shows what
// a run with the form's parameters would change — memory 128 → 512, a new
// version, alias live moved to it — and changes nothing.
func TestBrowserPlan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Lambda function")
	}
	lam := newLocalLambda(t)
	s := newTestServerWith(t, serverOptions{accounts: lam.accounts})
	v1, v2 := lam.deployTwoVersions(t, "hello-plan")
	lam.route(t, "hello-plan", "live", v1, nil)
	s.apply(t, "hello", "release", []byte(planPipeline))
	before := planState(t, lam, "hello-plan")

	b := newBrowser(t, s.URL)
	b.signIn(s, "/pipelines/hello/release")
	b.waitFor("the page", `document.body.dataset.enhanced === '1'`)
	b.do("open the run form", chromedp.Click(chromedp.CSS(`#run > summary`)))
	b.do("set memory", chromedp.SetValue(chromedp.ID("run-p0"), "512"))
	b.waitLoad("plan", chromedp.Click(chromedp.ID("run-plan")))
	b.waitFor("the plan", `!!document.querySelector('#plan .plan-stage')`)

	next := fmt.Sprint(mustAtoi(t, v2) + 1)
	if got, want := b.text(`#plan .plan-stage[data-ref="deploy"] li[data-field="memorySize"]`), "~ memorySize: 128 → 512"; got != want {
		t.Errorf("memorySize line = %q, want %q", got, want)
	}
	if got := b.text(`#plan .plan-stage[data-ref="deploy"] li[data-field="version"]`); !strings.Contains(got, "+ version: "+next) {
		t.Errorf("version line = %q, want + version: %s", got, next)
	}
	if got, want := b.text(`#plan .plan-stage[data-ref="route"] li[data-field="alias live"]`),
		"~ alias live: routes 100% to version "+v1+" → routes 100% to version "+next; got != want {
		t.Errorf("alias line = %q, want %q", got, want)
	}
	if got := b.text(`#plan .plan-stage[data-ref="wait"] .summary`); !strings.Contains(got, "no AWS change") {
		t.Errorf("wait stage summary = %q, want no AWS change", got)
	}
	if got := eval[string](b, `document.querySelector('#run-p0').value`); got != "512" {
		t.Errorf("the run form after the plan has memory %q, want the planned 512", got)
	}
	b.screenshot("plan")
	if after := planState(t, lam, "hello-plan"); after != before {
		t.Errorf("the plan changed the account:\nbefore %s\nafter  %s", before, after)
	}
	b.checkConsole()
}

// planState is what a plan must not change: $LATEST's revision and memory,
// the versions and the alias.
func planState(t *testing.T, lam *localLambda, fn string) string {
	t.Helper()
	ctx := context.Background()
	c, err := lam.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := lam.lambda.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := lam.lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("rev=%s mem=%d versions=%d alias=%s@%s", aws.ToString(c.RevisionId), aws.ToInt32(c.MemorySize), len(vs.Versions),
		aws.ToString(a.FunctionVersion), aws.ToString(a.RevisionId))
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return n
}
