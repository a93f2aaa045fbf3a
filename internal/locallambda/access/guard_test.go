package access

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const goodAuth = "AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, " +
	"Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestCheckWithoutCredentials(t *testing.T) {
	t.Parallel()
	g := New(Config{})
	sig := strings.Repeat("a", 64)
	presigned := "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250314%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20250314T150926Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + sig
	tests := []struct {
		name    string
		svc     Service
		target  string
		host    string
		headers map[string]string
		want    Reason // "" is served
	}{
		{"signed", Lambda, "/2015-03-31/functions", "127.0.0.1:8085", map[string]string{"Authorization": goodAuth}, ""},
		{"presigned", S3, "/b/k" + presigned, "localhost:8085", nil, ""},
		{"own unsigned", Own, "/metrics", "[::1]:8085", nil, ""},
		{"own typed in the address bar", Own, "/metrics", "localhost:8085", map[string]string{"Sec-Fetch-Site": "none"}, ""},
		{"own from a page", Own, "/metrics", "localhost:8085", map[string]string{"Sec-Fetch-Site": "cross-site"}, ReasonBrowser},
		{"rebinding", Lambda, "/", "evil.example:8085", map[string]string{"Authorization": goodAuth}, ReasonHost},
		{"rebinding own", Own, "/metrics", "evil.example", nil, ReasonHost},
		{"no host", Lambda, "/", "", map[string]string{"Authorization": goodAuth}, ReasonHost},
		{"origin", Lambda, "/", "127.0.0.1:1", map[string]string{"Authorization": goodAuth, "Origin": "null"}, ReasonBrowser},
		{"same-origin", S3, "/", "127.0.0.1:1", map[string]string{"Authorization": goodAuth, "Sec-Fetch-Site": "same-origin"}, ReasonBrowser},
		{"unsigned", Lambda, "/", "127.0.0.1:1", nil, ReasonUnsigned},
		{"unsigned S3", S3, "/", "127.0.0.1:1", nil, ReasonUnsigned},
		{"SigV2", S3, "/", "127.0.0.1:1", map[string]string{"Authorization": "AWS AKID:c2lnbmF0dXJl"}, ReasonMalformed},
		{"no host signed", Lambda, "/", "127.0.0.1:1", map[string]string{"Authorization": strings.Replace(goodAuth, "host;", "", 1)}, ReasonMalformed},
		{"short signature", Lambda, "/", "127.0.0.1:1", map[string]string{"Authorization": strings.Replace(goodAuth, "0123", "", 1)}, ReasonMalformed},
		{"bad scope", Lambda, "/", "127.0.0.1:1", map[string]string{"Authorization": strings.Replace(goodAuth, "/aws4_request", "", 1)}, ReasonMalformed},
		{"signed twice", S3, "/b/k" + presigned, "127.0.0.1:1", map[string]string{"Authorization": goodAuth}, ReasonMalformed},
		{"presigned Lambda", Lambda, "/2015-03-31/functions" + presigned, "127.0.0.1:1", nil, ReasonMalformed},
		{"presigned with SigV2", S3, "/b/k?AWSAccessKeyId=x&Signature=BrDe3rQLqT4KgLaWMXi0myyS548%3D&Expires=1796594697", "127.0.0.1:1", nil, ReasonMalformed},
		{"presigned without expiry", S3, "/b/k" + strings.Replace(presigned, "X-Amz-Expires=60", "X-Amz-Expires=0", 1), "127.0.0.1:1", nil, ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			r.Host = tt.host
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			f := g.Check(r, tt.svc)
			switch {
			case tt.want == "" && f != nil:
				t.Fatalf("Check = %v; want it served", f)
			case tt.want != "" && (f == nil || f.Reason != tt.want):
				t.Fatalf("Check = %v; want a refusal for %s", f, tt.want)
			}
		})
	}
}

func TestRefusalEnvelopes(t *testing.T) {
	t.Parallel()
	for reason := range answers {
		f := refuse(reason, "why")
		if e := f.Lambda(); e.Status < 400 || !strings.HasSuffix(e.Type, "Exception") || e.Message != "why" {
			t.Errorf("%s: Lambda %+v", reason, e)
		}
		if status, code := f.S3(); status < 400 || code == "" {
			t.Errorf("%s: S3 %d %q", reason, status, code)
		}
	}
}

