package web_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/chromedp/chromedp"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// rolloutPipeline shifts alias live of hello-steer to its newest version
// in a step that would hold for an hour.
const rolloutPipeline = `{
  "application": "hello", "name": "shift",
  "stages": [{
    "refId": "shift", "type": "Aws.LambdaTrafficRoutingStage", "name": "Shift",
    "account": "local", "region": "us-east-1", "functionName": "hello-steer", "aliasName": "live",
    "deploymentStrategy": "$PROGRESSIVE", "progressive": {"steps": [{"weight": 10, "pause": 3600}]}
  }]
}`

// TestBrowserRolloutPause: a running $PROGRESSIVE Route shows its shift
// and a button for each command it takes; Pause holds it, and the page
// then offers Resume instead, while the alias keeps 10 % on version 2.
func TestBrowserRolloutPause(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	lam := newLocalLambda(t)
	s := newTestServerWith(t, serverOptions{accounts: lam.accounts})
	v1, v2 := lam.deployTwoVersions(t, "hello-steer")
	lam.route(t, "hello-steer", "live", v1, nil)
	s.apply(t, "hello", "shift", []byte(rolloutPipeline))
	exec, err := s.client.Trigger(context.Background(), "hello", "shift", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "the shift to hold at 10%", func(e *apitype.Execution) bool {
		return len(e.Stages) == 1 && slices.Contains(e.Stages[0].Commands, "pause")
	})

	b := newBrowser(t, s.URL)
	b.signIn(s, "/executions/"+exec.ID)
	b.waitFor("the shift and its buttons", `document.body.dataset.enhanced === '1' && !!document.querySelector('#act-rollout-pause')`)
	if got, want := b.text("#rollout-status"), "shifting"; got != want {
		t.Errorf("rollout status = %q, want %q", got, want)
	}
	if got, want := b.text("#rollout-step"), "step 1 of 2: 10% to version "+v2; got != want {
		t.Errorf("rollout step = %q, want %q", got, want)
	}
	buttons := eval[[]string](b, `[...document.querySelectorAll('#rollout button[data-action]')].map((x) => x.textContent.trim())`)
	if want := []string{"Pause", "Promote now", "Abort"}; !slices.Equal(buttons, want) {
		t.Errorf("buttons of the shifting stage = %v, want %v", buttons, want)
	}

	b.do("pause", chromedp.Click(chromedp.ID("act-rollout-pause")))
	b.waitFor("the shift to be paused", `(document.querySelector('#rollout-status') || {}).textContent === 'paused'`)
	buttons = eval[[]string](b, `[...document.querySelectorAll('#rollout button[data-action]')].map((x) => x.textContent.trim())`)
	if want := []string{"Resume", "Promote now", "Abort"}; !slices.Equal(buttons, want) {
		t.Errorf("buttons of the paused stage = %v, want %v", buttons, want)
	}
	if got := b.text("#rollout tr.current td:nth-child(4)"); got != "paused" {
		t.Errorf("outcome of the current step = %q, want paused", got)
	}
	b.screenshot("rollout-paused")

	a, err := lam.lambda.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String("hello-steer"), Name: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(a.FunctionVersion); got != v1 || a.RoutingConfig == nil || a.RoutingConfig.AdditionalVersionWeights[v2] != 0.1 {
		t.Errorf("paused alias routes version %s with %v; want version %s with 10%% to %s", got, a.RoutingConfig, v1, v2)
	}
	b.checkConsole()
}
