package access

import (
	"cmp"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service is what a request is for: it decides what the request must
// carry and in which envelope a refusal is written.
type Service string

const (
	// Lambda is the Lambda REST API: signed requests only.
	Lambda Service = "lambda"
	// S3 is the S3 endpoint: signed requests or presigned URLs only.
	S3 Service = "s3"
	// Own is the local Lambda's own read-only resources (/_locallambda/…,
	// GET /metrics): no signature needed.
	Own Service = "own"
	// SNS is the SNS API (query protocol): signed requests only.
	SNS Service = "sns"
	// SNSLink is an SNS SubscribeURL or UnsubscribeURL: a GET that SNS
	// hands to an http(s) subscriber, which follows it unsigned, as it
	// follows AWS's. What it carries (the confirmation token, or the
	// subscription ARN with its random ID) is its credential, as on AWS:
	// no signature needed.
	SNSLink Service = "sns-link"
)

// Credentials are an AWS access key pair.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Config configures a Guard. Zero values take the documented defaults.
type Config struct {
	// Credentials, if set, are the one key pair whose signatures the
	// local Lambda accepts. Nil accepts any well-formed signature.
	Credentials *Credentials
	// Clock tells whether a presigned URL has expired. Default time.Now.
	Clock func() time.Time
	// TempDir holds the bodies larger than 1 MiB that verifying a Lambda
	// request reads (CreateFunction's ZipFile), so that none is whole in
	// memory. Default os.TempDir().
	TempDir string
}

// Guard applies the package's rules to requests. It is safe for
// concurrent use.
type Guard struct {
	creds   *Credentials
	clock   func() time.Time
	signer  *v4.Signer
	tempDir string
}

// New returns a Guard for cfg.
func New(cfg Config) *Guard {
	g := &Guard{clock: cfg.Clock, signer: v4.NewSigner(), tempDir: cmp.Or(cfg.TempDir, os.TempDir())}
	if g.clock == nil {
		g.clock = time.Now
	}
	if cfg.Credentials != nil {
		c := *cfg.Credentials
		g.creds = &c
	}
	return g
}

// Check returns nil for a request the local Lambda may serve as svc, and
// otherwise a *Refusal that says why not. Verifying a Lambda request
// against Credentials reads its body; Check puts back one that reads the
// same bytes, which the caller must close when it is done with the
// request (a large one is a temporary file).
func (g *Guard) Check(r *http.Request, svc Service) *Refusal {
	if f := checkHost(r.Host); f != nil {
		return f
	}
	if f := checkBrowser(r.Header); f != nil {
		return f
	}
	if svc == Own || svc == SNSLink {
		return nil
	}
	sig, f := parseSignature(r, svc, g.creds != nil)
	if f != nil {
		return f
	}
	if g.creds == nil {
		return nil
	}
	return g.verify(r, svc, sig)
}

// checkHost refuses a Host that is not a loopback name (rule 1).
func checkHost(hostport string) *Refusal {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return refuse(ReasonHost, "requests for host %q are refused: the local Lambda answers only to 127.0.0.1, [::1] and localhost, "+
		"so that a web page whose name points at this machine (DNS rebinding) cannot drive it; it runs code as you", hostport)
}

// checkBrowser refuses what a browser sends (rule 2).
func checkBrowser(h http.Header) *Refusal {
	const why = "requests from a web page are refused: the local Lambda runs code as you. " +
		"This request carries %s: %q, which browsers send and AWS SDKs and the AWS CLI do not"
	if vs, ok := h["Origin"]; ok {
		return refuse(ReasonBrowser, why, "Origin", strings.Join(vs, ", "))
	}
	if vs, ok := h["Sec-Fetch-Site"]; ok && (len(vs) != 1 || vs[0] != "none") {
		return refuse(ReasonBrowser, why, "Sec-Fetch-Site", strings.Join(vs, ", "))
	}
	return nil
}
