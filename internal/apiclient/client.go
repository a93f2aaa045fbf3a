// Package apiclient is the Go client of Sluice's JSON API (/api/v1). The
// CLI talks to servers only through it.
//
// Every method maps to one route. A response with an error status comes
// back as *Error, which carries the server's code, message and the path of
// every problem; a server that cannot be reached gives the net/http error,
// wrapped with the operation.
package apiclient

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// Client calls one Sluice server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	http      *http.Client
	token     string
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default http.DefaultClient). Event
// streams are long-lived, so it should have no overall Timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithToken sets the API token sent with every request (Authorization:
// Bearer). Without one the server answers 401 to everything but health
// and the OpenAPI document.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL, e.g.
// "http://127.0.0.1:8084". A baseURL without a scheme gets "http://".
func New(baseURL string, opts ...Option) (*Client, error) {
	raw := strings.TrimSpace(baseURL)
	if raw == "" {
		return nil, errors.New("no server URL")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: the scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server URL %q has no host", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{base: u, http: http.DefaultClient, userAgent: "sluice-apiclient"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the server's URL.
func (c *Client) BaseURL() string { return c.base.String() }

// Error is an error response from the server.
type Error struct {
	Status  int // HTTP status
	Code    string
	Message string
	Details []Detail
	// RequestID is set on internal errors: the server log has the details
	// under it.
	RequestID string
}

// Detail is one problem at one JSON path.
type Detail struct {
	Path    string
	Message string
}

// Error returns the server's message followed by one line per problem,
// "  path: message", leaving out a problem the message already says (the
// server puts a lone problem in its message as well as in its details).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Message == "" {
		fmt.Fprintf(&b, "server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	for _, d := range e.Details {
		if d.Message != "" && strings.HasSuffix(e.Message, ": "+d.Message) {
			continue
		}
		b.WriteString("\n  ")
		if d.Path != "" {
			b.WriteString(d.Path)
			b.WriteString(": ")
		}
		b.WriteString(d.Message)
	}
	return b.String()
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsConflict reports whether err is a 409 from the server.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusConflict
}

// endpoint builds the URL of an API path. Each element of segs is escaped
// as one path segment.
func (c *Client) endpoint(query url.Values, segs ...string) string {
	u := *c.base
	var p strings.Builder
	p.WriteString(u.Path + "/api/v1")
	for _, s := range segs {
		p.WriteByte('/')
		p.WriteString(url.PathEscape(s))
	}
	u.RawPath = p.String()
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = query.Encode()
	return u.String()
}

// request is one API call.
type request struct {
	method      string
	url         string
	body        io.Reader
	contentType string
	header      http.Header
}

// do sends req and decodes a 2xx body into out (unless out is nil), or
// returns *Error for any other status.
func (c *Client) do(ctx context.Context, op string, req request, out any) error {
	resp, err := c.send(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return decodeBody(resp, op, out)
}

// decodeBody decodes a response's JSON body into out.
func decodeBody(resp *http.Response, op string, out any) error {
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decode response: %w", op, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, req request) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, req.method, req.url, req.body)
	if err != nil {
		return nil, err
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	if req.contentType == "" && req.method != http.MethodGet {
		// The server refuses state-changing requests that are not JSON,
		// which is what keeps web pages from sending them.
		req.contentType = "application/json"
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	hr.Header.Set("Accept", "application/json")
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.userAgent != "" {
		hr.Header.Set("User-Agent", c.userAgent)
	}
	return c.http.Do(hr)
}

// readError turns an error response into *Error. A body that is not the
// API's error JSON (a proxy's page, say) becomes the message, shortened.
func readError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body apitype.ErrorBody
	if err := json.Unmarshal(data, &body); err == nil && body.Error.Message != "" {
		e := &Error{Status: resp.StatusCode, Code: body.Error.Code, Message: body.Error.Message, RequestID: body.Error.RequestID}
		for _, d := range body.Error.Details {
			e.Details = append(e.Details, Detail(d))
		}
		return e
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = "server answered " + resp.Status
	} else {
		msg = "server answered " + resp.Status + ": " + msg
	}
	return &Error{Status: resp.StatusCode, Message: msg}
}

// jsonRequest builds a request with v as its JSON body.
func jsonRequest(method, u string, v any) (request, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return request{}, err
	}
	return request{method: method, url: u, body: bytes.NewReader(data), contentType: "application/json"}, nil
}

// Health calls GET /health. A 503 with a health body is returned as the
// body, not an error, so callers can show what the server says.
func (c *Client) Health(ctx context.Context) (*apitype.Health, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, url: c.endpoint(nil, "health")})
	if err != nil {
		return nil, fmt.Errorf("get health: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return nil, readError(resp)
	}
	var h apitype.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("get health: decode response: %w", err)
	}
	return &h, nil
}

