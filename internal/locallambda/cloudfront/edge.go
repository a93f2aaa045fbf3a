package cloudfront

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Edge proxy limits beyond CloudFront's per-event-type quotas.
const (
	// maxViewerBody is the largest request body the proxy forwards.
	maxViewerBody = 20 << 20
	// maxOriginBody is the largest origin response the proxy relays.
	maxOriginBody = 64 << 20
	// Bodies exposed to a function with IncludeBody: CloudFront truncates
	// them beyond these sizes (inputTruncated).
	viewerBodyExposed = 40 * 1024
	originBodyExposed = 1 << 20
	// localDomain is the suffix of the local names of distributions:
	// ID.cloudfront.localhost.
	localDomain = ".cloudfront.localhost"
)

// Headers on every edge response that say which configuration served it.
const (
	HeaderDistribution = "X-Sluice-Edge-Distribution" // the ID whose configuration served
	HeaderStage        = "X-Sluice-Edge-Stage"        // primary or staging
)

// target is what serves one request: the distribution the viewer asked
// for, and the configuration that answers (the staging distribution's
// when continuous deployment picked it). It is copied out under the
// Plane's lock: a *distConfig is never changed, only replaced.
type target struct {
	primaryID, primaryDomain string
	servingID                string
	cfg                      *distConfig
	staging                  bool
}

// pick finds the distribution for a Host and applies its continuous
// deployment policy to the request.
func (p *Plane) pick(r *http.Request) (*target, error) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	var d *distribution
	if id, ok := strings.CutSuffix(host, localDomain); ok {
		d = p.m.Distributions[strings.ToUpper(id)]
	}
	if d == nil {
		d = p.distributionByDomain(host)
	}
	if d == nil {
	aliases:
		for _, o := range p.m.Distributions {
			for _, a := range o.parsed.Aliases {
				if a == host {
					d = o
					break aliases
				}
			}
		}
	}
	if d == nil {
		return nil, fmt.Errorf("no distribution answers to %q: use ID%s, the distribution's DomainName (dXXXX.cloudfront.net) or one of its Aliases as Host", r.Host, localDomain)
	}
	if d.parsed.Staging {
		return nil, fmt.Errorf("distribution %s is a staging distribution: it answers only through its primary, when the primary's continuous deployment policy sends a request to it", d.ID)
	}
	if !d.parsed.Enabled {
		return nil, fmt.Errorf("distribution %s is disabled", d.ID)
	}
	t := &target{primaryID: d.ID, primaryDomain: d.DomainName, servingID: d.ID, cfg: d.parsed}
	pol := p.m.Policies[d.parsed.PolicyID]
	if pol == nil || !pol.parsed.Enabled {
		return t, nil
	}
	staging := p.distributionByDomain(pol.parsed.StagingDomain)
	if staging == nil {
		return t, nil
	}
	switch pol.parsed.Type {
	case singleHeader:
		t.staging = r.Header.Get(pol.parsed.Header) == pol.parsed.Value
	case singleWeight:
		t.staging = p.cfg.Rand() < pol.parsed.Weight
	}
	if t.staging {
		t.servingID, t.cfg = staging.ID, staging.parsed
	}
	return t, nil
}

// EdgeHandler serves the distributions over HTTP: see the package
// comment for how a request picks its distribution and what runs.
func (p *Plane) EdgeHandler() http.Handler { return http.HandlerFunc(p.serveEdge) }

// edgeError is a request the edge answers with an error page, as
// CloudFront does: status, X-Cache reason, and a message.
type edgeError struct {
	status int
	cache  string // X-Cache: "<cache> from cloudfront"
	msg    string
}

func (e *edgeError) Error() string { return e.msg }

func (p *Plane) serveEdge(w http.ResponseWriter, r *http.Request) {
	reqID := requestID()
	w.Header().Set("X-Amz-Cf-Id", reqID)
	w.Header().Set("Via", "1.1 local.cloudfront.localhost (CloudFront)")
	t, err := p.pick(r)
	if err != nil {
		writeEdgeError(w, &edgeError{status: http.StatusForbidden, cache: "Error", msg: err.Error()})
		return
	}
	w.Header().Set(HeaderDistribution, t.servingID)
	stage := "primary"
	if t.staging {
		stage = "staging"
	}
	w.Header().Set(HeaderStage, stage)
	x := &exchange{p: p, t: t, cfg: t.cfg, reqID: reqID, domain: t.primaryDomain}
	res, err := x.serve(r)
	if err != nil {
		var ee *edgeError
		if !errors.As(err, &ee) {
			ee = &edgeError{status: http.StatusBadGateway, cache: "Error", msg: err.Error()}
		}
		p.log.Info("local cloudfront: edge error", "distribution", t.servingID, "status", ee.status, "reason", ee.cache, "err", ee.msg)
		writeEdgeError(w, ee)
		return
	}
	res.headers.writeTo(w.Header())
	w.Header().Set("X-Cache", res.cache+" from cloudfront")
	w.Header().Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(res.body)
	}
}

