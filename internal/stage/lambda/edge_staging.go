package lambda

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-cd/sluice/internal/stage"
)

// A canary for edge functions, through CloudFront continuous deployment:
// the $STAGING strategy of Aws.LambdaEdgeAssociationStage attaches the
// version to a staging distribution of the primary (CopyDistribution with
// Staging, or the staging distribution the primary's policy already
// names), and a continuous-deployment policy attached to the primary
// sends a share of requests (SingleWeight, at most 15%) or the requests
// with a header (SingleHeader) to it. Aws.LambdaEdgePromoteStage ends the
// canary: promote copies the staging configuration to the primary
// (UpdateDistributionWithStagingConfig, which disables the policy), discard
// disables the policy so that every request goes to the primary again,
// which it leaves as it is. The policy stays attached, disabled, and the
// staging distribution stays: the next canary reuses both.

// stagingConfig is the policy's traffic configuration the stage asks for.
func (st *stagingFields) trafficConfig() *types.TrafficConfig {
	if !st.Weight.Missing() {
		w := &types.ContinuousDeploymentSingleWeightConfig{Weight: aws.Float32(float32(st.Weight.Value))}
		if st.IdleTTL.Set() && st.MaximumTTL.Set() {
			w.SessionStickinessConfig = &types.SessionStickinessConfig{
				IdleTTL: aws.Int32(int32(st.IdleTTL.Value)), MaximumTTL: aws.Int32(int32(st.MaximumTTL.Value))}
		}
		return &types.TrafficConfig{Type: types.ContinuousDeploymentPolicyTypeSingleWeight, SingleWeightConfig: w}
	}
	return &types.TrafficConfig{Type: types.ContinuousDeploymentPolicyTypeSingleHeader,
		SingleHeaderConfig: &types.ContinuousDeploymentSingleHeaderConfig{Header: aws.String(st.Header.Value), Value: aws.String(st.HeaderValue.Value)}}
}

// describe says how the policy routes, for outputs and plans.
func (st *stagingFields) describe() string {
	if !st.Weight.Missing() {
		return fmt.Sprintf("%v%% of requests", st.Weight.Value*100)
	}
	return fmt.Sprintf("requests with header %s: %s", st.Header.Value, st.HeaderValue.Value)
}

// stagingOf finds the staging distribution the primary's
// continuous-deployment policy sends traffic to: its ID and the policy
// (nil when the primary has none).
func stagingOf(ctx context.Context, f *function, cf *cloudfront.Client, primary string, cfg *types.DistributionConfig) (string, *cloudfront.GetContinuousDeploymentPolicyOutput, error) {
	pid := aws.ToString(cfg.ContinuousDeploymentPolicyId)
	if pid == "" {
		return "", nil, nil
	}
	pol, err := cf.GetContinuousDeploymentPolicy(ctx, &cloudfront.GetContinuousDeploymentPolicyInput{Id: aws.String(pid)})
	if err != nil {
		return "", nil, cfError(f, "GetContinuousDeploymentPolicy "+pid+" of", primary, err)
	}
	var names []string
	if c := policyConfig(pol.ContinuousDeploymentPolicy); c != nil && c.StagingDistributionDnsNames != nil {
		names = c.StagingDistributionDnsNames.Items
	}
	p := cloudfront.NewListDistributionsPaginator(cf, &cloudfront.ListDistributionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, cfError(f, "ListDistributions (looking for the staging distribution) of", primary, err)
		}
		if page.DistributionList == nil {
			break
		}
		for _, d := range page.DistributionList.Items {
			if aws.ToBool(d.Staging) && slices.Contains(names, aws.ToString(d.DomainName)) {
				return aws.ToString(d.Id), pol, nil
			}
		}
	}
	return "", nil, fail("distribution %s's continuous-deployment policy %s sends traffic to %s, and no staging distribution of this account has that domain name; detach the policy from the primary or fix its staging DNS names",
		primary, pid, strings.Join(names, ", "))
}

