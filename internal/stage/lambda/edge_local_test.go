package lambda

// The Lambda@Edge stages run by the real engine against the local
// CloudFront control plane on the local Lambda's port, with a real
// function (testdata/probe) and its published versions: a direct
// association, its replacement and rollback, a refusal that changes
// nothing, a PreconditionFailed provoked by a real concurrent change, the
// wait for Deployed across an engine restart, and the canary through
// continuous deployment, promoted and discarded.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/locallambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// edgeLocal is a local Lambda whose CloudFront has a distribution, and a
// function "demo-edge" to attach to it.
type edgeLocal struct {
	*localEnv
	cf     *cloudfront.Client
	offset atomic.Int64 // added to the local Lambda's clock, in ns
	fn     *fnFixture
	dist   string
}

// newEdgeLocal starts a local Lambda whose changed distributions stay
// InProgress for delay (on its clock, which advance moves).
func newEdgeLocal(t *testing.T, delay time.Duration) *edgeLocal {
	t.Helper()
	e := &edgeLocal{}
	srv := locallambdatest.Start(t, locallambda.Config{CloudFrontDeployDelay: delay,
		Clock: func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }})
	accounts := locallambdatest.Accounts(t, srv)
	acct, err := accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	e.localEnv = &localEnv{srv: srv, accounts: accounts, acct: acct, c: acct.Lambda, s3: acct.S3}
	e.cf = acct.CloudFront
	e.dist = newDistribution(t, e.cf, "edge-"+t.Name())
	e.fn = newFixture(t, e.localEnv, "edge", probeZip(t), nil)
	return e
}

// release publishes a new version of demo-edge with different code.
func (e *edgeLocal) release(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(e.fn.name), ZipFile: variantZip(t, probeZip(t), n)}); err != nil {
		t.Fatalf("UpdateFunctionCode: %v", err)
	}
	uw := lambda.NewFunctionUpdatedV2Waiter(e.c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := uw.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(e.fn.name)}, 30*time.Second); err != nil {
		t.Fatalf("FunctionUpdatedV2 %s: %v", e.fn.name, err)
	}
	return e.fn.publish(nil, "")
}

// arn is the qualified ARN of version v of demo-edge.
func (e *edgeLocal) arn(t *testing.T, v string) string {
	t.Helper()
	out, err := e.c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(e.fn.name), Qualifier: aws.String(v)})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration %s:%s: %v", e.fn.name, v, err)
	}
	return aws.ToString(out.FunctionArn)
}

// stage is an edge association stage on the distribution, with more.
func (e *edgeLocal) stage(more map[string]any) map[string]any {
	return withFields(map[string]any{"type": EdgeAssociationTypeName, "name": "Edge", "account": "local", "region": "us-east-1",
		"functionName": "edge", "distributionId": e.dist, "eventType": "origin-request"}, more)
}

// run triggers a pipeline of stages (the first refId "1", each after the
// one before) and waits for its end.
func (r *engineRun) runStages(t *testing.T, name string, rollbackOnFailure bool, stages ...map[string]any) *store.Execution {
	t.Helper()
	return r.waitDone(t, r.startStages(t, name, rollbackOnFailure, stages...))
}

func (r *engineRun) startStages(t *testing.T, name string, rollbackOnFailure bool, stages ...map[string]any) string {
	t.Helper()
	list := make([]any, len(stages))
	for i, s := range stages {
		more := map[string]any{"refId": string(rune('1' + i))}
		if i > 0 {
			more["requisiteStageRefIds"] = []any{string(rune('0' + i))}
		}
		list[i] = withFields(s, more)
	}
	saved := r.savePipeline(t, map[string]any{"name": name, "stages": list, "rollbackOnFailure": rollbackOnFailure})
	return r.triggerSaved(t, saved)
}

func (r *engineRun) triggerSaved(t *testing.T, p *store.Pipeline) string {
	t.Helper()
	exec, err := r.e.Trigger(context.Background(), &engine.TriggerParams{Pipeline: p, User: "tester"})
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	return exec.ID
}

