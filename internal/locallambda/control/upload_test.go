package control

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestUploadsGoThroughFiles: a package arrives in a file of the upload
// directory and is moved, not copied, into place; whatever becomes of the
// request — created, refused, a dry run — the directory is empty after
// it.
func TestUploadsGoThroughFiles(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	tmp := filepath.Join(cs.dir, tmpRel)
	zip := lambdatest.BootstrapZip(t, "upload")
	if _, err := cs.S3.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("pkgs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.S3.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("pkgs"), Key: aws.String("k"), Body: bytes.NewReader(zip)}); err != nil {
		t.Fatal(err)
	}
	create := func(name string, code *types.FunctionCode) error {
		in := lambdatest.CreateInput(name, nil)
		in.Code = code
		_, err := cs.Lambda.CreateFunction(ctx, in)
		return err
	}
	steps := []struct {
		name    string
		do      func() error
		wantErr string
	}{
		{"create with ZipFile", func() error { return create("f", &types.FunctionCode{ZipFile: zip}) }, ""},
		{"create from S3", func() error {
			return create("g", &types.FunctionCode{S3Bucket: aws.String("pkgs"), S3Key: aws.String("k")})
		}, ""},
		{"name taken", func() error { return create("f", &types.FunctionCode{ZipFile: zip}) }, "ResourceConflictException"},
		{"not a zip", func() error { return create("h", &types.FunctionCode{ZipFile: []byte("not a zip")}) }, "Could not unzip"},
		{"ZipFile and S3", func() error {
			return create("h", &types.FunctionCode{ZipFile: zip, S3Bucket: aws.String("pkgs"), S3Key: aws.String("k")})
		}, "not both"},
		{"bad request", func() error {
			in := lambdatest.CreateInput("h", zip)
			in.Runtime = "cobol"
			_, err := cs.Lambda.CreateFunction(ctx, in)
			return err
		}, "ValidationException"},
		{"dry run", func() error {
			_, err := cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("f"), ZipFile: zip, DryRun: true})
			return err
		}, ""},
		{"update a missing function", func() error {
			_, err := cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("nope"), ZipFile: zip})
			return err
		}, "ResourceNotFoundException"},
		{"update", func() error {
			cs.WaitActive(t, "f")
			_, err := cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("f"), ZipFile: lambdatest.BootstrapZip(t, "v2")})
			return err
		}, ""},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case s.wantErr == "" && err != nil:
			t.Errorf("%s: %v", s.name, err)
		case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
			t.Errorf("%s: error %v; want %s", s.name, err, s.wantErr)
		}
		if names, _ := lambdatest.DirNames(tmp); len(names) > 0 {
			t.Errorf("%s: the upload directory holds %q", s.name, names)
		}
	}
	cs.WaitUpdated(t, "f")
	out, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("g")})
	if err != nil || out.Configuration.CodeSize != int64(len(zip)) {
		t.Errorf("GetFunction(g): CodeSize %d (err %v); want %d", out.Configuration.CodeSize, err, len(zip))
	}
}

// TestRequestMemoryIsShared: a request with a body waits while others
// hold Config.RequestMemory, and goes on when they are done.
func TestRequestMemoryIsShared(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, func(c *Config) { c.RequestMemory = 64 << 10 })
	tag := func(ctx context.Context) error {
		_, err := cs.Lambda.TagResource(ctx, &lambda.TagResourceInput{
			Resource: aws.String("arn:aws:lambda:us-east-1:000000000000:function:nope"), Tags: map[string]string{"a": "b"}})
		return err
	}
	// Answered at once while nothing else runs (the function is missing).
	if err := tag(context.Background()); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("TagResource: %v; want ResourceNotFoundException", err)
	}

	// A CreateFunction whose body stops half-way holds all of it.
	c, err := net.Dial("tcp", strings.TrimPrefix(cs.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"Code\":{\"ZipFile\":\"", 1<<20)
	// The server takes the memory when it reads the request's headers,
	// which it may not have done yet.
	for deadline := time.Now().Add(10 * time.Second); cs.bodies.TryAcquire(1); {
		cs.bodies.Release(1)
		if time.Now().After(deadline) {
			c.Close()
			t.Fatal("the stalled CreateFunction never took the request memory")
		}
		time.Sleep(time.Millisecond)
	}
	waitCtx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := tag(waitCtx); err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		c.Close()
		t.Fatalf("TagResource while the request memory is taken: %v; want it to wait (deadline exceeded)", err)
	}

	// The stalled client leaves; the memory is free again.
	c.Close()
	if err := tag(context.Background()); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("TagResource after the stalled request left: %v; want ResourceNotFoundException", err)
	}
}

