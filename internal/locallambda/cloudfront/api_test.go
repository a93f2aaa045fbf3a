package cloudfront_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

func TestDistributionCreateGetConfigRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	in := distConfig("round-trip", "127.0.0.1", 8080)
	in.Aliases = &types.Aliases{Quantity: aws.Int32(1), Items: []string{"www.example.com"}}
	in.Logging = &types.LoggingConfig{Enabled: aws.Bool(false), IncludeCookies: aws.Bool(false), Bucket: aws.String(""), Prefix: aws.String("")}
	in.CustomErrorResponses = &types.CustomErrorResponses{Quantity: aws.Int32(1), Items: []types.CustomErrorResponse{
		{ErrorCode: aws.Int32(404), ResponsePagePath: aws.String("/404.html"), ResponseCode: aws.String("404"), ErrorCachingMinTTL: aws.Int64(10)},
	}}
	created := createDistribution(t, e.cf, in)
	d := created.Distribution
	id := aws.ToString(d.Id)
	if len(id) != 14 || !strings.HasPrefix(id, "E") {
		t.Errorf("Id = %q; want E and 13 characters", id)
	}
	if aws.ToString(created.ETag) == "" || !strings.HasSuffix(aws.ToString(created.Location), "/2020-05-31/distribution/"+id) {
		t.Errorf("ETag %q, Location %q", aws.ToString(created.ETag), aws.ToString(created.Location))
	}
	if got := aws.ToString(d.ARN); got != "arn:aws:cloudfront::000000000000:distribution/"+id {
		t.Errorf("ARN = %s", got)
	}
	if !strings.HasSuffix(aws.ToString(d.DomainName), ".cloudfront.net") || !strings.HasPrefix(aws.ToString(d.DomainName), "d") {
		t.Errorf("DomainName = %s", aws.ToString(d.DomainName))
	}
	if !reflect.DeepEqual(d.DistributionConfig, in) {
		t.Errorf("created config differs from what was sent:\n got %+v\nwant %+v", d.DistributionConfig, in)
	}

	got, err := e.cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String(id)})
	if err != nil {
		t.Fatalf("GetDistribution: %v", err)
	}
	if aws.ToString(got.ETag) != aws.ToString(created.ETag) || aws.ToString(got.Distribution.Status) != "Deployed" {
		t.Errorf("GetDistribution ETag %s status %s; want %s Deployed", aws.ToString(got.ETag), aws.ToString(got.Distribution.Status), aws.ToString(created.ETag))
	}
	cfg, err := e.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: aws.String(id)})
	if err != nil {
		t.Fatalf("GetDistributionConfig: %v", err)
	}
	if aws.ToString(cfg.ETag) != aws.ToString(created.ETag) {
		t.Errorf("GetDistributionConfig ETag = %s; want %s", aws.ToString(cfg.ETag), aws.ToString(created.ETag))
	}
	if !reflect.DeepEqual(cfg.DistributionConfig, in) {
		t.Errorf("stored config differs from what was sent:\n got %+v\nwant %+v", cfg.DistributionConfig, in)
	}

	_, err = e.cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String("ENOSUCHDIST123")})
	var nsd *types.NoSuchDistribution
	if !errors.As(err, &nsd) {
		t.Errorf("GetDistribution of a missing id: %v; want NoSuchDistribution", err)
	}
	_, err = e.cf.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: distConfig("round-trip", "127.0.0.1", 8080)})
	var dae *types.DistributionAlreadyExists
	if !errors.As(err, &dae) {
		t.Errorf("CreateDistribution with a used CallerReference: %v; want DistributionAlreadyExists", err)
	}
	other := distConfig("other", "127.0.0.1", 8080)
	other.Aliases = &types.Aliases{Quantity: aws.Int32(1), Items: []string{"WWW.example.com"}}
	_, err = e.cf.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: other})
	wantCode(t, err, "CNAMEAlreadyExists")
}

