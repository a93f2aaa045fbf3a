package canary_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// TestLocalLambdaSource runs the hello example on a real local Lambda as
// two versions behind a 50/50 alias, version 2 failing 30 % of its
// requests and 5 ms slower, invokes the alias, and checks that the source
// returns exactly what the invokes saw: per version, the requests that
// ran, their errors, and durations in the right order.
func TestLocalLambdaSource(t *testing.T) {
	ctx := context.Background()
	h := startHello(t, nil)
	lc := h.Lambda
	v1 := h.Publish(t, "hello")
	h.reconfigure(t, map[string]string{"FAILURE_RATE": "0.3", "LATENCY_MS": "5"})
	v2 := h.Publish(t, "hello")
	if _, err := lc.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String("hello"), Name: aws.String("live"), FunctionVersion: aws.String(v1),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{v2: 0.5}},
	}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	ran, failed := map[string]int{}, map[string]int{}
	for i := 0; i < 200 && (failed[v2] < 5 || ran[v1] < 20); i++ {
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("live"), Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		v := aws.ToString(out.ExecutedVersion)
		ran[v]++
		if out.FunctionError != nil {
			failed[v]++
		}
	}
	// Two throttled invokes of version 1, not through the alias.
	if _, err := lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("hello"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	once := lambdatest.LambdaClient(h.URL, 1) // the SDK would retry a throttle
	for range 2 {
		_, err := once.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String(v1)})
		lambdatest.WantError[*types.TooManyRequestsException](t, err, "")
	}
	end := time.Now().Add(time.Millisecond)
	if failed[v1] != 0 || failed[v2] == 0 {
		t.Fatalf("the invokes saw %v failures of %v; want some of version 2 only", failed, ran)
	}

	src, err := canary.NewLocalLambdaSource(canary.LocalLambdaSourceConfig{URL: h.URL})
	if err != nil {
		t.Fatal(err)
	}
	samples := func(metric, version, alias string, step time.Duration) []float64 {
		t.Helper()
		got, err := src.Samples(ctx, canary.SampleRequest{Metric: metric, Scope: canary.Scope{Function: "hello", Alias: alias, Version: version}, Start: start, End: end, Step: step})
		if err != nil {
			t.Fatalf("%s of version %s through %q: %v", metric, version, alias, err)
		}
		return got
	}
	whole := end.Sub(start) // one step: the whole range
	for _, v := range []string{v1, v2} {
		d := samples(canary.MetricDuration, v, "live", 0)
		if len(d) != ran[v] {
			t.Errorf("version %s: %d durations, want one per request that ran (%d)", v, len(d), ran[v])
		}
		if got := samples(canary.MetricInvocations, v, "live", whole); !slices.Equal(got, []float64{float64(ran[v])}) {
			t.Errorf("version %s invocations = %v, want [%d]", v, got, ran[v])
		}
		if got := samples(canary.MetricErrors, v, "live", whole); !slices.Equal(got, []float64{float64(failed[v])}) {
			t.Errorf("version %s errors = %v, want [%d]", v, got, failed[v])
		}
		want := float64(failed[v]) / float64(ran[v])
		if got := samples(canary.MetricErrorRate, v, "live", whole); len(got) != 1 || math.Abs(got[0]-want) > 1e-12 {
			t.Errorf("version %s error rate = %v, want [%g]", v, got, want)
		}
	}

	// Latency: version 2 waits 5 ms in every request, version 1 does not.
	d1, d2 := samples(canary.MetricDuration, v1, "live", 0), samples(canary.MetricDuration, v2, "live", 0)
	if len(d1) == 0 || len(d2) == 0 {
		t.Fatalf("durations: %d of version 1, %d of version 2; want both", len(d1), len(d2))
	}
	if slices.Min(d2) < 5 || spread.Median(d1) >= spread.Median(d2) {
		t.Errorf("durations: version 1 median %.3f ms, version 2 median %.3f ms and min %.3f ms; want version 2 at least 5 ms and slower", spread.Median(d1), spread.Median(d2), slices.Min(d2))
	}
	p50 := samples(canary.MetricDurationP50, v2, "live", whole)
	p99 := samples(canary.MetricDurationP99, v2, "live", whole)
	if len(p50) != 1 || p50[0] < 5 || p99[0] < p50[0] || p99[0] > slices.Max(d2) {
		t.Errorf("version 2 p50 %v, p99 %v; want 5 ms <= p50 <= p99 <= max %.3f", p50, p99, slices.Max(d2))
	}

	// Per-step metrics have one value per step; an empty step's rate is NaN.
	step := whole/4 + 1 // rounded up, so four steps cover the range
	rates := samples(canary.MetricErrorRate, v2, "live", step)
	if len(rates) != 4 {
		t.Errorf("error rate in steps of a quarter: %d values, want 4", len(rates))
	}
	if late := samples(canary.MetricErrorRate, v2, "live", 0); len(late) != 1 || (ran[v2] > 0 && math.IsNaN(late[0])) {
		t.Errorf("error rate with the default step = %v, want one value", late)
	}

	// Throttles belong to the version as invoked: not through live.
	if got := samples(canary.MetricThrottles, v1, "", whole); !slices.Equal(got, []float64{2}) {
		t.Errorf("throttles of version 1, however invoked = %v, want [2]", got)
	}
	if got := samples(canary.MetricThrottles, v1, "live", whole); !slices.Equal(got, []float64{0}) {
		t.Errorf("throttles of version 1 through live = %v, want [0]", got)
	}
	if got := samples(canary.MetricInvocations, v1, "", whole); !slices.Equal(got, []float64{float64(ran[v1])}) {
		t.Errorf("invocations of version 1, however invoked = %v, want [%d]: throttles did not run", got, ran[v1])
	}

	// What the source refuses.
	_, err = src.Samples(ctx, canary.SampleRequest{Metric: "latency", Scope: canary.Scope{Function: "hello", Version: v1}, Start: start, End: end})
	if !errors.Is(err, canary.ErrUnknownMetric) {
		t.Errorf("an unknown metric: %v, want ErrUnknownMetric", err)
	}
	_, err = src.Samples(ctx, canary.SampleRequest{Metric: canary.MetricDuration, Scope: canary.Scope{Name: "prod-canary"}, Start: start, End: end})
	if err == nil || !strings.Contains(err.Error(), "needs a function and a version") {
		t.Errorf("a generic scope: %v, want it refused", err)
	}
	_, err = src.Samples(ctx, canary.SampleRequest{Metric: canary.MetricDuration, Scope: canary.Scope{Function: "hello", Version: v1}, Start: end, End: start})
	if err == nil || !strings.Contains(err.Error(), "End must be after Start") {
		t.Errorf("an empty range: %v, want it refused", err)
	}
}
