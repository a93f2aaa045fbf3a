package lambdatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

// Endpoint is a local Lambda endpoint as its tests drive it: aws-sdk-go-v2
// clients for its Lambda API and its S3, and helpers that wait as the
// SDK's waiters do.
type Endpoint struct {
	// BaseURL is the endpoint, e.g. "http://127.0.0.1:41234".
	BaseURL string
	Lambda  *lambda.Client
	S3      *s3.Client
	SQS     *sqs.Client
}

// The credentials the tests' clients sign with. A local Lambda without
// Credentials accepts any; one configured with these verifies them.
const (
	AccessKeyID     = "AKIDEXAMPLE"
	SecretAccessKey = "secret"
)

// NewEndpoint points clients at url. They do not retry, so a test sees
// every error.
func NewEndpoint(url string) *Endpoint {
	return &Endpoint{BaseURL: url, Lambda: LambdaClient(url, 1), S3: S3Client(url), SQS: SQSClient(url)}
}

// LambdaClient is a Lambda client for url that makes at most attempts
// attempts per call.
func LambdaClient(url string, attempts int) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		RetryMaxAttempts: attempts,
	})
}

// S3Client is a path-style S3 client for url.
func S3Client(url string) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		UsePathStyle:     true,
		RetryMaxAttempts: 1,
	})
}

// SQSClient is an SQS client (JSON protocol) for url that does not retry.
func SQSClient(url string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	})
}

// CreateActive creates a function and waits until it is Active.
func (e *Endpoint) CreateActive(tb testing.TB, in *lambda.CreateFunctionInput) *lambda.CreateFunctionOutput {
	tb.Helper()
	out, err := e.Lambda.CreateFunction(context.Background(), in)
	if err != nil {
		tb.Fatalf("CreateFunction(%s): %v", aws.ToString(in.FunctionName), err)
	}
	e.WaitActive(tb, aws.ToString(in.FunctionName))
	return out
}

// WaitActive waits with the SDK's FunctionActiveV2 waiter.
func (e *Endpoint) WaitActive(tb testing.TB, name string) {
	tb.Helper()
	w := lambda.NewFunctionActiveV2Waiter(e.Lambda, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 10*time.Second); err != nil {
		tb.Fatalf("FunctionActiveV2 %s: %v", name, err)
	}
}

// WaitUpdated waits with the SDK's FunctionUpdatedV2 waiter.
func (e *Endpoint) WaitUpdated(tb testing.TB, name string) {
	tb.Helper()
	w := lambda.NewFunctionUpdatedV2Waiter(e.Lambda, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 10*time.Second); err != nil {
		tb.Fatalf("FunctionUpdatedV2 %s: %v", name, err)
	}
}

// WaitVersionActive waits with the SDK's PublishedVersionActive waiter.
func (e *Endpoint) WaitVersionActive(tb testing.TB, name, version string) {
	tb.Helper()
	w := lambda.NewPublishedVersionActiveWaiter(e.Lambda, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: aws.String(version)}
	if err := w.Wait(context.Background(), in, 10*time.Second); err != nil {
		tb.Fatalf("PublishedVersionActive %s:%s: %v", name, version, err)
	}
}

// Publish publishes a version and waits for it to be Active.
func (e *Endpoint) Publish(tb testing.TB, name string) string {
	tb.Helper()
	out, err := e.Lambda.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		tb.Fatalf("PublishVersion(%s): %v", name, err)
	}
	v := aws.ToString(out.Version)
	e.WaitVersionActive(tb, name, v)
	return v
}

// UpdateCode replaces a function's code and waits for the update.
func (e *Endpoint) UpdateCode(tb testing.TB, name string, zip []byte) *lambda.UpdateFunctionCodeOutput {
	tb.Helper()
	out, err := e.Lambda.UpdateFunctionCode(context.Background(), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip})
	if err != nil {
		tb.Fatalf("UpdateFunctionCode(%s): %v", name, err)
	}
	e.WaitUpdated(tb, name)
	return out
}

// RawRequest sends a request to the endpoint without the SDK, signed as
// the Lambda client signs it.
func (e *Endpoint) RawRequest(tb testing.TB, method, path string, body []byte) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, e.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	Sign(tb, req, body, "lambda", AccessKeyID, SecretAccessKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Sign signs req with AWS Signature Version 4 for service ("lambda" or
// "s3") in us-east-1, as aws-sdk-go-v2 does: the payload hash is body's
// SHA-256, which S3 also gets in X-Amz-Content-Sha256.
func Sign(tb testing.TB, req *http.Request, body []byte, service, accessKeyID, secret string) {
	tb.Helper()
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	creds := aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secret}
	err := v4.NewSigner().SignHTTP(req.Context(), creds, req, hash, service, "us-east-1", time.Now(), func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = service == "s3"
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// WantError checks that err is the typed SDK error T and that its message
// contains want.
func WantError[T error](tb testing.TB, err error, want string) T {
	tb.Helper()
	var target T
	if !errors.As(err, &target) {
		tb.Fatalf("error = %v (%T); want %T", err, err, target)
	}
	if !strings.Contains(target.Error(), want) {
		tb.Fatalf("error = %q; want it to contain %q", target.Error(), want)
	}
	return target
}

// WantCode checks an error the Lambda model does not declare
// (ValidationException, UnknownOperationException) by its code.
func WantCode(tb testing.TB, err error, code, want string) {
	tb.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		tb.Fatalf("error = %v; want an API error %s", err, code)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), want) {
		tb.Fatalf("error = %s: %q; want %s containing %q", ae.ErrorCode(), ae.ErrorMessage(), code, want)
	}
}
