package bench

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/locallambda"
)

// LocalResult holds the local Lambda's figures, all through the full REST
// path: aws-sdk-go-v2 → HTTP → Invoke → Runtime API → function process.
type LocalResult struct {
	Warm        []time.Duration // sequential invokes of a warm environment
	Cold        []time.Duration // first invokes of new versions, process start included
	Clients     int             // concurrent clients of the throughput run
	Concurrent  int             // invokes in the throughput run
	Errors      int64           // of those, failed calls or function errors
	PerSecond   float64
	Weighted    int     // invokes of an alias sending Weight to the new version
	Weight      float64 // the alias's additional-version weight
	NewVersion  int     // of those, how many ran the new version
	Lo, Hi      float64 // the 99.9% binomial interval of NewVersion/Weighted
	WeightShare float64
}

// LocalOptions size the runs; zero values take the sizes.
type LocalOptions struct {
	Warm, Cold, Clients, Concurrent, Weighted int
}

// Local starts a local Lambda in a temporary directory, deploys zip (an
// echo-style function answering any JSON payload) and measures it.
func Local(ctx context.Context, zip []byte, opts LocalOptions) (*LocalResult, error) {
	opts.Warm = cmp.Or(opts.Warm, 3000)
	opts.Cold = cmp.Or(opts.Cold, 20)
	opts.Clients = cmp.Or(opts.Clients, 64)
	opts.Concurrent = cmp.Or(opts.Concurrent, 20000)
	opts.Weighted = cmp.Or(opts.Weighted, 20000)
	dir, err := os.MkdirTemp("", "sluice-bench-local-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	srv, err := locallambda.New(locallambda.Config{DataDir: dir})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	if _, err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		return nil, err
	}
	c := benchLambdaClient(srv.URL(), opts.Clients)
	fn := aws.String("bench")
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: fn, Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String("arn:aws:iam::000000000000:role/bench"), Code: &types.FunctionCode{ZipFile: zip},
		Environment: &types.Environment{Variables: map[string]string{"HELLO_VERSION": "v0"}},
	}); err != nil {
		return nil, fmt.Errorf("create function: %w", err)
	}
	if err := waitActive(ctx, c, "bench"); err != nil {
		return nil, err
	}
	payload := []byte(`{"ping":1}`)
	invoke := func(q string) (string, error) {
		in := &lambda.InvokeInput{FunctionName: fn, Payload: payload}
		if q != "" {
			in.Qualifier = aws.String(q)
		}
		out, err := c.Invoke(ctx, in)
		if err != nil {
			return "", err
		}
		if out.FunctionError != nil {
			return "", fmt.Errorf("function error %s: %s", *out.FunctionError, out.Payload)
		}
		return aws.ToString(out.ExecutedVersion), nil
	}
	res := &LocalResult{Clients: opts.Clients, Concurrent: opts.Concurrent, Weighted: opts.Weighted}

	// Warm: one client, one environment.
	if _, err := invoke(""); err != nil {
		return nil, err
	}
	for range opts.Warm {
		start := time.Now()
		if _, err := invoke(""); err != nil {
			return nil, err
		}
		res.Warm = append(res.Warm, time.Since(start))
	}

	// Cold: publish a new version (a changed variable makes it one) and
	// time its first invoke.
	for i := range opts.Cold {
		v, err := publish(ctx, c, "bench", fmt.Sprintf("cold-%d", i))
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if _, err := invoke(v); err != nil {
			return nil, err
		}
		res.Cold = append(res.Cold, time.Since(start))
	}

	// Throughput: many clients at once on $LATEST.
	var next, errs atomic.Int64
	start := time.Now()
	parallel(opts.Clients, func() {
		for next.Add(1) <= int64(opts.Concurrent) {
			if _, err := invoke(""); err != nil {
				errs.Add(1)
			}
		}
	})
	res.PerSecond = float64(opts.Concurrent) / time.Since(start).Seconds()
	res.Errors = errs.Load()

	// Weighted routing: an alias on an old version sends 10% to a new one.
	oldV, err := publish(ctx, c, "bench", "old")
	if err != nil {
		return nil, err
	}
	newV, err := publish(ctx, c, "bench", "new")
	if err != nil {
		return nil, err
	}
	res.Weight = 0.1
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String("live"), FunctionVersion: aws.String(oldV),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{newV: res.Weight}}}); err != nil {
		return nil, fmt.Errorf("create weighted alias: %w", err)
	}
	var hits atomic.Int64
	next.Store(0)
	errs.Store(0)
	parallel(16, func() {
		for next.Add(1) <= int64(opts.Weighted) {
			v, err := invoke("live")
			switch {
			case err != nil:
				errs.Add(1)
			case v == newV:
				hits.Add(1)
			}
		}
	})
	if n := errs.Load(); n > 0 {
		return nil, fmt.Errorf("%d invokes of the weighted alias failed", n)
	}
	res.NewVersion = int(hits.Load())
	res.WeightShare = float64(res.NewVersion) / float64(res.Weighted)
	// Normal approximation of the binomial, z for 99.9% two-sided.
	half := 3.2905 * math.Sqrt(res.Weight*(1-res.Weight)/float64(res.Weighted))
	res.Lo, res.Hi = res.Weight-half, res.Weight+half
	return res, nil
}

func parallel(n int, fn func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(fn)
	}
	wg.Wait()
}

func waitActive(ctx context.Context, c *lambda.Client, fn string) error {
	w := lambda.NewFunctionActiveV2Waiter(c, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	return w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)}, time.Minute)
}

// publish changes the function's configuration and publishes it.
func publish(ctx context.Context, c *lambda.Client, fn, label string) (string, error) {
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn),
		Environment: &types.Environment{Variables: map[string]string{"HELLO_VERSION": label}}}); err != nil {
		return "", fmt.Errorf("update configuration: %w", err)
	}
	w := lambda.NewFunctionUpdatedV2Waiter(c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)}, time.Minute); err != nil {
		return "", err
	}
	out, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn)})
	if err != nil {
		return "", fmt.Errorf("publish version: %w", err)
	}
	pw := lambda.NewPublishedVersionActiveWaiter(c, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := pw.Wait(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn), Qualifier: out.Version}, time.Minute); err != nil {
		return "", err
	}
	return aws.ToString(out.Version), nil
}

// benchLambdaClient is a Lambda client for a local endpoint, on the local
// account's HTTP client (awsclient.LocalHTTPClient) with enough idle
// connections for concurrent callers: a load generator must not reconnect.
func benchLambdaClient(endpoint string, conns int) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       awsclient.LocalHTTPClient(conns * 2),
	})
}