func policyConfig(p *types.ContinuousDeploymentPolicy) *types.ContinuousDeploymentPolicyConfig {
	if p == nil {
		return nil
	}
	return p.ContinuousDeploymentPolicyConfig
}

// edgeStagingDistribution finds the primary's staging distribution, or
// copies the primary into a new one, and records it. It refuses to start
// while another canary runs (the primary's policy is enabled).
func edgeStagingDistribution(ctx context.Context, t *stage.Task, f *function, s *edgeSpec) (stage.Result, error) {
	if ctxString(t, edgeStagingIDKey) != "" {
		return stage.Succeed(), nil
	}
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	primary := s.distributionID()
	out, err := readDistributionConfig(ctx, f, cf, primary)
	if err != nil {
		return stage.Result{}, err
	}
	id, pol, err := stagingOf(ctx, f, cf, primary, out.DistributionConfig)
	if err != nil {
		return stage.Result{}, err
	}
	if pol != nil && aws.ToBool(policyConfig(pol.ContinuousDeploymentPolicy).Enabled) {
		return stage.Result{}, fail("distribution %s already runs a canary: its continuous-deployment policy %s is enabled and sends traffic to staging distribution %s; promote or discard it (Aws.LambdaEdgePromoteStage) before starting another",
			primary, aws.ToString(pol.ContinuousDeploymentPolicy.Id), id)
	}
	if id == "" {
		ref := "sluice-" + t.ExecutionID + "-" + t.StageID
		cp, err := cf.CopyDistribution(ctx, &cloudfront.CopyDistributionInput{PrimaryDistributionId: aws.String(primary),
			CallerReference: aws.String(ref), Staging: aws.Bool(true), Enabled: aws.Bool(true), IfMatch: out.ETag})
		switch {
		case err == nil && cp.Distribution != nil:
			id = aws.ToString(cp.Distribution.Id)
		case err == nil:
			return stage.Result{}, fail("CopyDistribution of distribution %s: the response carries no Distribution", primary)
		case isCode(err, "DistributionAlreadyExists"):
			// An earlier run copied it and stopped before recording it.
			if id, err = stagingByReference(ctx, f, cf, primary, ref); err != nil {
				return stage.Result{}, err
			}
		default:
			return stage.Result{}, cfError(f, "CopyDistribution (staging) of", primary, err)
		}
	}
	rec := map[string]any{"account": f.acct.Name, "region": f.acct.Region, "functionName": f.name,
		"prefixApplicationNameToFunction": false, "distributionId": primary, "action": edgeDiscard}
	return stage.Succeed().WithContext(map[string]any{edgeStagingIDKey: id}).WithOutputs(map[string]any{
		"stagingDistributionId": id,
		RollbackStageKey: map[string]any{
			"type":    EdgePromoteTypeName,
			"name":    fmt.Sprintf("Discard the Lambda@Edge canary of distribution %s", primary),
			"context": rec,
		},
	}), nil
}

