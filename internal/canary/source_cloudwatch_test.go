package canary_test

// The CloudWatch source against moto_server, an independent implementation
// of CloudWatch's PutMetricData and GetMetricData. moto matches dimensions
// exactly, as CloudWatch does, starts its periods at StartTime, and never
// pages; it ignores the namespace of a query that has dimensions, so the
// custom-namespace cases below use dimensions only that namespace has.

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// startMotoAccount starts moto_server as a child process (as
// internal/stage/lambda's moto tests do) and returns an account pointing
// at it. It skips the test when moto_server is not on PATH.
func startMotoAccount(t *testing.T) *awsclient.Account {
	t.Helper()
	endpoint := sluicetest.StartMoto(t, "the CloudWatch source tests")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	accounts, err := awsclient.New(context.Background(), awsclient.Config{Accounts: []awsclient.AccountConfig{
		{Name: "moto", Region: "us-east-1", Endpoint: endpoint}}}, awsclient.LocalEndpoint{})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := accounts.Get("moto")
	if err != nil {
		t.Fatal(err)
	}
	return acct
}

// point is one datapoint: minute is the period after t0 it falls in.
type point struct {
	minute int
	value  float64
}

func putMetric(t *testing.T, cw *cloudwatch.Client, t0 time.Time, namespace, name string, dims map[string]string, pts ...point) {
	t.Helper()
	// Sorted by name, as the source asks: moto's comparison of dimension
	// lists sorts them with a broken order (Dimension.__lt__ compares a
	// value with a name), so it matches two orders of one set only by luck.
	var ds []types.Dimension
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		ds = append(ds, types.Dimension{Name: aws.String(k), Value: aws.String(dims[k])})
	}
	var data []types.MetricDatum
	for i, p := range pts {
		// Inside the minute, a few seconds apart: two datapoints of one
		// period are aggregated by the query's statistic.
		ts := t0.Add(time.Duration(p.minute)*time.Minute + time.Duration(5+i)*time.Second)
		data = append(data, types.MetricDatum{MetricName: aws.String(name), Dimensions: ds, Timestamp: aws.Time(ts), Value: aws.Float64(p.value)})
	}
	if _, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String(namespace), MetricData: data}); err != nil {
		t.Fatalf("PutMetricData %s %s %v: %v", namespace, name, dims, err)
	}
}

// sameSamples compares samples, NaN equal to NaN.
func sameSamples(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			return false
		}
	}
	return true
}

// recordingSource keeps what its source answered, in the order asked.
type recordingSource struct {
	src   canary.Source
	calls *[][]float64
}

func (r recordingSource) Samples(ctx context.Context, q canary.SampleRequest) ([]float64, error) {
	v, err := r.src.Samples(ctx, q)
	*r.calls = append(*r.calls, v)
	return v, err
}

