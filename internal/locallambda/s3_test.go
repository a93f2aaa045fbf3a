package locallambda

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestS3Endpoint(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()

	// As on AWS, a bucket must be created before use.
	_, err := cs.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("x"), Body: strings.NewReader("x")})
	ctlWantCode(t, err, "NoSuchBucket", "The specified bucket does not exist")
	if _, err := cs.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	objects := map[string]string{"fn.zip": "zip bytes", "a/b/c.txt": "c", "a/d.txt": "d", "a": "file a next to prefix a/"}
	for k, v := range objects {
		if _, err := cs.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(k), Body: strings.NewReader(v)}); err != nil {
			t.Fatalf("PutObject(%s): %v", k, err)
		}
	}
	for k, v := range objects {
		out, err := cs.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("GetObject(%s): %v", k, err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != v {
			t.Errorf("GetObject(%s) = %q; want %q", k, b, v)
		}
	}
	rng, err := cs.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("fn.zip"), Range: aws.String("bytes=4-")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rng.Body)
	rng.Body.Close()
	if string(b) != "bytes" {
		t.Errorf("ranged GetObject = %q", b)
	}
	list, err := cs.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("artifacts"), Prefix: aws.String("a/"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "a/d.txt" || len(list.CommonPrefixes) != 1 || aws.ToString(list.CommonPrefixes[0].Prefix) != "a/b/" {
		t.Errorf("ListObjectsV2(a/, /) = %+v / %+v", list.Contents, list.CommonPrefixes)
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(cs.s3, &s3.ListObjectsV2Input{Bucket: aws.String("artifacts"), MaxKeys: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if strings.Join(keys, ",") != "a,a/b/c.txt,a/d.txt,fn.zip" {
		t.Errorf("paged listing = %v", keys)
	}
	if _, err := cs.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("a")})
	if err == nil {
		t.Error("HeadObject found a deleted object")
	}
	_, err = cs.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("artifacts")})
	if err == nil {
		t.Error("DeleteBucket of a non-empty bucket succeeded")
	}
	buckets, err := cs.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 1 {
		t.Errorf("ListBuckets = %+v, %v", buckets, err)
	}
}

func TestCreateFunctionFromS3(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	zip := ctlBootstrapZip(t, "from-s3")
	if _, err := cs.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("builds/fn.zip"), Body: bytes.NewReader(zip)}); err != nil {
		t.Fatal(err)
	}
	in := ctlCreateInput("s3fn", nil)
	in.Code = &types.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String("builds/fn.zip")}
	out := cs.createActive(t, in)
	if aws.ToString(out.CodeSha256) != ctlCodeSha(zip) || out.CodeSize != int64(len(zip)) {
		t.Errorf("CodeSha256 %s, CodeSize %d; want the S3 object's", aws.ToString(out.CodeSha256), out.CodeSize)
	}

	zip2 := ctlBootstrapZip(t, "from-s3-2")
	if _, err := cs.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("builds/fn2.zip"), Body: bytes.NewReader(zip2)}); err != nil {
		t.Fatal(err)
	}
	up, err := cs.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("s3fn"), S3Bucket: aws.String("artifacts"), S3Key: aws.String("builds/fn2.zip")})
	if err != nil || aws.ToString(up.CodeSha256) != ctlCodeSha(zip2) {
		t.Fatalf("UpdateFunctionCode from S3 = %v, %v", up, err)
	}
	cs.waitUpdated(t, "s3fn")

	_, err = cs.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("s3fn"), S3Bucket: aws.String("artifacts"), S3Key: aws.String("missing.zip")})
	ctlWantError[*types.InvalidParameterValueException](t, err, `S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist (bucket "artifacts", key "missing.zip"`)
	_, err = cs.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("s3fn"), S3Bucket: aws.String("artifacts"),
		S3Key: aws.String("builds/fn2.zip"), S3ObjectVersion: aws.String("v2")})
	ctlWantError[*types.InvalidParameterValueException](t, err, "S3ObjectVersion is not supported by the local Lambda")
}
