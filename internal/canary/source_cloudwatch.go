package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
)

// CloudWatchSource reads a metric of an AWS account from CloudWatch's
// GetMetricData, one MetricStat query per scope. The SampleRequest's
// Metric is a CloudWatchQuery encoded by CloudWatchMetric (sampleMetric
// does that for a config's cloudwatch queries).
//
// Dimension values may use ${scope}, ${function}, ${alias} and
// ${version}, replaced by the scope's Name and Lambda parts. A query of
// the AWS/Lambda namespace without dimensions gets the ones AWS publishes
// per version behind an alias — FunctionName=${function},
// Resource=${function}:${alias}, ExecutedVersion=${version} — which is how
// CloudWatch tells apart the versions a weighted alias routes to; for a
// scope without an alias, FunctionName=${function} and
// Resource=${function}:${version} (the version invoked directly).
// CloudWatch matches dimensions exactly: a datapoint published with more
// or fewer dimensions than the query names is not read.
//
// The samples are Kayenta's shape: one value of the query's statistic per
// period (the query's period, else the request's Step, else DefaultStep)
// from Start, NaN for a period without a datapoint, in time order. A
// datapoint's timestamp is the start of its period; CloudWatch rounds
// StartTime down (to the minute for recent data), so a period that starts
// less than one period before Start is the first sample. It is safe for
// concurrent use.
type CloudWatchSource struct {
	client  cloudwatch.GetMetricDataAPIClient
	account string
}

// NewCloudWatchSource returns a source reading acct's CloudWatch metrics.
// The local account has no CloudWatch: its metrics are the sluice-local
// source's.
func NewCloudWatchSource(acct *awsclient.Account) (*CloudWatchSource, error) {
	cw, name := cloudWatchClient(acct)
	if cw == nil {
		return nil, fmt.Errorf("metric source: account %s has no CloudWatch client: name an AWS account of sluice.yaml; the local Lambda's metrics are read with %q queries", name, QueryLocal)
	}
	return &CloudWatchSource{client: cw, account: name}, nil
}

