package lambda

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/sluice-cd/sluice/internal/stage"
)

// Lambda@Edge stage type names: Sluice's own (Spinnaker's plugin only
// checks enableLambdaAtEdge and attaches nothing).
const (
	EdgeAssociationTypeName = "Aws.LambdaEdgeAssociationStage"
	EdgePromoteTypeName     = "Aws.LambdaEdgePromoteStage"
)

// edgeSpec is the fields of an Aws.LambdaEdgeAssociationStage: it
// attaches a published version of a function to cache behaviors of a
// CloudFront distribution for one event type.
//
//	distributionId      the distribution (the primary, with $STAGING)
//	version             the version: $LATEST (newest published, Spinnaker's
//	                    meaning), $PREVIOUS, $OLDEST, $PROVIDED with
//	                    versionNumber, or a number; default $LATEST
//	eventType           viewer-request, viewer-response, origin-request or
//	                    origin-response
//	includeBody         give the function the request body (request events)
//	cacheBehaviors      path patterns of the behaviors to change; "*" is the
//	                    default cache behavior; default ["*"]
//	deploymentStrategy  $DIRECT (default): change the distribution itself;
//	                    $STAGING: a canary through CloudFront continuous
//	                    deployment (staging fields), ended by an
//	                    Aws.LambdaEdgePromoteStage
//
// Every Lambda@Edge constraint is checked on the resolved version before
// anything changes (edgeProblems); the distribution's behaviors are read
// and checked too. The stage then records the behaviors' associations as
// its rollback record, updates the distribution with If-Match (re-reading
// on PreconditionFailed, at most edgeUpdateAttempts times per run) and
// waits for Status Deployed by polling (a task that returns
// stage.RetryAfter), for waitTimeoutSeconds (default 1800 here:
// CloudFront takes minutes).
type edgeSpec struct {
	target
	DistributionID     stage.StringField     `json:"distributionId" hint:"the CloudFront distribution's ID, e.g. E2QWRUHEXAMPLE"`
	Version            stage.StringField     `json:"version" hint:"$LATEST (newest published), $PREVIOUS, $OLDEST, $PROVIDED with versionNumber, or a version number; default $LATEST"`
	VersionNumber      stage.WeakStringField `json:"versionNumber"`
	EventType          stage.StringField     `json:"eventType" hint:"viewer-request, viewer-response, origin-request or origin-response"`
	IncludeBody        stage.BoolField       `json:"includeBody" hint:"viewer-request and origin-request only: give the function the request body"`
	CacheBehaviors     stage.StringsField    `json:"cacheBehaviors" hint:"path patterns of the cache behaviors to change; * is the default behavior; default [*]"`
	DeploymentStrategy stage.StringField     `json:"deploymentStrategy" hint:"$DIRECT (default) or $STAGING (a canary through CloudFront continuous deployment)"`
	Staging            stagingFields         `json:"staging"`
}

// stagingFields is edgeSpec.staging: how the continuous-deployment policy
// sends traffic to the staging distribution. Either weight (with the
// optional session stickiness TTLs) or header and headerValue.
type stagingFields struct {
	stage.Field
	Weight      stage.NumberField `json:"weight" hint:"the share of requests for the staging distribution, above 0 and at most 0.15"`
	IdleTTL     stage.IntField    `json:"idleTTL" hint:"session stickiness: seconds (300 to 3600) a viewer session stays on one distribution while idle"`
	MaximumTTL  stage.IntField    `json:"maximumTTL" hint:"session stickiness: seconds (300 to 3600) a viewer session stays on one distribution"`
	Header      stage.StringField `json:"header" hint:"a header whose name starts with aws-cf-cd-: requests that carry it with headerValue go to staging"`
	HeaderValue stage.StringField `json:"headerValue"`
}

// Edge strategies and event types.
const (
	edgeDirect  = "$DIRECT"
	edgeStaging = "$STAGING"

	eventViewerRequest  = "viewer-request"
	eventViewerResponse = "viewer-response"
	eventOriginRequest  = "origin-request"
	eventOriginResponse = "origin-response"

	// defaultBehavior is how cacheBehaviors names the default cache
	// behavior, as the CloudFront console shows it ("Default (*)").
	defaultBehavior = "*"

	// maxStagingWeight is CloudFront's limit on SingleWeight.
	maxStagingWeight = 0.15

	edgeWaitTimeoutSeconds = 1800
)

// Edge tasks.
const (
	taskEdgeCheck       = "lambdaEdgeCheck"
	taskEdgeStagingDist = "lambdaEdgeStagingDistribution"
	taskEdgeUpdate      = "lambdaEdgeUpdateDistribution"
	taskEdgePolicy      = "lambdaEdgeContinuousDeploymentPolicy"
	taskEdgeWait        = "lambdaEdgeWaitDeployed"
)