// stagingByReference finds the staging distribution a CopyDistribution
// with CallerReference ref created.
func stagingByReference(ctx context.Context, f *function, cf *cloudfront.Client, primary, ref string) (string, error) {
	p := cloudfront.NewListDistributionsPaginator(cf, &cloudfront.ListDistributionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", cfError(f, "ListDistributions of", primary, err)
		}
		if page.DistributionList == nil {
			break
		}
		for _, d := range page.DistributionList.Items {
			if !aws.ToBool(d.Staging) {
				continue
			}
			c, err := readDistributionConfig(ctx, f, cf, aws.ToString(d.Id))
			if err != nil {
				return "", err
			}
			if aws.ToString(c.DistributionConfig.CallerReference) == ref {
				return aws.ToString(d.Id), nil
			}
		}
	}
	return "", fail("CopyDistribution of distribution %s says a distribution with CallerReference %s exists, and no staging distribution has it; delete that distribution or run the stage again", primary, ref)
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// edgePolicy creates or updates the continuous-deployment policy (enabled,
// sending the staging share to the staging distribution) and attaches it
// to the primary.
func edgePolicy(ctx context.Context, t *stage.Task, f *function, s *edgeSpec) (stage.Result, error) {
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	primary, stagingID := s.distributionID(), ctxString(t, edgeStagingIDKey)
	if stagingID == "" {
		return stage.Result{}, fail("the stage context has no staging distribution (%s); the %s task must run first", edgeStagingIDKey, taskEdgeStagingDist)
	}
	sd, err := cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String(stagingID)})
	if err != nil {
		return stage.Result{}, cfError(f, "GetDistribution (staging) of", stagingID, err)
	}
	domain := aws.ToString(sd.Distribution.DomainName)
	want := &types.ContinuousDeploymentPolicyConfig{
		Enabled:                     aws.Bool(true),
		StagingDistributionDnsNames: &types.StagingDistributionDnsNames{Items: []string{domain}, Quantity: aws.Int32(1)},
		TrafficConfig:               s.Staging.trafficConfig(),
	}
	out, err := readDistributionConfig(ctx, f, cf, primary)
	if err != nil {
		return stage.Result{}, err
	}
	pid := aws.ToString(out.DistributionConfig.ContinuousDeploymentPolicyId)
	if pid == "" {
		pid = ctxString(t, edgePolicyIDKey)
	}
	keep := stage.Result{}
	if pid == "" {
		cp, err := cf.CreateContinuousDeploymentPolicy(ctx, &cloudfront.CreateContinuousDeploymentPolicyInput{ContinuousDeploymentPolicyConfig: want})
		if err != nil {
			return stage.Result{}, cfError(f, "CreateContinuousDeploymentPolicy for", primary, err)
		}
		pid = aws.ToString(cp.ContinuousDeploymentPolicy.Id)
		keep = keep.WithContext(map[string]any{edgePolicyIDKey: pid})
	} else {
		keep = keep.WithContext(map[string]any{edgePolicyIDKey: pid})
		if err := putPolicy(ctx, f, cf, primary, pid, func(*types.ContinuousDeploymentPolicyConfig) *types.ContinuousDeploymentPolicyConfig { return want }); err != nil {
			return keep, err
		}
	}
	for attempt := 1; aws.ToString(out.DistributionConfig.ContinuousDeploymentPolicyId) != pid; attempt++ {
		cfg := out.DistributionConfig
		cfg.ContinuousDeploymentPolicyId = aws.String(pid)
		_, err := cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: aws.String(primary), IfMatch: out.ETag, DistributionConfig: cfg})
		if err == nil {
			break
		}
		if !isPreconditionFailed(err) {
			return keep, cfError(f, "UpdateDistribution (attach continuous-deployment policy "+pid+") of", primary, err)
		}
		if attempt >= edgeUpdateAttempts {
			return keep, retry("UpdateDistribution of distribution %s was refused with PreconditionFailed %d times in a row: someone keeps changing it; trying again", primary, attempt)
		}
		if out, err = readDistributionConfig(ctx, f, cf, primary); err != nil {
			return keep, err
		}
	}
	return stage.Succeed().WithContext(keep.Context).WithOutputs(map[string]any{
		"continuousDeploymentPolicyId": pid, "stagingTraffic": s.Staging.describe(), "stagingDomainName": domain}), nil
}