func TestUpdateDistributionNeedsTheCurrentETag(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	created := createDistribution(t, e.cf, distConfig("etag", "127.0.0.1", 8080))
	id := created.Distribution.Id
	cfg, err := e.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	cfg.DistributionConfig.Comment = aws.String("changed")

	_, err = e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: id, DistributionConfig: cfg.DistributionConfig})
	var missing *types.InvalidIfMatchVersion
	if !errors.As(err, &missing) {
		t.Fatalf("UpdateDistribution without If-Match: %v; want InvalidIfMatchVersion", err)
	}
	_, err = e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: id, IfMatch: aws.String("E0000000000000"), DistributionConfig: cfg.DistributionConfig})
	var stale *types.PreconditionFailed
	if !errors.As(err, &stale) {
		t.Fatalf("UpdateDistribution with a wrong If-Match: %v; want PreconditionFailed", err)
	}
	up, err := e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: id, IfMatch: cfg.ETag, DistributionConfig: cfg.DistributionConfig})
	if err != nil {
		t.Fatalf("UpdateDistribution: %v", err)
	}
	if aws.ToString(up.ETag) == aws.ToString(cfg.ETag) || aws.ToString(up.ETag) == "" {
		t.Errorf("ETag after the update = %q; want a new one (was %q)", aws.ToString(up.ETag), aws.ToString(cfg.ETag))
	}
	if aws.ToString(up.Distribution.DistributionConfig.Comment) != "changed" {
		t.Errorf("Comment = %q; want changed", aws.ToString(up.Distribution.DistributionConfig.Comment))
	}
	// The ETag the change replaced is stale now.
	_, err = e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: id, IfMatch: cfg.ETag, DistributionConfig: cfg.DistributionConfig})
	if !errors.As(err, &stale) {
		t.Errorf("a second update with the replaced ETag: %v; want PreconditionFailed", err)
	}
	// CallerReference cannot change.
	cfg.DistributionConfig.CallerReference = aws.String("another")
	_, err = e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: id, IfMatch: up.ETag, DistributionConfig: cfg.DistributionConfig})
	wantCode(t, err, "IllegalUpdate")
	_, err = e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: aws.String("ENOSUCHDIST123"), IfMatch: up.ETag, DistributionConfig: cfg.DistributionConfig})
	wantCode(t, err, "NoSuchDistribution")
}

func TestDistributionDeployedWaiter(t *testing.T) {
	t.Parallel()
	clock := sluicetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e := newEnv(t, withClock(clock))
	ctx := context.Background()
	created := createDistribution(t, e.cf, distConfig("waiter", "127.0.0.1", 8080))
	if got := aws.ToString(created.Distribution.Status); got != "InProgress" {
		t.Fatalf("Status after create = %s; want InProgress", got)
	}
	if got := created.Distribution.LastModifiedTime; got == nil || !got.Equal(clock.Now()) {
		t.Errorf("LastModifiedTime = %v; want %v", got, clock.Now())
	}
	done := make(chan error, 1)
	go func() {
		w := cloudfront.NewDistributionDeployedWaiter(e.cf, func(o *cloudfront.DistributionDeployedWaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
		})
		done <- w.Wait(ctx, &cloudfront.GetDistributionInput{Id: created.Distribution.Id}, 2*time.Minute)
	}()
	// Still InProgress a while later: the waiter keeps polling.
	clock.Advance(59 * time.Second)
	got, err := e.cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: created.Distribution.Id})
	if err != nil || aws.ToString(got.Distribution.Status) != "InProgress" {
		t.Fatalf("GetDistribution after 59s: %v, %v; want InProgress", err, got)
	}
	select {
	case err := <-done:
		t.Fatalf("the waiter returned (%v) while the distribution was InProgress", err)
	default:
	}
	clock.Advance(time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("DistributionDeployed waiter: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiter did not return within a minute of the distribution being Deployed")
	}
	// An update is InProgress again until the delay has passed.
	cfg, _ := e.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: created.Distribution.Id})
	up, err := e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: created.Distribution.Id, IfMatch: cfg.ETag, DistributionConfig: cfg.DistributionConfig})
	if err != nil || aws.ToString(up.Distribution.Status) != "InProgress" {
		t.Fatalf("UpdateDistribution: %v; status %v; want InProgress", err, up)
	}
}

