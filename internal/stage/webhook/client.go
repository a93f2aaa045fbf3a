package webhook

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/egress"
)

// Orca's defaults (WebhookProperties): a connection is given 15 seconds,
// the answer 20.
const (
	defaultConnectTimeout = 15 * time.Second
	defaultReadTimeout    = 20 * time.Second
	// defaultMaxResponseBytes bounds what a response may bring into the
	// stage's context, which the store keeps.
	defaultMaxResponseBytes = 1 << 20
	maxRedirects            = 10
)

// client sends the stage's requests through the allow-list.
type client struct {
	policy   *egress.Policy
	http     *http.Client
	timeout  time.Duration // of a whole request, body included
	maxBytes int64
}

func newClient(p *egress.Policy, opts Options) *client {
	connect := cmp.Or(opts.ConnectTimeout, defaultConnectTimeout)
	read := cmp.Or(opts.ReadTimeout, defaultReadTimeout)
	c := &client{policy: p, timeout: connect + 2*read, maxBytes: cmp.Or(opts.MaxResponseBytes, defaultMaxResponseBytes)}
	// Orca follows redirects (webhook.followRedirects); each one is
	// checked as the first URL was.
	c.http = p.Client(egress.ClientOptions{Timeout: c.timeout, ConnectTimeout: connect, ResponseHeaderTimeout: read,
		MaxRedirects: maxRedirects, Resolver: opts.Resolver})
	return c
}

// call is one request of the stage.
type call struct {
	method  string
	url     string
	headers http.Header
	body    any // nil: none; a string as it is; anything else as JSON
}

// response is what came back: Orca's statusCode, statusCodeValue, headers
// and body.
type response struct {
	code    int
	headers map[string]string
	body    any
}

// errTimeout marks a request that ran out of time.
var errTimeout = errors.New("timed out")

// do sends c and reads the response. A refusal is an *egress.RefusedError; a
// name that does not resolve a *net.DNSError; running out of time wraps
// errTimeout.
func (cl *client) do(ctx context.Context, c call) (*response, error) {
	u, err := url.Parse(strings.TrimSpace(c.url))
	if err != nil {
		return nil, fmt.Errorf("webhook URL %q is not a URL: %v", c.url, err)
	}
	if err := cl.policy.CheckURL(u); err != nil {
		return nil, err
	}
	var body io.Reader
	contentType := ""
	switch b := c.body.(type) {
	case nil:
	case string:
		body, contentType = strings.NewReader(b), "text/plain; charset=utf-8"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode the payload as JSON: %v", err)
		}
		body, contentType = bytes.NewReader(raw), "application/json"
	}
	ctx, cancel := context.WithTimeout(ctx, cl.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("webhook request %s %s: %v", c.method, u.Redacted(), err)
	}
	req.Header.Set("Accept", "application/json, text/plain, */*")
	req.Header.Set("User-Agent", "Sluice webhook stage")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range c.headers {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return nil, classify(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, cl.maxBytes+1))
	if err != nil {
		return nil, classify(err)
	}
	if int64(len(raw)) > cl.maxBytes {
		return nil, fmt.Errorf("the response from %s is larger than %d bytes, more than a stage keeps", u.Redacted(), cl.maxBytes)
	}
	r := &response{code: resp.StatusCode, headers: map[string]string{}, body: parseBody(raw)}
	for k, vs := range resp.Header {
		if len(vs) > 0 {
			r.headers[k] = vs[0] // Spring's toSingleValueMap: the first value
		}
	}
	return r, nil
}

// classify keeps a refusal and a DNS failure findable with errors.As, and
// marks a timeout with errTimeout.
func classify(err error) error {
	if egress.Refused(err) != nil {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", errTimeout, err)
	}
	return err
}

// parseBody is the body as Orca keeps it: JSON when it is JSON, its text
// otherwise, nothing when it is empty.
func parseBody(raw []byte) any {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil
	}
	var v any
	if json.Valid(t) && json.Unmarshal(t, &v) == nil {
		return v
	}
	return string(raw)
}

// statusName is Spring's HttpStatus name of code, which Orca writes as
// statusCode: "OK", "ACCEPTED", "NOT_FOUND".
func statusName(code int) string {
	switch code {
	case 413:
		return "PAYLOAD_TOO_LARGE"
	case 414:
		return "URI_TOO_LONG"
	case 416:
		return "REQUESTED_RANGE_NOT_SATISFIABLE"
	case 418:
		return "I_AM_A_TEAPOT"
	}
	text := http.StatusText(code)
	if text == "" {
		return strconv.Itoa(code)
	}
	text = strings.NewReplacer(" ", "_", "-", "_", "'", "").Replace(text)
	return strings.ToUpper(text)
}
