package bench

import (
	"archive/zip"
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
)

// The upload scenarios, in the order Uploads runs them on one server.
const (
	UploadPutObject      = "S3 PutObject"
	UploadMultipart      = "S3 multipart upload (8 MiB parts)"
	UploadCreateFromS3   = "CreateFunction from S3, until Active"
	UploadCreateZipFile  = "CreateFunction with ZipFile, until Active"
	UploadUpdateZipFile  = "UpdateFunctionCode with ZipFile, until updated"
	uploadMultipartChunk = 8 << 20 // the AWS CLI's default part size
)

// UploadScenarios lists the scenarios in the order Uploads runs them.
var UploadScenarios = []string{UploadPutObject, UploadMultipart, UploadCreateFromS3, UploadCreateZipFile, UploadUpdateZipFile}

// UploadOptions size an upload run; zero values take the sizes.
type UploadOptions struct {
	// Bin is the sluice binary whose `local serve` is measured. Required.
	Bin string
	// Dir holds the packages (made once, shared by runs) and, for each run,
	// the server's data directory. Required.
	Dir string
	// Size is the package of the S3 scenarios: 240 MiB.
	Size int64
	// ZipFileSize is the package sent inline as ZipFile: 49 MiB, whose
	// base64 fits the 69,905,067-byte request limit of the Lambda API.
	ZipFileSize int64
	// Clients upload at once: 4.
	Clients int
}

// Uploads runs each scenario on a fresh `Bin local serve` process, with
// Clients concurrent uploads, and reports the server's peak resident
// memory (VmHWM, in kB) during it: what a scenario needs first (objects to
// create functions from, functions to update, made small) is done before
// the peak is reset (/proc/PID/clear_refs). Linux only.
func Uploads(ctx context.Context, opts UploadOptions) (map[string]int64, error) {
	opts.Size = cmp.Or(opts.Size, 240<<20)
	opts.ZipFileSize = cmp.Or(opts.ZipFileSize, 49<<20)
	opts.Clients = cmp.Or(opts.Clients, 4)
	big, err := benchPackage(filepath.Join(opts.Dir, fmt.Sprintf("package-%d.zip", opts.Size)), opts.Size)
	if err != nil {
		return nil, err
	}
	inlinePath, err := benchPackage(filepath.Join(opts.Dir, fmt.Sprintf("package-%d.zip", opts.ZipFileSize)), opts.ZipFileSize)
	if err != nil {
		return nil, err
	}
	inline, err := os.ReadFile(inlinePath)
	if err != nil {
		return nil, err
	}
	tinyPath, err := benchPackage(filepath.Join(opts.Dir, "package-tiny.zip"), 1)
	if err != nil {
		return nil, err
	}
	tiny, err := os.ReadFile(tinyPath)
	if err != nil {
		return nil, err
	}
	res := map[string]int64{}
	for _, name := range UploadScenarios {
		var setup, run func(ctx context.Context, u *uploadServer, i int) error
		switch name {
		case UploadPutObject:
			run = func(ctx context.Context, u *uploadServer, i int) error { return u.put(ctx, big, i) }
		case UploadMultipart:
			run = func(ctx context.Context, u *uploadServer, i int) error {
				return multipartUpload(ctx, u.s3, big, fmt.Sprintf("multipart-%d", i))
			}
		case UploadCreateFromS3:
			setup = func(ctx context.Context, u *uploadServer, i int) error { return u.put(ctx, big, i) }
			run = func(ctx context.Context, u *uploadServer, i int) error {
				return createActive(ctx, u.lambda, fmt.Sprintf("fn-%d", i),
					&types.FunctionCode{S3Bucket: aws.String("bench"), S3Key: aws.String(fmt.Sprintf("put-%d", i))})
			}
		case UploadCreateZipFile:
			run = func(ctx context.Context, u *uploadServer, i int) error {
				return createActive(ctx, u.lambda, fmt.Sprintf("fn-%d", i), &types.FunctionCode{ZipFile: inline})
			}
		case UploadUpdateZipFile:
			setup = func(ctx context.Context, u *uploadServer, i int) error {
				return createActive(ctx, u.lambda, fmt.Sprintf("fn-%d", i), &types.FunctionCode{ZipFile: tiny})
			}
			run = func(ctx context.Context, u *uploadServer, i int) error {
				fn := aws.String(fmt.Sprintf("fn-%d", i))
				if _, err := u.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: fn, ZipFile: inline}); err != nil {
					return fmt.Errorf("update function code: %w", err)
				}
				w := lambda.NewFunctionUpdatedV2Waiter(u.lambda, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
					o.MinDelay, o.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
				})
				return w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: fn}, 5*time.Minute)
			}
		}
		kb, err := uploadScenario(ctx, opts, setup, run)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		res[name] = kb
	}
	return res, nil
}