// putPolicy sets policy pid's configuration to edit(its current one) with
// If-Match, re-reading on PreconditionFailed; it changes nothing when they
// are equal.
func putPolicy(ctx context.Context, f *function, cf *cloudfront.Client, primary, pid string,
	edit func(*types.ContinuousDeploymentPolicyConfig) *types.ContinuousDeploymentPolicyConfig) error {
	for attempt := 1; ; attempt++ {
		cur, err := cf.GetContinuousDeploymentPolicy(ctx, &cloudfront.GetContinuousDeploymentPolicyInput{Id: aws.String(pid)})
		if err != nil {
			return cfError(f, "GetContinuousDeploymentPolicy "+pid+" of", primary, err)
		}
		old := policyConfig(cur.ContinuousDeploymentPolicy)
		next := edit(old)
		if samePolicy(old, next) {
			return nil
		}
		_, err = cf.UpdateContinuousDeploymentPolicy(ctx, &cloudfront.UpdateContinuousDeploymentPolicyInput{Id: aws.String(pid), IfMatch: cur.ETag, ContinuousDeploymentPolicyConfig: next})
		if err == nil {
			return nil
		}
		if !isPreconditionFailed(err) || attempt >= edgeUpdateAttempts {
			return cfError(f, "UpdateContinuousDeploymentPolicy "+pid+" of", primary, err)
		}
	}
}

// samePolicy compares the parts of two policy configurations the stages set.
func samePolicy(a, b *types.ContinuousDeploymentPolicyConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	if aws.ToBool(a.Enabled) != aws.ToBool(b.Enabled) {
		return false
	}
	var na, nb []string
	if a.StagingDistributionDnsNames != nil {
		na = a.StagingDistributionDnsNames.Items
	}
	if b.StagingDistributionDnsNames != nil {
		nb = b.StagingDistributionDnsNames.Items
	}
	return slices.Equal(na, nb) && describeTraffic(a.TrafficConfig) == describeTraffic(b.TrafficConfig)
}

func describeTraffic(tc *types.TrafficConfig) string {
	if tc == nil {
		return ""
	}
	s := string(tc.Type)
	if w := tc.SingleWeightConfig; w != nil {
		s += fmt.Sprintf(" %v", aws.ToFloat32(w.Weight))
		if st := w.SessionStickinessConfig; st != nil {
			s += fmt.Sprintf(" %d/%d", aws.ToInt32(st.IdleTTL), aws.ToInt32(st.MaximumTTL))
		}
	}
	if h := tc.SingleHeaderConfig; h != nil {
		s += " " + aws.ToString(h.Header) + "=" + aws.ToString(h.Value)
	}
	return s
}

// edgePromoteSpec is the fields of an Aws.LambdaEdgePromoteStage: it ends
// the canary an Aws.LambdaEdgeAssociationStage with $STAGING started on
// the primary distribution distributionId.
//
//	action  promote: copy the staging distribution's configuration to the
//	        primary (UpdateDistributionWithStagingConfig, which disables
//	        the policy; Sluice disables it if it is still enabled), then
//	        wait for Deployed and verify the primary carries the staging
//	        distribution's associations. Its rollback record restores the
//	        primary's associations as they were before.
//	        discard: disable the policy, so every request goes to the
//	        primary, which is left unchanged. Nothing to discard (no
//	        policy, or a disabled one) is not an error.
//
// functionName is the edge function released (the account's CloudFront is
// reached through it, and the outputs name it).
type edgePromoteSpec struct {
	target
	DistributionID stage.StringField `json:"distributionId" hint:"the primary distribution's ID, as the canary stage named it"`
	Action         stage.StringField `json:"action" hint:"promote (the staging configuration becomes the primary's) or discard (traffic back to the primary)"`
}

const (
	edgePromote = "promote"
	edgeDiscard = "discard"
)

// Promote tasks.
const (
	taskEdgeFindStaging = "lambdaEdgeFindStaging"
	taskEdgePromote     = "lambdaEdgePromote"
	taskEdgeDiscard     = "lambdaEdgeDiscard"
	taskEdgeWaitPromote = "lambdaEdgeWaitPromoted"
)

func (s *edgePromoteSpec) Check(c *stage.Checker) {
	s.target.check(c)
	c.Required(&s.DistributionID)
	c.Valid(&s.DistributionID, validDistributionID)
	c.Required(&s.Action)
	c.OneOf(&s.Action, edgePromote, edgeDiscard)
}