// Context keys of the edge tasks.
const (
	edgeTargetKey    = "edgeTarget"
	edgeSnapshotKey  = "edgeSnapshot"
	edgeStagingIDKey = "edgeStagingDistributionId"
	edgePolicyIDKey  = "edgeContinuousDeploymentPolicyId"
)

// PreviousAssociationsKey is the rollback output of an edge stage: the
// associations of the behaviors it changes, before it changed them.
const PreviousAssociationsKey = "rollback:previousAssociations"

func (s *edgeSpec) Check(c *stage.Checker) {
	s.target.check(c)
	c.Required(&s.DistributionID)
	c.Valid(&s.DistributionID, validDistributionID)
	c.Required(&s.EventType)
	c.OneOf(&s.EventType, eventViewerRequest, eventViewerResponse, eventOriginRequest, eventOriginResponse)
	if s.IncludeBody.Value && (s.EventType.Value == eventViewerResponse || s.EventType.Value == eventOriginResponse) {
		c.Errorf(&s.IncludeBody, "can be true only for viewer-request and origin-request: CloudFront gives no body to %s functions", s.EventType.Value)
	}
	c.OneOf(&s.DeploymentStrategy, edgeDirect, edgeStaging)
	if known(&s.Version.Field) && known(&s.VersionNumber.Field) {
		if _, err := s.selector(); err != nil {
			c.Errorf(&s.Version, "%v", err)
		}
	}
	seen := map[string]bool{}
	for _, p := range s.CacheBehaviors.Value {
		if seen[p] {
			c.Errorf(&s.CacheBehaviors, "names the path pattern %q twice", p)
		}
		seen[p] = true
	}
	if s.CacheBehaviors.Set() && len(s.CacheBehaviors.Value) == 0 {
		c.Errorf(&s.CacheBehaviors, "is empty; name at least one path pattern (* is the default cache behavior), or leave it out for the default behavior")
	}
	switch {
	case s.DeploymentStrategy.Expr():
		s.Staging.check(c)
	case s.strategy() == edgeStaging:
		c.Required(&s.Staging)
		s.Staging.check(c)
	case s.Staging.Set():
		c.Errorf(&s.Staging, "is read only with deploymentStrategy $STAGING; remove it or set deploymentStrategy to $STAGING")
	}
}

func (st *stagingFields) check(c *stage.Checker) {
	if !st.Set() {
		return
	}
	weighted := !st.Weight.Missing()
	header := !st.Header.Missing() || !st.HeaderValue.Missing()
	switch {
	case weighted && header:
		c.Errorf(st, "sets both weight and header; a continuous-deployment policy routes by one: a weight (with idleTTL and maximumTTL) or a header")
	case !weighted && !header:
		c.Errorf(st, "needs weight (a share above 0 and at most 0.15) or header and headerValue")
	}
	if w := &st.Weight; w.Set() && (math.IsNaN(w.Value) || w.Value <= 0 || w.Value > maxStagingWeight) {
		c.Errorf(w, "must be above 0 and at most 0.15 (CloudFront's limit for SingleWeight), not %v; 0.1 sends 10%% of requests to staging", w.Value)
	}
	c.Range(&st.IdleTTL, 300, 3600)
	c.Range(&st.MaximumTTL, 300, 3600)
	if (st.IdleTTL.Missing()) != (st.MaximumTTL.Missing()) {
		c.Errorf(st, "session stickiness needs both idleTTL and maximumTTL (300 to 3600 seconds each)")
	}
	if header && !weighted {
		c.Required(&st.Header)
		c.Required(&st.HeaderValue)
		if h := &st.Header; h.Set() && !strings.HasPrefix(strings.ToLower(h.Value), "aws-cf-cd-") {
			c.Errorf(h, "must start with aws-cf-cd- (CloudFront's rule for SingleHeader), not %q", h.Value)
		}
		if !st.IdleTTL.Missing() {
			c.Errorf(&st.IdleTTL, "applies to weight only; a header policy has no session stickiness")
		}
	}
}

// functionTarget implements spec: an edge stage waits for CloudFront,
// which takes minutes, so its default wait is longer.
func (s *edgeSpec) functionTarget() *target {
	s.target.defaultWait = edgeWaitTimeoutSeconds * time.Second
	return &s.target
}

// strategy is deploymentStrategy: $DIRECT when absent, null or empty, as
// Check lets an empty value stand for the default (Checker.OneOf).
func (s *edgeSpec) strategy() string {
	return cmp.Or(s.DeploymentStrategy.Value, edgeDirect)
}

