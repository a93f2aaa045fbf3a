package s3

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// TestEndpoint drives the store over HTTP with aws-sdk-go-v2's S3 client,
// path-style, as the local Lambda's users do.
func TestEndpoint(t *testing.T) {
	t.Parallel()
	store, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(store.Handler())
	t.Cleanup(srv.Close)
	client := awss3.New(awss3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("x", "x", ""),
		UsePathStyle:     true,
		RetryMaxAttempts: 1,
	})
	ctx := context.Background()

	// As on AWS, a bucket must be created before use.
	_, err = client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("x"), Body: strings.NewReader("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucket" || !strings.Contains(ae.ErrorMessage(), "The specified bucket does not exist") {
		t.Fatalf("PutObject into a missing bucket: error = %v; want NoSuchBucket", err)
	}
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	objects := map[string]string{"fn.zip": "zip bytes", "a/b/c.txt": "c", "a/d.txt": "d", "a": "file a next to prefix a/"}
	for k, v := range objects {
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(k), Body: strings.NewReader(v)}); err != nil {
			t.Fatalf("PutObject(%s): %v", k, err)
		}
	}
	for k, v := range objects {
		out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("GetObject(%s): %v", k, err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != v {
			t.Errorf("GetObject(%s) = %q; want %q", k, b, v)
		}
	}
	rng, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("fn.zip"), Range: aws.String("bytes=4-")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rng.Body)
	rng.Body.Close()
	if string(b) != "bytes" {
		t.Errorf("ranged GetObject = %q", b)
	}
	list, err := client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("artifacts"), Prefix: aws.String("a/"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "a/d.txt" || len(list.CommonPrefixes) != 1 || aws.ToString(list.CommonPrefixes[0].Prefix) != "a/b/" {
		t.Errorf("ListObjectsV2(a/, /) = %+v / %+v", list.Contents, list.CommonPrefixes)
	}
	var keys []string
	p := awss3.NewListObjectsV2Paginator(client, &awss3.ListObjectsV2Input{Bucket: aws.String("artifacts"), MaxKeys: aws.Int32(2)})
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
	if _, err := client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	_, err = client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("a")})
	if err == nil {
		t.Error("HeadObject found a deleted object")
	}
	_, err = client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("artifacts")})
	if err == nil {
		t.Error("DeleteBucket of a non-empty bucket succeeded")
	}
	buckets, err := client.ListBuckets(ctx, &awss3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 1 {
		t.Errorf("ListBuckets = %+v, %v", buckets, err)
	}
}