func (s *edgePromoteSpec) functionTarget() *target {
	s.target.defaultWait = edgeWaitTimeoutSeconds * time.Second
	return &s.target
}

// newEdgePromoteType is Aws.LambdaEdgePromoteStage. Its tasks:
//
//	lambdaEdgeFindStaging    the primary's policy and staging distribution; promote records
//	                         the primary's associations as its rollback record
//	lambdaEdgePromote        promote: UpdateDistributionWithStagingConfig, policy disabled
//	lambdaEdgeDiscard        discard: the policy disabled
//	lambdaEdgeWaitPromoted   promote: poll until the primary is Deployed; verify
func newEdgePromoteType(b base) stage.Type {
	promote := func(s *edgePromoteSpec) bool { return s.Action.Value == edgePromote }
	return &stageType[edgePromoteSpec, *edgePromoteSpec]{base: b, name: EdgePromoteTypeName, tasks: []task[edgePromoteSpec]{
		{name: taskEdgeFindStaging, run: edgeFindStaging},
		{name: taskEdgePromote, run: edgePromoteRun, when: promote},
		{name: taskEdgeDiscard, run: edgeDiscardRun, when: func(s *edgePromoteSpec) bool { return !promote(s) }},
		{name: taskEdgeWaitPromote, run: edgeWaitPromoted, when: promote},
	}}
}

// edgeFindStaging records the primary's staging distribution and policy.
func edgeFindStaging(ctx context.Context, t *stage.Task, f *function, s *edgePromoteSpec) (stage.Result, error) {
	if ctxString(t, edgePolicyIDKey) != "" || ctxString(t, "edgeNothingToDiscard") != "" {
		return stage.Succeed(), nil
	}
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	primary := strings.TrimSpace(s.DistributionID.Value)
	out, err := readDistributionConfig(ctx, f, cf, primary)
	if err != nil {
		return stage.Result{}, err
	}
	id, pol, err := stagingOf(ctx, f, cf, primary, out.DistributionConfig)
	if err != nil {
		return stage.Result{}, err
	}
	if pol == nil {
		if s.Action.Value == edgeDiscard {
			return stage.Succeed().WithContext(map[string]any{"edgeNothingToDiscard": "no policy"}).
				WithOutputs(map[string]any{"discarded": false, "note": fmt.Sprintf("distribution %s has no continuous-deployment policy: no canary to discard", primary)}), nil
		}
		return stage.Result{}, fail("distribution %s has no continuous-deployment policy, so there is no canary to promote; start one with an %s stage whose deploymentStrategy is $STAGING",
			primary, EdgeAssociationTypeName)
	}
	pid := aws.ToString(pol.ContinuousDeploymentPolicy.Id)
	res := stage.Succeed().WithContext(map[string]any{edgePolicyIDKey: pid, edgeStagingIDKey: id}).
		WithOutputs(map[string]any{"stagingDistributionId": id, "continuousDeploymentPolicyId": pid})
	if s.Action.Value == edgePromote {
		rec := previousAssociations{Account: f.acct.Name, Region: f.acct.Region, FunctionName: f.name, DistributionID: primary,
			Behaviors: snapshotBehaviors(out.DistributionConfig, patterns(out.DistributionConfig))}
		res = res.WithOutputs(map[string]any{
			PreviousAssociationsKey: jsonValue(rec),
			RollbackStageKey: map[string]any{
				"type":    EdgeRestoreTypeName,
				"name":    fmt.Sprintf("Restore the Lambda@Edge associations of distribution %s", primary),
				"context": jsonValue(rec),
			},
		})
	}
	return res, nil
}