func writeEdgeError(w http.ResponseWriter, e *edgeError) {
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("X-Cache", e.cache+" from cloudfront")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">\n<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD>"+
		"<BODY><H1>%d ERROR</H1><H2>The request could not be satisfied.</H2><HR noshade size=\"1px\">%s\n</BODY></HTML>\n", e.status, html.EscapeString(e.msg))
}

// requestID is a CloudFront-like request ID (x-amz-cf-id).
func requestID() string {
	b := make([]byte, 42)
	_, _ = rand.Read(b)
	return base64.URLEncoding.EncodeToString(b)
}

// exchange is one viewer request on its way through a distribution.
type exchange struct {
	p      *Plane
	t      *target
	cfg    *distConfig
	reqID  string
	domain string // the primary's domain name, as functions see it
	// body is the viewer's request body, as the functions leave it.
	body []byte
}

// edgeResult is the response the viewer gets.
type edgeResult struct {
	status  int
	headers cfHeaders
	body    []byte
	cache   string // X-Cache: Miss, LambdaGeneratedResponse
}

// serve runs viewer-request → origin-request → origin → origin-response →
// viewer-response for the matching cache behavior.
func (x *exchange) serve(r *http.Request) (*edgeResult, error) {
	b := x.cfg.behaviorFor(r.URL.Path)
	org, ok := x.cfg.Origins[b.TargetOriginID]
	if !ok || !org.Custom {
		return nil, &edgeError{status: http.StatusBadGateway, cache: "Error",
			msg: fmt.Sprintf("origin %q is not a custom origin: the local edge proxy forwards only to custom origins (CustomOriginConfig)", b.TargetOriginID)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxViewerBody+1))
	if err != nil {
		return nil, &edgeError{status: http.StatusBadRequest, cache: "Error", msg: "read the request body: " + err.Error()}
	}
	if len(body) > maxViewerBody {
		return nil, &edgeError{status: http.StatusRequestEntityTooLarge, cache: "Error", msg: fmt.Sprintf("the request body is larger than %d bytes", maxViewerBody)}
	}
	x.body = body
	clientIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	req := &cfRequest{ClientIP: clientIP, Headers: headersOf(r.Header, r.Host), Method: r.Method, Querystring: r.URL.RawQuery, URI: r.URL.EscapedPath()}

	// viewer-request
	if a, ok := b.Associations[ViewerRequest]; ok {
		out, err := x.run(r.Context(), a, req, nil)
		if err != nil {
			return nil, err
		}
		if out.response != nil {
			// A generated response goes back to the viewer; no further
			// function runs, not even viewer-response.
			return x.generated(ViewerRequest, out.response)
		}
		req = out.request
	}
	viewerReq := req

	// origin-request
	oreq := *req
	oreq.Headers = req.Headers.clone()
	oreq.Origin = &cfOrigin{Custom: customOrigin(org)}
	var res *edgeResult
	if a, ok := b.Associations[OriginRequest]; ok {
		out, err := x.run(r.Context(), a, &oreq, nil)
		if err != nil {
			return nil, err
		}
		if out.response != nil {
			// Generated: origin-response does not run; viewer-response does.
			if res, err = x.generated(OriginRequest, out.response); err != nil {
				return nil, err
			}
		} else {
			oreq = *out.request
			if oreq.Origin == nil || oreq.Origin.Custom == nil {
				oreq.Origin = &cfOrigin{Custom: customOrigin(org)}
			}
		}
	}

	if res == nil {
		ores, err := x.fetch(r.Context(), &oreq, org)
		if err != nil {
			return nil, err
		}
		// origin-response: runs whatever the origin's status.
		if a, ok := b.Associations[OriginResponse]; ok {
			if ores, err = x.runResponse(r.Context(), a, &oreq, ores); err != nil {
				return nil, err
			}
		}
		res = ores
	}

	// viewer-response: not for an origin error (400 and above).
	if a, ok := b.Associations[ViewerResponse]; ok && res.status < 400 {
		vres, err := x.runResponse(r.Context(), a, viewerReq, res)
		if err != nil {
			return nil, err
		}
		vres.status = res.status // a viewer-response function cannot change the status
		res = vres
	}
	return res, nil
}

// behaviorFor is the first cache behavior whose PathPattern matches path,
// or the default behavior.
func (c *distConfig) behaviorFor(path string) behavior {
	for _, b := range c.Behaviors {
		if pathMatch(b.PathPattern, path) {
			return b
		}
	}
	return c.Default
}