// stageOutputs decodes the outputs of the stage of type typ.
func stageOutputs(t *testing.T, ex *store.Execution, typ string) (map[string]any, status.Status) {
	t.Helper()
	for _, s := range ex.Stages {
		if s.Type != typ {
			continue
		}
		out := map[string]any{}
		if len(s.Outputs) > 0 {
			if err := json.Unmarshal(s.Outputs, &out); err != nil {
				t.Fatal(err)
			}
		}
		return out, s.Status
	}
	t.Fatalf("execution %s has no %s stage", ex.ID, typ)
	return nil, ""
}

func mustSucceed(t *testing.T, ex *store.Execution) {
	t.Helper()
	if ex.Status != status.Succeeded {
		t.Fatalf("execution %s: %s (%s)", ex.ID, ex.Status, stageErrors(ex))
	}
}

// stageErrors gathers the stages' failure messages.
func stageErrors(ex *store.Execution) string {
	var msgs []string
	for _, s := range ex.Stages {
		var out map[string]any
		_ = json.Unmarshal(s.Outputs, &out)
		if m, _ := out[failureMessageKey].(string); m != "" {
			msgs = append(msgs, s.Name+": "+m)
		}
	}
	return strings.Join(msgs, "; ")
}

func wantAssociations(t *testing.T, cf *cloudfront.Client, id, pattern string, want ...edgeAssociation) {
	t.Helper()
	got := assocOf(t, cf, id, pattern)
	if !sameAssociations(got, want) {
		t.Errorf("distribution %s behavior %s: %s; want %s", id, pattern, describeAssociations(got), describeAssociations(want))
	}
}

// TestEdgeLocalAssociateReplaceRollback: a version is attached to two
// behaviors; a newer one replaces it there (the other event's association
// stays); rolling the execution back restores the first; a version that
// breaks the viewer limits is refused and the distribution keeps its ETag.
func TestEdgeLocalAssociateReplaceRollback(t *testing.T) {
	e := newEdgeLocal(t, 20*time.Millisecond)
	v1 := e.release(t, 1)
	v2 := e.release(t, 2)
	r := startEngineRun(t, sluicetest.OpenSQLite(t), Options{Accounts: e.accounts})
	both := []any{"*", "/api/*"}

	ex := r.runStages(t, "edge-v1", false, e.stage(map[string]any{"version": v1, "cacheBehaviors": both}))
	mustSucceed(t, ex)
	a1 := edgeAssociation{LambdaFunctionARN: e.arn(t, v1), EventType: eventOriginRequest}
	wantAssociations(t, e.cf, e.dist, "*", a1)
	wantAssociations(t, e.cf, e.dist, "/api/*", a1)

	// Someone adds an origin-response function on the default behavior.
	resp := edgeAssociation{LambdaFunctionARN: e.arn(t, v1), EventType: eventOriginResponse}
	cfg, etag := distConfig(t, e.cf, e.dist)
	setBehaviorAssociations(cfg, "*", []edgeAssociation{a1, resp})
	if _, err := e.cf.UpdateDistribution(context.Background(), &cloudfront.UpdateDistributionInput{Id: aws.String(e.dist), IfMatch: aws.String(etag), DistributionConfig: cfg}); err != nil {
		t.Fatal(err)
	}

	// An empty deploymentStrategy is the default, $DIRECT, rollback record
	// included.
	ex = r.runStages(t, "edge-v2", false, e.stage(map[string]any{"version": "$LATEST", "includeBody": true, "cacheBehaviors": both, "deploymentStrategy": ""}))
	mustSucceed(t, ex)
	a2 := edgeAssociation{LambdaFunctionARN: e.arn(t, v2), EventType: eventOriginRequest, IncludeBody: true}
	wantAssociations(t, e.cf, e.dist, "*", a2, resp)
	wantAssociations(t, e.cf, e.dist, "/api/*", a2)
	out, _ := stageOutputs(t, ex, EdgeAssociationTypeName)
	if out["edgeFunctionVersion"] != v2 || out[RollbackStageKey] == nil {
		t.Errorf("outputs %v; want edgeFunctionVersion %s and a rollback record", out, v2)
	}

	// Roll the second release back: both behaviors carry v1 again.
	if err := r.e.Rollback(context.Background(), ex.ID, "tester"); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	ex = r.waitFor(t, ex.ID, "the restore", func(x *store.Execution) bool {
		for _, s := range x.Stages {
			if s.Type == EdgeRestoreTypeName && s.Status.Complete() {
				return x.Status.Complete()
			}
		}
		return false
	})
	if _, st := stageOutputs(t, ex, EdgeRestoreTypeName); st != status.Succeeded {
		t.Fatalf("restore stage: %s (%s)", st, stageErrors(ex))
	}
	wantAssociations(t, e.cf, e.dist, "*", a1, resp)
	wantAssociations(t, e.cf, e.dist, "/api/*", a1)

	// A viewer-request release of a function with a 10 s timeout is refused
	// before anything changes.
	before, etag := distConfig(t, e.cf, e.dist)
	ex = r.runStages(t, "edge-viewer", false, e.stage(map[string]any{"version": v2, "eventType": "viewer-request"}))
	if ex.Status != status.Terminal || !strings.Contains(stageErrors(ex), "timeout: version "+v2+" has 10 s; viewer-request functions may take at most 5 s") {
		t.Errorf("viewer-request release: %s (%s); want TERMINAL naming the timeout", ex.Status, stageErrors(ex))
	}
	after, etagAfter := distConfig(t, e.cf, e.dist)
	if etagAfter != etag || configJSON(t, after) != configJSON(t, before) {
		t.Errorf("the refused release changed the distribution: ETag %s → %s", etag, etagAfter)
	}
}

