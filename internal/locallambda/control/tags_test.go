package control

import (
	"context"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

func TestTags(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	in := lambdatest.CreateInput("tagged", lambdatest.BootstrapZip(t, "t"))
	in.Tags = map[string]string{"a": "1"}
	out := cs.CreateActive(t, in)
	arn := aws.ToString(out.FunctionArn)

	if _, err := cs.Lambda.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: map[string]string{"b": "2", "c": "3"}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := cs.Lambda.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: []string{"a", "c", "missing"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	got, err := cs.Lambda.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(arn)})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if want := map[string]string{"b": "2"}; !maps.Equal(got.Tags, want) {
		t.Errorf("ListTags = %v; want %v", got.Tags, want)
	}

	_, err = cs.Lambda.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn + ":1"), Tags: map[string]string{"x": "y"}})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "Tags are not supported on function versions or aliases")
	_, err = cs.Lambda.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String("arn:aws:lambda:us-east-1:000000000000:function:nope")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found")
	_, err = cs.Lambda.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: map[string]string{"aws:x": "y"}})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "reserved prefix aws:")
	many := map[string]string{}
	for i := range 50 {
		many[string(rune('A'+i/26))+string(rune('a'+i%26))] = "v"
	}
	_, err = cs.Lambda.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: many})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "at most 50 tags")
}
