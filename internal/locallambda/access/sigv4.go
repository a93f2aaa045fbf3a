package access

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	timeFormat = "20060102T150405Z" // X-Amz-Date
	// maxBody is the largest body hashed to verify a Lambda request: the
	// largest request of any Lambda operation (CreateFunction's 50 MB zip,
	// base64-encoded in JSON), as the control plane refuses larger ones.
	maxBody = 69905067
	// maxMemoryBody is the largest body hashed in memory; a larger one
	// goes through a file of Config.TempDir.
	maxMemoryBody = 1 << 20
	// maxExpires is the longest a presigned URL may be valid: 7 days.
	maxExpires = 7 * 24 * 60 * 60
)

// signature is what a signed request says of its signature.
type signature struct {
	accessKey       string
	region, service string   // of the credential scope
	signedHeaders   []string // lower case, as listed
	value           string   // hex
	presigned       bool
	at              time.Time     // X-Amz-Date; zero for a header signature that is not verified
	expires         time.Duration // of a presigned URL
}

// parseSignature finds the request's SigV4 signature (rule 3): its
// Authorization header, or for S3 the query of a presigned URL. To verify
// a header signature the X-Amz-Date header is needed too.
func parseSignature(r *http.Request, svc Service, verify bool) (*signature, *Refusal) {
	auth := r.Header.Get("Authorization")
	var q url.Values
	if strings.Contains(r.URL.RawQuery, "X-Amz-") || strings.Contains(r.URL.RawQuery, "Signature=") {
		q = r.URL.Query()
	}
	presigned := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature")
	switch {
	case presigned && svc != S3:
		return nil, refuse(ReasonMalformed, "the Lambda API takes its signature in the Authorization header, not in the query: presigned URLs are S3's")
	case auth != "" && presigned:
		return nil, refuse(ReasonMalformed, "the request is signed twice, in its Authorization header and in its query (a presigned URL); "+
			"AWS Signature Version 4 takes one of them")
	case presigned:
		return parsePresigned(q)
	case auth == "" && q.Has("AWSAccessKeyId") && q.Has("Signature"):
		return nil, refuse(ReasonMalformed, "this presigned URL is signed with AWS Signature Version 2 (AWSAccessKeyId, Signature, Expires); "+
			"the local Lambda takes only Version 4 (X-Amz-Algorithm=AWS4-HMAC-SHA256). AWS CLI v1 makes such URLs: "+
			"run `aws configure set default.s3.signature_version s3v4` and presign again")
	case auth == "":
		return nil, unsigned(verify)
	}
	sig, msg := parseAuthorization(auth)
	if msg != "" {
		return nil, refuse(ReasonMalformed, "the Authorization header is not a well-formed AWS Signature Version 4: %s", msg)
	}
	if verify {
		at, err := time.Parse(timeFormat, r.Header.Get("X-Amz-Date"))
		if err != nil {
			return nil, refuse(ReasonMalformed, "a request signed with AWS Signature Version 4 needs an X-Amz-Date header like 20250314T150926Z; got %q",
				r.Header.Get("X-Amz-Date"))
		}
		sig.at = at
	}
	return sig, nil
}

func unsigned(verify bool) *Refusal {
	creds := "credentials (any will do, e.g. AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x) and a region"
	if verify {
		creds = "the access key and secret the local Lambda was configured with (local.credentials in Sluice's config), and a region"
	}
	return refuse(ReasonUnsigned, "Missing Authentication Token: the local Lambda serves only requests signed with AWS Signature Version 4, "+
		"as the AWS SDKs and the AWS CLI send them, because it runs code as you. Give your client %s", creds)
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/
// SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX"; a non-empty
// message says what is wrong with it.
func parseAuthorization(h string) (*signature, string) {
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		scheme, _, _ := strings.Cut(h, " ")
		return nil, "it starts with " + strconv.Quote(scheme) + ", not " + algorithm
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, "the part " + strconv.Quote(strings.TrimSpace(part)) + " is not NAME=VALUE"
		}
		fields[k] = v
	}
	sig := &signature{}
	if msg := sig.parseScope(fields["Credential"], "Credential"); msg != "" {
		return nil, msg
	}
	if msg := sig.parseSigned(fields["SignedHeaders"], fields["Signature"], "SignedHeaders", "Signature"); msg != "" {
		return nil, msg
	}
	return sig, ""
}