func TestListAndDeleteDistributions(t *testing.T) {
	t.Parallel()
	clock := sluicetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e := newEnv(t, withClock(clock))
	ctx := context.Background()
	ids := map[string]bool{}
	for _, ref := range []string{"a", "b", "c"} {
		out := createDistribution(t, e.cf, distConfig(ref, "127.0.0.1", 8080))
		ids[aws.ToString(out.Distribution.Id)] = true
	}
	seen := map[string]bool{}
	pages := 0
	p := cloudfront.NewListDistributionsPaginator(e.cf, &cloudfront.ListDistributionsInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListDistributions: %v", err)
		}
		pages++
		for _, s := range page.DistributionList.Items {
			seen[aws.ToString(s.Id)] = true
			if aws.ToString(s.Comment) == "" || s.DefaultCacheBehavior == nil || aws.ToString(s.ETag) == "" {
				t.Errorf("summary %s lacks Comment, DefaultCacheBehavior or ETag", aws.ToString(s.Id))
			}
		}
	}
	if pages != 2 || !reflect.DeepEqual(seen, ids) {
		t.Errorf("listed %v in %d pages; want %v in 2", seen, pages, ids)
	}

	var id string
	for id = range ids {
		break
	}
	_, err := e.cf.DeleteDistribution(ctx, &cloudfront.DeleteDistributionInput{Id: aws.String(id)})
	wantCode(t, err, "InvalidIfMatchVersion")
	cfg, _ := e.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: aws.String(id)})
	_, err = e.cf.DeleteDistribution(ctx, &cloudfront.DeleteDistributionInput{Id: aws.String(id), IfMatch: cfg.ETag})
	var nd *types.DistributionNotDisabled
	if !errors.As(err, &nd) {
		t.Fatalf("DeleteDistribution of an enabled distribution: %v; want DistributionNotDisabled", err)
	}
	cfg.DistributionConfig.Enabled = aws.Bool(false)
	up, err := e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: aws.String(id), IfMatch: cfg.ETag, DistributionConfig: cfg.DistributionConfig})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.cf.DeleteDistribution(ctx, &cloudfront.DeleteDistributionInput{Id: aws.String(id), IfMatch: up.ETag})
	wantCodeMentions(t, err, "DistributionNotDisabled", "InProgress")
	clock.Advance(time.Minute)
	_, err = e.cf.DeleteDistribution(ctx, &cloudfront.DeleteDistributionInput{Id: aws.String(id), IfMatch: cfg.ETag})
	wantCode(t, err, "PreconditionFailed")
	if _, err := e.cf.DeleteDistribution(ctx, &cloudfront.DeleteDistributionInput{Id: aws.String(id), IfMatch: up.ETag}); err != nil {
		t.Fatalf("DeleteDistribution: %v", err)
	}
	_, err = e.cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String(id)})
	wantCode(t, err, "NoSuchDistribution")
}

func TestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := openEnv(t, dir)
	ctx := context.Background()
	created := createDistribution(t, e.cf, distConfig("restart", "127.0.0.1", 8080))
	stagingDomain := copyStaging(t, e, created.Distribution, "restart-staging")
	pol, err := e.cf.CreateContinuousDeploymentPolicy(ctx, &cloudfront.CreateContinuousDeploymentPolicyInput{
		ContinuousDeploymentPolicyConfig: weightPolicy(stagingDomain, 0.1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := openEnv(t, dir)
	got, err := e2.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: created.Distribution.Id})
	if err != nil {
		t.Fatalf("GetDistributionConfig after a restart: %v", err)
	}
	if aws.ToString(got.ETag) != aws.ToString(created.ETag) || !reflect.DeepEqual(got.DistributionConfig, created.Distribution.DistributionConfig) {
		t.Errorf("after a restart: ETag %s (want %s), config equal %t", aws.ToString(got.ETag), aws.ToString(created.ETag),
			reflect.DeepEqual(got.DistributionConfig, created.Distribution.DistributionConfig))
	}
	gp, err := e2.cf.GetContinuousDeploymentPolicy(ctx, &cloudfront.GetContinuousDeploymentPolicyInput{Id: pol.ContinuousDeploymentPolicy.Id})
	if err != nil || aws.ToString(gp.ETag) != aws.ToString(pol.ETag) {
		t.Errorf("GetContinuousDeploymentPolicy after a restart: %v (ETag %v, want %s)", err, gp, aws.ToString(pol.ETag))
	}
}

// publish creates function name in the local Lambda (a shell bootstrap
// is enough for the control plane) and publishes version 1.
func publish(t testing.TB, e *env, name string, edit func(*lambda.CreateFunctionInput)) string {
	t.Helper()
	in := lambdatest.CreateInput(name, lambdatest.BootstrapZip(t, name))
	if edit != nil {
		edit(in)
	}
	createActive(t, e, in)
	return publishVersion(t, e, name)
}

