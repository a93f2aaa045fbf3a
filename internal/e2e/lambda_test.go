package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// helloZip builds examples/functions/hello into a file.
func helloZip(t *testing.T) string {
	t.Helper()
	zip, err := fnbuild.Zip(context.Background(), "../..", "./examples/functions/hello")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hello.zip")
	if err := os.WriteFile(path, zip, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// zipFileArgs are the arguments of sluice serve that let stages read
// zipFile: a sluice.yaml whose stages.zipFileRoot is zip's directory.
func zipFileArgs(t *testing.T, zip string) []string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("stages:\n  zipFileRoot: "+filepath.Dir(zip)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--config", cfg}
}

// localLambda is a client of the server's local Lambda.
func localLambda(t *testing.T, c *apiclient.Client) *lambda.Client {
	t.Helper()
	h, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := awsclient.New(context.Background(), awsclient.Config{}, awsclient.LocalEndpoint{URL: h.LocalLambdaURL})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := accounts.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	return acct.Lambda
}

func publishedVersions(t *testing.T, lc *lambda.Client, fn string) []string {
	t.Helper()
	out, err := lc.ListVersionsByFunction(context.Background(), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, v := range out.Versions {
		if aws.ToString(v.Version) != "$LATEST" {
			vs = append(vs, aws.ToString(v.Version))
		}
	}
	return vs
}

func waitDone(t *testing.T, c *apiclient.Client, id string) *apitype.Execution {
	t.Helper()
	var exec *apitype.Execution
	sluicetest.WaitFor(t, "execution "+id+" to finish", time.Minute, func() bool {
		var err error
		exec, err = c.GetExecution(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return exec.Status.Complete()
	})
	return exec
}

// TestDeployCrash kills `sluice serve` — engine and local Lambda together —
// at a random moment while a Deploy stage updates and publishes a function,
// restarts it, and checks that every execution published exactly one
// version: never none, never two.
func TestDeployCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	zip := helloZip(t)
	dataDir := t.TempDir()
	ctx := context.Background()
	doc := fmt.Sprintf(`{"application":"crash","name":"deploy","stages":[{"refId":"1","type":"Aws.LambdaDeploymentStage","name":"Deploy",
		"functionName":"crash-fn","runtime":"provided.al2023","handler":"bootstrap","role":"arn:aws:iam::000000000000:role/r",
		"zipFile":%q,"envVariables":{"HELLO_VERSION":"${parameters.v}"},"publish":true}],
		"parameterConfig":[{"name":"v","required":true}]}`, zip)

	srv := startServer(t, bin, dataDir, zipFileArgs(t, zip)...)
	c := srv.client(t)
	if _, err := c.PutPipeline(ctx, "crash", "deploy", []byte(doc), "application/json"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 6 {
		exec, err := c.Trigger(ctx, "crash", "deploy", apitype.TriggerRequest{Parameters: map[string]any{"v": fmt.Sprintf("v%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		// The moment of the kill is the subject of the test.
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		srv.kill(syscall.SIGKILL)
		srv = startServer(t, bin, dataDir, zipFileArgs(t, zip)...)
		c = srv.client(t)
		if got := waitDone(t, c, exec.ID); got.Status != "SUCCEEDED" {
			t.Fatalf("deploy %d after a kill ended %s", i, got.Status)
		}
		if vs := publishedVersions(t, localLambda(t, c), "crash-fn"); len(vs) != i+1 {
			t.Fatalf("after %d deploys, each killed once, the function has versions %v; want exactly %d", i+1, vs, i+1)
		}
	}
	srv.kill(syscall.SIGTERM)
}

// TestRollbackAfterFailingInvoke routes an alias to a new version, then an
// Invoke of it fails: with rollbackOnFailure the execution restores the
// routing it replaced, as a visible stage.
func TestRollbackAfterFailingInvoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	zip := helloZip(t)
	ctx := context.Background()
	srv := startServer(t, bin, t.TempDir(), zipFileArgs(t, zip)...)
	c := srv.client(t)
	doc := fmt.Sprintf(`{"application":"rb","name":"release","rollbackOnFailure":true,
		"parameterConfig":[{"name":"v"},{"name":"failureRate","default":"0"}],
		"stages":[
		{"refId":"1","type":"Aws.LambdaDeploymentStage","name":"Deploy","functionName":"rb-fn","runtime":"provided.al2023",
		 "handler":"bootstrap","role":"arn:aws:iam::000000000000:role/r","zipFile":%q,"publish":true,
		 "envVariables":{"HELLO_VERSION":"${parameters.v}","FAILURE_RATE":"${parameters.failureRate}"}},
		{"refId":"2","requisiteStageRefIds":["1"],"type":"Aws.LambdaTrafficRoutingStage","name":"Route","functionName":"rb-fn",
		 "aliasName":"live","deploymentStrategy":"$SIMPLE","versionNameA":"$LATEST","trafficPercentA":100},
		{"refId":"3","requisiteStageRefIds":["2"],"type":"Aws.LambdaInvokeStage","name":"Smoke test","functionName":"rb-fn",
		 "aliasName":"live","executionCount":3,"payload":"{}"}]}`, zip)
	if _, err := c.PutPipeline(ctx, "rb", "release", []byte(doc), "application/json"); err != nil {
		t.Fatal(err)
	}
	good, err := c.Trigger(ctx, "rb", "release", apitype.TriggerRequest{Parameters: map[string]any{"v": "good"}})
	if err != nil {
		t.Fatal(err)
	}
	if e := waitDone(t, c, good.ID); e.Status != "SUCCEEDED" {
		t.Fatalf("the good release ended %s", e.Status)
	}
	bad, err := c.Trigger(ctx, "rb", "release", apitype.TriggerRequest{Parameters: map[string]any{"v": "bad", "failureRate": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	e := waitDone(t, c, bad.ID)
	if e.Status != "TERMINAL" {
		t.Fatalf("the bad release ended %s, want TERMINAL", e.Status)
	}
	var smoke, restore *apitype.Stage
	for i, s := range e.Stages {
		switch {
		case s.Name == "Smoke test":
			smoke = &e.Stages[i]
		case s.Type == "sluice.LambdaRestoreRouting":
			restore = &e.Stages[i]
		}
	}
	if smoke == nil || smoke.Status != "TERMINAL" || !strings.Contains(string(smoke.Context), "failed on purpose") {
		t.Errorf("smoke test stage: %+v; want TERMINAL with the function's own error", smoke)
	}
	if restore == nil || restore.Status != "SUCCEEDED" {
		t.Fatalf("no succeeded restore stage among %d stages", len(e.Stages))
	}
	alias, err := localLambda(t, c).GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("rb-fn"), Name: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if v := aws.ToString(alias.FunctionVersion); v != "1" {
		t.Errorf("after the rollback the alias routes to version %s; want 1, the good release", v)
	}
	srv.kill(syscall.SIGTERM)
}
