package lambda

// The Deploy and Delete stages against moto_server, an independent
// implementation of the Lambda control plane, where it is installed. moto
// answers Active / Successful at once, leaves RevisionId empty, and does
// not refuse to delete an aliased version — the stages' own checks must
// hold without the service's help.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

const motoRole = "arn:aws:iam::123456789012:role/sluice-moto"

// newMotoEnv starts moto_server as a child process and returns an
// environment whose account "moto" points at it, in the regions us-east-1
// (the default) and eu-west-1. It skips the test when
// moto_server is not on PATH.
func newMotoEnv(t *testing.T) *localEnv {
	t.Helper()
	endpoint := sluicetest.StartMoto(t, "the moto control-plane tests")
	// No Docker here: moto's "simple" Lambda backend.
	resp, err := http.Post(endpoint+"/moto-api/config", "application/json", strings.NewReader(`{"lambda":{"use_docker":false}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// moto's CreateFunction needs the role to exist in its IAM (lambda-api.md §4.2).
	form := url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {"sluice-moto"},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}}
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("create IAM role in moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create IAM role in moto: %s", resp.Status)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	ctx := context.Background()
	accounts, err := awsclient.New(ctx, awsclient.Config{Accounts: []awsclient.AccountConfig{
		{Name: "moto", Regions: []string{"us-east-1", "eu-west-1"}, Endpoint: endpoint}}}, awsclient.LocalEndpoint{})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := accounts.Get("moto")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acct.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatalf("create bucket in moto: %v", err)
	}
	return &localEnv{accounts: accounts, acct: acct, c: acct.Lambda, s3: acct.S3, endpoint: endpoint}
}

// motoQueue creates an SQS queue in moto (its query API) and returns its
// ARN: moto maps only queues that exist.
func motoQueue(t *testing.T, e *localEnv, name string) string {
	t.Helper()
	form := url.Values{"Action": {"CreateQueue"}, "Version": {"2012-11-05"}, "QueueName": {name}}
	req, _ := http.NewRequest(http.MethodPost, e.endpoint+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("create SQS queue in moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create SQS queue in moto: %s", resp.Status)
	}
	return "arn:aws:sqs:us-east-1:123456789012:" + name
}

func motoDeploy(fn, key string, extra map[string]any) map[string]any {
	f := deployFields(fn, key, extra)
	f["account"], f["role"] = "moto", motoRole
	return f
}

func TestMotoDeployAndDelete(t *testing.T) {
	e := newMotoEnv(t)
	zip := helloZip(t)
	for i := 1; i <= 4; i++ {
		e.put(t, fmt.Sprintf("m%d.zip", i), variantZip(t, zip, i))
	}
	deploy := typeOf(t, e.accounts, DeployTypeName)
	del := typeOf(t, e.accounts, DeleteTypeName)
	ctx := context.Background()

	t.Run("create, update, publish once", func(t *testing.T) {
		out := newStageRun(t, deploy, "shop", motoDeploy("orders", "m1.zip", map[string]any{
			"publish": true, "aliases": []any{"live"}, "envVariables": map[string]any{"HELLO_VERSION": "v1"}, "tags": map[string]any{"team": "a"}})).mustSucceed()
		if out["functionName"] != "shop-orders" || out["versionId"] != "1" {
			t.Fatalf("outputs = %v", out)
		}
		out = newStageRun(t, deploy, "shop", motoDeploy("orders", "m2.zip", map[string]any{"publish": true, "aliases": []any{"live"}, "memorySize": 256})).mustSucceed()
		if out["versionId"] != "2" {
			t.Fatalf("update outputs = %v", out)
		}
		// As Clouddriver: the alias is on $LATEST, and stays there.
		if c := anyStrings(out["aliasesUnchanged"]); !slices.Equal(c, []string{"live"}) {
			t.Errorf("aliasesUnchanged = %v, want [live] (on $LATEST)", out["aliasesUnchanged"])
		}
		// Crash between update and publish: the re-run publishes one version.
		r := newStageRun(t, deploy, "shop", motoDeploy("orders", "m3.zip", map[string]any{"publish": true}))
		tasks := deploy.Tasks(r.ctx)
		for _, name := range tasks[:slices.Index(tasks, taskPublish)] {
			if res := r.task(name); res.Status != "SUCCEEDED" {
				t.Fatalf("%s: %s", name, res.Error)
			}
		}
		if res := r.from(0); res.Status != "SUCCEEDED" {
			t.Fatal(res.Error)
		}
		if vs := versionsOf(t, e, "shop-orders"); !slices.Equal(vs, []int{1, 2, 3}) {
			t.Fatalf("versions = %v, want [1 2 3]", vs)
		}
		// Absent env and tags are kept; empty ones clear.
		got := getConfig(t, e, "shop-orders")
		if got.Configuration.Environment == nil || got.Configuration.Environment.Variables["HELLO_VERSION"] != "v1" || got.Tags["team"] != "a" {
			t.Fatalf("absent fields changed the function: env %v tags %v", got.Configuration.Environment, got.Tags)
		}
		// Empty env clears; empty tags (Deck's default) leave the tags, as
		// Clouddriver does; clearTags removes them.
		newStageRun(t, deploy, "shop", motoDeploy("orders", "m3.zip", map[string]any{"envVariables": map[string]any{}, "tags": map[string]any{}})).mustSucceed()
		got = getConfig(t, e, "shop-orders")
		if (got.Configuration.Environment != nil && len(got.Configuration.Environment.Variables) > 0) || got.Tags["team"] != "a" {
			t.Fatalf("after envVariables {} and tags {}: env %v tags %v, want no variables and the tags kept", got.Configuration.Environment, got.Tags)
		}
		newStageRun(t, deploy, "shop", motoDeploy("orders", "m3.zip", map[string]any{"tags": map[string]any{}, "clearTags": true})).mustSucceed()
		if got = getConfig(t, e, "shop-orders"); len(got.Tags) > 0 {
			t.Fatalf("clearTags left tags %v", got.Tags)
		}
	})

	t.Run("delete", func(t *testing.T) {
		newStageRun(t, deploy, "shop", motoDeploy("orders", "m4.zip", map[string]any{"publish": true})).mustSucceed()
		if _, err := e.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("shop-orders"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
			t.Fatal(err)
		}
		// live routes to 1: moto would delete it, the stage refuses.
		msg := newStageRun(t, del, "shop", map[string]any{"account": "moto", "functionName": "orders", "version": "$OLDEST"}).mustFail()
		if !strings.Contains(msg, "version 1 is used by alias live") {
			t.Fatalf("aliased $OLDEST: %q", msg)
		}
		out := newStageRun(t, del, "shop", map[string]any{"account": "moto", "functionName": "orders", "version": "$PREVIOUS"}).mustSucceed()
		if out[outDeleteVer] != "3" {
			t.Fatalf("$PREVIOUS outputs = %v", out)
		}
		out = newStageRun(t, del, "shop", map[string]any{"account": "moto", "functionName": "orders", "version": "9"}).mustSucceed()
		if g := anyStrings(out[outAlreadyGone]); !slices.Equal(g, []string{"9"}) {
			t.Fatalf("missing version outputs = %v", out)
		}
		msg = newStageRun(t, del, "shop", map[string]any{"account": "moto", "functionName": "orders", "version": "$PROVIDED", "versionNumber": "1"}).mustFail()
		if !strings.Contains(msg, "alias live") {
			t.Fatalf("$PROVIDED 1: %q", msg)
		}
		if _, err := e.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("shop-orders"), Name: aws.String("live"), FunctionVersion: aws.String("4")}); err != nil {
			t.Fatal(err)
		}
		out = newStageRun(t, del, "shop", map[string]any{"account": "moto", "functionName": "orders", "version": "$MOVING", "retentionNumber": 1}).mustSucceed()
		if out[outDeleteVer] != "2,1" {
			t.Fatalf("$MOVING outputs = %v", out)
		}
		if vs := versionsOf(t, e, "shop-orders"); !slices.Equal(vs, []int{4}) {
			t.Fatalf("versions = %v, want [4]", vs)
		}
		out = newStageRun(t, del, "shop", map[string]any{"account": "moto", "functionName": "orders", "version": "$ALL"}).mustSucceed()
		if out["deleteTask"] != "done" {
			t.Fatalf("$ALL outputs = %v", out)
		}
		out = newStageRun(t, del, "shop", map[string]any{"account": "moto", "functionName": "orders", "version": "$ALL"}).mustSucceed()
		if g := anyStrings(out[outAlreadyGone]); !slices.Equal(g, []string{"$ALL"}) {
			t.Fatalf("second $ALL outputs = %v", out)
		}
	})
}

// TestMotoRegions deploys one function name into both regions of one
// account: a stage's region picks the region's clients, and moto, like
// AWS, keeps the regions apart. A region the account does not list, and
// an empty account, fail naming what exists.
func TestMotoRegions(t *testing.T) {
	e := newMotoEnv(t)
	e.put(t, "r1.zip", helloZip(t))
	deploy := typeOf(t, e.accounts, DeployTypeName)
	ctx := context.Background()
	eu, err := e.accounts.In("moto", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}

	out := newStageRun(t, deploy, "shop", motoDeploy("eu", "r1.zip", map[string]any{"region": "eu-west-1", "publish": true})).mustSucceed()
	if out["functionName"] != "shop-eu" {
		t.Fatalf("outputs = %v", out)
	}
	if obj, _ := out["lambdaObject"].(map[string]any); obj != nil && obj["region"] != "eu-west-1" {
		t.Errorf("lambdaObject.region = %v, want eu-west-1", obj["region"])
	}
	got, err := eu.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shop-eu")})
	if err != nil {
		t.Fatalf("the function is not in eu-west-1: %v", err)
	}
	if arn := aws.ToString(got.Configuration.FunctionArn); !strings.Contains(arn, ":eu-west-1:") {
		t.Errorf("FunctionArn = %s, want one in eu-west-1", arn)
	}
	if _, err := e.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shop-eu")}); err == nil {
		t.Errorf("shop-eu is in us-east-1 too; the stage's region was not the one used")
	}

	// No region: the account's first, us-east-1.
	noRegion := motoDeploy("east", "r1.zip", nil)
	delete(noRegion, "region")
	newStageRun(t, deploy, "shop", noRegion).mustSucceed()
	if _, err := e.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shop-east")}); err != nil {
		t.Errorf("a stage without region did not deploy to us-east-1: %v", err)
	}
	if _, err := eu.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shop-east")}); err == nil {
		t.Errorf("shop-east is in eu-west-1; a stage without region must use the first region only")
	}

	// A region the account lacks, and an empty account, are refused when
	// the pipeline is saved and, given by an expression, when the stage runs.
	west := motoDeploy("west", "r1.zip", map[string]any{"region": "us-west-2"})
	mustRefuse(t, deploy, west, "region", "us-east-1, eu-west-1", `"us-west-2"`, "account moto")
	msg := newEvaluatedStageRun(t, deploy, "shop", west).mustFail()
	if !strings.Contains(msg, "us-east-1, eu-west-1") || !strings.Contains(msg, `"us-west-2"`) || !strings.Contains(msg, "account moto") {
		t.Errorf("a region the account lacks failed with %q; want the account's regions named", msg)
	}
	empty := motoDeploy("empty", "r1.zip", nil)
	empty["account"] = ""
	mustRefuse(t, deploy, empty, "account", "the account is empty", "moto")
	msg = newEvaluatedStageRun(t, deploy, "shop", empty).mustFail()
	if !strings.Contains(msg, "the account is empty") || !strings.Contains(msg, "moto") {
		t.Errorf(`"account": "" failed with %q; want the accounts named`, msg)
	}
}