func TestLambdaFunctionAssociationsAreCheckedAsCloudFrontDoes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	good := publish(t, e, "edge-ok", nil)
	withEnv := publish(t, e, "edge-env", func(in *lambda.CreateFunctionInput) {
		in.Environment = &ltypes.Environment{Variables: map[string]string{"GREETING": "hi"}}
	})
	slow := publish(t, e, "edge-slow", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(10) })
	big := publish(t, e, "edge-big", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(256) })
	unversioned := strings.TrimSuffix(good, ":1")

	tests := []struct {
		name   string
		assocs []types.LambdaFunctionAssociation
		code   string
		word   string
	}{
		{"$LATEST", []types.LambdaFunctionAssociation{assoc(unversioned+":$LATEST", types.EventTypeViewerRequest, false)}, "InvalidLambdaFunctionAssociation", "specific function version"},
		{"alias", []types.LambdaFunctionAssociation{assoc(unversioned+":live", types.EventTypeViewerRequest, false)}, "InvalidLambdaFunctionAssociation", "specific function version"},
		{"unqualified", []types.LambdaFunctionAssociation{assoc(unversioned, types.EventTypeViewerRequest, false)}, "InvalidLambdaFunctionAssociation", "specific function version"},
		{"other region", []types.LambdaFunctionAssociation{assoc(strings.Replace(good, "us-east-1", "eu-west-1", 1), types.EventTypeViewerRequest, false)}, "InvalidLambdaFunctionAssociation", "us-east-1"},
		{"body on a response", []types.LambdaFunctionAssociation{assoc(good, types.EventTypeOriginResponse, true)}, "InvalidLambdaFunctionAssociation", "IncludeBody"},
		{"two for one event", []types.LambdaFunctionAssociation{assoc(good, types.EventTypeViewerRequest, false), assoc(good, types.EventTypeViewerRequest, false)}, "InvalidLambdaFunctionAssociation", "only one"},
		{"five", []types.LambdaFunctionAssociation{assoc(good, types.EventTypeViewerRequest, false), assoc(good, types.EventTypeViewerResponse, false),
			assoc(good, types.EventTypeOriginRequest, false), assoc(good, types.EventTypeOriginResponse, false), assoc(good, types.EventTypeOriginResponse, false)}, "TooManyLambdaFunctionAssociations", "4"},
		{"event type", []types.LambdaFunctionAssociation{assoc(good, "viewer-ping", false)}, "InvalidLambdaFunctionAssociation", "viewer-ping"},
		{"missing version", []types.LambdaFunctionAssociation{assoc(unversioned+":7", types.EventTypeViewerRequest, false)}, "InvalidLambdaFunctionAssociation", "does not exist"},
		{"environment", []types.LambdaFunctionAssociation{assoc(withEnv, types.EventTypeOriginRequest, false)}, "InvalidLambdaFunctionAssociation", "environment variables"},
		{"viewer timeout", []types.LambdaFunctionAssociation{assoc(slow, types.EventTypeViewerRequest, false)}, "InvalidLambdaFunctionAssociation", "5 seconds"},
		{"viewer memory", []types.LambdaFunctionAssociation{assoc(big, types.EventTypeViewerResponse, false)}, "InvalidLambdaFunctionAssociation", "128 MB"},
	}
	for i, tt := range tests {
		_, err := e.cf.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: distConfig("bad-"+string(rune('a'+i)), "127.0.0.1", 8080, tt.assocs...)})
		if err == nil {
			t.Errorf("%s: CreateDistribution succeeded; want %s", tt.name, tt.code)
			continue
		}
		t.Run(tt.name, func(t *testing.T) { wantCodeMentions(t, err, tt.code, tt.word) })
	}

	// What CloudFront accepts: a numbered version per event type, the body
	// on a request event, a 10 s function on an origin event.
	ok := []types.LambdaFunctionAssociation{assoc(good, types.EventTypeViewerRequest, true), assoc(slow, types.EventTypeOriginRequest, true),
		assoc(big, types.EventTypeOriginResponse, false), assoc(good, types.EventTypeViewerResponse, false)}
	out := createDistribution(t, e.cf, distConfig("good", "127.0.0.1", 8080, ok...))
	if got := out.Distribution.DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations.Items; !reflect.DeepEqual(got, ok) {
		t.Errorf("associations = %+v; want %+v", got, ok)
	}
	// Quantity must match the items.
	bad := distConfig("inconsistent", "127.0.0.1", 8080, assoc(good, types.EventTypeViewerRequest, false))
	bad.DefaultCacheBehavior.LambdaFunctionAssociations.Quantity = aws.Int32(2)
	_, err := e.cf.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: bad})
	wantCode(t, err, "InconsistentQuantities")
	// A behavior must target an origin of the distribution.
	bad = distConfig("no-origin", "127.0.0.1", 8080)
	bad.DefaultCacheBehavior.TargetOriginId = aws.String("elsewhere")
	_, err = e.cf.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: bad})
	wantCode(t, err, "NoSuchOrigin")
}

