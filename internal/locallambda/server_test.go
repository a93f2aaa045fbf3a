package locallambda

import (
	"context"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/control"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// The control plane's tests talk to a real Server over HTTP through
// aws-sdk-go-v2, as Sluice's stages do.

// ctlServer is a started Server with SDK clients pointed at it.
type ctlServer struct {
	*Server
	*lambdatest.Endpoint
	dir string
}

type ctlOption func(*Config)

// withGate holds every activation until the test releases it.
func withGate(g *lambdatest.ActivationGate) ctlOption {
	return func(c *Config) { c.beforeActivation = g.Wait }
}

// newCtlServer starts a Server on a fresh data directory (or dir, if given
// through reopen) and closes it when the test ends.
func newCtlServer(t testing.TB, opts ...ctlOption) *ctlServer {
	t.Helper()
	return openCtlServer(t, t.TempDir(), opts...)
}

func openCtlServer(t testing.TB, dir string, opts ...ctlOption) *ctlServer {
	t.Helper()
	cfg := Config{DataDir: dir}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	cs := &ctlServer{Server: srv, Endpoint: lambdatest.NewEndpoint(srv.URL()), dir: dir}
	t.Cleanup(func() { _ = srv.Close() })
	return cs
}

func TestStartRefusesNonLoopback(t *testing.T) {
	srv, err := New(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", ":0"} {
		if _, err := srv.Start(context.Background(), addr); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("Start(%q) = %v; want a loopback error", addr, err)
		}
	}
	addr, err := srv.Start(context.Background(), "")
	if err != nil {
		t.Fatalf("Start(\"\"): %v", err)
	}
	if want := "http://" + addr.String(); srv.URL() != want {
		t.Errorf("URL() = %q; want %q", srv.URL(), want)
	}
	if _, err := srv.Start(context.Background(), ""); err == nil {
		t.Error("a second Start succeeded")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no data dir", Config{}, "DataDir"},
		{"bad region", Config{DataDir: t.TempDir(), Region: "mars"}, "region"},
		{"bad account", Config{DataDir: t.TempDir(), AccountID: "42"}, "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v; want an error about %s", err, tt.want)
			}
		})
	}
}

func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	resp, body := cs.RawRequest(t, "GET", "/2015-03-31/functions/nope", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("status = %d; want 404", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Amzn-ErrorType"); got != "ResourceNotFoundException" {
		t.Errorf("X-Amzn-ErrorType = %q", got)
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Error("no X-Amzn-RequestId")
	}
	var env map[string]string
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	want := map[string]string{"Type": "User", "__type": "ResourceNotFoundException",
		"message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("body[%q] = %q; want %q", k, env[k], v)
		}
	}
}

