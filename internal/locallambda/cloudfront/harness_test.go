package cloudfront_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/access"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// The local CloudFront's tests drive a real local Lambda over HTTP with
// aws-sdk-go-v2's cloudfront client, as the edge stage does.

// env is a started local Lambda with clients for its CloudFront and
// Lambda APIs.
type env struct {
	srv *locallambda.Server
	cf  *cloudfront.Client
	ep  *lambdatest.Endpoint
	dir string
}

type envOption func(*locallambda.Config)

// withClock runs the server on a fake clock the test moves, with a
// deploy delay of one minute.
func withClock(c *sluicetest.Clock) envOption {
	return func(cfg *locallambda.Config) {
		cfg.Clock = c.Now
		cfg.CloudFrontDeployDelay = time.Minute
	}
}

// withCredentials makes the server verify every signature with this key.
func withCredentials(id, secret string) envOption {
	return func(cfg *locallambda.Config) {
		cfg.Credentials = &access.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	}
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	return openEnv(t, t.TempDir(), opts...)
}

func openEnv(t testing.TB, dir string, opts ...envOption) *env {
	t.Helper()
	cfg := locallambda.Config{DataDir: dir, CloudFrontDeployDelay: -1}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := locallambda.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &env{srv: srv, cf: cloudFrontClient(srv.URL()), ep: lambdatest.NewEndpoint(srv.URL()), dir: dir}
}

// cloudFrontClient is a CloudFront client for url that does not retry.
func cloudFrontClient(url string) *cloudfront.Client {
	return cloudfront.New(cloudfront.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(lambdatest.AccessKeyID, lambdatest.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	})
}

// distConfig is a valid DistributionConfig with one custom origin at
// host:port and the given associations on the default behavior.
func distConfig(ref, host string, port int32, assocs ...types.LambdaFunctionAssociation) *types.DistributionConfig {
	return &types.DistributionConfig{
		CallerReference:              aws.String(ref),
		Comment:                      aws.String("local edge test " + ref),
		Enabled:                      aws.Bool(true),
		Staging:                      aws.Bool(false),
		PriceClass:                   types.PriceClassPriceClass100,
		HttpVersion:                  types.HttpVersionHttp2,
		IsIPV6Enabled:                aws.Bool(true),
		ContinuousDeploymentPolicyId: aws.String(""),
		Origins: &types.Origins{Quantity: aws.Int32(1), Items: []types.Origin{{
			Id:         aws.String("app"),
			DomainName: aws.String(host),
			OriginPath: aws.String(""),
			CustomHeaders: &types.CustomHeaders{Quantity: aws.Int32(1), Items: []types.OriginCustomHeader{
				{HeaderName: aws.String("X-Origin-Secret"), HeaderValue: aws.String("s3cret")},
			}},
			CustomOriginConfig: &types.CustomOriginConfig{
				HTTPPort: aws.Int32(port), HTTPSPort: aws.Int32(443),
				OriginProtocolPolicy: types.OriginProtocolPolicyHttpOnly,
				OriginReadTimeout:    aws.Int32(30), OriginKeepaliveTimeout: aws.Int32(5),
				OriginSslProtocols: &types.OriginSslProtocols{Quantity: aws.Int32(1), Items: []types.SslProtocol{types.SslProtocolTLSv12}},
			},
		}}},
		DefaultCacheBehavior: &types.DefaultCacheBehavior{
			TargetOriginId:       aws.String("app"),
			ViewerProtocolPolicy: types.ViewerProtocolPolicyAllowAll,
			CachePolicyId:        aws.String("4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
			Compress:             aws.Bool(true),
			LambdaFunctionAssociations: &types.LambdaFunctionAssociations{
				Quantity: aws.Int32(int32(len(assocs))), Items: assocs,
			},
			AllowedMethods: &types.AllowedMethods{Quantity: aws.Int32(2), Items: []types.Method{types.MethodGet, types.MethodHead},
				CachedMethods: &types.CachedMethods{Quantity: aws.Int32(2), Items: []types.Method{types.MethodGet, types.MethodHead}}},
		},
	}
}

// assoc is a LambdaFunctionAssociation.
func assoc(arn string, t types.EventType, body bool) types.LambdaFunctionAssociation {
	return types.LambdaFunctionAssociation{LambdaFunctionARN: aws.String(arn), EventType: t, IncludeBody: aws.Bool(body)}
}

// waitTimeout bounds the waits for functions and versions: generous, so
// that a loaded machine (or -race) does not fail a test that would pass.
const waitTimeout = 3 * time.Minute

// createActive creates a function and waits, with the SDK's
// FunctionActiveV2 waiter, until it is Active.
func createActive(t testing.TB, e *env, in *lambda.CreateFunctionInput) {
	t.Helper()
	if _, err := e.ep.Lambda.CreateFunction(context.Background(), in); err != nil {
		t.Fatalf("CreateFunction(%s): %v", aws.ToString(in.FunctionName), err)
	}
	w := lambda.NewFunctionActiveV2Waiter(e.ep.Lambda, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: in.FunctionName}, waitTimeout); err != nil {
		t.Fatalf("FunctionActiveV2 %s: %v", aws.ToString(in.FunctionName), err)
	}
}

// publishVersion publishes the function's next version, waits until it is
// Active and returns the version's ARN.
func publishVersion(t testing.TB, e *env, name string) string {
	t.Helper()
	out, err := e.ep.Lambda.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("PublishVersion(%s): %v", name, err)
	}
	w := lambda.NewPublishedVersionActiveWaiter(e.ep.Lambda, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: out.Version}, waitTimeout); err != nil {
		t.Fatalf("PublishedVersionActive %s:%s: %v", name, aws.ToString(out.Version), err)
	}
	return aws.ToString(out.FunctionArn)
}

// createDistribution creates a distribution of config in through c.
func createDistribution(t testing.TB, c *cloudfront.Client, in *types.DistributionConfig) *cloudfront.CreateDistributionOutput {
	t.Helper()
	out, err := c.CreateDistribution(context.Background(), &cloudfront.CreateDistributionInput{DistributionConfig: in})
	if err != nil {
		t.Fatalf("CreateDistribution(%s): %v", aws.ToString(in.CallerReference), err)
	}
	return out
}

// wantCode fails unless err is an API error with code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v; want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code = %s (%s); want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

// wantCodeMentions is wantCode plus a word the message must contain.
func wantCodeMentions(t testing.TB, err error, code, word string) {
	t.Helper()
	wantCode(t, err, code)
	var ae smithy.APIError
	errors.As(err, &ae)
	if !strings.Contains(ae.ErrorMessage(), word) {
		t.Fatalf("%s message %q does not mention %q", code, ae.ErrorMessage(), word)
	}
}
