package cloudfront_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestSameSequenceAgainstMoto runs the distribution calls the edge stage
// makes (create, get, get config, update with If-Match, wait for
// Deployed, list, delete) against the local CloudFront and against
// moto_server, and holds both to the same answers where moto models them.
// Where moto does not (it accepts any If-Match value and keeps the ETag
// across updates; it drops Lambda associations and has no continuous
// deployment) only the local CloudFront is checked, by the other tests.
func TestSameSequenceAgainstMoto(t *testing.T) {
	t.Parallel()
	moto := sluicetest.StartMoto(t, "the CloudFront comparison with moto")
	peers := map[string]*cloudfront.Client{
		"local": newEnv(t).cf,
		"moto":  cloudFrontClient(moto),
	}
	for name, c := range peers {
		t.Run(name, func(t *testing.T) { distributionSequence(t, c) })
	}
}

func distributionSequence(t *testing.T, c *cloudfront.Client) {
	ctx := context.Background()
	in := distConfig("moto-sequence", "origin.example.com", 80)
	created := createDistribution(t, c, in)
	id := created.Distribution.Id
	if aws.ToString(id) == "" || aws.ToString(created.ETag) == "" || aws.ToString(created.Location) == "" {
		t.Fatalf("CreateDistribution: Id %q, ETag %q, Location %q", aws.ToString(id), aws.ToString(created.ETag), aws.ToString(created.Location))
	}
	got, err := c.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: id})
	if err != nil || aws.ToString(got.Distribution.DistributionConfig.Comment) != aws.ToString(in.Comment) {
		t.Fatalf("GetDistribution: %v; comment %v", err, got)
	}
	cfg, err := c.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: id})
	if err != nil || aws.ToString(cfg.ETag) == "" || aws.ToString(cfg.DistributionConfig.CallerReference) != "moto-sequence" {
		t.Fatalf("GetDistributionConfig: %v %+v", err, cfg)
	}
	cfg.DistributionConfig.Comment = aws.String("updated through If-Match")
	_, err = c.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: id, DistributionConfig: cfg.DistributionConfig})
	var badMatch *types.InvalidIfMatchVersion
	if !errors.As(err, &badMatch) {
		t.Errorf("UpdateDistribution without If-Match: %v; want InvalidIfMatchVersion", err)
	}
	up, err := c.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: id, IfMatch: cfg.ETag, DistributionConfig: cfg.DistributionConfig})
	if err != nil {
		t.Fatalf("UpdateDistribution: %v", err)
	}
	if aws.ToString(up.Distribution.DistributionConfig.Comment) != "updated through If-Match" || aws.ToString(up.ETag) == "" {
		t.Errorf("UpdateDistribution: comment %q, ETag %q", aws.ToString(up.Distribution.DistributionConfig.Comment), aws.ToString(up.ETag))
	}
	w := cloudfront.NewDistributionDeployedWaiter(c, func(o *cloudfront.DistributionDeployedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx, &cloudfront.GetDistributionInput{Id: id}, time.Minute); err != nil {
		t.Fatalf("DistributionDeployed: %v", err)
	}
	list, err := c.ListDistributions(ctx, &cloudfront.ListDistributionsInput{})
	if err != nil {
		t.Fatalf("ListDistributions: %v", err)
	}
	found := false
	for _, s := range list.DistributionList.Items {
		found = found || aws.ToString(s.Id) == aws.ToString(id)
	}
	if !found {
		t.Errorf("ListDistributions does not list %s", aws.ToString(id))
	}
	_, err = c.DeleteDistribution(ctx, &cloudfront.DeleteDistributionInput{Id: id})
	if !errors.As(err, &badMatch) {
		t.Errorf("DeleteDistribution without If-Match: %v; want InvalidIfMatchVersion", err)
	}
	_, err = c.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String("ENOSUCHDIST123")})
	var nsd *types.NoSuchDistribution
	if !errors.As(err, &nsd) {
		t.Errorf("GetDistribution of a missing id: %v; want NoSuchDistribution", err)
	}
}
