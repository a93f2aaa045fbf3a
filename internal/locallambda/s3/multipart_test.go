package s3

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestMultipartUpload drives a multipart upload through aws-sdk-go-v2:
// its parts are files of the store's directory while it is in progress,
// listed as uploaded, and joined in order on completion; an aborted
// upload and one left unfinished at a restart leave nothing behind.
func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(store.Handler())
	t.Cleanup(srv.Close)
	client := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""),
	})
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("big")}); err != nil {
		t.Fatal(err)
	}
	up, err := client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("pkg.zip"),
		Metadata: map[string]string{"built-by": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{bytes.Repeat([]byte("a"), 100<<10), bytes.Repeat([]byte("b"), 70<<10), []byte("c")}
	var done []s3types.CompletedPart
	for i := len(parts) - 1; i >= 0; i-- { // out of order, as parallel uploaders send them
		n := int32(i + 1)
		out, err := client.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("pkg.zip"), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(parts[i])})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", n, err)
		}
		done = append([]s3types.CompletedPart{{PartNumber: aws.Int32(n), ETag: out.ETag}}, done...)
		fi, err := os.Stat(filepath.Join(dir, "uploads", aws.ToString(up.UploadId), strconv.Itoa(int(n))))
		if err != nil || fi.Size() != int64(len(parts[i])) {
			t.Errorf("part %d on disk: %v (err %v); want a file of %d bytes", n, fi, err, len(parts[i]))
		}
	}
	listed, err := client.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("big"), Key: aws.String("pkg.zip"), UploadId: up.UploadId})
	if err != nil || len(listed.Parts) != 3 || aws.ToInt64(listed.Parts[1].Size) != int64(len(parts[1])) || aws.ToString(listed.Parts[1].ETag) != aws.ToString(done[1].ETag) {
		t.Errorf("ListParts = %+v (err %v)", listed, err)
	}
	uploads, err := client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String("big")})
	if err != nil || len(uploads.Uploads) != 1 || aws.ToString(uploads.Uploads[0].UploadId) != aws.ToString(up.UploadId) {
		t.Errorf("ListMultipartUploads = %+v (err %v)", uploads, err)
	}

	// A part list out of order, or naming a part never sent, is refused.
	for _, bad := range [][]s3types.CompletedPart{{done[1], done[0]}, {done[0], {PartNumber: aws.Int32(9), ETag: done[0].ETag}}} {
		if _, err := client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("pkg.zip"),
			UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: bad}}); err == nil {
			t.Errorf("CompleteMultipartUpload with parts %v succeeded", bad)
		}
	}
	if _, err := client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("pkg.zip"),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	got, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("pkg.zip")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(b, bytes.Join(parts, nil)) || got.Metadata["built-by"] != "test" {
		t.Errorf("the completed object is %d bytes with metadata %v; want the %d bytes of its parts in order", len(b), got.Metadata, len(bytes.Join(parts, nil)))
	}
	if _, err := os.Stat(filepath.Join(dir, "uploads", aws.ToString(up.UploadId))); !os.IsNotExist(err) {
		t.Errorf("the completed upload's parts are still on disk (%v)", err)
	}

	// Aborted: its parts go.
	ab, err := client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("gone")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("gone"), UploadId: ab.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("x"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("gone"), UploadId: ab.UploadId}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "uploads", aws.ToString(ab.UploadId))); !os.IsNotExist(err) {
		t.Errorf("the aborted upload's parts are still on disk (%v)", err)
	}
	if _, err := client.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("gone"), UploadId: ab.UploadId,
		PartNumber: aws.Int32(2), Body: bytes.NewReader([]byte("x"))}); err == nil {
		t.Error("UploadPart to an aborted upload succeeded")
	}

	// Unfinished at a restart: gone with it.
	left, err := client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("left")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("left"), UploadId: left.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("x"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "uploads")); !os.IsNotExist(err) {
		t.Errorf("a restart left the unfinished upload's parts (%v)", err)
	}
}