func TestRoutingEscapedARNsAndUnknownOperations(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("routed", lambdatest.BootstrapZip(t, "r")))
	arn := "arn:aws:lambda:us-east-1:000000000000:function:routed"
	// The SDK percent-encodes ARNs in the path; each form must resolve.
	for _, name := range []string{"routed", arn, "000000000000:function:routed", arn + ":$LATEST", "routed:$LATEST"} {
		out, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatalf("GetFunction(%s): %v", name, err)
		}
		if got := aws.ToString(out.Configuration.FunctionName); got != "routed" {
			t.Errorf("GetFunction(%s).FunctionName = %q", name, got)
		}
	}
	// By hand: a literal, unencoded ARN also routes.
	resp, _ := cs.RawRequest(t, "GET", "/2015-03-31/functions/"+arn+"/configuration", nil)
	if resp.StatusCode != 200 {
		t.Errorf("unencoded ARN: status %d", resp.StatusCode)
	}
	// Another region or account is not this endpoint's function.
	_, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("arn:aws:lambda:eu-west-1:000000000000:function:routed")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found")
	// Qualifier in the name and as a parameter must agree.
	_, err = cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("routed:1"), Qualifier: aws.String("2")})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "does not match the specified qualifier")
	// A bad name is AWS's ValidationException.
	resp, body := cs.RawRequest(t, "GET", "/2015-03-31/functions/bad%20name", nil)
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Errorf("bad name: %d %s %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
	// Features the local Lambda does not have say so.
	_, err = cs.Lambda.ListLayers(ctx, &lambda.ListLayersInput{})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "Layers are not supported")
	resp, body = cs.RawRequest(t, "PATCH", "/2015-03-31/functions/routed", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("unknown operation: %d %s %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
}

func TestRequestTooLarge(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	in := lambdatest.CreateInput("huge", make([]byte, 53*1024*1024)) // > 69905067 bytes once base64-encoded
	_, err := cs.Lambda.CreateFunction(context.Background(), in)
	lambdatest.WantError[*types.RequestTooLargeException](t, err, "Request must be smaller than 69905067 bytes for the CreateFunction operation")
}

// TestServerInvoke runs Invoke through the whole REST path: the control
// plane resolves, the data plane runs a real aws-lambda-go function.
func TestServerInvoke(t *testing.T) {
	t.Parallel()
	gate := lambdatest.NewActivationGate()
	gate.Open()
	cs := newCtlServer(t, withGate(gate))
	ctx := context.Background()
	bootstrap, err := os.ReadFile(lambdatest.FunctionDir(t) + "/bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	pkg := lambdatest.Zip(t, map[string]string{"bootstrap": string(bootstrap)})
	in := lambdatest.CreateInput("live-fn", pkg)
	in.Handler = aws.String("env")
	in.Environment = &types.Environment{Variables: map[string]string{"STAGE": "one"}}
	cs.CreateActive(t, in)
	invoke := func(q string) (map[string]string, string) {
		t.Helper()
		in := &lambda.InvokeInput{FunctionName: aws.String("live-fn")}
		if q != "" {
			in.Qualifier = aws.String(q)
		}
		out, err := cs.Lambda.Invoke(ctx, in)
		if err != nil {
			t.Fatalf("Invoke(%s): %v", q, err)
		}
		if out.FunctionError != nil {
			t.Fatalf("Invoke(%s): function error %s: %s", q, aws.ToString(out.FunctionError), out.Payload)
		}
		env := map[string]string{}
		if err := json.Unmarshal(out.Payload, &env); err != nil {
			t.Fatalf("Invoke(%s) payload %s: %v", q, out.Payload, err)
		}
		return env, aws.ToString(out.ExecutedVersion)
	}
	env, v := invoke("")
	if env["STAGE"] != "one" || v != "$LATEST" || env["AWS_LAMBDA_FUNCTION_NAME"] != "live-fn" {
		t.Errorf("$LATEST ran version %s with STAGE=%q, name %q", v, env["STAGE"], env["AWS_LAMBDA_FUNCTION_NAME"])
	}
	cs.Publish(t, "live-fn")

	// While an update is in progress, $LATEST runs the previous configuration.
	gate.Hold()
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("live-fn"),
		Environment: &types.Environment{Variables: map[string]string{"STAGE": "two"}}}); err != nil {
		t.Fatal(err)
	}
	if env, _ := invoke(""); env["STAGE"] != "one" {
		t.Errorf("during the update $LATEST ran STAGE=%q; want the previous one", env["STAGE"])
	}
	gate.Open()
	cs.WaitUpdated(t, "live-fn")
	if env, _ := invoke(""); env["STAGE"] != "two" {
		t.Errorf("after the update $LATEST ran STAGE=%q; want two", env["STAGE"])
	}
	cs.Publish(t, "live-fn")
	if env, v := invoke("1"); env["STAGE"] != "one" || v != "1" {
		t.Errorf("version 1 ran STAGE=%q as version %s", env["STAGE"], v)
	}
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("live-fn"), Name: aws.String("live"),
		FunctionVersion: aws.String("1"), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.5}}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for i := 0; i < 60 && len(seen) < 2; i++ {
		env, v := invoke("live")
		seen[v] = env["STAGE"]
	}
	if seen["1"] != "one" || seen["2"] != "two" {
		t.Errorf("the 50%% alias ran %v; want version 1 (one) and 2 (two)", seen)
	}
	_, err = cs.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("live-fn"), Qualifier: aws.String("nope")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:live-fn:nope")
	_, err = cs.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ghost")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost")

	// The metrics endpoint is on the same port.
	resp, body := cs.RawRequest(t, "GET", "/metrics", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "live-fn") {
		t.Errorf("GET /metrics: %d, mentions live-fn: %v", resp.StatusCode, strings.Contains(string(body), "live-fn"))
	}

	// So is the per-version query: invocations through the alias, by the
	// version that ran.
	resp, body = cs.RawRequest(t, "GET", "/_locallambda/metrics/query?function=live-fn&qualifier=live&since=10m&step=1h", nil)
	var q MetricsQuery
	if err := json.Unmarshal(body, &q); resp.StatusCode != 200 || err != nil {
		t.Fatalf("metrics query: %d %s (%v)", resp.StatusCode, body, err)
	}
	counts := map[string]int64{}
	for _, series := range q.Series {
		for _, p := range series.Points {
			counts[series.Version] += p.Invocations
		}
	}
	if counts["1"] == 0 || counts["2"] == 0 {
		t.Errorf("metrics query through alias live: invocations by version %v; want both versions", counts)
	}
	resp, body = cs.RawRequest(t, "GET", "/_locallambda/metrics/query?function=live-fn&step=soon", nil)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "step") {
		t.Errorf("metrics query with a bad step: %d %s", resp.StatusCode, body)
	}

	// And the per-request samples: the same requests, one sample each,
	// and, three at a time, all of them exactly once.
	resp, body = cs.RawRequest(t, "GET", "/_locallambda/metrics/samples?function=live-fn&qualifier=live&since=10m", nil)
	var ms MetricsSamples
	if err := json.Unmarshal(body, &ms); resp.StatusCode != 200 || err != nil {
		t.Fatalf("metrics samples: %d %s (%v)", resp.StatusCode, body, err)
	}
	for _, v := range ms.Versions {
		if v.Requests != counts[v.Version] || v.OK != v.Requests || v.DurationP50 <= 0 || v.DurationP99 < v.DurationP50 || v.Samples != nil {
			t.Errorf("samples of version %s = %+v; want %d requests, all ok, 0 < p50 <= p99, no samples", v.Version, v, counts[v.Version])
		}
	}
	paged := map[string]int64{}
	since := ms.Since.Format(time.RFC3339Nano)
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("samples paging does not end")
		}
		resp, body = cs.RawRequest(t, "GET", "/_locallambda/metrics/samples?function=live-fn&qualifier=live&samples=true&limit=3&until="+
			ms.Until.Format(time.RFC3339Nano)+"&since="+url.QueryEscape(since), nil)
		var page MetricsSamples
		if err := json.Unmarshal(body, &page); resp.StatusCode != 200 || err != nil {
			t.Fatalf("metrics samples page: %d %s (%v)", resp.StatusCode, body, err)
		}
		for _, v := range page.Versions {
			if len(v.Samples) > 3 {
				t.Fatalf("a page with limit 3 holds %d samples of version %s", len(v.Samples), v.Version)
			}
			paged[v.Version] += int64(len(v.Samples))
		}
		if page.Next == nil {
			break
		}
		since = page.Next.Format(time.RFC3339Nano)
	}
	if paged["1"] != counts["1"] || paged["2"] != counts["2"] {
		t.Errorf("samples read 3 at a time: %v; want %v", paged, counts)
	}
	resp, body = cs.RawRequest(t, "GET", "/_locallambda/metrics/samples?function=live-fn&limit=0", nil)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "limit") {
		t.Errorf("metrics samples with limit 0: %d %s", resp.StatusCode, body)
	}
}