// parsePresigned parses the query parameters of a presigned URL.
func parsePresigned(q url.Values) (*signature, *Refusal) {
	bad := func(msg string) (*signature, *Refusal) {
		return nil, refuse(ReasonMalformed, "the presigned URL's query is not a well-formed AWS Signature Version 4: %s", msg)
	}
	if a := q.Get("X-Amz-Algorithm"); a != algorithm {
		return bad("X-Amz-Algorithm must be " + algorithm + ", not " + strconv.Quote(a))
	}
	sig := &signature{presigned: true}
	if msg := sig.parseScope(q.Get("X-Amz-Credential"), "X-Amz-Credential"); msg != "" {
		return bad(msg)
	}
	if msg := sig.parseSigned(q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"), "X-Amz-SignedHeaders", "X-Amz-Signature"); msg != "" {
		return bad(msg)
	}
	at, err := time.Parse(timeFormat, q.Get("X-Amz-Date"))
	if err != nil {
		return bad("X-Amz-Date must be a time like 20250314T150926Z, not " + strconv.Quote(q.Get("X-Amz-Date")))
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 1 || expires > maxExpires {
		return bad("X-Amz-Expires must be a number of seconds from 1 to 604800, not " + strconv.Quote(q.Get("X-Amz-Expires")))
	}
	sig.at, sig.expires = at, time.Duration(expires)*time.Second
	return sig, nil
}

// parseScope parses KEY/YYYYMMDD/REGION/SERVICE/aws4_request.
func (s *signature) parseScope(cred, name string) string {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" || len(parts[1]) != 8 || strings.Trim(parts[1], "0123456789") != "" ||
		parts[2] == "" || parts[3] == "" || parts[4] != "aws4_request" {
		return name + " must be ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request, not " + strconv.Quote(cred)
	}
	s.accessKey, s.region, s.service = parts[0], parts[2], parts[3]
	return ""
}

// parseSigned parses the list of signed headers, which must name host,
// and the signature, 64 hexadecimal digits.
func (s *signature) parseSigned(headers, value, headersName, valueName string) string {
	s.signedHeaders = strings.Split(headers, ";")
	for _, h := range s.signedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return headersName + " must list lower-case header names separated by ';', not " + strconv.Quote(headers)
		}
	}
	if !strings.Contains(";"+headers+";", ";host;") {
		return headersName + " must include host, not " + strconv.Quote(headers)
	}
	if len(value) != 64 || strings.Trim(value, "0123456789abcdef") != "" {
		return valueName + " must be 64 lower-case hexadecimal digits, not " + strconv.Quote(value)
	}
	s.value = value
	return ""
}

// verify computes the signature again with Credentials, over the request
// as received, and refuses it if the two differ (rule 4).
func (g *Guard) verify(r *http.Request, svc Service, sig *signature) *Refusal {
	if sig.accessKey != g.creds.AccessKeyID {
		return refuse(ReasonUnknownKey, "The security token included in the request is invalid: the access key %q is not the one the local Lambda was configured with "+
			"(local.credentials in Sluice's config)", sig.accessKey)
	}
	if sig.presigned && g.clock().After(sig.at.Add(sig.expires)) {
		return refuse(ReasonExpired, "Request has expired: the presigned URL was valid for %s from %s", sig.expires, sig.at.Format(time.RFC3339))
	}
	payload, f := g.payloadHash(r, svc, sig)
	if f != nil {
		return f
	}
	// The request as the client signed it: its method, path and query,
	// and only the headers it names.
	req := &http.Request{
		Method: r.Method,
		Host:   r.Host,
		URL:    &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Header: http.Header{},
	}
	for _, name := range sig.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			if vs := r.Header.Values(name); len(vs) > 0 {
				req.Header[textproto.CanonicalMIMEHeaderKey(name)] = vs
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: g.creds.AccessKeyID, SecretAccessKey: g.creds.SecretAccessKey}
	opts := func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = sig.service == "s3" // S3 signs the path as sent; other services escape it again
		o.DisableHeaderHoisting = true                 // what a presigning client hoisted is in the query already
	}
	var got string
	if sig.presigned {
		q := r.URL.Query()
		q.Del("X-Amz-Signature")
		req.URL.RawQuery = q.Encode()
		uri, _, err := g.signer.PresignHTTP(r.Context(), creds, req, payload, sig.service, sig.region, sig.at, opts)
		if err != nil {
			return refuse(ReasonSignature, "sign the request again: %v", err)
		}
		if u, err := url.Parse(uri); err == nil {
			got = u.Query().Get("X-Amz-Signature")
		}
	} else {
		if err := g.signer.SignHTTP(r.Context(), creds, req, payload, sig.service, sig.region, sig.at, opts); err != nil {
			return refuse(ReasonSignature, "sign the request again: %v", err)
		}
		auth := req.Header.Get("Authorization")
		got = auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(sig.value)) != 1 {
		return refuse(ReasonSignature, "The request signature we calculated does not match the signature you provided. "+
			"Check your AWS Secret Access Key and signing method: the local Lambda was configured with the secret of access key %q (local.credentials in Sluice's config)",
			g.creds.AccessKeyID)
	}
	return nil
}