// TestCodeRequestLimits: a code request's members other than ZipFile are
// bounded, and so is any other request's body.
func TestCodeRequestLimits(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	big := strings.Repeat("x", maxRequestMembers+1)
	for _, tt := range []struct {
		method, path, body, want string
	}{
		{"POST", "/2015-03-31/functions", `{"FunctionName":"f","Description":"` + big + `","Code":{"ZipFile":"UEs="}}`, "other than ZipFile must be smaller than 1048576 bytes"},
		{"PUT", "/2015-03-31/functions/f/code", `{"ZipFile":"UEs=","RevisionId":"` + big + `"}`, "other than ZipFile must be smaller than 1048576 bytes"},
		{"POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:f", `{"Tags":{"a":"` + big + `"}}`, "smaller than 1048576 bytes for the TagResource operation"},
	} {
		resp, body := cs.RawRequest(t, tt.method, tt.path, []byte(tt.body))
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s %s with %d bytes: %d %s; want 413 saying %q", tt.method, tt.path, len(tt.body), resp.StatusCode, body, tt.want)
		}
	}
}

// TestZipFileStreamsToDisk: the ZipFile of a CreateFunction is in a file
// of the upload directory, decoded, while the rest of the request is
// still on its way.
func TestZipFileStreamsToDisk(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	tmp := filepath.Join(cs.dir, tmpRel)
	blob := make([]byte, 1<<20)
	for i := range blob {
		blob[i] = byte(i * 7919 >> 3) // not compressible to nothing
	}
	zip := lambdatest.Zip(t, map[string]string{"bootstrap": "#!/bin/sh\n", "blob": string(blob)})
	body := `{"FunctionName":"streamed","Role":"` + lambdatest.Role + `","Runtime":"provided.al2023","Handler":"bootstrap","Code":{"ZipFile":"` +
		base64.StdEncoding.EncodeToString(zip) + `"}}`
	half := len(body) / 2

	c, err := net.Dial("tcp", strings.TrimPrefix(cs.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := http.NewRequest("POST", cs.srv.URL+"/2015-03-31/functions", strings.NewReader(body))
	lambdatest.Sign(t, req, []byte(body), "lambda", lambdatest.AccessKeyID, lambdatest.SecretAccessKey)
	var head strings.Builder
	fmt.Fprintf(&head, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, len(body))
	for k, vs := range req.Header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, vs[0])
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(c, head.String()+body[:half]); err != nil {
		t.Fatal(err)
	}
	// Half the base64 is a third of the zip.
	sluicetest.WaitFor(t, "the package's first half in the upload directory", 0, func() bool {
		entries, _ := os.ReadDir(tmp)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Size() >= int64(len(zip))/4 {
				return true
			}
		}
		return false
	})
	if _, err := io.WriteString(c, body[half:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("CreateFunction: %d; want 201", resp.StatusCode)
	}
	cs.WaitActive(t, "streamed")
	out, err := cs.Lambda.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("streamed")})
	sum := sha256.Sum256(zip)
	if err != nil || aws.ToString(out.Configuration.CodeSha256) != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("CodeSha256 %s (err %v); want the zip's", aws.ToString(out.Configuration.CodeSha256), err)
	}
}
