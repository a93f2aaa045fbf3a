package locallambda

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestFunctionEventInvokeConfig(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.createActive(t, ctlCreateInput("async", ctlBootstrapZip(t, "a")))
	v := cs.publish(t, "async")
	if _, err := cs.lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("async"), Name: aws.String("live"), FunctionVersion: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
	const dlq = "arn:aws:sqs:us-east-1:000000000000:failures"

	_, err := cs.lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async")})
	ctlWantError[*types.ResourceNotFoundException](t, err, "doesn't have an EventInvokeConfig")

	put, err := cs.lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
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
	got, err := cs.lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("live")})
	if err != nil || aws.ToInt32(got.MaximumEventAgeInSeconds) != 120 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	// Update changes only what it names.
	upd, err := cs.lambda.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async"), Qualifier: aws.String("live"), MaximumRetryAttempts: aws.Int32(2)})
	if err != nil || aws.ToInt32(upd.MaximumRetryAttempts) != 2 || aws.ToInt32(upd.MaximumEventAgeInSeconds) != 120 {
		t.Fatalf("Update = %+v, %v", upd, err)
	}
	if _, err := cs.lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async"), MaximumRetryAttempts: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	list, err := cs.lambda.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async")})
	if err != nil || len(list.FunctionEventInvokeConfigs) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}

	_, err = cs.lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), MaximumRetryAttempts: aws.Int32(3)})
	ctlWantCode(t, err, "ValidationException", "maximumRetryAttempts")
	_, err = cs.lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String("arn:aws:s3:::bucket")}}})
	ctlWantError[*types.InvalidParameterValueException](t, err, "destination ARN")
	_, err = cs.lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("nope")})
	ctlWantError[*types.ResourceNotFoundException](t, err, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:async:nope")

	if _, err := cs.lambda.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("live")})
	ctlWantError[*types.ResourceNotFoundException](t, err, "EventInvokeConfig")
}