// signed is a request signed as aws-sdk-go-v2 signs it.
func signed(t *testing.T, method, target, service string, body []byte, secret string, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:8085"+target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Amz-Sdk-Request", "attempt=1;  max=3") // spaces the signer collapses
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if service == "s3" {
		r.Header.Set("X-Amz-Content-Sha256", hash)
	}
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: secret}, r, hash, service, "us-east-1", at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	if err != nil {
		t.Fatal(err)
	}
	// What the transport adds after signing, which is not signed.
	r.Header.Set("User-Agent", "test")
	r.Header.Set("Accept-Encoding", "gzip")
	return r
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	clock := now
	g := New(Config{Credentials: &Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, Clock: func() time.Time { return clock }})
	body := []byte(`{"FunctionName":"f"}`)
	arnPath := "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations?Qualifier=%24LATEST&x=a%20b"

	r := signed(t, "POST", arnPath, "lambda", body, "secret", now)
	if f := g.Check(r, Lambda); f != nil {
		t.Fatalf("a signed Lambda request: %v", f)
	}
	if got, _ := io.ReadAll(r.Body); !bytes.Equal(got, body) {
		t.Fatalf("the body after Check = %q; want %q", got, body)
	}
	r = signed(t, "PUT", "/bucket/a%20b/%C3%BC+c.zip", "s3", body, "secret", now)
	if f := g.Check(r, S3); f != nil {
		t.Fatalf("a signed S3 request: %v", f)
	}

	tests := []struct {
		name string
		r    func() *http.Request
		svc  Service
		want Reason
	}{
		{"wrong secret", func() *http.Request { return signed(t, "POST", arnPath, "lambda", body, "guess", now) }, Lambda, ReasonSignature},
		{"changed body", func() *http.Request {
			r := signed(t, "POST", arnPath, "lambda", body, "secret", now)
			r.Body = io.NopCloser(strings.NewReader(`{"FunctionName":"g"}`))
			return r
		}, Lambda, ReasonSignature},
		{"changed path", func() *http.Request {
			r := signed(t, "POST", arnPath, "lambda", body, "secret", now)
			r.URL.Path, r.URL.RawPath = "/2015-03-31/functions/g/invocations", ""
			return r
		}, Lambda, ReasonSignature},
		{"changed query", func() *http.Request {
			r := signed(t, "POST", arnPath, "lambda", body, "secret", now)
			r.URL.RawQuery = "Qualifier=1"
			return r
		}, Lambda, ReasonSignature},
		{"changed signed header", func() *http.Request {
			r := signed(t, "POST", arnPath, "lambda", body, "secret", now)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, Lambda, ReasonSignature},
		{"changed X-Amz-Content-Sha256", func() *http.Request {
			r := signed(t, "PUT", "/bucket/k", "s3", body, "secret", now)
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return r
		}, S3, ReasonSignature},
		{"S3 without X-Amz-Content-Sha256", func() *http.Request {
			r := signed(t, "PUT", "/bucket/k", "s3", body, "secret", now)
			r.Header.Del("X-Amz-Content-Sha256")
			return r
		}, S3, ReasonMalformed},
		{"no X-Amz-Date", func() *http.Request {
			r := signed(t, "GET", "/2015-03-31/functions", "lambda", nil, "secret", now)
			r.Header.Del("X-Amz-Date")
			return r
		}, Lambda, ReasonMalformed},
		{"another key", func() *http.Request {
			r := signed(t, "GET", "/2015-03-31/functions", "lambda", nil, "secret", now)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Credential=AKID/", "Credential=OTHER/", 1))
			return r
		}, Lambda, ReasonUnknownKey},
		{"too large", func() *http.Request {
			r := signed(t, "POST", arnPath, "lambda", body, "secret", now)
			r.ContentLength = maxBody + 1
			return r
		}, Lambda, ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f := g.Check(tt.r(), tt.svc); f == nil || f.Reason != tt.want {
				t.Fatalf("Check = %v; want a refusal for %s", f, tt.want)
			}
		})
	}

	// Presigned URLs, valid until they expire.
	req, _ := http.NewRequest("GET", "http://localhost:8085/bucket/a%20b.zip?X-Amz-Expires=60", nil)
	uri, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", now, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	presigned := httptest.NewRequest("GET", u.RequestURI(), nil)
	presigned.Host = "localhost:8085"
	if f := g.Check(presigned, S3); f != nil {
		t.Fatalf("a presigned URL: %v", f)
	}
	tampered := httptest.NewRequest("GET", strings.Replace(u.RequestURI(), "a%20b", "c", 1), nil)
	tampered.Host = "localhost:8085"
	if f := g.Check(tampered, S3); f == nil || f.Reason != ReasonSignature {
		t.Fatalf("a presigned URL for another key: %v; want a signature refusal", f)
	}
	clock = now.Add(61 * time.Second)
	if f := g.Check(presigned, S3); f == nil || f.Reason != ReasonExpired {
		t.Fatalf("an expired presigned URL: %v; want it refused as expired", f)
	}
}