// cloudWatchMetric is how a CloudWatchQuery travels in
// SampleRequest.Metric.
type cloudWatchMetric struct {
	Namespace  string            `json:"namespace"`
	MetricName string            `json:"metricName"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	Stat       string            `json:"stat"`
	Period     *float64          `json:"period,omitempty"`
}

// CloudWatchMetric encodes q as the SampleRequest.Metric a CloudWatchSource
// reads: the query's JSON, as a config writes it.
func CloudWatchMetric(q *CloudWatchQuery) string {
	b, err := json.Marshal(cloudWatchMetric{Namespace: q.Namespace, MetricName: q.MetricName, Dimensions: q.Dimensions, Stat: q.Stat, Period: q.Period})
	if err != nil {
		// Only a NaN or infinite period does not encode (a parsed config
		// never has one): Samples refuses this, naming it.
		return fmt.Sprintf("CloudWatch %s %s %s with period %v", q.Namespace, q.MetricName, q.Stat, *q.Period)
	}
	return string(b)
}

// String names the metric in messages: "AWS/Lambda Errors Sum".
func (m cloudWatchMetric) String() string {
	return m.Namespace + " " + m.MetricName + " " + m.Stat
}

// Samples implements Source: q.Metric is a CloudWatchMetric.
func (s *CloudWatchSource) Samples(ctx context.Context, q SampleRequest) ([]float64, error) {
	var m cloudWatchMetric
	dec := json.NewDecoder(bytes.NewReader([]byte(q.Metric)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Namespace == "" || m.MetricName == "" || m.Stat == "" {
		return nil, fmt.Errorf("metric %.200q of %s is not a CloudWatch query with namespace, metricName and stat: pass CloudWatchMetric(query) as the metric", q.Metric, q.Scope)
	}
	if m.Period != nil {
		p := *m.Period
		if !(p >= 1 && p <= math.MaxInt32 && p == math.Trunc(p)) {
			return nil, fmt.Errorf("CloudWatch metric %s of %s: period %v is not a whole number of seconds: use 60 or a multiple of it", m, q.Scope, p)
		}
		q.Step = time.Duration(p) * time.Second
	}
	q.Metric = "CloudWatch " + m.String() // for steps' messages
	period, n, err := q.steps()
	if err != nil {
		return nil, err
	}
	if period%time.Second != 0 {
		return nil, fmt.Errorf("CloudWatch metric %s of %s: step %s is not a whole number of seconds, CloudWatch's period unit: give the query a period", m, q.Scope, period)
	}
	dims, err := m.dimensions(q.Scope)
	if err != nil {
		return nil, fmt.Errorf("CloudWatch metric %s of %s: %w", m, q.Scope, err)
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(q.Start),
		EndTime:   aws.Time(q.End),
		ScanBy:    types.ScanByTimestampAscending,
		MetricDataQueries: []types.MetricDataQuery{{
			Id: aws.String("m"),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String(m.Namespace), MetricName: aws.String(m.MetricName), Dimensions: dims},
				Period: aws.Int32(int32(period / time.Second)),
				Stat:   aws.String(m.Stat),
			},
			ReturnData: aws.Bool(true),
		}},
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	pages := cloudwatch.NewGetMetricDataPaginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("CloudWatch metric %s of %s (account %s): GetMetricData: %w", m, q.Scope, s.account, err)
		}
		for _, r := range page.MetricDataResults {
			if r.StatusCode == types.StatusCodeInternalError || r.StatusCode == types.StatusCodeForbidden {
				return nil, fmt.Errorf("CloudWatch metric %s of %s (account %s): GetMetricData answered %s: %s", m, q.Scope, s.account, r.StatusCode, messages(r.Messages))
			}
			if len(r.Timestamps) != len(r.Values) {
				return nil, fmt.Errorf("CloudWatch metric %s of %s (account %s): GetMetricData gave %d timestamps for %d values", m, q.Scope, s.account, len(r.Timestamps), len(r.Values))
			}
			for i, t := range r.Timestamps {
				if k, ok := periodIndex(t.Sub(q.Start), period, n); ok {
					out[k] = r.Values[i]
				}
			}
		}
	}
	return out, nil
}

// periodIndex is the sample a datapoint whose period starts off after
// Start belongs to: a period starting up to one period before Start (the
// rounded-down StartTime) is the first one.
func periodIndex(off, period time.Duration, n int) (int, bool) {
	if off <= -period {
		return 0, false
	}
	k := 0
	if off > 0 {
		k = int((off + period - 1) / period)
	}
	return k, k < n
}

// dimensions substitutes the scope into m's dimensions, or gives the
// AWS/Lambda per-version ones.
func (m cloudWatchMetric) dimensions(s Scope) ([]types.Dimension, error) {
	want := m.Dimensions
	if len(want) == 0 && m.Namespace == "AWS/Lambda" {
		if s.Function == "" || s.Version == "" {
			return nil, fmt.Errorf("AWS/Lambda metrics without dimensions are read by function and version, and the scope names no function or no version: give the scope both, or give the query its dimensions")
		}
		want = map[string]string{"FunctionName": "${function}", "Resource": "${function}:${version}"}
		if s.Alias != "" {
			want["Resource"] = "${function}:${alias}"
			want["ExecutedVersion"] = "${version}"
		}
	}
	vars := map[string]string{"scope": s.Name, "function": s.Function, "alias": s.Alias, "version": s.Version}
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	dims := make([]types.Dimension, 0, len(names))
	var errs []error
	for _, k := range names {
		var empty, unknown []string
		v := placeholder().ReplaceAllStringFunc(want[k], func(p string) string {
			val, ok := vars[p[2:len(p)-1]]
			switch {
			case !ok:
				unknown = append(unknown, p)
				return p
			case val == "":
				empty = append(empty, p)
			}
			return val
		})
		switch {
		case len(unknown) > 0:
			errs = append(errs, fmt.Errorf("dimension %s uses %s: only ${scope}, ${function}, ${alias} and ${version} are known", k, strings.Join(unknown, ", ")))
		case len(empty) > 0:
			errs = append(errs, fmt.Errorf("dimension %s uses %s, which the scope leaves empty: give the scope one, or drop it from the dimension", k, strings.Join(empty, ", ")))
		default:
			dims = append(dims, types.Dimension{Name: aws.String(k), Value: aws.String(v)})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return dims, nil
}

func messages(ms []types.MessageData) string {
	if len(ms) == 0 {
		return "no message"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = aws.ToString(m.Code) + " " + aws.ToString(m.Value)
	}
	return strings.Join(parts, "; ")
}