// TestEdgeLocalPreconditionFailed: someone changes the distribution
// between the stage's read and its update; CloudFront refuses the update
// with PreconditionFailed, and the stage reads again and applies its
// change on top of theirs.
func TestEdgeLocalPreconditionFailed(t *testing.T) {
	e := newEdgeLocal(t, 20*time.Millisecond)
	v1 := e.release(t, 1)
	target, err := url.Parse(e.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var puts []int
	var raced atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPut && strings.HasSuffix(resp.Request.URL.Path, "/distribution/"+e.dist+"/config") {
			mu.Lock()
			puts = append(puts, resp.StatusCode)
			mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, "/distribution/"+e.dist+"/config") && raced.CompareAndSwap(false, true) {
			// A concurrent change, made directly, before the stage's update
			// (sent with the ETag the stage read) reaches CloudFront.
			cfg, etag := distConfig(t, e.cf, e.dist)
			cfg.Comment = aws.String("changed meanwhile")
			if _, err := e.cf.UpdateDistribution(req.Context(), &cloudfront.UpdateDistributionInput{Id: aws.String(e.dist), IfMatch: aws.String(etag), DistributionConfig: cfg}); err != nil {
				t.Errorf("concurrent change: %v", err)
			}
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	accounts, err := awsclient.New(context.Background(), awsclient.Config{}, awsclient.LocalEndpoint{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}

	r := startEngineRun(t, sluicetest.OpenSQLite(t), Options{Accounts: accounts})
	ex := r.runStages(t, "edge-race", false, e.stage(map[string]any{"version": v1}))
	mustSucceed(t, ex)
	cfg, _ := distConfig(t, e.cf, e.dist)
	if got := aws.ToString(cfg.Comment); got != "changed meanwhile" {
		t.Errorf("Comment %q; the concurrent change was lost", got)
	}
	wantAssociations(t, e.cf, e.dist, "*", edgeAssociation{LambdaFunctionARN: e.arn(t, v1), EventType: eventOriginRequest})
	mu.Lock()
	defer mu.Unlock()
	if len(puts) != 2 || puts[0] != http.StatusPreconditionFailed || puts[1] != http.StatusOK {
		t.Errorf("UpdateDistribution answers %v; want 412 then 200", puts)
	}
}

// TestEdgeLocalWaitAcrossRestart: the stage waits for Deployed as a
// durable retry; an engine stopped while the distribution is InProgress
// and a new one started on the same store finish the wait.
func TestEdgeLocalWaitAcrossRestart(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			e := newEdgeLocal(t, time.Hour)
			v1 := e.release(t, 1)
			st := openStore(t, dialect)
			first := startEngineRun(t, st, Options{Accounts: e.accounts})
			id := first.startStages(t, "edge-restart", false, e.stage(map[string]any{"version": v1}))
			first.waitFor(t, id, "the wait for Deployed", func(x *store.Execution) bool {
				for _, s := range x.Stages {
					if strings.Contains(string(s.Context), "InProgress; waiting for CloudFront") {
						return true
					}
				}
				return x.Status.Complete()
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := first.e.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			ex, err := st.ExecutionGet(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Status.Complete() {
				t.Fatalf("the execution ended (%s) before the distribution was Deployed", ex.Status)
			}
			e.offset.Store(int64(2 * time.Hour)) // CloudFront finishes deploying

			second := startEngineRun(t, st, Options{Accounts: e.accounts})
			ex = second.waitDone(t, id)
			mustSucceed(t, ex)
			wantAssociations(t, e.cf, e.dist, "*", edgeAssociation{LambdaFunctionARN: e.arn(t, v1), EventType: eventOriginRequest})
		})
	}
}

// TestEdgeLocalPlan: sluice pipeline plan shows each behavior's
// association before → after and refuses, naming the field, a version
// that breaks the limits of its event type; the plan changes nothing.
func TestEdgeLocalPlan(t *testing.T) {
	e := newEdgeLocal(t, 20*time.Millisecond)
	v1 := e.release(t, 1)
	r := startEngineRun(t, sluicetest.OpenSQLite(t), Options{Accounts: e.accounts})
	_, etag := distConfig(t, e.cf, e.dist)
	doc := map[string]any{"name": "edge-plan", "stages": []any{
		withFields(e.stage(map[string]any{"version": v1, "cacheBehaviors": []any{"*", "/api/*"}}), map[string]any{"refId": "1"}),
		withFields(e.stage(map[string]any{"name": "Viewer", "version": v1, "eventType": "viewer-request"}), map[string]any{"refId": "2"}),
	}}
	plan, err := r.e.Plan(context.Background(), &engine.PlanParams{Pipeline: r.savePipeline(t, doc), User: "tester"})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	d := plan.Stages[0]
	if d.Action != apitype.PlanUpdate || len(d.Changes) != 2 {
		t.Fatalf("edge stage plan: %+v; want an update of two behaviors", d)
	}
	for _, c := range d.Changes {
		if c.Kind != apitype.ChangeAdd || !strings.Contains(c.New.(string), e.arn(t, v1)) || !strings.Contains(c.Field, "origin-request") {
			t.Errorf("change %+v; want + origin-request %s", c, e.arn(t, v1))
		}
	}
	if v := plan.Stages[1]; v.Action != apitype.PlanError || !strings.Contains(v.Error, "timeout: version "+v1+" has 10 s") {
		t.Errorf("viewer stage plan: %+v; want an error naming the timeout", v)
	}
	if _, after := distConfig(t, e.cf, e.dist); after != etag {
		t.Errorf("the plan changed the distribution: ETag %s → %s", etag, after)
	}
}

// policyOf reads the continuous-deployment policy attached to the
// distribution.
func policyOf(t *testing.T, cf *cloudfront.Client, id string) *cftypes.ContinuousDeploymentPolicyConfig {
	t.Helper()
	cfg, _ := distConfig(t, cf, id)
	pid := aws.ToString(cfg.ContinuousDeploymentPolicyId)
	if pid == "" {
		t.Fatalf("distribution %s has no continuous-deployment policy", id)
	}
	out, err := cf.GetContinuousDeploymentPolicy(context.Background(), &cloudfront.GetContinuousDeploymentPolicyInput{Id: aws.String(pid)})
	if err != nil {
		t.Fatalf("GetContinuousDeploymentPolicy %s: %v", pid, err)
	}
	return out.ContinuousDeploymentPolicy.ContinuousDeploymentPolicyConfig
}

// TestEdgeLocalCanaryPromoteAndDiscard: a canary on a staging copy at 10%
// is promoted (the primary takes the staging configuration, the policy is
// disabled); the next canary, by header, reuses the staging distribution
// and, when a later stage fails, the rollback discards it: the policy is
// disabled and the primary keeps the promoted version.
func TestEdgeLocalCanaryPromoteAndDiscard(t *testing.T) {
	e := newEdgeLocal(t, 20*time.Millisecond)
	v1 := e.release(t, 1)
	r := startEngineRun(t, sluicetest.OpenSQLite(t), Options{Accounts: e.accounts})
	mustSucceed(t, r.runStages(t, "edge-first", false, e.stage(map[string]any{"version": v1})))
	a := func(v string) edgeAssociation {
		return edgeAssociation{LambdaFunctionARN: e.arn(t, v), EventType: eventOriginRequest}
	}

	v2 := e.release(t, 2)
	canary := e.stage(map[string]any{"name": "Edge canary", "version": "$LATEST", "deploymentStrategy": "$STAGING",
		"staging": map[string]any{"weight": 0.1, "idleTTL": 300, "maximumTTL": 600}})
	promote := map[string]any{"type": EdgePromoteTypeName, "name": "Promote", "account": "local", "functionName": "edge",
		"distributionId": e.dist, "action": "promote"}
	ex := r.runStages(t, "edge-canary", false, canary)
	mustSucceed(t, ex)
	out, _ := stageOutputs(t, ex, EdgeAssociationTypeName)
	staging, _ := out["stagingDistributionId"].(string)
	if staging == "" || staging == e.dist {
		t.Fatalf("canary outputs %v; want a staging distribution", out)
	}
	// While the canary runs: the primary is unchanged, the staging
	// distribution carries v2, and the enabled policy sends it 10%.
	wantAssociations(t, e.cf, e.dist, "*", a(v1))
	p := policyOf(t, e.cf, e.dist)
	if tc := p.TrafficConfig; !aws.ToBool(p.Enabled) || tc == nil || tc.SingleWeightConfig == nil || aws.ToFloat32(tc.SingleWeightConfig.Weight) != 0.1 ||
		tc.SingleWeightConfig.SessionStickinessConfig == nil || aws.ToInt32(tc.SingleWeightConfig.SessionStickinessConfig.MaximumTTL) != 600 {
		t.Errorf("policy enabled %v, traffic %s; want enabled, SingleWeight 0.1 300/600", aws.ToBool(p.Enabled), describeTraffic(tc))
	}
	ex = r.runStages(t, "edge-promote", false, promote)
	mustSucceed(t, ex)
	wantAssociations(t, e.cf, staging, "*", a(v2))
	wantAssociations(t, e.cf, e.dist, "*", a(v2))
	if p := policyOf(t, e.cf, e.dist); aws.ToBool(p.Enabled) {
		t.Errorf("after the promotion the policy is enabled; want it disabled")
	}

	// The next canary routes by header; a failing check after it rolls
	// back, which discards it.
	v3 := e.release(t, 3)
	header := withFields(canary, map[string]any{"staging": map[string]any{"header": "aws-cf-cd-canary", "headerValue": "yes"}})
	check := map[string]any{"type": InvokeTypeName, "name": "Check", "account": "local", "functionName": "edge", "executionCount": 1, "expectedRegex": "^never$"}
	ex = r.runStages(t, "edge-discard", true, header, check)
	if ex.Status != status.Terminal {
		for _, s := range ex.Stages {
			t.Logf("stage %s %s %s: %s", s.RefID, s.Type, s.Status, s.Outputs)
		}
		t.Fatalf("execution %s; want TERMINAL from the failing check", ex.Status)
	}
	out, st := stageOutputs(t, ex, EdgePromoteTypeName)
	if st != status.Succeeded || out["discarded"] != true {
		t.Fatalf("discard stage %s, outputs %v (%s)", st, out, stageErrors(ex))
	}
	canaryOut, _ := stageOutputs(t, ex, EdgeAssociationTypeName)
	if canaryOut["stagingDistributionId"] != staging {
		t.Errorf("second canary used staging distribution %v; want %s reused", canaryOut["stagingDistributionId"], staging)
	}
	p = policyOf(t, e.cf, e.dist)
	if aws.ToBool(p.Enabled) {
		t.Errorf("after the discard the policy is enabled")
	}
	if tc := p.TrafficConfig; tc == nil || tc.Type != cftypes.ContinuousDeploymentPolicyTypeSingleHeader {
		t.Errorf("policy traffic %s; want the header canary's", describeTraffic(tc))
	}
	wantAssociations(t, e.cf, e.dist, "*", a(v2))
	wantAssociations(t, e.cf, staging, "*", a(v3))
}
