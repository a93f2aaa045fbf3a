package cloudfront_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	cf "github.com/sluice-cd/sluice/internal/locallambda/cloudfront"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// The edge function (testdata/edgefn), built once per test binary.
var edgeFn struct {
	once sync.Once
	zip  []byte
	err  error
}

func edgeZip(t testing.TB) []byte {
	t.Helper()
	edgeFn.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		edgeFn.zip, edgeFn.err = fnbuild.Zip(ctx, ".", "./testdata/edgefn")
	})
	if edgeFn.err != nil {
		t.Fatal(edgeFn.err)
	}
	return edgeFn.zip
}

// edgeFunction creates function name running edgefn's handler and
// publishes version 1; its ARN is returned.
func edgeFunction(t testing.TB, e *env, name, handler string, timeout int32) string {
	t.Helper()
	in := lambdatest.CreateInput(name, edgeZip(t))
	in.Handler = aws.String(handler)
	in.Timeout = aws.Int32(timeout)
	createActive(t, e, in)
	return publishVersion(t, e, name)
}

// publishAgain publishes the next version of a function (a new
// description makes it differ).
func publishAgain(t testing.TB, e *env, name string) string {
	t.Helper()
	if _, err := e.ep.Lambda.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Description: aws.String("next")}); err != nil {
		t.Fatal(err)
	}
	w := lambda.NewFunctionUpdatedV2Waiter(e.ep.Lambda, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, waitTimeout); err != nil {
		t.Fatalf("FunctionUpdatedV2 %s: %v", name, err)
	}
	return publishVersion(t, e, name)
}

// origin is a custom origin that answers with what it received: status
// from ?status=, X-Origin-Saw-* headers for the request headers the
// tests look at, and the request's headers as a JSON body.
func startOrigin(t testing.TB) (host string, port int32) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for _, h := range []string{"X-Greeting", "X-Viewer-Version", "X-Origin-Secret", "X-Seen-Event", "X-Body-Length", "X-Body-Truncated", "X-Body-Action"} {
			w.Header().Set("X-Origin-Saw-"+strings.TrimPrefix(h, "X-"), r.Header.Get(h))
		}
		w.Header().Set("X-Origin-Saw-Host", r.Host)
		w.Header().Set("X-Origin-Saw-Path", r.URL.RequestURI())
		w.Header().Set("X-Origin-Saw-Body-Bytes", strconv.Itoa(len(body)))
		w.Header().Set("Content-Type", "application/json")
		status := http.StatusOK
		if s := r.URL.Query().Get("status"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	h, p, _ := strings.Cut(addr, ":")
	n, _ := strconv.Atoi(p)
	return h, int32(n)
}

// edgeClient sends requests to the edge proxy at addr for host.
type edgeClient struct {
	t    testing.TB
	addr string
	c    *http.Client
}

func (c *edgeClient) do(host, method, path string, header http.Header, body io.Reader) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, "http://"+c.addr+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = host
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *edgeClient) get(host, path string, header http.Header) (*http.Response, string) {
	c.t.Helper()
	return c.do(host, http.MethodGet, path, header, nil)
}

