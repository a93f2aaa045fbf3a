package lambda

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cd/sluice/internal/egress"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// Payload sources of the Invoke stage (and of Route $BLUEGREEN, whose
// expected output is read the same way from outputArtifact):
//
//	payload          inline. A JSON value in the document is sent as JSON; a
//	                 string that is valid JSON is sent as it is, and any other
//	                 string is sent as a JSON string ("hello" → "\"hello\""),
//	                 except that a string starting with { or [ must be valid
//	                 JSON (a typo is an error, not a string event).
//	payloadArtifact  Spinnaker's {id, account, artifact: {type, reference, …}}
//	                 (the artifact itself, without the wrapper, is accepted
//	                 too). Types:
//	                   embedded/base64  reference is the base64 content
//	                   http/file        reference is an http(s) URL, fetched with GET
//	                                    from an allowed host (ArtifactOptions)
//	                   s3/object        reference is s3://bucket/key[#version], read
//	                                    with the stage account's S3 client
//	                                    (artifact.version is the object version)
//	                   github/file      reference is a GitHub contents API URL,
//	                                    read with the configured token
//	                 A reference that is an http(s):// or s3:// URL is enough
//	                 without a type. {id} (or {artifactId}) without an artifact
//	                 names an expected artifact: the one bound to that id in
//	                 the execution (stage.Task.Artifacts; docs/artifacts.md).
//
// Artifact content is sent as it is and must be JSON, which is all Lambda
// accepts. Neither field: the event is {} (as on AWS). A payload is at
// most 6 MB, Lambda's limit for a synchronous invocation.

// maxPayload is Lambda's limit on a synchronous request.
const maxPayload = 6 * 1024 * 1024

