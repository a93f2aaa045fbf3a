package locallambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/sluice-cd/sluice/internal/locallambda/access"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// The attacks of issue 10: a web page drives the local Lambda, which runs
// code as the user. Each is played over HTTP against a real Server and
// must be refused with nothing created and nothing run, while the SDK
// goes on working on the same server.

// withCredentials makes the server verify signatures.
func withCredentials(id, secret string) ctlOption {
	return func(c *Config) { c.Credentials = &access.Credentials{AccessKeyID: id, SecretAccessKey: secret} }
}

// withClock gives the server a clock.
func withClock(now func() time.Time) ctlOption {
	return func(c *Config) { c.Clock = now }
}

// forgedAuthorization is what a page that can set headers (one rebound to
// this machine is same-origin with itself) would send: SigV4's shape.
var forgedAuthorization = "AWS4-HMAC-SHA256 Credential=page/20250314/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=" +
	strings.Repeat("0", 64)

// markerZip is a package whose bootstrap creates the file named by its
// MARKER variable as soon as it starts, then exits.
func markerZip(t *testing.T) []byte {
	return lambdatest.Zip(t, map[string]string{"bootstrap": "#!/bin/sh\ntouch \"$MARKER\"\nexit 1\n"})
}

func TestWebPageAttacksAreRefused(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	dir := t.TempDir()

	// A function that exists, legitimately created; invoking it would
	// create its marker.
	target := filepath.Join(dir, "target-ran")
	in := lambdatest.CreateInput("target", markerZip(t))
	in.Environment = &types.Environment{Variables: map[string]string{"MARKER": target}}
	cs.CreateActive(t, in)

	// What the page sends: CreateFunction of a shell bootstrap, then
	// Invoke, as text/plain (no CORS preflight).
	evil := filepath.Join(dir, "evil-ran")
	create, _ := json.Marshal(map[string]any{
		"FunctionName": "evil", "Role": lambdatest.Role, "Runtime": "provided.al2023", "Handler": "bootstrap",
		"Code":        map[string]string{"ZipFile": base64.StdEncoding.EncodeToString(markerZip(t))},
		"Environment": map[string]any{"Variables": map[string]string{"MARKER": evil}},
	})
	host := strings.TrimPrefix(cs.URL(), "http://")
	_, port, _ := strings.Cut(host, ":")
	page := map[string]string{"Content-Type": "text/plain;charset=UTF-8"}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range page {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name     string
		host     string // "" is the real one
		headers  map[string]string
		wantType string
		wantMsg  string
	}{
		{"cross-site fetch from a current browser", "", with(map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}),
			"AccessDeniedException", "requests from a web page are refused: the local Lambda runs code as you"},
		{"hostile Origin alone (a browser without Sec-Fetch)", "", with(map[string]string{"Origin": "http://evil.example"}),
			"AccessDeniedException", `Origin: "http://evil.example"`},
		{"hostile Origin with a forged signature", "", with(map[string]string{"Origin": "http://evil.example", "Authorization": forgedAuthorization}),
			"AccessDeniedException", "requests from a web page are refused"},
		{"Sec-Fetch-Site cross-site without Origin", "", with(map[string]string{"Sec-Fetch-Site": "cross-site"}),
			"AccessDeniedException", `Sec-Fetch-Site: "cross-site"`},
		{"another port of this machine (same-site)", "", with(map[string]string{"Sec-Fetch-Site": "same-site", "Authorization": forgedAuthorization}),
			"AccessDeniedException", `Sec-Fetch-Site: "same-site"`},
		{"a page served by this endpoint (same-origin)", "", with(map[string]string{"Sec-Fetch-Site": "same-origin", "Authorization": forgedAuthorization}),
			"AccessDeniedException", `Sec-Fetch-Site: "same-origin"`},
		{"DNS rebinding, with a forged signature", "rebind.evil.example:" + port, with(map[string]string{"Authorization": forgedAuthorization}),
			"AccessDeniedException", `host "rebind.evil.example:` + port + `" are refused`},
		{"unsigned", "", with(nil), "MissingAuthenticationTokenException", "Missing Authentication Token"},
	}
	send := func(t *testing.T, host, method, path string, body []byte, headers map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, cs.URL()+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, call := range []struct{ method, path, body string }{
				{"POST", "/2015-03-31/functions", string(create)},
				{"POST", "/2015-03-31/functions/evil/invocations", `{}`},
				{"POST", "/2015-03-31/functions/target/invocations", `{}`},
				{"POST", "/2015-03-31/functions/target/invocations", `{}`}, // twice: no retry gets through either
			} {
				resp, body := send(t, tt.host, call.method, call.path, []byte(call.body), tt.headers)
				var env struct {
					Message string `json:"message"`
					Type    string `json:"__type"`
				}
				_ = json.Unmarshal(body, &env)
				if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != tt.wantType || env.Type != tt.wantType ||
					!strings.Contains(env.Message, tt.wantMsg) {
					t.Errorf("%s %s: %d %s %s; want 403 %s saying %q", call.method, call.path, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body, tt.wantType, tt.wantMsg)
				}
				if resp.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("%s %s: Access-Control-Allow-Origin %q", call.method, call.path, resp.Header.Get("Access-Control-Allow-Origin"))
				}
			}
			// The same page against S3: create a bucket, upload an object.
			for _, call := range []struct{ method, path string }{{"PUT", "/evil"}, {"PUT", "/evil/page.html"}, {"GET", "/"}} {
				resp, body := send(t, tt.host, call.method, call.path, []byte("<script></script>"), tt.headers)
				if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("<Code>AccessDenied</Code>")) {
					t.Errorf("S3 %s %s: %d %s; want 403 AccessDenied", call.method, call.path, resp.StatusCode, body)
				}
			}
		})
	}

	// Nothing was created, nothing ran.
	out, err := cs.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range out.Functions {
		names = append(names, aws.ToString(f.FunctionName))
	}
	if strings.Join(names, ",") != "target" {
		t.Errorf("functions after the attacks: %v; want only target", names)
	}
	buckets, err := cs.S3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets.Buckets {
		t.Errorf("bucket %s exists after the attacks; want none", aws.ToString(b.Name))
	}
	for _, marker := range []string{evil, target} {
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists (%v): a function ran", filepath.Base(marker), err)
		}
	}
	// The marker does tell: the SDK's Invoke runs target.
	if _, err := cs.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("target")}); err != nil {
		t.Fatalf("Invoke through the SDK: %v", err)
	}
	sluicetest.WaitFor(t, "target's marker", 10*time.Second, func() bool {
		_, err := os.Stat(target)
		return err == nil
	})
}