// selector reads version (default $LATEST) and versionNumber.
func (s *edgeSpec) selector() (Selector, error) {
	name := s.Version.Value
	if s.Version.Missing() {
		name = SelectorLatest
	}
	sel, err := ParseSelector(name, s.VersionNumber.Value, 0)
	if err != nil {
		return sel, err
	}
	if sel.Name == SelectorMoving || sel.Name == SelectorAll {
		return Selector{}, fmt.Errorf("%s names several versions; Lambda@Edge takes one numbered version: use $LATEST, $PREVIOUS, $OLDEST, $PROVIDED or a version number", sel.Name)
	}
	return sel, nil
}

// behaviors is cacheBehaviors, ["*"] when absent.
func (s *edgeSpec) behaviors() []string {
	if len(s.CacheBehaviors.Value) == 0 {
		return []string{defaultBehavior}
	}
	return s.CacheBehaviors.Value
}

func (s *edgeSpec) distributionID() string { return strings.TrimSpace(s.DistributionID.Value) }

// newEdgeAssociationType is Aws.LambdaEdgeAssociationStage. Its tasks, in
// order (those in brackets only with $STAGING):
//
//	lambdaEdgeCheck                         resolve the version; check every Edge constraint, the
//	                                        distribution and its behaviors; record the rollback record
//	[lambdaEdgeStagingDistribution]         find the primary's staging distribution, or copy one
//	lambdaEdgeUpdateDistribution            attach the version (to the staging distribution with
//	                                        $STAGING) with If-Match
//	[lambdaEdgeContinuousDeploymentPolicy]  create or update the policy and attach it to the primary
//	lambdaEdgeWaitDeployed                  poll until the distributions are Deployed; verify
func newEdgeAssociationType(b base) stage.Type {
	staging := func(s *edgeSpec) bool { return s.strategy() == edgeStaging }
	return &stageType[edgeSpec, *edgeSpec]{base: b, name: EdgeAssociationTypeName, plan: planEdge, tasks: []task[edgeSpec]{
		{name: taskEdgeCheck, run: edgeCheck},
		{name: taskEdgeStagingDist, run: edgeStagingDistribution, when: staging},
		{name: taskEdgeUpdate, run: edgeUpdate},
		{name: taskEdgePolicy, run: edgePolicy, when: staging},
		{name: taskEdgeWait, run: edgeWait},
	}}
}

// edgeTarget is what the check task resolved, kept in the stage context
// so that re-runs attach the same version.
type edgeTarget struct {
	Version    string `json:"version"`
	ARN        string `json:"arn"` // the qualified ARN of the version
	DomainName string `json:"domainName"`
}

func (t edgeTarget) association(s *edgeSpec) edgeAssociation {
	return edgeAssociation{LambdaFunctionARN: t.ARN, EventType: s.EventType.Value, IncludeBody: s.IncludeBody.Value}
}

func storedEdgeTarget(t *stage.Task) (edgeTarget, error) {
	var et edgeTarget
	if err := fromContext(t.Context, edgeTargetKey, &et); err != nil || et.ARN == "" {
		return et, fail("the stage context has no resolved version (%s); the %s task must run first", edgeTargetKey, taskEdgeCheck)
	}
	return et, nil
}

