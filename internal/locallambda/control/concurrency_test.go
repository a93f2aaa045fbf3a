package control

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

func TestFunctionConcurrencyAndAccountSettings(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("conc", lambdatest.BootstrapZip(t, "c")))
	cs.CreateActive(t, lambdatest.CreateInput("other", lambdatest.BootstrapZip(t, "o")))
	v1 := cs.Publish(t, "conc")

	got, err := cs.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("conc")})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Fatalf("GetFunctionConcurrency before Put = %v, %v; want unset", got.ReservedConcurrentExecutions, err)
	}
	put, err := cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("conc"), ReservedConcurrentExecutions: aws.Int32(5)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 5 {
		t.Fatalf("PutFunctionConcurrency = %v, %v", put, err)
	}
	got, err = cs.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("conc")})
	if err != nil || aws.ToInt32(got.ReservedConcurrentExecutions) != 5 {
		t.Fatalf("GetFunctionConcurrency = %v, %v", got.ReservedConcurrentExecutions, err)
	}
	fn, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("conc")})
	if err != nil || fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != 5 {
		t.Errorf("GetFunction.Concurrency = %+v, %v", fn.Concurrency, err)
	}
	// The reservation covers every version: the data plane sees it on each.
	for _, q := range []string{"", v1} {
		target, err := cs.st.ResolveInvoke(ctx, "conc", q)
		if err != nil || target.Primary.ReservedConcurrency == nil || *target.Primary.ReservedConcurrency != 5 {
			t.Errorf("ResolveInvoke(%q).ReservedConcurrency = %v, %v", q, target, err)
		}
	}
	// The account must keep 100 unreserved.
	_, err = cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("other"), ReservedConcurrentExecutions: aws.Int32(896)})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "below its minimum value of [100]")
	_, err = cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("other"), ReservedConcurrentExecutions: aws.Int32(-1)})
	lambdatest.WantCode(t, err, "ValidationException", "reservedConcurrentExecutions")
	_, err = cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("nope"), ReservedConcurrentExecutions: aws.Int32(1)})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found")

	settings, err := cs.Lambda.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatalf("GetAccountSettings: %v", err)
	}
	if l := settings.AccountLimit; l.ConcurrentExecutions != 1000 || aws.ToInt32(l.UnreservedConcurrentExecutions) != 995 || l.CodeSizeUnzipped != 262144000 {
		t.Errorf("AccountLimit = %+v", l)
	}
	if u := settings.AccountUsage; u.FunctionCount != 2 || u.TotalCodeSize <= 0 {
		t.Errorf("AccountUsage = %+v", u)
	}

	if _, err := cs.Lambda.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("conc")}); err != nil {
		t.Fatal(err)
	}
	got, err = cs.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("conc")})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Errorf("after Delete: %v, %v", got.ReservedConcurrentExecutions, err)
	}
}

// A smaller account, such as the local Lambda's default on a small machine,
// must keep a tenth of its limit unreserved rather than AWS's 100.
func TestSmallAccountKeepsATenthUnreserved(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, func(c *Config) { c.ConcurrentExecutions = 50 })
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("a", lambdatest.BootstrapZip(t, "a")))
	cs.CreateActive(t, lambdatest.CreateInput("b", lambdatest.BootstrapZip(t, "b")))
	if _, err := cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("a"), ReservedConcurrentExecutions: aws.Int32(40)}); err != nil {
		t.Fatalf("reserve 40 of 50: %v", err)
	}
	_, err := cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("b"), ReservedConcurrentExecutions: aws.Int32(6)})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "below its minimum value of [5]")
	if _, err := cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("b"), ReservedConcurrentExecutions: aws.Int32(5)}); err != nil {
		t.Fatalf("reserve 5 more, leaving 5: %v", err)
	}
	settings, err := cs.Lambda.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if l := settings.AccountLimit; l.ConcurrentExecutions != 50 || aws.ToInt32(l.UnreservedConcurrentExecutions) != 5 {
		t.Errorf("AccountLimit = %+v, want 50 with 5 unreserved", l)
	}
}