// pathMatch matches CloudFront's path patterns: * is any run of
// characters (slashes included), ? one character; case-sensitive; a
// pattern without a leading slash is taken as if it had one.
func pathMatch(pattern, path string) bool {
	if !strings.HasPrefix(pattern, "/") {
		pattern = "/" + pattern
	}
	// Iterative wildcard match with backtracking to the last star.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(path) {
		switch {
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == path[si]):
			pi++
			si++
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

func customOrigin(o origin) *cfCustomOrigin {
	co := &cfCustomOrigin{CustomHeaders: cfHeaders{}, DomainName: o.DomainName, KeepaliveTimeout: 5, Path: o.Path, ReadTimeout: 30,
		SSLProtocols: []string{"TLSv1.2"}}
	switch o.ProtocolPolicy {
	case "https-only":
		co.Protocol, co.Port = "https", o.HTTPSPort
	default: // http-only; match-viewer: the edge proxy's viewers use http
		co.Protocol, co.Port = "http", o.HTTPPort
	}
	for _, h := range o.CustomHeaders {
		lower := strings.ToLower(h[0])
		co.CustomHeaders[lower] = append(co.CustomHeaders[lower], cfHeader{Key: h[0], Value: h[1]})
	}
	return co
}

// exposeBody sets req.Body for a function with IncludeBody.
func (x *exchange) exposeBody(t EventType, req *cfRequest) {
	limit := originBodyExposed
	if t.viewer() {
		limit = viewerBodyExposed
	}
	data := x.body
	truncated := len(data) > limit
	if truncated {
		data = data[:limit]
	}
	req.Body = &cfBody{InputTruncated: truncated, Action: "read-only", Encoding: "base64", Data: base64.StdEncoding.EncodeToString(data)}
}

// run invokes a's version for a request event (res nil) or a response
// event, and checks what it returned.
func (x *exchange) run(ctx context.Context, a association, req *cfRequest, res *cfResponse) (functionOutput, error) {
	t := a.EventType
	ev := cfEvent{Records: []cfRecord{{}}}
	rec := &ev.Records[0]
	rec.CF.Config = cfConfig{DistributionDomainName: x.domain, DistributionID: x.t.primaryID, EventType: string(t), RequestID: x.reqID}
	sent := *req
	sent.Body = nil
	if a.IncludeBody {
		x.exposeBody(t, &sent)
	}
	rec.CF.Request = &sent
	rec.CF.Response = res
	payload, err := jsonMarshal(ev)
	if err != nil {
		return functionOutput{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout()+10*time.Second)
	defer cancel()
	out, err := x.p.cfg.Invoker.Invoke(ctx, a.Function, a.Version, payload, t.timeout())
	if err != nil {
		var ae *awserr.Error
		if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
			return functionOutput{}, &edgeError{status: http.StatusServiceUnavailable, cache: "LambdaLimitExceeded",
				msg: fmt.Sprintf("the %s function %s was throttled: %s", t, a.ARN, ae.Message)}
		}
		return functionOutput{}, &edgeError{status: http.StatusServiceUnavailable, cache: "LambdaExecutionError",
			msg: fmt.Sprintf("the %s function %s could not run: %v", t, a.ARN, err)}
	}
	if out.FunctionError != "" {
		what := "failed"
		if out.TimedOut {
			what = fmt.Sprintf("timed out (the %s limit is %s)", t, t.timeout())
		}
		return functionOutput{}, &edgeError{status: http.StatusServiceUnavailable, cache: "LambdaExecutionError",
			msg: fmt.Sprintf("the %s function %s %s: %s", t, a.ARN, what, snippet(out.Payload))}
	}
	fo, err := parseOutput(t, out.Payload)
	if err == nil {
		switch {
		case fo.request != nil:
			err = checkHeaders(t, req.Headers, fo.request.Headers)
			if err == nil && fo.request.Body != nil && fo.request.Body.Action == "replace" {
				err = x.replaceBody(t, a, fo.request.Body)
			}
		case res != nil:
			err = checkHeaders(t, res.Headers, fo.response.Headers)
		default:
			err = checkHeaders(t, nil, fo.response.Headers)
		}
	}
	if err != nil {
		return functionOutput{}, &edgeError{status: http.StatusBadGateway, cache: "LambdaValidationError", msg: fmt.Sprintf("%v (function %s)", err, a.ARN)}
	}
	return fo, nil
}

// replaceBody takes the body a request function replaced.
func (x *exchange) replaceBody(t EventType, a association, b *cfBody) error {
	if !a.IncludeBody {
		return invalidResult("the %s function replaced the body, but its association does not have IncludeBody", t)
	}
	switch b.Encoding {
	case "base64":
		data, err := base64.StdEncoding.DecodeString(b.Data)
		if err != nil {
			return invalidResult("the %s function returned a body that is not base64: %v", t, err)
		}
		x.body = data
	case "text":
		x.body = []byte(b.Data)
	default:
		return invalidResult("the %s function returned body encoding %q; CloudFront takes base64 or text", t, b.Encoding)
	}
	return nil
}

// runResponse runs a response event's function over res.
func (x *exchange) runResponse(ctx context.Context, a association, req *cfRequest, res *edgeResult) (*edgeResult, error) {
	in := &cfResponse{Status: strconv.Itoa(res.status), StatusDescription: http.StatusText(res.status), Headers: res.headers}
	out, err := x.run(ctx, a, req, in)
	if err != nil {
		return nil, err
	}
	body := res.body
	cache := res.cache
	if out.response.BodyEncoding != "" {
		g, err := x.generated(a.EventType, out.response)
		if err != nil {
			return nil, err
		}
		body, cache = g.body, g.cache
	}
	status, _ := strconv.Atoi(out.response.Status)
	return &edgeResult{status: status, headers: out.response.Headers, body: body, cache: cache}, nil
}

// generated turns a response a function generated into the viewer's
// response, within the event type's size limit.
func (x *exchange) generated(t EventType, r *cfResponse) (*edgeResult, error) {
	body := []byte(r.Body)
	if r.BodyEncoding == "base64" {
		var err error
		if body, err = base64.StdEncoding.DecodeString(r.Body); err != nil {
			return nil, &edgeError{status: http.StatusBadGateway, cache: "LambdaValidationError",
				msg: fmt.Sprintf("the %s function generated a body with bodyEncoding base64 that is not base64: %v", t, err)}
		}
	}
	limit := originGenerated
	if t.viewer() {
		limit = viewerGenerated
	}
	if size := len(body) + r.Headers.size(); size > limit {
		return nil, &edgeError{status: http.StatusBadGateway, cache: "LambdaValidationError",
			msg: fmt.Sprintf("the %s function generated a response of %d bytes (headers and body); the limit for %s is %d bytes", t, size, t, limit)}
	}
	status, _ := strconv.Atoi(r.Status)
	return &edgeResult{status: status, headers: r.Headers, body: body, cache: "LambdaGeneratedResponse"}, nil
}

// hopHeaders are not forwarded in either direction.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// fetch sends the origin request and reads the whole response.
func (x *exchange) fetch(ctx context.Context, req *cfRequest, org origin) (*edgeResult, error) {
	co := req.Origin.Custom
	u := url.URL{Scheme: co.Protocol, Host: net.JoinHostPort(co.DomainName, strconv.Itoa(co.Port)), RawQuery: req.Querystring}
	u.Path = co.Path + req.URI
	if p, err := url.PathUnescape(u.Path); err == nil {
		u.Path, u.RawPath = p, co.Path+req.URI
	}
	timeout := time.Duration(max(co.ReadTimeout, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), bytes.NewReader(x.body))
	if err != nil {
		return nil, &edgeError{status: http.StatusBadGateway, cache: "Error", msg: fmt.Sprintf("the origin request to %s is not valid: %v", u.String(), err)}
	}
	req.Headers.writeTo(hr.Header)
	co.CustomHeaders.writeTo(hr.Header)
	for _, h := range append(hopHeaders, "Host", "Content-Length") {
		hr.Header.Del(h)
	}
	hr.Host = co.DomainName
	hr.Header.Set("Via", "1.1 local.cloudfront.localhost (CloudFront)")
	hr.Header.Set("X-Amz-Cf-Id", x.reqID)
	resp, err := x.p.originClient().Do(hr)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &edgeError{status: http.StatusGatewayTimeout, cache: "Error", msg: fmt.Sprintf("the origin %s did not answer within %s", u.Host, timeout)}
		}
		return nil, &edgeError{status: http.StatusBadGateway, cache: "Error", msg: fmt.Sprintf("CloudFront wasn't able to connect to the origin %s: %v", u.Host, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOriginBody+1))
	if err != nil {
		return nil, &edgeError{status: http.StatusBadGateway, cache: "Error", msg: fmt.Sprintf("read the response of origin %s: %v", u.Host, err)}
	}
	if len(body) > maxOriginBody {
		return nil, &edgeError{status: http.StatusBadGateway, cache: "Error", msg: fmt.Sprintf("the origin's response is larger than the %d bytes the local edge proxy relays", maxOriginBody)}
	}
	for _, h := range append(hopHeaders, "Content-Length") {
		resp.Header.Del(h)
	}
	return &edgeResult{status: resp.StatusCode, headers: headersOf(resp.Header, ""), body: body, cache: "Miss"}, nil
}
