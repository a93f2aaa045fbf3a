package functions_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/functions"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/locallambdatest"
)

// TestListLocalFunctions publishes two versions of the hello example on a
// real local Lambda, routes an alias 90/10 between them, invokes it, and
// lists the account through the SDK.
func TestListLocalFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	ctx := context.Background()
	zip, err := fnbuild.Zip(ctx, filepath.Join("..", ".."), "./examples/functions/hello")
	if err != nil {
		t.Fatal(err)
	}
	srv := locallambdatest.Start(t, locallambda.Config{})
	accounts := locallambdatest.Accounts(t, srv)
	local, err := accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	lc := local.Lambda

	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String("hello"),
		Role:          aws.String("arn:aws:iam::000000000000:role/lambda"),
		Runtime:       types.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Architectures: []types.Architecture{types.Architecture(fnbuild.Architecture())},
		Code:          &types.FunctionCode{ZipFile: zip},
		Description:   aws.String("the example"),
	}); err != nil {
		t.Fatal(err)
	}
	wait(t, lc, "hello")
	v1 := publish(t, lc, "hello", "first")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("hello"),
		Environment:  &types.Environment{Variables: map[string]string{"HELLO_VERSION": "v2"}},
	}); err != nil {
		t.Fatal(err)
	}
	wait(t, lc, "hello")
	v2 := publish(t, lc, "hello", "second")
	if _, err := lc.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName:    aws.String("hello"),
		Name:            aws.String("live"),
		FunctionVersion: aws.String(v1),
		RoutingConfig:   &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{v2: 0.1}},
	}); err != nil {
		t.Fatal(err)
	}
	const invocations = 5
	for range invocations {
		if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("live"), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}

	l := functions.New(functions.Config{Accounts: accounts, LocalLambdaURL: srv.URL()})
	if got, want := l.Accounts(ctx), []apitype.Account{{Name: "local", Region: awsclient.LocalRegion, Regions: []string{awsclient.LocalRegion}, Local: true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Accounts = %+v, want %+v", got, want)
	}
	fns, err := l.Functions(ctx, "local", apitype.FunctionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 1 {
		t.Fatalf("got %d functions, want 1: %+v", len(fns), fns)
	}
	fn := fns[0]
	if fn.Name != "hello" || fn.Description != "the example" || fn.ARN == "" {
		t.Errorf("function = %+v", fn)
	}
	if len(fn.Versions) != 2 || fn.Versions[0].Version != v1 || fn.Versions[1].Version != v2 {
		t.Fatalf("versions = %+v, want %s and %s", fn.Versions, v1, v2)
	}
	for i, desc := range []string{"first", "second"} {
		v := fn.Versions[i]
		if v.Description != desc || v.CodeSha256 == "" || time.Since(time.UnixMilli(v.LastModified)) > time.Hour {
			t.Errorf("version %d = %+v", i, v)
		}
	}
	if len(fn.Aliases) != 1 {
		t.Fatalf("aliases = %+v", fn.Aliases)
	}
	if a := fn.Aliases[0]; a.Name != "live" || a.FunctionVersion != v1 || a.AdditionalVersionWeights[v2] != 0.1 {
		t.Errorf("alias = %+v, want live → %s with %s at 0.1", a, v1, v2)
	}
	if fn.Metrics == nil {
		t.Fatal("no metrics for a function of the local account")
	}
	var total int64
	for _, vm := range fn.Metrics.Versions {
		total += vm.Invocations
		if len(vm.Points) == 0 {
			t.Errorf("version %s has no points", vm.Version)
		}
		// The latency of the invocations that ran, exact over the window.
		if vm.Invocations > 0 && (vm.DurationP50Ms == nil || vm.DurationP99Ms == nil || !(*vm.DurationP50Ms > 0) || *vm.DurationP50Ms > *vm.DurationP99Ms) {
			t.Errorf("version %s ran %d times with latency p50 %v, p99 %v ms; want 0 < p50 <= p99", vm.Version, vm.Invocations, vm.DurationP50Ms, vm.DurationP99Ms)
		}
	}
	if total != invocations {
		b, _ := json.Marshal(fn.Metrics)
		t.Errorf("metrics count %d invocations, want %d: %s", total, invocations, b)
	}

	if _, err := l.Functions(ctx, "prod", apitype.FunctionQuery{}); err == nil {
		t.Error("Functions of an unknown account: no error")
	}
}

func wait(t *testing.T, lc *lambda.Client, name string) {
	t.Helper()
	w := lambda.NewFunctionUpdatedV2Waiter(lc, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func publish(t *testing.T, lc *lambda.Client, name, desc string) string {
	t.Helper()
	out, err := lc.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name), Description: aws.String(desc)})
	if err != nil {
		t.Fatal(err)
	}
	v := aws.ToString(out.Version)
	w := lambda.NewPublishedVersionActiveWaiter(lc, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: aws.String(v)}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return v
}