// edgePromoteRun copies the staging configuration to the primary, then
// makes sure the policy is disabled.
func edgePromoteRun(ctx context.Context, t *stage.Task, f *function, s *edgePromoteSpec) (stage.Result, error) {
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	primary, stagingID, pid := strings.TrimSpace(s.DistributionID.Value), ctxString(t, edgeStagingIDKey), ctxString(t, edgePolicyIDKey)
	if ctxString(t, "edgePromoted") == "" {
		for attempt := 1; ; attempt++ {
			p, err := cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String(primary)})
			if err != nil {
				return stage.Result{}, cfError(f, "GetDistribution", primary, err)
			}
			st, err := cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String(stagingID)})
			if err != nil {
				return stage.Result{}, cfError(f, "GetDistribution (staging)", stagingID, err)
			}
			_, err = cf.UpdateDistributionWithStagingConfig(ctx, &cloudfront.UpdateDistributionWithStagingConfigInput{
				Id: aws.String(primary), StagingDistributionId: aws.String(stagingID),
				IfMatch: aws.String(aws.ToString(p.ETag) + ", " + aws.ToString(st.ETag))})
			if err == nil {
				break
			}
			if !isPreconditionFailed(err) {
				return stage.Result{}, cfError(f, "UpdateDistributionWithStagingConfig (staging "+stagingID+")", primary, err)
			}
			if attempt >= edgeUpdateAttempts {
				return stage.Result{}, retry("UpdateDistributionWithStagingConfig of distribution %s was refused with PreconditionFailed %d times in a row; trying again", primary, attempt)
			}
		}
	}
	promoted := stage.Result{}.WithContext(map[string]any{"edgePromoted": "yes"})
	if err := disablePolicy(ctx, f, cf, primary, pid); err != nil {
		return promoted, err
	}
	return stage.Succeed().WithContext(promoted.Context).WithOutputs(map[string]any{"promoted": true}), nil
}

// edgeDiscardRun disables the policy: every request goes to the primary.
func edgeDiscardRun(ctx context.Context, t *stage.Task, f *function, s *edgePromoteSpec) (stage.Result, error) {
	pid := ctxString(t, edgePolicyIDKey)
	if pid == "" {
		return stage.Succeed(), nil // nothing to discard (lambdaEdgeFindStaging said so)
	}
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	if err := disablePolicy(ctx, f, cf, strings.TrimSpace(s.DistributionID.Value), pid); err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(map[string]any{"discarded": true}), nil
}

func disablePolicy(ctx context.Context, f *function, cf *cloudfront.Client, primary, pid string) error {
	return putPolicy(ctx, f, cf, primary, pid, func(c *types.ContinuousDeploymentPolicyConfig) *types.ContinuousDeploymentPolicyConfig {
		if c == nil {
			return nil
		}
		next := *c
		next.Enabled = aws.Bool(false)
		return &next
	})
}

// edgeWaitPromoted polls until the primary is Deployed and verifies that
// its behaviors carry the staging distribution's associations.
func edgeWaitPromoted(ctx context.Context, t *stage.Task, f *function, s *edgePromoteSpec) (stage.Result, error) {
	cf, err := cloudFront(f)
	if err != nil {
		return stage.Result{}, err
	}
	primary, stagingID := strings.TrimSpace(s.DistributionID.Value), ctxString(t, edgeStagingIDKey)
	d, err := waitDeployed(ctx, f, cf, primary)
	if err != nil {
		return stage.Result{}, err
	}
	st, err := readDistributionConfig(ctx, f, cf, stagingID)
	if err != nil {
		return stage.Result{}, err
	}
	for _, p := range patterns(st.DistributionConfig) {
		want, _ := behaviorAssociations(st.DistributionConfig, p)
		got, ok := behaviorAssociations(d.DistributionConfig, p)
		if !ok || !sameAssociations(want, got) {
			return stage.Result{}, fail("distribution %s is Deployed but its behavior %s has %s, not the staging distribution's %s; another change may have raced with the promotion",
				primary, describePattern(p), describeAssociations(got), describeAssociations(want))
		}
	}
	return stage.Succeed(), nil
}