// artifact is the part of a Spinnaker artifact Sluice reads.
type artifact struct {
	Type      string `json:"type"`
	Reference string `json:"reference"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	// expectedID is the expected artifact a field names, while no
	// execution has bound it (checking a document).
	expectedID string
}

// Supported artifact types.
const (
	artifactEmbedded = "embedded/base64"
	artifactHTTP     = "http/file"
	artifactS3       = "s3/object"
	artifactGitHub   = "github/file"
)

// supportedTypes lists the artifact types for messages.
const supportedTypes = artifactEmbedded + ", " + artifactHTTP + ", " + artifactS3 + " or " + artifactGitHub

// ArtifactOptions are sluice.yaml's artifacts section:
//
//	artifacts:
//	  http:
//	    allowedHosts: [artifacts.example.com]
//	  github:
//	    tokenFile: /etc/sluice/github-token   # or token: ...
//	    apiUrl: https://api.github.com         # GitHub Enterprise: https://HOST/api/v3
type ArtifactOptions struct {
	// HTTP is where http/file artifacts may be read from, redirects
	// included (HTTPSetting's list); nil: loopback only (localhost,
	// 127.0.0.0/8, ::1), so that a pipeline cannot make the server reach
	// into its network.
	HTTP *egress.Policy
	// GitHubToken is sent to the GitHub contents API for github/file
	// artifacts; empty sends none (public repositories).
	GitHubToken string
	// GitHubAPIURL is the contents API's base URL; a github/file
	// reference must lie under it. Default https://api.github.com.
	GitHubAPIURL string
}

// HTTPSetting is where the http/file allow-list comes from, named in
// refusals.
var HTTPSetting = egress.Setting{Key: "artifacts.http.allowedHosts", Doc: "docs/artifacts.md"}

// DefaultGitHubAPIURL is GitHub's API.
const DefaultGitHubAPIURL = "https://api.github.com"

// artifactTimeout bounds one artifact download.
const artifactTimeout = time.Minute

// payloadFields are the fields of an invocation's payload (Invoke, Route
// $BLUEGREEN).
type payloadFields struct {
	Payload         stage.JSONField `json:"payload"`
	PayloadArtifact stage.JSONField `json:"payloadArtifact"`
}

func (s *payloadFields) check(c *stage.Checker) {
	if s.Payload.Set() {
		if _, err := inlinePayload(s.Payload.Value); err != nil {
			c.Errorf(&s.Payload, "%v", err)
		}
	}
	checkArtifact(c, &s.PayloadArtifact)
}

// checkArtifact checks an artifact field (payloadArtifact, outputArtifact,
// codeArtifact).
func checkArtifact(c *stage.Checker, f *stage.JSONField) {
	if !f.Set() {
		return
	}
	if _, err := readArtifact(f.Path(), f.Value, nil); err != nil {
		c.Errorf(f, "%s", strings.TrimPrefix(err.Error(), f.Path()+" "))
	}
}

// readArtifact reads v, the value of the artifact field named field
// (payloadArtifact, outputArtifact, codeArtifact). It returns nil, nil
// when v is null or empty. A field that names an expected artifact —
// {"id": …} or {"artifactId": …} without an artifact — reads the artifact
// bound to that id (stage.Task.Artifacts); with bound nil (checking a
// document, before any trigger) it returns an artifact with only
// expectedID set.
func readArtifact(field string, v any, bound map[string]pipeline.Artifact) (*artifact, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be an object {artifact: {type, reference}} or {id: EXPECTED-ARTIFACT-ID}, not %s", field, stage.JSONKind(v))
	}
	if len(m) == 0 {
		return nil, nil
	}
	path := field
	inner := m
	if a, ok := m["artifact"]; ok && a != nil {
		inner, ok = a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.artifact must be an object {type, reference}, not %s", field, stage.JSONKind(a))
		}
		path = field + ".artifact"
	} else if _, hasRef := m["reference"]; !hasRef {
		key, id := "id", ""
		for _, k := range []string{"artifactId", "id"} {
			if x, ok := m[k]; ok && x != nil {
				s, isStr := x.(string)
				if !isStr {
					return nil, fmt.Errorf("%s.%s must be the id of one of the pipeline's expectedArtifacts, not %s", field, k, stage.JSONKind(x))
				}
				if s != "" {
					key, id = k, s
					break
				}
			}
		}
		if id != "" {
			if bound == nil {
				return &artifact{expectedID: id}, nil
			}
			b, ok := bound[id]
			if !ok {
				return nil, fmt.Errorf("%s.%s %q names no artifact bound in this execution: the pipeline's expectedArtifacts need an entry with that id, and the trigger must bring an artifact it matches (or it needs a default or prior artifact)", field, key, id)
			}
			inner, path = b, fmt.Sprintf("%s (expected artifact %q)", field, id)
		} else if _, hasType := m["type"]; !hasType {
			// Deck writes an empty selector as {account: "..."} with no artifact.
			return nil, nil
		}
	}
	var a artifact
	for key, dst := range map[string]*string{"type": &a.Type, "reference": &a.Reference, "name": &a.Name, "version": &a.Version} {
		if x, ok := inner[key]; ok && x != nil {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s.%s must be a string, not %s", path, key, stage.JSONKind(x))
			}
			*dst = s
		}
	}
	if a.Reference == "" {
		return nil, fmt.Errorf("%s.reference is required: the base64 content, http(s) URL or s3://bucket/key of the %s", path, field)
	}
	if a.Type == "" {
		switch {
		case strings.HasPrefix(a.Reference, "http://"), strings.HasPrefix(a.Reference, "https://"):
			a.Type = artifactHTTP
		case strings.HasPrefix(a.Reference, "s3://"):
			a.Type = artifactS3
		default:
			return nil, fmt.Errorf("%s.type is required: %s", path, supportedTypes)
		}
	}
	switch a.Type {
	case artifactEmbedded:
		if _, err := decodeBase64(a.Reference); err != nil {
			return nil, fmt.Errorf("%s.reference is not valid base64 (type %s): %v", path, artifactEmbedded, err)
		}
	case artifactHTTP:
		u, err := url.Parse(a.Reference)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s.reference %q must be an http:// or https:// URL for type %s", path, a.Reference, artifactHTTP)
		}
	case artifactS3:
		if ref, v, ok := strings.Cut(a.Reference, "#"); ok && a.Version == "" {
			a.Reference, a.Version = ref, v // s3://bucket/key#version
		}
		if _, _, err := parseS3URL(a.Reference); err != nil {
			return nil, fmt.Errorf("%s.reference: %v", path, err)
		}
	case artifactGitHub:
		u, err := url.Parse(a.Reference)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.Contains(u.Path, "/contents/") {
			return nil, fmt.Errorf("%s.reference %q must be a GitHub contents API URL (https://api.github.com/repos/OWNER/REPO/contents/PATH) for type %s", path, a.Reference, artifactGitHub)
		}
	default:
		return nil, fmt.Errorf("%s.type %q is not supported: use %s", path, a.Type, supportedTypes)
	}
	return &a, nil
}

// boundOrEmpty is bound, or an empty map: at run time an expected-artifact id
// is resolved, and unknown when nothing is bound.
func boundOrEmpty(bound map[string]pipeline.Artifact) map[string]pipeline.Artifact {
	if bound == nil {
		return map[string]pipeline.Artifact{}
	}
	return bound
}

// inlinePayload turns the payload field into the bytes to send.
func inlinePayload(v any) ([]byte, error) {
	s, isString := v.(string)
	if !isString {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("cannot be sent as JSON: %v", err)
		}
		return b, nil
	}
	if json.Valid([]byte(s)) {
		return []byte(s), nil
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		_, err := decodeJSON([]byte(t))
		return nil, fmt.Errorf("looks like JSON but is not valid JSON: %v", err)
	}
	b, _ := json.Marshal(s)
	return b, nil
}

// fetcher reads artifacts.
type fetcher struct {
	http        *http.Client // http/file, through the allow-list
	github      *http.Client // the GitHub contents API
	githubToken string
	githubAPI   string // base URL, no trailing slash
	// limit bounds what one read returns; 0 is maxPayload (forCode
	// raises it to maxZip).
	limit int
}

// forCode is f reading function code: up to maxZip bytes.
func (f fetcher) forCode() fetcher {
	f.limit = maxZip
	return f
}

func newFetcher(o ArtifactOptions) fetcher {
	allow := o.HTTP
	if allow == nil {
		allow, _ = egress.NewPolicy(HTTPSetting, nil) // no entries: no error
	}
	f := fetcher{githubToken: o.GitHubToken, githubAPI: strings.TrimRight(cmp.Or(o.GitHubAPIURL, DefaultGitHubAPIURL), "/")}
	f.http = allow.Client(egress.ClientOptions{Timeout: artifactTimeout})
	f.github = &http.Client{Timeout: artifactTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		if req.URL.Host != via[0].URL.Host {
			return fmt.Errorf("redirect to %s: github/file artifacts are read only from %s", req.URL.Host, via[0].URL.Host)
		}
		return nil
	}}
	return f
}

// invokePayload returns the payload of an invocation (payloadArtifact,
// else payload); nil when neither is set.
func (f fetcher) invokePayload(ctx context.Context, p *payloadFields, s3c *s3.Client, bound map[string]pipeline.Artifact) ([]byte, error) {
	a, err := readArtifact("payloadArtifact", p.PayloadArtifact.Value, boundOrEmpty(bound))
	if err != nil {
		return nil, err
	}
	if a != nil {
		b, err := f.artifactContent(ctx, "payloadArtifact", a, s3c)
		if err != nil {
			return nil, err
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("payloadArtifact (%s %s) is not JSON, and Lambda accepts only a JSON payload: %s", a.Type, a.describe(), quoteSnippet(b))
		}
		return b, nil
	}
	if p.Payload.Set() {
		b, err := inlinePayload(p.Payload.Value)
		if err != nil {
			return nil, fmt.Errorf("payload %v", err)
		}
		if len(b) > maxPayload {
			return nil, fmt.Errorf("payload is %d bytes; Lambda accepts at most %d for a synchronous invocation", len(b), maxPayload)
		}
		return b, nil
	}
	return nil, nil
}

// artifactContent reads an artifact's content, at most maxPayload bytes.
func (f fetcher) artifactContent(ctx context.Context, field string, a *artifact, s3c *s3.Client) ([]byte, error) {
	switch a.Type {
	case artifactEmbedded:
		b, err := decodeBase64(a.Reference)
		if err != nil {
			return nil, fmt.Errorf("%s: decode base64: %v", field, err)
		}
		if len(b) > maxPayload {
			return nil, fmt.Errorf("%s is %d bytes; Lambda accepts at most %d for a synchronous invocation", field, len(b), maxPayload)
		}
		return b, nil
	case artifactHTTP:
		return f.httpGet(ctx, field, a.Reference)
	case artifactS3:
		return f.s3Get(ctx, field, a, s3c)
	case artifactGitHub:
		return f.githubGet(ctx, field, a)
	}
	return nil, fmt.Errorf("%s.artifact.type %q is not supported: use %s", field, a.Type, supportedTypes)
}

func (f fetcher) httpGet(ctx context.Context, field, ref string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	return f.get(f.http, field, req)
}

// get sends req and reads the body of a 2xx answer, at most maxPayload
// bytes.
func (f fetcher) get(client *http.Client, field string, req *http.Request) ([]byte, error) {
	ref := req.URL.String()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: GET %s: %v", field, ref, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: GET %s: %s %s", field, ref, resp.Status, snippet(string(body)))
	}
	return f.readLimited(resp.Body, field, "GET "+ref)
}

// githubGet reads a github/file artifact as Clouddriver does: its
// reference is a contents API URL
// (API/repos/OWNER/REPO/contents/PATH), its version the branch, tag or
// commit (?ref=; the repository's default branch when empty). The answer
// is the contents API's JSON, whose content is base64; a file too large
// for it (no content) is read from its download_url on the same host.
func (f fetcher) githubGet(ctx context.Context, field string, a *artifact) ([]byte, error) {
	if err := f.githubReference(a.Reference); err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	u, _ := url.Parse(a.Reference)
	if a.Version != "" {
		q := u.Query()
		q.Set("ref", a.Version)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	if f.githubToken != "" {
		req.Header.Set("Authorization", "token "+f.githubToken)
	}
	b, err := f.get(f.github, field, req)
	if err != nil {
		return nil, err
	}
	var c struct {
		Type        string `json:"type"`
		Encoding    string `json:"encoding"`
		Content     string `json:"content"`
		DownloadURL string `json:"download_url"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: GET %s: not a GitHub contents API answer: %v", field, u, err)
	}
	switch {
	case c.Type != "" && c.Type != "file":
		return nil, fmt.Errorf("%s: %s is a %s, not a file", field, a.Reference, c.Type)
	case c.Encoding == "base64" && c.Content != "":
		out, err := decodeBase64(c.Content)
		if err != nil {
			return nil, fmt.Errorf("%s: GET %s: content is not base64: %v", field, u, err)
		}
		return out, nil
	case c.DownloadURL != "":
		d, err := url.Parse(c.DownloadURL)
		if err != nil || d.Host != u.Host {
			return nil, fmt.Errorf("%s: GET %s: download_url %s is not on %s, where the token may go", field, u, c.DownloadURL, u.Host)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.DownloadURL, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", field, err)
		}
		if f.githubToken != "" {
			req.Header.Set("Authorization", "token "+f.githubToken)
		}
		return f.get(f.github, field, req)
	}
	return nil, fmt.Errorf("%s: GET %s: the answer has neither base64 content nor a download_url", field, u)
}

