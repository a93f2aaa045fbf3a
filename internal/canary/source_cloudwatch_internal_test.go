package canary

// What moto_server never does: page GetMetricData's answer, round
// StartTime down, or answer a query with a status other than Complete.
// CloudWatch does all three (GetMetricData's reference), so a scripted
// CloudWatch plays them here; source_cloudwatch_test.go reads a real peer.

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// pagedCloudWatch answers GetMetricData with pages[token], where the
// first call has token "".
type pagedCloudWatch struct {
	pages  map[string]*cloudwatch.GetMetricDataOutput
	tokens []string
}

func (p *pagedCloudWatch) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	tok := aws.ToString(in.NextToken)
	p.tokens = append(p.tokens, tok)
	return p.pages[tok], nil
}

func result(status types.StatusCode, ts []time.Time, vs []float64, msgs ...types.MessageData) types.MetricDataResult {
	return types.MetricDataResult{Id: aws.String("m"), StatusCode: status, Timestamps: ts, Values: vs, Messages: msgs}
}

func TestCloudWatchSourcePages(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	q := SampleRequest{
		Metric: CloudWatchMetric(&CloudWatchQuery{Namespace: "AWS/Lambda", MetricName: "Errors", Stat: "Sum"}),
		Scope:  Scope{Function: "f", Alias: "live", Version: "2"},
		// 20 s after the minute: CloudWatch's periods start at t0.
		Start: t0.Add(20 * time.Second), End: at(4).Add(20 * time.Second),
	}

	cw := &pagedCloudWatch{pages: map[string]*cloudwatch.GetMetricDataOutput{
		"": {NextToken: aws.String("p2"), MetricDataResults: []types.MetricDataResult{
			result(types.StatusCodePartialData, []time.Time{at(0), at(1)}, []float64{1, 2})}},
		"p2": {MetricDataResults: []types.MetricDataResult{
			result(types.StatusCodeComplete, []time.Time{at(3), at(4)}, []float64{4, 5})}},
	}}
	got, err := (&CloudWatchSource{client: cw, account: "prod"}).Samples(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	// [Start, End) is four periods: CloudWatch's period at minute 4 would
	// be a fifth, and is dropped.
	want := []float64{1, 2, math.NaN(), 4}
	if len(got) != len(want) || got[0] != 1 || got[1] != 2 || !math.IsNaN(got[2]) || got[3] != 4 {
		t.Fatalf("samples %v, want %v", got, want)
	}
	if len(cw.tokens) != 2 || cw.tokens[1] != "p2" {
		t.Fatalf("GetMetricData was called with the tokens %q, want \"\" then \"p2\"", cw.tokens)
	}

	forbidden := &pagedCloudWatch{pages: map[string]*cloudwatch.GetMetricDataOutput{
		"": {MetricDataResults: []types.MetricDataResult{result(types.StatusCodeForbidden, nil, nil,
			types.MessageData{Code: aws.String("Forbidden"), Value: aws.String("not authorized for namespace AWS/Lambda")})}},
	}}
	_, err = (&CloudWatchSource{client: forbidden, account: "prod"}).Samples(context.Background(), q)
	if err == nil || !strings.Contains(err.Error(), "AWS/Lambda Errors Sum") || !strings.Contains(err.Error(), "not authorized") {
		t.Fatalf("error %v, want one naming the metric with CloudWatch's message", err)
	}
}

// TestCloudWatchMetricNaNPeriod: a period JSON cannot hold is refused by
// Samples, named, not encoded as something else.
func TestCloudWatchMetricNaNPeriod(t *testing.T) {
	t.Parallel()
	q := SampleRequest{
		Metric: CloudWatchMetric(&CloudWatchQuery{Namespace: "AWS/Lambda", MetricName: "Errors", Stat: "Sum", Period: aws.Float64(math.NaN())}),
		Scope:  Scope{Function: "f", Version: "1"},
		Start:  time.Unix(0, 0), End: time.Unix(60, 0),
	}
	_, err := (&CloudWatchSource{client: &pagedCloudWatch{}, account: "prod"}).Samples(context.Background(), q)
	if err == nil || !strings.Contains(err.Error(), "AWS/Lambda Errors Sum with period NaN") {
		t.Fatalf("error %v, want one naming the query and its NaN period", err)
	}
}
