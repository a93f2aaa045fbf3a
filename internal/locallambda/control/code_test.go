package control

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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

// TestVersionsShareCode: versions with the same code share one unpacked
// directory (named by the code's SHA-256); deleting one of two versions
// that share it keeps it, and it goes only when no record references it.
func TestVersionsShareCode(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("shared", lambdatest.BootstrapZip(t, "same")))
	cs.Publish(t, "shared")
	// A configuration change makes version 2 with the same code.
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("shared"), Timeout: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	cs.WaitUpdated(t, "shared")
	if v := cs.Publish(t, "shared"); v != "2" {
		t.Fatalf("publish after a configuration change = %s; want 2", v)
	}
	cs.WaitVersionActive(t, "shared", "1")
	cs.WaitVersionActive(t, "shared", "2")
	dir := mustResolve(t, cs, "shared", "1").Primary.CodeDir
	for _, q := range []string{"2", "$LATEST"} {
		if got := mustResolve(t, cs, "shared", q).Primary.CodeDir; got != dir {
			t.Errorf("%s runs from %s; version 1, with the same code, from %s", q, got, dir)
		}
	}
	codeDirs := func() []string {
		t.Helper()
		names, err := lambdatest.DirNames(filepath.Dir(dir))
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got := codeDirs(); len(got) != 1 {
		t.Errorf("code directories for one package = %v; want one", got)
	}

	// Deleting version 1 keeps the directory version 2 uses.
	if _, err := cs.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("shared"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil {
		t.Fatalf("deleting version 1 removed the code version 2 shares: %v", err)
	}

	// New code for $LATEST: a second directory; deleting version 2, the
	// last record of the first code, removes the first.
	cs.UpdateCode(t, "shared", lambdatest.BootstrapZip(t, "other"))
	cs.WaitUpdated(t, "shared")
	if _, err := cs.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("shared"), Qualifier: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the code no version references any more is still there (%v)", err)
	}
	latest := mustResolve(t, cs, "shared", "$LATEST").Primary.CodeDir
	if got := codeDirs(); len(got) != 1 || got[0] != filepath.Base(latest) {
		t.Errorf("code directories = %v; want only $LATEST's %s", got, filepath.Base(latest))
	}

	// Publishing the new code unpacks nothing: the version shares $LATEST's.
	v := cs.Publish(t, "shared")
	cs.WaitVersionActive(t, "shared", v)
	if got := mustResolve(t, cs, "shared", v).Primary.CodeDir; got != latest {
		t.Errorf("version %s runs from %s; want $LATEST's %s", v, got, latest)
	}
}