// githubReference checks that ref is a contents API URL under the
// configured API.
func (f fetcher) githubReference(ref string) error {
	api := cmp.Or(f.githubAPI, DefaultGitHubAPIURL)
	if !strings.HasPrefix(ref, api+"/repos/") || !strings.Contains(strings.TrimPrefix(ref, api+"/repos/"), "/contents/") {
		return fmt.Errorf("github/file reference %q must be a contents API URL %s/repos/OWNER/REPO/contents/PATH (set sluice.yaml artifacts.github.apiUrl for GitHub Enterprise)", ref, api)
	}
	return nil
}

func (f fetcher) s3Get(ctx context.Context, field string, a *artifact, s3c *s3.Client) ([]byte, error) {
	if s3c == nil {
		return nil, fmt.Errorf("%s: %s needs an S3 client, and this account has none", field, a.Reference)
	}
	bucket, key, err := parseS3URL(a.Reference)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if a.Version != "" {
		in.VersionId = aws.String(a.Version)
	}
	out, err := s3c.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", field, a.Reference, err)
	}
	defer out.Body.Close()
	return f.readLimited(out.Body, field, "read "+a.Reference)
}

func (f fetcher) readLimited(r io.Reader, field, what string) ([]byte, error) {
	limit := cmp.Or(f.limit, maxPayload)
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %v", field, what, err)
	}
	if len(b) > limit {
		if limit == maxZip {
			return nil, fmt.Errorf("%s: %s: more than %d bytes, Lambda's limit on a .zip uploaded directly: put it in S3 and use an s3/object artifact", field, what, maxZip)
		}
		return nil, fmt.Errorf("%s: %s: more than %d bytes, Lambda's limit for a synchronous invocation", field, what, maxPayload)
	}
	return b, nil
}

// describe names the artifact for messages.
func (a *artifact) describe() string {
	switch a.Type {
	case artifactEmbedded:
		if a.Name != "" {
			return fmt.Sprintf("%q", a.Name)
		}
		return fmt.Sprintf("(%d base64 characters)", len(a.Reference))
	}
	return a.Reference
}

func parseS3URL(ref string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(ref, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URL", ref)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URL", ref)
	}
	return bucket, key, nil
}

// decodeBase64 accepts standard and URL-safe base64, padded or not, and
// ignores line breaks.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}
