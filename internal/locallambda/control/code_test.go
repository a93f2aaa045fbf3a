package control

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

func TestCreateFunctionFromS3(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	zip := lambdatest.BootstrapZip(t, "from-s3")
	if _, err := cs.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("builds/fn.zip"), Body: bytes.NewReader(zip)}); err != nil {
		t.Fatal(err)
	}
	in := lambdatest.CreateInput("s3fn", nil)
	in.Code = &types.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String("builds/fn.zip")}
	out := cs.CreateActive(t, in)
	if aws.ToString(out.CodeSha256) != lambdatest.CodeSha(zip) || out.CodeSize != int64(len(zip)) {
		t.Errorf("CodeSha256 %s, CodeSize %d; want the S3 object's", aws.ToString(out.CodeSha256), out.CodeSize)
	}

	zip2 := lambdatest.BootstrapZip(t, "from-s3-2")
	if _, err := cs.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("builds/fn2.zip"), Body: bytes.NewReader(zip2)}); err != nil {
		t.Fatal(err)
	}
	up, err := cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("s3fn"), S3Bucket: aws.String("artifacts"), S3Key: aws.String("builds/fn2.zip")})
	if err != nil || aws.ToString(up.CodeSha256) != lambdatest.CodeSha(zip2) {
		t.Fatalf("UpdateFunctionCode from S3 = %v, %v", up, err)
	}
	cs.WaitUpdated(t, "s3fn")

	_, err = cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("s3fn"), S3Bucket: aws.String("artifacts"), S3Key: aws.String("missing.zip")})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, `S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist (bucket "artifacts", key "missing.zip"`)
	_, err = cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("s3fn"), S3Bucket: aws.String("artifacts"),
		S3Key: aws.String("builds/fn2.zip"), S3ObjectVersion: aws.String("v2")})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "S3ObjectVersion is not supported by the local Lambda")
}