func TestDataDirIsExclusive(t *testing.T) {
	dir := t.TempDir()
	first, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second New on the same directory = %v; want it refused", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	again.Close()
}

// TestAliasHistory: every change of an alias is in its history, in order,
// with what it routed after the change — including changes a later one
// undid, which a GetAlias poll would miss.
func TestAliasHistory(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("hist", lambdatest.BootstrapZip(t, "h")))
	var versions []string
	for range 2 {
		out, err := cs.Lambda.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hist")})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, aws.ToString(out.Version))
		cs.WaitVersionActive(t, "hist", aws.ToString(out.Version))
		if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String("hist"), Description: aws.String("next")}); err != nil {
			t.Fatal(err)
		}
		cs.WaitUpdated(t, "hist")
	}
	v1, v2 := versions[0], versions[1]
	created, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hist"), Name: aws.String("live"), FunctionVersion: aws.String(v1)})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("hist"), Name: aws.String("live"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{v2: 0.1}}})
	if err != nil {
		t.Fatal(err)
	}
	// A stale RevisionId changes nothing, and is not recorded.
	_, err = cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("hist"), Name: aws.String("live"),
		FunctionVersion: aws.String(v2), RevisionId: created.RevisionId})
	lambdatest.WantError[*types.PreconditionFailedException](t, err, "")
	if _, err := cs.Lambda.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("hist"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}

	resp, body := cs.RawRequest(t, "GET", "/_locallambda/functions/hist/aliases/live/history", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("history: %d %s", resp.StatusCode, body)
	}
	var got struct{ Changes []control.AliasChange }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("history %s: %v", body, err)
	}
	want := []control.AliasChange{
		{Operation: "CreateAlias", FunctionVersion: v1, RevisionID: aws.ToString(created.RevisionId)},
		{Operation: "UpdateAlias", FunctionVersion: v1, Weights: map[string]float64{v2: 0.1}, RevisionID: aws.ToString(updated.RevisionId)},
		{Operation: "DeleteAlias"},
	}
	if len(got.Changes) != len(want) {
		t.Fatalf("history has %d changes, want %d: %s", len(got.Changes), len(want), body)
	}
	for i, w := range want {
		g := got.Changes[i]
		if g.Operation != w.Operation || g.FunctionVersion != w.FunctionVersion || !maps.Equal(g.Weights, w.Weights) || g.RevisionID != w.RevisionID {
			t.Errorf("change %d = %+v, want %+v", i+1, g, w)
		}
		if i > 0 && g.Seq <= got.Changes[i-1].Seq {
			t.Errorf("change %d has seq %d, not after %d", i+1, g.Seq, got.Changes[i-1].Seq)
		}
	}
	resp, body = cs.RawRequest(t, "GET", "/_locallambda/functions/hist/aliases/never/history", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"changes":[]`) {
		t.Errorf("an alias never changed: %d %s; want an empty list", resp.StatusCode, body)
	}
}