// FuzzParseSignature feeds arbitrary Authorization headers and queries to
// the parser: it must never panic, and whatever it accepts must be
// SigV4's shape.
func FuzzParseSignature(f *testing.F) {
	f.Add(goodAuth, "")
	f.Add("", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250314%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250314T150926Z"+
		"&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature="+strings.Repeat("f", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature=", "")
	f.Add("AWS4-HMAC-SHA256 ,,,==", "X-Amz-Signature")
	f.Add("Bearer x", "X-Amz-Algorithm=&X-Amz-Expires=-1")
	f.Fuzz(func(t *testing.T, auth, query string) {
		r := &http.Request{Method: "GET", Host: "127.0.0.1", URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{}}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		for _, verify := range []bool{false, true} {
			sig, f := parseSignature(r, S3, verify)
			if (sig == nil) == (f == nil) {
				t.Fatalf("parseSignature = %v, %v; want exactly one", sig, f)
			}
			if f != nil {
				if f.Message == "" || answers[f.Reason].lambdaType == "" {
					t.Fatalf("refusal %+v", f)
				}
				continue
			}
			if sig.accessKey == "" || sig.region == "" || sig.service == "" || len(sig.value) != 64 || !strings.Contains(";"+strings.Join(sig.signedHeaders, ";")+";", ";host;") {
				t.Fatalf("accepted %+v", sig)
			}
			if sig.presigned && (sig.at.IsZero() || sig.expires <= 0) {
				t.Fatalf("accepted a presigned URL without time: %+v", sig)
			}
		}
	})
}

// TestVerifyLargeBody: a body larger than maxMemoryBody is verified
// through a file of TempDir, which the handler reads the same bytes from,
// and which Close removes.
func TestVerifyLargeBody(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	tmp := t.TempDir()
	g := New(Config{Credentials: &Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, Clock: func() time.Time { return now }, TempDir: tmp})
	body := bytes.Repeat([]byte("0123456789abcdef"), 3*maxMemoryBody/16)

	r := signed(t, "POST", "/2015-03-31/functions", "lambda", body, "secret", now)
	if f := g.Check(r, Lambda); f != nil {
		t.Fatalf("a signed request with a %d-byte body: %v", len(body), f)
	}
	if names := dirNames(t, tmp); len(names) != 1 {
		t.Errorf("TempDir holds %q; want the one file the body is in", names)
	}
	if got, _ := io.ReadAll(r.Body); !bytes.Equal(got, body) {
		t.Errorf("the body after Check is %d bytes, not the %d sent", len(got), len(body))
	}
	r.Body.Close()

	// A body changed after signing is refused; closing it removes it too.
	r = signed(t, "POST", "/2015-03-31/functions", "lambda", body, "secret", now)
	r.Body = io.NopCloser(bytes.NewReader(append(bytes.Clone(body[:len(body)-1]), '!')))
	if f := g.Check(r, Lambda); f == nil || f.Reason != ReasonSignature {
		t.Errorf("a changed large body: Check = %v; want a signature refusal", f)
	}
	r.Body.Close()
	if names := dirNames(t, tmp); len(names) != 0 {
		t.Errorf("TempDir still holds %q after the bodies were closed", names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
