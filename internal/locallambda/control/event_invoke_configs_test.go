package control

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

func TestFunctionEventInvokeConfig(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("async", lambdatest.BootstrapZip(t, "a")))
	v := cs.Publish(t, "async")
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("async"), Name: aws.String("live"), FunctionVersion: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
	const dlq = "arn:aws:sqs:us-east-1:000000000000:failures"

	_, err := cs.Lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "doesn't have an EventInvokeConfig")

	put, err := cs.Lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async"), Qualifier: aws.String("live"),
		MaximumRetryAttempts: aws.Int32(0), MaximumEventAgeInSeconds: aws.Int32(120),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(dlq)}},
	})
	if err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}
	if aws.ToString(put.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:async:live" || aws.ToInt32(put.MaximumRetryAttempts) != 0 ||
		put.MaximumRetryAttempts == nil || put.LastModified == nil || put.DestinationConfig == nil ||
		aws.ToString(put.DestinationConfig.OnFailure.Destination) != dlq {
		t.Errorf("Put = %+v", put)
	}
	got, err := cs.Lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("live")})
	if err != nil || aws.ToInt32(got.MaximumEventAgeInSeconds) != 120 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	// Update changes only what it names.
	upd, err := cs.Lambda.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async"), Qualifier: aws.String("live"), MaximumRetryAttempts: aws.Int32(2)})
	if err != nil || aws.ToInt32(upd.MaximumRetryAttempts) != 2 || aws.ToInt32(upd.MaximumEventAgeInSeconds) != 120 {
		t.Fatalf("Update = %+v, %v", upd, err)
	}
	if _, err := cs.Lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async"), MaximumRetryAttempts: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	list, err := cs.Lambda.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async")})
	if err != nil || len(list.FunctionEventInvokeConfigs) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}

	_, err = cs.Lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), MaximumRetryAttempts: aws.Int32(3)})
	lambdatest.WantCode(t, err, "ValidationException", "maximumRetryAttempts")
	_, err = cs.Lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String("arn:aws:s3:::bucket")}}})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "destination ARN")
	_, err = cs.Lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("nope")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:async:nope")

	if _, err := cs.Lambda.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.Lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("live")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "EventInvokeConfig")
}