// TestOwnResourcesStayReadable: Prometheus, curl and Sluice's own server
// read /metrics and /_locallambda/… without signing; no page does.
func TestOwnResourcesStayReadable(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	get := func(path string, headers ...string) int {
		t.Helper()
		req, err := http.NewRequest("GET", cs.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		path    string
		headers []string
		want    int
	}{
		{"/metrics", nil, 200},
		{"/_locallambda/metrics/query?function=f", nil, 200},
		{"/_locallambda/metrics/query?function=f", []string{"Sec-Fetch-Site", "none"}, 200}, // typed into the address bar
		{"/_locallambda/functions/f/code/nope.zip", nil, 404},                               // served: there is no such package
		{"/metrics", []string{"Origin", "http://evil.example"}, 403},
		{"/_locallambda/metrics/query?function=f", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"/_locallambda/metrics/query?function=f", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"/_locallambda/metrics/samples?function=f", nil, 200},
		{"/_locallambda/metrics/samples?function=f&samples=true", []string{"Origin", "http://evil.example"}, 403},
		{"/_locallambda/metrics/samples?function=f", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"/2015-03-31/functions", nil, 403},                                // the Lambda API is not among them
		{"/2015-03-31/functions", []string{"Sec-Fetch-Site", "none"}, 403}, // unsigned
	}
	for _, tt := range tests {
		if got := get(tt.path, tt.headers...); got != tt.want {
			t.Errorf("GET %s %v: %d; want %d", tt.path, tt.headers, got, tt.want)
		}
	}
}

func TestLoopbackHosts(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	_, port, _ := strings.Cut(strings.TrimPrefix(cs.URL(), "http://"), ":")
	for host, want := range map[string]int{
		"127.0.0.1:" + port:              200,
		"localhost:" + port:              200,
		"LOCALHOST:" + port:              200,
		"[::1]:" + port:                  200,
		"127.0.0.2:" + port:              200,
		"localhost":                      200,
		"evil.example:" + port:           403,
		"localhost.evil.example:" + port: 403,
		"127.0.0.1.nip.io:" + port:       403,
		"0.0.0.0:" + port:                403,
		"192.168.1.10:" + port:           403,
		"sub.localhost:" + port:          403,
	} {
		req, err := http.NewRequest("GET", cs.URL()+"/2015-03-31/functions", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		lambdatest.Sign(t, req, nil, "lambda", lambdatest.AccessKeyID, lambdatest.SecretAccessKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d; want %d", host, resp.StatusCode, want)
		}
	}
}

// TestSignatureVerification runs a server configured with credentials:
// the SDKs sign with them and work, on the Lambda API and S3 alike;
// another secret, another key, a changed body, a changed or expired
// presigned URL are refused as AWS refuses them.
func TestSignatureVerification(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64 // the server clock's lead, in nanoseconds
	cs := newCtlServer(t, withCredentials(lambdatest.AccessKeyID, lambdatest.SecretAccessKey),
		withClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }))
	ctx := context.Background()

	// The SDK signs right: the Lambda API, ARNs escaped in the path, query
	// parameters, Invoke, and S3 with keys that need escaping.
	in := lambdatest.CreateInput("signed", lambdatest.FunctionZip(t))
	in.Handler = aws.String("echo")
	cs.CreateActive(t, in)
	arn := "arn:aws:lambda:us-east-1:000000000000:function:signed"
	if _, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn), Qualifier: aws.String("$LATEST")}); err != nil {
		t.Fatalf("GetFunction by ARN: %v", err)
	}
	if _, err := cs.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(1), FunctionVersion: types.FunctionVersionAll}); err != nil {
		t.Fatalf("ListFunctions with a query: %v", err)
	}
	out, err := cs.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("signed"), Payload: []byte(`{"n": 1}`)})
	if err != nil || out.FunctionError != nil || !bytes.Contains(out.Payload, []byte(`"n"`)) {
		t.Fatalf("Invoke: %v %v %s", err, out.FunctionError, out.Payload)
	}
	if _, err := cs.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("signed")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	key := "builds/a b+c=d/ü.zip"
	if _, err := cs.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("signed"), Key: aws.String(key), Body: strings.NewReader("PK")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	obj, err := cs.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("signed"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	obj.Body.Close()
	if _, err := cs.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("signed"), Prefix: aws.String("builds/a b")}); err != nil {
		t.Fatalf("ListObjectsV2 with a prefix: %v", err)
	}
	presigned, err := s3.NewPresignClient(cs.S3).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("signed"), Key: aws.String(key)},
		s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := httpGet(t, presigned.URL); status != 200 || body != "PK" {
		t.Errorf("presigned GET: %d %q; want 200 PK", status, body)
	}

	// Refused: the wrong secret, another access key.
	wrong := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(cs.URL()), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: lambdatest.AccessKeyID, SecretAccessKey: "guess"}, nil
		})})
	_, err = wrong.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	lambdatest.WantCode(t, err, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided")
	_, err = wrong.CreateFunction(ctx, lambdatest.CreateInput("unsigned-fn", lambdatest.BootstrapZip(t, "w")))
	lambdatest.WantCode(t, err, "InvalidSignatureException", "does not match")
	other := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(cs.URL()), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "sluice-local", SecretAccessKey: lambdatest.SecretAccessKey}, nil
		})})
	_, err = other.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	lambdatest.WantCode(t, err, "UnrecognizedClientException", `the access key "sluice-local" is not the one`)
	wrongS3 := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(cs.URL()), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: lambdatest.AccessKeyID, SecretAccessKey: "guess"}, nil
		})})
	_, err = wrongS3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("signed"), Key: aws.String("evil.zip"), Body: strings.NewReader("PK")})
	lambdatest.WantCode(t, err, "SignatureDoesNotMatch", "does not match")
	otherS3 := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(cs.URL()), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "x", SecretAccessKey: "x"}, nil
		})})
	_, err = otherS3.ListBuckets(ctx, &s3.ListBucketsInput{})
	lambdatest.WantCode(t, err, "InvalidAccessKeyId", `the access key "x"`)

	// Refused: a body changed after signing (the signature covers its hash).
	body := []byte(`{"FunctionName":"swapped","Role":"` + lambdatest.Role + `","Runtime":"provided.al2023","Handler":"b","Code":{"ZipFile":"` +
		base64.StdEncoding.EncodeToString(lambdatest.BootstrapZip(t, "s")) + `"}}`)
	req, err := http.NewRequest("POST", cs.URL()+"/2015-03-31/functions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	lambdatest.Sign(t, req, body, "lambda", lambdatest.AccessKeyID, lambdatest.SecretAccessKey)
	swapped := bytes.Replace(body, []byte(`"b"`), []byte(`"x"`), 1)
	req.Body, req.GetBody = io.NopCloser(bytes.NewReader(swapped)), nil
	resp, respBody := do(t, req)
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Errorf("a changed body: %d %s %s; want 403 InvalidSignatureException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), respBody)
	}
	// The same request unchanged is served: the body was put back whole.
	req, _ = http.NewRequest("POST", cs.URL()+"/2015-03-31/functions", bytes.NewReader(body))
	lambdatest.Sign(t, req, body, "lambda", lambdatest.AccessKeyID, lambdatest.SecretAccessKey)
	if resp, respBody := do(t, req); resp.StatusCode != 201 {
		t.Errorf("the signed CreateFunction: %d %s; want 201", resp.StatusCode, respBody)
	}
	cs.WaitActive(t, "swapped")
	// Unsigned is still refused, and says which credentials to use.
	resp, respBody = cs.unsigned(t, "GET", "/2015-03-31/functions")
	if resp.StatusCode != 403 || !strings.Contains(string(respBody), "local.credentials") {
		t.Errorf("unsigned: %d %s", resp.StatusCode, respBody)
	}

	// Refused: a presigned URL for another key, or past its expiry.
	if status, body := httpGet(t, strings.Replace(presigned.URL, "/signed/", "/signed/x", 1)); status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Errorf("a presigned URL for another key: %d %s; want 403 SignatureDoesNotMatch", status, body)
	}
	skew.Store(int64(2 * time.Minute))
	if status, body := httpGet(t, presigned.URL); status != 403 || !strings.Contains(body, "Request has expired") {
		t.Errorf("an expired presigned URL: %d %s; want 403 Request has expired", status, body)
	}
	skew.Store(0)

	// A presigned URL for the Lambda API is refused, even rightly signed:
	// presigned URLs are S3's.
	req, _ = http.NewRequest("GET", cs.URL()+"/2015-03-31/functions/signed/configuration", nil)
	req.URL.RawQuery = "X-Amz-Expires=60"
	uri, _, err := v4.NewSigner().PresignHTTP(ctx, aws.Credentials{AccessKeyID: lambdatest.AccessKeyID, SecretAccessKey: lambdatest.SecretAccessKey},
		req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "lambda", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := httpGet(t, uri); status != 403 || !strings.Contains(body, "IncompleteSignatureException") {
		t.Errorf("a presigned GetFunctionConfiguration: %d %s; want 403 IncompleteSignatureException", status, body)
	}

	// Nothing the refused requests asked for exists.
	for _, name := range []string{"unsigned-fn"} {
		_, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("GetFunction(%s) = %v; want ResourceNotFoundException", name, err)
		}
	}
	_, err = cs.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("signed"), Key: aws.String("evil.zip")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFound" {
		t.Errorf("HeadObject(evil.zip) = %v; want NotFound", err)
	}
}

func (cs *ctlServer) unsigned(t *testing.T, method, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, cs.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := do(t, req)
	return resp.StatusCode, string(b)
}