func TestCloudWatchSource(t *testing.T) {
	acct := startMotoAccount(t)
	cw := acct.CloudWatch
	src, err := canary.NewCloudWatchSource(acct)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nan := math.NaN()
	t0 := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	end := t0.Add(5 * time.Minute)

	// Two versions behind the weighted alias live, as AWS publishes them.
	v1 := map[string]string{"FunctionName": "shop-orders", "Resource": "shop-orders:live", "ExecutedVersion": "1"}
	v2 := map[string]string{"FunctionName": "shop-orders", "Resource": "shop-orders:live", "ExecutedVersion": "2"}
	putMetric(t, cw, t0, "AWS/Lambda", "Errors", v1, point{0, 1}, point{1, 0}, point{3, 2}, point{3, 1}, point{4, 1})
	putMetric(t, cw, t0, "AWS/Lambda", "Errors", v2, point{0, 4}, point{1, 5}, point{2, 6}, point{4, 7})
	putMetric(t, cw, t0, "AWS/Lambda", "Invocations", v1, point{0, 10}, point{1, 20}, point{2, 30}, point{3, 40}, point{4, 50})
	putMetric(t, cw, t0, "AWS/Lambda", "Invocations", v2, point{0, 11}, point{2, 31})
	putMetric(t, cw, t0, "AWS/Lambda", "Duration", v1, point{0, 100}, point{0, 200}, point{2, 50})
	putMetric(t, cw, t0, "AWS/Lambda", "Duration", v2, point{0, 300}, point{1, 10}, point{1, 20}, point{1, 60})
	// The function-wide and the direct-invocation series: other dimension
	// sets, which a per-version query must not read.
	putMetric(t, cw, t0, "AWS/Lambda", "Errors", map[string]string{"FunctionName": "shop-orders"}, point{2, 1000})
	putMetric(t, cw, t0, "AWS/Lambda", "Errors", map[string]string{"FunctionName": "shop-orders", "Resource": "shop-orders:2"}, point{2, 500}, point{3, 501})
	// A custom namespace, by the scope's Name.
	putMetric(t, cw, t0, "Shop/Checkout", "Orders", map[string]string{"Service": "checkout-canary"}, point{0, 7}, point{4, 9})
	putMetric(t, cw, t0, "Shop/Checkout", "Orders", map[string]string{"Service": "checkout-baseline"}, point{1, 8})
	putMetric(t, cw, t0, "Shop/Checkout", "Orders", map[string]string{"Service": "checkout", "Version": "1"}, point{1, 2})
	putMetric(t, cw, t0, "Shop/Checkout", "Orders", map[string]string{"Service": "checkout", "Version": "2"}, point{2, 3})

	live1 := canary.Scope{Function: "shop-orders", Alias: "live", Version: "1"}
	live2 := canary.Scope{Function: "shop-orders", Alias: "live", Version: "2"}
	lambdaQuery := func(name, stat string) string {
		return canary.CloudWatchMetric(&canary.CloudWatchQuery{Namespace: "AWS/Lambda", MetricName: name, Stat: stat})
	}
	tests := []struct {
		name   string
		metric string
		scope  canary.Scope
		want   []float64
	}{
		{"errors of 1 behind live", lambdaQuery("Errors", "Sum"), live1, []float64{1, 0, nan, 3, 1}},
		{"errors of 2 behind live", lambdaQuery("Errors", "Sum"), live2, []float64{4, 5, 6, nan, 7}},
		{"invocations of 2", lambdaQuery("Invocations", "Sum"), live2, []float64{11, nan, 31, nan, nan}},
		{"mean duration of 1", lambdaQuery("Duration", "Average"), live1, []float64{150, nan, 50, nan, nan}},
		{"mean duration of 2", lambdaQuery("Duration", "Average"), live2, []float64{300, 30, nan, nan, nan}},
		{"max duration of 2", lambdaQuery("Duration", "Maximum"), live2, []float64{300, 60, nan, nan, nan}},
		{"datapoints of 2", lambdaQuery("Duration", "SampleCount"), live2, []float64{1, 3, nan, nan, nan}},
		{"2 invoked directly", lambdaQuery("Errors", "Sum"), canary.Scope{Function: "shop-orders", Version: "2"}, []float64{nan, nan, 500, 501, nan}},
		{"explicit dimensions", canary.CloudWatchMetric(&canary.CloudWatchQuery{Namespace: "AWS/Lambda", MetricName: "Errors", Stat: "Sum",
			Dimensions: map[string]string{"FunctionName": "${function}"}}), live2, []float64{nan, nan, 1000, nan, nan}},
		{"custom namespace", canary.CloudWatchMetric(&canary.CloudWatchQuery{Namespace: "Shop/Checkout", MetricName: "Orders", Stat: "Sum",
			Dimensions: map[string]string{"Service": "checkout-${scope}"}}), canary.Scope{Name: "canary"}, []float64{7, nan, nan, nan, 9}},
		{"custom namespace, other scope", canary.CloudWatchMetric(&canary.CloudWatchQuery{Namespace: "Shop/Checkout", MetricName: "Orders", Stat: "Sum",
			Dimensions: map[string]string{"Service": "checkout-${scope}"}}), canary.Scope{Name: "baseline"}, []float64{nan, 8, nan, nan, nan}},
	}
	for _, tt := range tests {
		got, err := src.Samples(ctx, canary.SampleRequest{Metric: tt.metric, Scope: tt.scope, Start: t0, End: end})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !sameSamples(got, tt.want) {
			t.Errorf("%s: samples %v, want %v", tt.name, got, tt.want)
		}
	}

	t.Run("period", func(t *testing.T) {
		// Two-minute periods: 1's errors are 1+0, 3 (the third period
		// starts at minute 4), and a partial last period.
		q := canary.CloudWatchMetric(&canary.CloudWatchQuery{Namespace: "AWS/Lambda", MetricName: "Errors", Stat: "Sum", Period: aws.Float64(120)})
		got, err := src.Samples(ctx, canary.SampleRequest{Metric: q, Scope: live1, Start: t0, End: end})
		if err != nil {
			t.Fatal(err)
		}
		if want := []float64{1, 3, 1}; !sameSamples(got, want) {
			t.Fatalf("samples %v, want %v", got, want)
		}
	})

	t.Run("through a config", func(t *testing.T) {
		doc := `{"name":"cw","metrics":[
		  {"name":"errors","query":{"type":"cloudwatch","namespace":"AWS/Lambda","metricName":"Errors","stat":"Sum","period":60},"groups":["g"],"analysisConfigurations":{"canary":{"direction":"increase"}}},
		  {"name":"orders","query":{"type":"cloudwatch","namespace":"Shop/Checkout","metricName":"Orders","dimensions":{"Service":"checkout","Version":"${version}"},"stat":"Sum"},"groups":["g"],"analysisConfigurations":{"canary":{}}}
		],"classifier":{"groupWeights":{"g":100}}}`
		cfg, err := canary.ParseConfig([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var calls [][]float64
		if _, err := cfg.AnalyzeInterval(ctx, canary.Sources{canary.QueryCloudWatch: recordingSource{src: src, calls: &calls}},
			canary.Interval{Control: live1, Experiment: live2, Start: t0, End: end}, canary.Thresholds{Pass: 75, Marginal: 50}); err != nil {
			t.Fatal(err)
		}
		// Metric by metric, the control then the experiment.
		want := [][]float64{{1, 0, nan, 3, 1}, {4, 5, 6, nan, 7}, {nan, 2, nan, nan, nan}, {nan, nan, 3, nan, nan}}
		if len(calls) != len(want) {
			t.Fatalf("the source was asked %d times, want %d", len(calls), len(want))
		}
		for i := range want {
			if !sameSamples(calls[i], want[i]) {
				t.Errorf("read %d: %v, want %v", i, calls[i], want[i])
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		// CloudWatch's times are whole seconds: moto truncates both ends
		// of this range to t0 and refuses it.
		_, err := src.Samples(ctx, canary.SampleRequest{Metric: lambdaQuery("Errors", "Sum"), Scope: live1,
			Start: t0.Add(100 * time.Millisecond), End: t0.Add(900 * time.Millisecond)})
		if err == nil || !strings.Contains(err.Error(), "AWS/Lambda Errors Sum") || !strings.Contains(err.Error(), "StartTime") || !strings.Contains(err.Error(), "account moto") {
			t.Fatalf("error %v, want CloudWatch's refusal naming the metric and the account", err)
		}
	})

	t.Run("bad queries", func(t *testing.T) {
		for _, tt := range []struct {
			metric  string
			scope   canary.Scope
			wantErr string
		}{
			{lambdaQuery("Errors", "Sum"), canary.Scope{Name: "canary"}, "names no function or no version"},
			{canary.CloudWatchMetric(&canary.CloudWatchQuery{Namespace: "N", MetricName: "M", Stat: "Sum", Dimensions: map[string]string{"A": "${location}"}}), live1, "dimension A uses ${location}"},
			{canary.CloudWatchMetric(&canary.CloudWatchQuery{Namespace: "N", MetricName: "M", Stat: "Sum", Dimensions: map[string]string{"A": "${alias}"}}), canary.Scope{Function: "f", Version: "1"}, "dimension A uses ${alias}, which the scope leaves empty"},
			{"rate(x[1m])", live1, "is not a CloudWatch query"},
		} {
			_, err := src.Samples(ctx, canary.SampleRequest{Metric: tt.metric, Scope: tt.scope, Start: t0, End: end})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s for %s: error %v, want one saying %q", tt.metric, tt.scope, err, tt.wantErr)
			}
		}
	})
}

func TestNewCloudWatchSourceLocal(t *testing.T) {
	t.Parallel()
	_, err := canary.NewCloudWatchSource(&awsclient.Account{Name: "local", Local: true})
	if err == nil || !strings.Contains(err.Error(), "account local has no CloudWatch") {
		t.Fatalf("error %v, want one saying the local account has no CloudWatch", err)
	}
}