// uploadServer is a `sluice local serve` process and clients of it.
type uploadServer struct {
	pid    int
	s3     *s3.Client
	lambda *lambda.Client
}

// put uploads the file at path as the object put-i.
func (u *uploadServer) put(ctx context.Context, path string, i int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = u.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("put-%d", i)), Body: f})
	return err
}

// uploadScenario starts a server, runs setup and then run for each
// client at once, and returns the server's peak RSS during run.
func uploadScenario(ctx context.Context, opts UploadOptions, setup, run func(context.Context, *uploadServer, int) error) (int64, error) {
	data, err := os.MkdirTemp(opts.Dir, "data-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(data)
	cmd := exec.CommandContext(ctx, opts.Bin, "local", "serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--log-level", "error")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	url, err := readLocalURL(out)
	if err != nil {
		return 0, err
	}
	go io.Copy(io.Discard, out)
	u := &uploadServer{
		pid: cmd.Process.Pid,
		s3: s3.New(s3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true, RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
			HTTPClient:  awsclient.LocalHTTPClient(opts.Clients * 2),
		}),
		lambda: benchLambdaClient(url, opts.Clients),
	}
	if _, err := u.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		return 0, fmt.Errorf("create bucket: %w", err)
	}
	all := func(f func(context.Context, *uploadServer, int) error) error {
		var wg sync.WaitGroup
		errs := make([]error, opts.Clients)
		for i := range opts.Clients {
			wg.Go(func() { errs[i] = f(ctx, u, i) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	if setup != nil {
		if err := all(setup); err != nil {
			return 0, fmt.Errorf("prepare: %w", err)
		}
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", u.pid), []byte("5"), 0); err != nil {
		return 0, fmt.Errorf("reset the peak memory of process %d: %w", u.pid, err)
	}
	if err := all(run); err != nil {
		return 0, err
	}
	return procStatusKB(u.pid, "VmHWM:")
}

// readLocalURL reads the URL `sluice local serve` prints when it listens.
func readLocalURL(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "local lambda: "); ok {
			url, _, _ := strings.Cut(rest, " ")
			return url, nil
		}
	}
	return "", fmt.Errorf("sluice local serve printed no URL (%v)", sc.Err())
}

// benchPackage writes (once) a deployment package at path: a bootstrap
// and a blob of size incompressible bytes, stored uncompressed, so that
// the zip is as large as its content.
func benchPackage(path string, size int64) (string, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > size {
		return path, nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	zw := zip.NewWriter(f)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Store, ExternalAttrs: 0o755 << 16, CreatorVersion: 3 << 8})
	if err == nil {
		_, err = io.WriteString(w, "#!/bin/sh\nexec sleep 1\n")
	}
	if err == nil {
		w, err = zw.CreateHeader(&zip.FileHeader{Name: "blob", Method: zip.Store})
	}
	if err == nil {
		rnd := rand.NewChaCha8([32]byte{'s', 'l', 'u', 'i', 'c', 'e'})
		_, err = io.CopyN(w, rnd, size)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		f.Close()
		return "", fmt.Errorf("write the benchmark package: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// multipartUpload uploads the file at path as the AWS CLI does for a large
// file: 8 MiB parts, one after another.
func multipartUpload(ctx context.Context, c *s3.Client, path, key string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bench"), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	var parts []s3types.CompletedPart
	for n, off := int32(1), int64(0); off < fi.Size(); n, off = n+1, off+uploadMultipartChunk {
		size := min(uploadMultipartChunk, fi.Size()-off)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bench"), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: io.NewSectionReader(f, off, size), ContentLength: aws.Int64(size)})
		if err != nil {
			return fmt.Errorf("upload part %d: %w", n, err)
		}
		parts = append(parts, s3types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bench"), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// createActive creates a function with code and waits until it is Active.
func createActive(ctx context.Context, c *lambda.Client, name string, code *types.FunctionCode) error {
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String("arn:aws:iam::000000000000:role/bench"), Code: code,
	}); err != nil {
		return fmt.Errorf("create function %s: %w", name, err)
	}
	w := lambda.NewFunctionActiveV2Waiter(c, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
	})
	return w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 5*time.Minute)
}

// procStatusKB reads one "kB" field of /proc/PID/status (VmRSS:, VmHWM:).
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
