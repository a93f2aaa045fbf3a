package functions_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
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

// TestPromotedAwayVersionKeepsItsFigures: version 1 serves alias live,
// then the alias is promoted to version 2 and the local Lambda's clock
// moves past the five-minute window. Version 1 has no invocations in the
// window but keeps its figures over the last stretch in which it ran
// (earlier); version 2, which runs now, has none. Asked for what happened
// since a time (a judgment's start), one function's counts are exact.
func TestPromotedAwayVersionKeepsItsFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	ctx := context.Background()
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	zip, err := fnbuild.Zip(ctx, filepath.Join("..", ".."), "./examples/functions/hello")
	if err != nil {
		t.Fatal(err)
	}
	srv := locallambdatest.Start(t, locallambda.Config{Clock: clock})
	accounts := locallambdatest.Accounts(t, srv)
	local, err := accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	lc := local.Lambda
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("hello"), Role: aws.String("arn:aws:iam::000000000000:role/lambda"),
		Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Architectures: []types.Architecture{types.Architecture(fnbuild.Architecture())},
		Code:          &types.FunctionCode{ZipFile: zip},
	}); err != nil {
		t.Fatal(err)
	}
	wait(t, lc, "hello")
	v1 := publish(t, lc, "hello", "first")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("hello"), Environment: &types.Environment{Variables: map[string]string{"HELLO_VERSION": "v2"}},
	}); err != nil {
		t.Fatal(err)
	}
	wait(t, lc, "hello")
	v2 := publish(t, lc, "hello", "second")
	if _, err := lc.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("live"), FunctionVersion: aws.String(v1)}); err != nil {
		t.Fatal(err)
	}
	invoke := func(n int) {
		for range n {
			if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("live"), Payload: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	invoke(5)
	if _, err := lc.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("live"), FunctionVersion: aws.String(v2),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}}); err != nil {
		t.Fatal(err)
	}
	skew.Store(int64(7 * time.Minute))
	promoted := clock()
	invoke(3)

	l := functions.New(functions.Config{Accounts: accounts, LocalLambdaURL: srv.URL()})
	fns, err := l.Functions(ctx, "local", apitype.FunctionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 1 || fns[0].Metrics == nil {
		t.Fatalf("functions %+v, want hello with metrics", fns)
	}
	byVersion := map[string]apitype.VersionMetrics{}
	for _, vm := range fns[0].Metrics.Versions {
		byVersion[vm.Version] = vm
	}
	old, cur := byVersion[v1], byVersion[v2]
	if old.Invocations != 0 || old.Earlier == nil {
		t.Fatalf("version 1 after promotion: %d invocations in the window, earlier %+v; want 0 and its earlier figures", old.Invocations, old.Earlier)
	}
	if e := old.Earlier; e.Invocations != 5 || e.Errors != 0 || e.DurationP50Ms == nil || e.DurationP99Ms == nil ||
		e.Until > fns[0].Metrics.Since || e.Until-e.Since > (5*time.Minute).Milliseconds() {
		t.Errorf("version 1's earlier figures %+v: want its 5 invocations with latency, in a stretch of at most 5 min before the window (from %d)", e, fns[0].Metrics.Since)
	}
	if cur.Invocations != 3 || cur.Earlier != nil {
		t.Errorf("version 2: %d invocations, earlier %+v; want 3 and no earlier figures", cur.Invocations, cur.Earlier)
	}

	// Since the promotion, for the one function: exact counts, and version
	// 1 ran none of them.
	fns, err = l.Functions(ctx, "local", apitype.FunctionQuery{Function: "hello", Since: promoted.UnixMilli()})
	if err != nil || len(fns) != 1 || fns[0].Metrics == nil {
		t.Fatalf("since the promotion: %+v, %v", fns, err)
	}
	for _, vm := range fns[0].Metrics.Versions {
		want := map[string]int64{v1: 0, v2: 3}[vm.Version]
		if vm.Invocations != want || vm.Earlier != nil {
			t.Errorf("since the promotion, version %s: %d invocations, earlier %+v; want %d and no earlier figures", vm.Version, vm.Invocations, vm.Earlier, want)
		}
	}
	if fns, err := l.Functions(ctx, "local", apitype.FunctionQuery{Function: "nope"}); err != nil || len(fns) != 0 {
		t.Errorf("an unknown function: %+v, %v; want none and no error", fns, err)
	}
}