// Version calls GET /version.
func (c *Client) Version(ctx context.Context) (*apitype.Version, error) {
	var v apitype.Version
	err := c.do(ctx, "get version", request{method: http.MethodGet, url: c.endpoint(nil, "version")}, &v)
	return &v, err
}

// OpenAPI returns the server's OpenAPI document.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var doc json.RawMessage
	err := c.do(ctx, "get openapi document", request{method: http.MethodGet, url: c.endpoint(nil, "openapi.json")}, &doc)
	return doc, err
}

// DocumentType is the Content-Type for a pipeline document by its first
// non-blank byte, as the server sniffs it: application/json for '{' or
// '[', application/yaml otherwise.
func DocumentType(document []byte) string {
	if t := bytes.TrimLeft(document, " \t\r\n\uFEFF"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return "application/json"
	}
	return "application/yaml"
}

// PutPipeline saves a pipeline document (JSON or YAML) as a new revision
// of app/name. An empty contentType is DocumentType(document).
func (c *Client) PutPipeline(ctx context.Context, app, name string, document []byte, contentType string) (*apitype.Pipeline, error) {
	var p apitype.Pipeline
	err := c.do(ctx, "save pipeline", request{
		method:      http.MethodPut,
		url:         c.endpoint(nil, "pipelines", app, name),
		body:        bytes.NewReader(document),
		contentType: cmp.Or(contentType, DocumentType(document)),
	}, &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// GetPipeline returns the newest revision of app/name with its document.
func (c *Client) GetPipeline(ctx context.Context, app, name string) (*apitype.Pipeline, error) {
	var p apitype.Pipeline
	if err := c.do(ctx, "get pipeline", request{method: http.MethodGet, url: c.endpoint(nil, "pipelines", app, name)}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ListPipelines lists saved pipelines, of one application when app is not
// empty.
func (c *Client) ListPipelines(ctx context.Context, app string) ([]apitype.Pipeline, error) {
	q := url.Values{}
	if app != "" {
		q.Set("application", app)
	}
	var out apitype.PipelineList
	if err := c.do(ctx, "list pipelines", request{method: http.MethodGet, url: c.endpoint(q, "pipelines")}, &out); err != nil {
		return nil, err
	}
	return out.Pipelines, nil
}

// DeletePipeline deletes app/name.
func (c *Client) DeletePipeline(ctx context.Context, app, name string) error {
	return c.do(ctx, "delete pipeline", request{method: http.MethodDelete, url: c.endpoint(nil, "pipelines", app, name)}, nil)
}

// ListRevisions lists the revisions of app/name, newest first.
func (c *Client) ListRevisions(ctx context.Context, app, name string) ([]apitype.PipelineRevision, error) {
	var out apitype.PipelineRevisionList
	if err := c.do(ctx, "list revisions", request{method: http.MethodGet, url: c.endpoint(nil, "pipelines", app, name, "revisions")}, &out); err != nil {
		return nil, err
	}
	return out.Revisions, nil
}

// GetRevision returns revision rev of app/name with its document.
func (c *Client) GetRevision(ctx context.Context, app, name string, rev int) (*apitype.Pipeline, error) {
	var p apitype.Pipeline
	u := c.endpoint(nil, "pipelines", app, name, "revisions", strconv.Itoa(rev))
	if err := c.do(ctx, "get revision", request{method: http.MethodGet, url: u}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ImportPipelines sends an export (a pipeline document, or a JSON array or
// YAML list of them) to the server, which reports on each pipeline and,
// unless dryRun, saves those that will run. An empty contentType is
// DocumentType(document).
func (c *Client) ImportPipelines(ctx context.Context, document []byte, contentType string, dryRun bool) (*apitype.ImportReport, error) {
	var out apitype.ImportReport
	q := url.Values{}
	if dryRun {
		q.Set("dryRun", "true")
	}
	err := c.do(ctx, "import pipelines", request{
		method:      http.MethodPost,
		url:         c.endpoint(q, "pipelines", "import"),
		body:        bytes.NewReader(document),
		contentType: cmp.Or(contentType, DocumentType(document)),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ValidatePipeline validates a document on the server without saving it.
// An invalid document gives *Error with a detail per problem. An empty
// contentType is DocumentType(document).
func (c *Client) ValidatePipeline(ctx context.Context, document []byte, contentType string) (*apitype.ValidateResult, error) {
	var out apitype.ValidateResult
	err := c.do(ctx, "validate pipeline", request{
		method:      http.MethodPost,
		url:         c.endpoint(nil, "pipelines", "validate"),
		body:        bytes.NewReader(document),
		contentType: cmp.Or(contentType, DocumentType(document)),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