func startEdge(t testing.TB, e *env) *edgeClient {
	t.Helper()
	addr, err := e.srv.StartEdge(context.Background(), "")
	if err != nil {
		t.Fatalf("StartEdge: %v", err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &edgeClient{t: t, addr: addr.String(), c: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// localHost is the Host that picks distribution id on the edge proxy.
func localHost(id *string) string { return strings.ToLower(aws.ToString(id)) + ".cloudfront.localhost" }

func TestEdgeProxyWithStagingWeight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	host, port := startOrigin(t)
	viewer1 := edgeFunction(t, e, "viewer-rewrite", "viewer-rewrite", 5)
	originAdd := edgeFunction(t, e, "origin-add", "origin-add", 5)
	viewer2 := publishAgain(t, e, "viewer-rewrite")

	in := distConfig("edge-weight", host, port, assoc(viewer1, types.EventTypeViewerRequest, false), assoc(originAdd, types.EventTypeOriginResponse, false))
	in.Aliases = &types.Aliases{Quantity: aws.Int32(1), Items: []string{"shop.example.com"}}
	primary := createDistribution(t, e.cf, in)
	edge := startEdge(t, e)
	pid := aws.ToString(primary.Distribution.Id)

	// One request, before any staging: the viewer-request function
	// rewrote the header the origin saw, the origin-response function
	// added one, and each saw CloudFront's event.
	for _, h := range []string{localHost(primary.Distribution.Id), aws.ToString(primary.Distribution.DomainName), "shop.example.com:80"} {
		resp, body := edge.get(h, "/items?id=7", http.Header{"X-Greeting": {"hi"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET via Host %s: %d %s", h, resp.StatusCode, body)
		}
		for name, want := range map[string]string{
			"X-Origin-Saw-Greeting":       "hi, rewritten by v1",
			"X-Origin-Saw-Viewer-Version": "1",
			"X-Origin-Saw-Origin-Secret":  "s3cret",
			"X-Origin-Saw-Host":           host,
			"X-Origin-Saw-Path":           "/items?id=7",
			"X-Origin-Response":           "added by v1",
			"X-Origin-Saw-Seen-Event":     "viewer-request " + pid + " 127.0.0.1",
			cf.HeaderStage:                "primary",
			cf.HeaderDistribution:         pid,
			"X-Cache":                     "Miss from cloudfront",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("Host %s: %s = %q; want %q", h, name, got, want)
			}
		}
	}
	resp, _ := edge.get("nothing.cloudfront.localhost", "/", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unknown Host: %d; want 403", resp.StatusCode)
	}

	// A staging copy runs version 2 of the viewer function, and a policy
	// sends it 10% of the requests.
	staging, err := e.cf.CopyDistribution(ctx, &cloudfront.CopyDistributionInput{
		PrimaryDistributionId: primary.Distribution.Id, CallerReference: aws.String("edge-weight-staging"), Staging: aws.Bool(true), IfMatch: primary.ETag})
	if err != nil {
		t.Fatalf("CopyDistribution: %v", err)
	}
	sid := aws.ToString(staging.Distribution.Id)
	sc, _ := e.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: staging.Distribution.Id})
	sc.DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations.Items[0].LambdaFunctionARN = aws.String(viewer2)
	if _, err := e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: staging.Distribution.Id, IfMatch: sc.ETag, DistributionConfig: sc.DistributionConfig}); err != nil {
		t.Fatalf("UpdateDistribution (staging): %v", err)
	}
	resp, _ = edge.get(localHost(staging.Distribution.Id), "/", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("the staging distribution's own Host: %d; want 403 (it answers only through its primary)", resp.StatusCode)
	}
	pol, err := e.cf.CreateContinuousDeploymentPolicy(ctx, &cloudfront.CreateContinuousDeploymentPolicyInput{
		ContinuousDeploymentPolicyConfig: weightPolicy(aws.ToString(staging.Distribution.DomainName), 0.1)})
	if err != nil {
		t.Fatalf("CreateContinuousDeploymentPolicy: %v", err)
	}
	pc, _ := e.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: primary.Distribution.Id})
	pc.DistributionConfig.ContinuousDeploymentPolicyId = pol.ContinuousDeploymentPolicy.Id
	attached, err := e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: primary.Distribution.Id, IfMatch: pc.ETag, DistributionConfig: pc.DistributionConfig})
	if err != nil {
		t.Fatalf("attach the policy: %v", err)
	}

	// 2000 requests: the staging share is binomial (n 2000, p 0.1: mean
	// 200, sd 13.4); 120..280 is six standard deviations either way.
	const n = 2000
	counts := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				resp, body := edge.get(localHost(primary.Distribution.Id), "/", http.Header{"X-Greeting": {"hi"}})
				stage, greeting := resp.Header.Get(cf.HeaderStage), resp.Header.Get("X-Origin-Saw-Greeting")
				key := stage + " " + greeting + " " + resp.Header.Get(cf.HeaderDistribution) + " " + resp.Header.Get("X-Origin-Response")
				if resp.StatusCode != http.StatusOK {
					key = fmt.Sprintf("status %d: %s", resp.StatusCode, body)
				}
				mu.Lock()
				counts[key]++
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	primaryKey := "primary hi, rewritten by v1 " + pid + " added by v1"
	stagingKey := "staging hi, rewritten by v2 " + sid + " added by v1"
	if counts[primaryKey]+counts[stagingKey] != n {
		t.Fatalf("responses: %v; want only %q and %q", counts, primaryKey, stagingKey)
	}
	if s := counts[stagingKey]; s < 120 || s > 280 {
		t.Errorf("staging served %d of %d requests at weight 0.1; want 120..280", s, n)
	}
	t.Logf("staging served %d of %d", counts[stagingKey], n)

	// SingleHeader: the header sends a request to staging, its absence to
	// the primary.
	gp, _ := e.cf.GetContinuousDeploymentPolicy(ctx, &cloudfront.GetContinuousDeploymentPolicyInput{Id: pol.ContinuousDeploymentPolicy.Id})
	if _, err := e.cf.UpdateContinuousDeploymentPolicy(ctx, &cloudfront.UpdateContinuousDeploymentPolicyInput{Id: pol.ContinuousDeploymentPolicy.Id, IfMatch: gp.ETag,
		ContinuousDeploymentPolicyConfig: headerPolicy(aws.ToString(staging.Distribution.DomainName), "aws-cf-cd-canary", "yes")}); err != nil {
		t.Fatalf("UpdateContinuousDeploymentPolicy: %v", err)
	}
	for i := range 20 {
		resp, _ := edge.get(localHost(primary.Distribution.Id), "/", http.Header{"Aws-Cf-Cd-Canary": {"yes"}})
		if got := resp.Header.Get(cf.HeaderStage); got != "staging" {
			t.Fatalf("request %d with aws-cf-cd-canary: yes served by %s; want staging", i, got)
		}
		resp, _ = edge.get(localHost(primary.Distribution.Id), "/", http.Header{"Aws-Cf-Cd-Canary": {"no"}})
		if got := resp.Header.Get(cf.HeaderStage); got != "primary" {
			t.Fatalf("request %d with aws-cf-cd-canary: no served by %s; want primary", i, got)
		}
	}

	// Promote: the primary now runs version 2 for every request.
	sg, _ := e.cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: staging.Distribution.Id})
	if _, err := e.cf.UpdateDistributionWithStagingConfig(ctx, &cloudfront.UpdateDistributionWithStagingConfigInput{Id: primary.Distribution.Id,
		StagingDistributionId: staging.Distribution.Id, IfMatch: aws.String(aws.ToString(attached.ETag) + "," + aws.ToString(sg.ETag))}); err != nil {
		t.Fatalf("UpdateDistributionWithStagingConfig: %v", err)
	}
	resp, _ = edge.get(localHost(primary.Distribution.Id), "/", http.Header{"X-Greeting": {"hi"}, "Aws-Cf-Cd-Canary": {"no"}})
	if got := resp.Header.Get("X-Origin-Saw-Greeting"); got != "hi, rewritten by v2" || resp.Header.Get(cf.HeaderStage) != "primary" {
		t.Errorf("after the promotion the primary's viewer function saw %q (stage %s); want version 2 on the primary", got, resp.Header.Get(cf.HeaderStage))
	}
}

func TestEdgeProxyLimitsAndEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host, port := startOrigin(t)
	generate := edgeFunction(t, e, "generate", "generate", 5)
	readonly := edgeFunction(t, e, "readonly", "readonly", 5)
	fail := edgeFunction(t, e, "fail", "fail", 5)
	sleep := edgeFunction(t, e, "sleep", "sleep", 1)
	echoBody := edgeFunction(t, e, "echo-body", "echo-body", 5)
	viewerAdd := edgeFunction(t, e, "viewer-add", "viewer-add", 5)

	in := distConfig("edge-limits", host, port)
	behaviors := []struct {
		pattern string
		assoc   types.LambdaFunctionAssociation
	}{
		{"/gen-viewer/*", assoc(generate, types.EventTypeViewerRequest, false)},
		{"/gen-origin/*", assoc(generate, types.EventTypeOriginRequest, false)},
		{"/readonly/*", assoc(readonly, types.EventTypeViewerRequest, false)},
		{"/fail/*", assoc(fail, types.EventTypeOriginRequest, false)},
		{"/sleep/*", assoc(sleep, types.EventTypeOriginResponse, false)},
		{"/body/*", assoc(echoBody, types.EventTypeOriginRequest, true)},
		{"/nobody/*", assoc(echoBody, types.EventTypeOriginRequest, false)},
		{"/vresp/*", assoc(viewerAdd, types.EventTypeViewerResponse, false)},
	}
	in.CacheBehaviors = &types.CacheBehaviors{Quantity: aws.Int32(int32(len(behaviors)))}
	for _, b := range behaviors {
		in.CacheBehaviors.Items = append(in.CacheBehaviors.Items, types.CacheBehavior{
			PathPattern: aws.String(b.pattern), TargetOriginId: aws.String("app"), ViewerProtocolPolicy: types.ViewerProtocolPolicyAllowAll,
			CachePolicyId:              aws.String("4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
			LambdaFunctionAssociations: &types.LambdaFunctionAssociations{Quantity: aws.Int32(1), Items: []types.LambdaFunctionAssociation{b.assoc}},
		})
	}
	d := createDistribution(t, e.cf, in)
	edge := startEdge(t, e)
	h := localHost(d.Distribution.Id)

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantCache  string
		wantHeader map[string]string
		wantBody   string
	}{
		{name: "viewer generated within 40 KB", path: "/gen-viewer/x?size=40000", wantStatus: 200, wantCache: "LambdaGeneratedResponse from cloudfront"},
		{name: "viewer generated above 40 KB", path: "/gen-viewer/x?size=41000", wantStatus: 502, wantCache: "LambdaValidationError from cloudfront", wantBody: "limit for viewer-request is 40960"},
		{name: "origin generated 1000 KB", path: "/gen-origin/x?size=1024000", wantStatus: 200, wantCache: "LambdaGeneratedResponse from cloudfront"},
		{name: "origin generated above 1 MB", path: "/gen-origin/x?size=1048577", wantStatus: 502, wantCache: "LambdaValidationError from cloudfront", wantBody: "origin-request"},
		{name: "read-only header", path: "/readonly/x", wantStatus: 502, wantCache: "LambdaValidationError from cloudfront", wantBody: "read-only header host"},
		{name: "function error", path: "/fail/x", wantStatus: 503, wantCache: "LambdaExecutionError from cloudfront", wantBody: "failed on purpose"},
		{name: "timeout", path: "/sleep/x?ms=3000", wantStatus: 503, wantCache: "LambdaExecutionError from cloudfront", wantBody: "timed out"},
		{name: "within the timeout", path: "/sleep/x?ms=10", wantStatus: 200, wantCache: "Miss from cloudfront"},
		{name: "body", method: "POST", path: "/body/x", body: "hello edge", wantStatus: 200,
			wantHeader: map[string]string{"X-Origin-Saw-Body-Length": "10", "X-Origin-Saw-Body-Truncated": "false", "X-Origin-Saw-Body-Action": "read-only", "X-Origin-Saw-Body-Bytes": "10"}},
		{name: "body above 1 MB is truncated for the function, whole for the origin", method: "POST", path: "/body/x", body: strings.Repeat("b", 1<<20+5), wantStatus: 200,
			wantHeader: map[string]string{"X-Origin-Saw-Body-Length": strconv.Itoa(1 << 20), "X-Origin-Saw-Body-Truncated": "true", "X-Origin-Saw-Body-Bytes": strconv.Itoa(1<<20 + 5)}},
		{name: "no IncludeBody", method: "POST", path: "/nobody/x", body: "secret", wantStatus: 200, wantHeader: map[string]string{"X-Origin-Saw-Body-Length": "", "X-Origin-Saw-Body-Bytes": "6"}},
		{name: "viewer-response adds a header, cannot change the status", path: "/vresp/x", wantStatus: 200, wantHeader: map[string]string{"X-Viewer-Response": "v1"}},
		{name: "viewer-response does not run on an origin error", path: "/vresp/x?status=404", wantStatus: 404, wantHeader: map[string]string{"X-Viewer-Response": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, got := edge.do(h, cmpOr(tt.method, "GET"), tt.path, nil, body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d; want %d\n%s", resp.StatusCode, tt.wantStatus, got)
			}
			if tt.wantCache != "" && resp.Header.Get("X-Cache") != tt.wantCache {
				t.Errorf("X-Cache %q; want %q", resp.Header.Get("X-Cache"), tt.wantCache)
			}
			for k, v := range tt.wantHeader {
				if resp.Header.Get(k) != v {
					t.Errorf("%s = %q; want %q", k, resp.Header.Get(k), v)
				}
			}
			if !strings.Contains(got, tt.wantBody) {
				t.Errorf("body does not mention %q:\n%s", tt.wantBody, got)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