// edgeCheck resolves the version, checks it against every Lambda@Edge
// constraint and the distribution's behaviors, and records the rollback
// record. It changes nothing.
func edgeCheck(ctx context.Context, _ *stage.Task, f *function, s *edgeSpec) (stage.Result, error) {
	versions, found, err := publishedVersions(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if !found {
		return stage.Result{}, fail("%s does not exist; check functionName and account", f)
	}
	sel, err := s.selector()
	if err != nil {
		return stage.Result{}, fail("version %v", err)
	}
	resolved, err := sel.Resolve(f.name, versions, true)
	if err != nil {
		return stage.Result{}, fail("version: %v", err)
	}
	v := resolved[0]
	cfg, err := versionConfig(ctx, f, v)
	if err != nil {
		return stage.Result{}, err
	}
	if problems := edgeProblems(f, v, cfg, s.EventType.Value); len(problems) > 0 {
		return stage.Result{}, fail("version %s of %s cannot be attached to CloudFront as a %s function; nothing was changed:\n- %s",
			v, f, s.EventType.Value, strings.Join(problems, "\n- "))
	}
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	id := s.distributionID()
	dc, err := readDistributionConfig(ctx, f, cf, id)
	if err != nil {
		return stage.Result{}, err
	}
	if err := checkBehaviors(dc.DistributionConfig, id, s.behaviors(), s.EventType.Value); err != nil {
		return stage.Result{}, err
	}
	if dc.DistributionConfig.Staging != nil && *dc.DistributionConfig.Staging {
		return stage.Result{}, fail("distribution %s is a staging distribution; name its primary distribution in distributionId", id)
	}
	et := edgeTarget{Version: v, ARN: aws.ToString(cfg.FunctionArn)}
	ctxOut := map[string]any{edgeTargetKey: jsonValue(et)}
	res := stage.Succeed().
		WithOutputs(map[string]any{"edgeFunctionVersion": v, "edgeFunctionARN": et.ARN, "distributionId": id})
	if s.strategy() == edgeDirect {
		rec := previousAssociations{Account: f.acct.Name, Region: f.acct.Region, FunctionName: f.name, DistributionID: id,
			Behaviors: snapshotBehaviors(dc.DistributionConfig, s.behaviors())}
		ctxOut[edgeSnapshotKey] = jsonValue(rec)
		res = res.WithOutputs(map[string]any{
			PreviousAssociationsKey: jsonValue(rec),
			RollbackStageKey: map[string]any{
				"type":    EdgeRestoreTypeName,
				"name":    fmt.Sprintf("Restore the Lambda@Edge associations of distribution %s", id),
				"context": jsonValue(rec),
			},
		})
	}
	return res.WithContext(ctxOut), nil
}

// edgeUpdate attaches the version to the behaviors: of the distribution
// with $DIRECT, of the staging distribution with $STAGING. A re-run that
// finds the associations already in place changes nothing.
func edgeUpdate(ctx context.Context, t *stage.Task, f *function, s *edgeSpec) (stage.Result, error) {
	et, err := storedEdgeTarget(t)
	if err != nil {
		return stage.Result{}, err
	}
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	id := s.distributionID()
	var guard *previousAssociations
	if s.strategy() == edgeStaging {
		if id = ctxString(t, edgeStagingIDKey); id == "" {
			return stage.Result{}, fail("the stage context has no staging distribution (%s); the %s task must run first", edgeStagingIDKey, taskEdgeStagingDist)
		}
	} else {
		var rec previousAssociations
		if err := fromContext(t.Context, edgeSnapshotKey, &rec); err == nil {
			guard = &rec
		}
	}
	want := et.association(s)
	changed, err := setAssociations(ctx, f, cf, id, s.behaviors(), func(_ string, cur []edgeAssociation) []edgeAssociation {
		return withAssociation(cur, want)
	}, guard)
	if err != nil {
		var conflict *concurrentChange
		if asConcurrent(err, &conflict) {
			return noEdgeRollback(), fail("%s", conflict.Error())
		}
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(map[string]any{"distributionChanged": changed}), nil
}

// edgeWait polls until the distribution (and, with $STAGING, the staging
// distribution) is Deployed, then verifies that the association is there.
func edgeWait(ctx context.Context, t *stage.Task, f *function, s *edgeSpec) (stage.Result, error) {
	et, err := storedEdgeTarget(t)
	if err != nil {
		return stage.Result{}, err
	}
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	want := et.association(s)
	ids := []string{s.distributionID()}
	if s.strategy() == edgeStaging {
		ids = []string{ctxString(t, edgeStagingIDKey), s.distributionID()}
	}
	for i, id := range ids {
		d, err := waitDeployed(ctx, f, cf, id)
		if err != nil {
			return stage.Result{}, err
		}
		if i > 0 {
			continue // the primary, with $STAGING: its policy was verified when attached
		}
		for _, p := range s.behaviors() {
			cur, ok := behaviorAssociations(d.DistributionConfig, p)
			if !ok || !slicesContains(cur, want) {
				return stage.Result{}, fail("distribution %s is Deployed but its behavior %s does not carry %s for %s (it has %s); another change may have raced with the stage — run it again",
					id, describePattern(p), et.ARN, want.EventType, describeAssociations(cur))
			}
		}
	}
	out := map[string]any{"deployedDistributionId": ids[0]}
	if s.strategy() == edgeStaging {
		out["stagingDistributionId"] = ids[0]
		out["continuousDeploymentPolicyId"] = ctxString(t, edgePolicyIDKey)
	}
	return stage.Succeed().WithOutputs(out), nil
}

// noEdgeRollback withdraws the rollback record of a stage that fails
// without having changed the distribution.
func noEdgeRollback() stage.Result {
	return stage.Result{}.WithOutputs(map[string]any{PreviousAssociationsKey: nil, RollbackStageKey: nil})
}

// cloudFront is the function's account's CloudFront client.
func cloudFront(f *function) (*cloudfront.Client, error) {
	if f.acct.CloudFront == nil {
		return nil, fail("account %s has no CloudFront client; Lambda@Edge stages need an AWS account or the local Lambda", f.acct.Name)
	}
	return f.acct.CloudFront, nil
}