// payloadHash is the hash the client signed the body as: for S3 the
// X-Amz-Content-Sha256 header (UNSIGNED-PAYLOAD for a presigned URL
// without it), for Lambda the SHA-256 of the body, which it reads and puts
// back (in a file, closed and removed by the body's Close, when it is
// larger than maxMemoryBody).
func (g *Guard) payloadHash(r *http.Request, svc Service, sig *signature) (string, *Refusal) {
	if svc == S3 {
		if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
			return h, nil
		}
		if sig.presigned {
			return "UNSIGNED-PAYLOAD", nil
		}
		return "", refuse(ReasonMalformed, "an S3 request signed in its Authorization header needs an X-Amz-Content-Sha256 header, "+
			"as the AWS SDKs and the AWS CLI send it")
	}
	tooLarge := refuse(ReasonTooLarge, "Request must be smaller than %d bytes: the local Lambda reads no more to verify its signature", maxBody)
	if r.ContentLength > maxBody {
		return "", tooLarge
	}
	h := sha256.New()
	if r.Body == nil || r.Body == http.NoBody {
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	if r.ContentLength >= 0 && r.ContentLength <= maxMemoryBody {
		var body bytes.Buffer
		body.Grow(int(r.ContentLength))
		if _, err := body.ReadFrom(io.LimitReader(r.Body, maxMemoryBody+1)); err != nil {
			return "", refuse(ReasonBody, "read the request body to verify its signature: %v", err)
		}
		h.Write(body.Bytes())
		r.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	// A large body (a ZipFile upload) is hashed on its way to a file, and
	// the handler reads it from there: it is never whole in memory.
	f, err := os.CreateTemp(g.tempDir, "body-*")
	if err != nil {
		return "", refuse(ReasonBody, "store the request body to verify its signature: %v", err)
	}
	body := &fileBody{f}
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r.Body, maxBody+1))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	switch {
	case err != nil:
		body.Close()
		return "", refuse(ReasonBody, "read the request body to verify its signature: %v", err)
	case n > maxBody:
		body.Close()
		return "", tooLarge
	}
	r.Body = body
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileBody is a request body stored in a temporary file, removed when it
// is closed.
type fileBody struct{ *os.File }

func (b *fileBody) Close() error {
	err := b.File.Close()
	_ = os.Remove(b.Name())
	return err
}

// ScopeService is the service name of the request's SigV4 credential
// scope ("sqs", "sns", "cloudfront", …), from its Authorization header or
// a presigned URL's X-Amz-Credential; "" when it has neither. It only
// reads the scope, so that the server can route by it (CloudFront's
// /2020-05-31/… looks like a Lambda API version); Check verifies the
// signature.
func ScopeService(r *http.Request) string {
	cred := ""
	if _, rest, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		cred, _, _ = strings.Cut(rest, ",")
	} else if strings.Contains(r.URL.RawQuery, "X-Amz-Credential") {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}