// copyStaging copies primary into a staging distribution and returns its
// domain name.
func copyStaging(t testing.TB, e *env, primary *types.Distribution, ref string) string {
	t.Helper()
	out, err := e.cf.CopyDistribution(context.Background(), &cloudfront.CopyDistributionInput{
		PrimaryDistributionId: primary.Id, CallerReference: aws.String(ref), Staging: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("CopyDistribution: %v", err)
	}
	if !aws.ToBool(out.Distribution.DistributionConfig.Staging) {
		t.Fatalf("the copy is not a staging distribution")
	}
	return aws.ToString(out.Distribution.DomainName)
}

func weightPolicy(stagingDomain string, weight float32) *types.ContinuousDeploymentPolicyConfig {
	return &types.ContinuousDeploymentPolicyConfig{
		Enabled:                     aws.Bool(true),
		StagingDistributionDnsNames: &types.StagingDistributionDnsNames{Quantity: aws.Int32(1), Items: []string{stagingDomain}},
		TrafficConfig: &types.TrafficConfig{Type: types.ContinuousDeploymentPolicyTypeSingleWeight,
			SingleWeightConfig: &types.ContinuousDeploymentSingleWeightConfig{Weight: aws.Float32(weight)}},
	}
}

func headerPolicy(stagingDomain, header, value string) *types.ContinuousDeploymentPolicyConfig {
	return &types.ContinuousDeploymentPolicyConfig{
		Enabled:                     aws.Bool(true),
		StagingDistributionDnsNames: &types.StagingDistributionDnsNames{Quantity: aws.Int32(1), Items: []string{stagingDomain}},
		TrafficConfig: &types.TrafficConfig{Type: types.ContinuousDeploymentPolicyTypeSingleHeader,
			SingleHeaderConfig: &types.ContinuousDeploymentSingleHeaderConfig{Header: aws.String(header), Value: aws.String(value)}},
	}
}

func TestContinuousDeploymentPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	primary := createDistribution(t, e.cf, distConfig("cd-primary", "127.0.0.1", 8080))
	staging := copyStaging(t, e, primary.Distribution, "cd-staging")

	for _, tt := range []struct {
		name string
		cfg  *types.ContinuousDeploymentPolicyConfig
		word string
	}{
		{"weight above 0.15", weightPolicy(staging, 0.2), "0.15"},
		{"header without the prefix", headerPolicy(staging, "x-canary", "1"), "aws-cf-cd-"},
		{"not a staging distribution", weightPolicy(aws.ToString(primary.Distribution.DomainName), 0.1), "staging distribution"},
	} {
		_, err := e.cf.CreateContinuousDeploymentPolicy(ctx, &cloudfront.CreateContinuousDeploymentPolicyInput{ContinuousDeploymentPolicyConfig: tt.cfg})
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		wantCodeMentions(t, err, "InvalidArgument", tt.word)
	}
	sticky := weightPolicy(staging, 0.15)
	sticky.TrafficConfig.SingleWeightConfig.SessionStickinessConfig = &types.SessionStickinessConfig{IdleTTL: aws.Int32(300), MaximumTTL: aws.Int32(600)}
	created, err := e.cf.CreateContinuousDeploymentPolicy(ctx, &cloudfront.CreateContinuousDeploymentPolicyInput{ContinuousDeploymentPolicyConfig: sticky})
	if err != nil {
		t.Fatalf("CreateContinuousDeploymentPolicy: %v", err)
	}
	id := created.ContinuousDeploymentPolicy.Id
	if !reflect.DeepEqual(created.ContinuousDeploymentPolicy.ContinuousDeploymentPolicyConfig, sticky) || aws.ToString(created.ETag) == "" ||
		!strings.HasSuffix(aws.ToString(created.Location), aws.ToString(id)) {
		t.Errorf("created policy %+v, ETag %q, Location %q", created.ContinuousDeploymentPolicy, aws.ToString(created.ETag), aws.ToString(created.Location))
	}
	_, err = e.cf.CreateContinuousDeploymentPolicy(ctx, &cloudfront.CreateContinuousDeploymentPolicyInput{ContinuousDeploymentPolicyConfig: weightPolicy(staging, 0.05)})
	var inUse *types.StagingDistributionInUse
	if !errors.As(err, &inUse) {
		t.Errorf("a second policy for the same staging distribution: %v; want StagingDistributionInUse", err)
	}

	gc, err := e.cf.GetContinuousDeploymentPolicyConfig(ctx, &cloudfront.GetContinuousDeploymentPolicyConfigInput{Id: id})
	if err != nil || aws.ToString(gc.ETag) != aws.ToString(created.ETag) || !reflect.DeepEqual(gc.ContinuousDeploymentPolicyConfig, sticky) {
		t.Fatalf("GetContinuousDeploymentPolicyConfig: %v %+v", err, gc)
	}
	hdr := headerPolicy(staging, "aws-cf-cd-canary", "yes")
	_, err = e.cf.UpdateContinuousDeploymentPolicy(ctx, &cloudfront.UpdateContinuousDeploymentPolicyInput{Id: id, ContinuousDeploymentPolicyConfig: hdr})
	wantCode(t, err, "InvalidIfMatchVersion")
	_, err = e.cf.UpdateContinuousDeploymentPolicy(ctx, &cloudfront.UpdateContinuousDeploymentPolicyInput{Id: id, IfMatch: aws.String("ESTALE00000000"), ContinuousDeploymentPolicyConfig: hdr})
	wantCode(t, err, "PreconditionFailed")
	up, err := e.cf.UpdateContinuousDeploymentPolicy(ctx, &cloudfront.UpdateContinuousDeploymentPolicyInput{Id: id, IfMatch: gc.ETag, ContinuousDeploymentPolicyConfig: hdr})
	if err != nil || aws.ToString(up.ETag) == aws.ToString(gc.ETag) {
		t.Fatalf("UpdateContinuousDeploymentPolicy: %v; ETag %v", err, up)
	}

	// Attach it to the primary; then it cannot be deleted.
	pc, _ := e.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: primary.Distribution.Id})
	pc.DistributionConfig.ContinuousDeploymentPolicyId = aws.String("no-such-policy")
	_, err = e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: primary.Distribution.Id, IfMatch: pc.ETag, DistributionConfig: pc.DistributionConfig})
	wantCode(t, err, "NoSuchContinuousDeploymentPolicy")
	pc.DistributionConfig.ContinuousDeploymentPolicyId = id
	attached, err := e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: primary.Distribution.Id, IfMatch: pc.ETag, DistributionConfig: pc.DistributionConfig})
	if err != nil {
		t.Fatalf("attach the policy: %v", err)
	}
	_, err = e.cf.DeleteContinuousDeploymentPolicy(ctx, &cloudfront.DeleteContinuousDeploymentPolicyInput{Id: id, IfMatch: up.ETag})
	var policyInUse *types.ContinuousDeploymentPolicyInUse
	if !errors.As(err, &policyInUse) {
		t.Errorf("DeleteContinuousDeploymentPolicy of an attached policy: %v; want ContinuousDeploymentPolicyInUse", err)
	}

	list, err := e.cf.ListContinuousDeploymentPolicies(ctx, &cloudfront.ListContinuousDeploymentPoliciesInput{})
	if err != nil || aws.ToInt32(list.ContinuousDeploymentPolicyList.Quantity) != 1 ||
		aws.ToString(list.ContinuousDeploymentPolicyList.Items[0].ContinuousDeploymentPolicy.Id) != aws.ToString(id) {
		t.Fatalf("ListContinuousDeploymentPolicies: %v %+v", err, list)
	}

	// Detach, delete.
	pc.DistributionConfig.ContinuousDeploymentPolicyId = aws.String("")
	if _, err := e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: primary.Distribution.Id, IfMatch: attached.ETag, DistributionConfig: pc.DistributionConfig}); err != nil {
		t.Fatal(err)
	}
	_, err = e.cf.DeleteContinuousDeploymentPolicy(ctx, &cloudfront.DeleteContinuousDeploymentPolicyInput{Id: id})
	wantCode(t, err, "InvalidIfMatchVersion")
	if _, err := e.cf.DeleteContinuousDeploymentPolicy(ctx, &cloudfront.DeleteContinuousDeploymentPolicyInput{Id: id, IfMatch: up.ETag}); err != nil {
		t.Fatalf("DeleteContinuousDeploymentPolicy: %v", err)
	}
	_, err = e.cf.GetContinuousDeploymentPolicy(ctx, &cloudfront.GetContinuousDeploymentPolicyInput{Id: id})
	wantCode(t, err, "NoSuchContinuousDeploymentPolicy")
}

func TestPromoteStagingConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	v1 := publish(t, e, "promote-fn", nil)
	in := distConfig("promote", "127.0.0.1", 8080)
	in.Aliases = &types.Aliases{Quantity: aws.Int32(1), Items: []string{"shop.example.com"}}
	primary := createDistribution(t, e.cf, in)
	_, err := e.cf.CopyDistribution(ctx, &cloudfront.CopyDistributionInput{
		PrimaryDistributionId: primary.Distribution.Id, CallerReference: aws.String("promote-staging"), Staging: aws.Bool(true), IfMatch: aws.String("ESTALE00000000"),
	})
	wantCode(t, err, "PreconditionFailed")
	copied, err := e.cf.CopyDistribution(ctx, &cloudfront.CopyDistributionInput{
		PrimaryDistributionId: primary.Distribution.Id, CallerReference: aws.String("promote-staging"), Staging: aws.Bool(true), IfMatch: primary.ETag,
	})
	if err != nil {
		t.Fatalf("CopyDistribution: %v", err)
	}
	sid := copied.Distribution.Id
	// The staging distribution gets the new association.
	sc, _ := e.cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: sid})
	sc.DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations = &types.LambdaFunctionAssociations{
		Quantity: aws.Int32(1), Items: []types.LambdaFunctionAssociation{assoc(v1, types.EventTypeViewerRequest, false)}}
	sc.DistributionConfig.Comment = aws.String("staged")
	sup, err := e.cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: sid, IfMatch: sc.ETag, DistributionConfig: sc.DistributionConfig})
	if err != nil {
		t.Fatalf("UpdateDistribution of the staging distribution: %v", err)
	}
	_, err = e.cf.UpdateDistributionWithStagingConfig(ctx, &cloudfront.UpdateDistributionWithStagingConfigInput{
		Id: primary.Distribution.Id, StagingDistributionId: sid, IfMatch: primary.ETag})
	wantCode(t, err, "InvalidIfMatchVersion")
	_, err = e.cf.UpdateDistributionWithStagingConfig(ctx, &cloudfront.UpdateDistributionWithStagingConfigInput{
		Id: primary.Distribution.Id, StagingDistributionId: sid, IfMatch: aws.String(aws.ToString(primary.ETag) + ", " + aws.ToString(sc.ETag))})
	wantCode(t, err, "PreconditionFailed")
	out, err := e.cf.UpdateDistributionWithStagingConfig(ctx, &cloudfront.UpdateDistributionWithStagingConfigInput{
		Id: primary.Distribution.Id, StagingDistributionId: sid, IfMatch: aws.String(aws.ToString(primary.ETag) + ", " + aws.ToString(sup.ETag))})
	if err != nil {
		t.Fatalf("UpdateDistributionWithStagingConfig: %v", err)
	}
	got := out.Distribution.DistributionConfig
	if aws.ToString(got.Comment) != "staged" || aws.ToInt32(got.DefaultCacheBehavior.LambdaFunctionAssociations.Quantity) != 1 {
		t.Errorf("the primary did not take the staging configuration: comment %q, %d associations", aws.ToString(got.Comment),
			aws.ToInt32(got.DefaultCacheBehavior.LambdaFunctionAssociations.Quantity))
	}
	if aws.ToString(got.CallerReference) != "promote" || aws.ToBool(got.Staging) || !reflect.DeepEqual(got.Aliases, in.Aliases) {
		t.Errorf("the primary lost what identifies it: CallerReference %q, Staging %t, Aliases %+v", aws.ToString(got.CallerReference), aws.ToBool(got.Staging), got.Aliases)
	}
	if aws.ToString(out.ETag) == aws.ToString(primary.ETag) {
		t.Error("the promotion did not change the primary's ETag")
	}
}

func TestUnknownOperationAndLambdaStillRouted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.cf.ListCachePolicies(ctx, &cloudfront.ListCachePoliciesInput{})
	wantCodeMentions(t, err, "NotImplemented", "/2020-05-31/cache-policy")
	// The Lambda API on the same port still answers Lambda's requests.
	if _, err := e.ep.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("ListFunctions next to CloudFront: %v", err)
	}
}
