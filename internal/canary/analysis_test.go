package canary_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/canary"
)

// TestAnalyzeInterval judges a real canary end to end: the example canary
// config, the local Lambda's samples of the hello function, version 1
// failing 5 % of its requests and version 2 half of them and 20 ms
// slower. The judge fails version 2 on its error rate, a critical metric;
// version 1 against itself passes.
func TestAnalyzeInterval(t *testing.T) {
	ctx := context.Background()
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", "canary-configs", "lambda-errors-latency.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := canary.ParseConfig(doc)
	if err != nil {
		t.Fatal(err)
	}
	h := startHello(t, map[string]string{"FAILURE_RATE": "0.05"})
	lc := h.Lambda
	v1 := h.Publish(t, "hello")
	h.reconfigure(t, map[string]string{"FAILURE_RATE": "0.5", "LATENCY_MS": "20"})
	v2 := h.Publish(t, "hello")

	// Both versions take traffic at once, for 20 steps of 100 ms.
	const step = 100 * time.Millisecond
	start := time.Now().Truncate(step)
	end := start.Add(20 * step)
	for time.Now().Before(end) {
		for _, v := range []string{v1, v2} {
			if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String(v), Payload: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	src, err := canary.NewLocalLambdaSource(canary.LocalLambdaSourceConfig{URL: h.URL})
	if err != nil {
		t.Fatal(err)
	}
	sources := canary.Sources{canary.QueryLocal: src}
	th := canary.Thresholds{Pass: 75, Marginal: 50}
	analyze := func(control, experiment string) canary.Result {
		t.Helper()
		res, err := cfg.AnalyzeInterval(ctx, sources, canary.Interval{
			Control: canary.Scope{Function: "hello", Version: control}, Experiment: canary.Scope{Function: "hello", Version: experiment},
			Start: start, End: end, Step: step,
		}, th)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	bad := analyze(v1, v2)
	var errRate *canary.MetricResult
	for i := range bad.Metrics {
		if bad.Metrics[i].Name == "error rate" {
			errRate = &bad.Metrics[i]
		}
	}
	if errRate == nil || errRate.Classification != canary.ClassHigh || !errRate.Critical {
		t.Errorf("error rate of version 2 against 1: %+v; want High and critical", errRate)
	}
	if bad.Score != 0 || canary.IntervalSucceeded(bad.Score, th) {
		t.Errorf("version 2 against 1 scored %v (%s, %s); want 0, a failed interval", bad.Score, bad.Classification, bad.Reason)
	}

	same := analyze(v1, v1)
	if same.Score != 100 || !canary.IntervalSucceeded(same.Score, th) {
		t.Errorf("version 1 against itself scored %v (%s, %s); want 100", same.Score, same.Classification, same.Reason)
	}
}

// fixedSource answers every request with the same samples, and records
// the metric it was asked for.
type fixedSource struct {
	samples []float64
	asked   *[]string
}

func (s fixedSource) Samples(_ context.Context, q canary.SampleRequest) ([]float64, error) {
	*s.asked = append(*s.asked, q.Metric)
	return s.samples, nil
}

// TestAnalyzeIntervalQueries checks which metric each query asks its source
// for, and that a query Sluice cannot read is an error naming the metric.
func TestAnalyzeIntervalQueries(t *testing.T) {
	t.Parallel()
	const metric = `{"name":"m","query":%s,"groups":["g"],"analysisConfigurations":{"canary":{}}}`
	tests := []struct {
		query   string
		asked   string
		wantErr string
	}{
		{`{"type":"sluice-local","metric":"error_rate"}`, canary.MetricErrorRate, ""},
		{`{"type":"sluice-local","metric":"duration"}`, canary.MetricDuration, ""},
		{`{"type":"sluice-local","metric":"duration","percentile":99}`, canary.MetricDurationP99, ""},
		{`{"type":"sluice-local","metric":"duration","percentile":90}`, "", "percentiles 50 and 99"},
		{`{"type":"prometheus","customInlineTemplate":"rate(x{v=\"${version}\"}[1m])"}`, `rate(x{v="${version}"}[1m])`, ""},
		{`{"type":"cloudwatch","namespace":"AWS/Lambda","metricName":"Errors","stat":"Sum"}`, `{"namespace":"AWS/Lambda","metricName":"Errors","stat":"Sum"}`, ""},
		{`{"type":"atlas","q":"name,errors,:eq"}`, "", `cannot read "atlas" queries yet`},
	}
	for _, tt := range tests {
		doc := `{"name":"c","metrics":[` + fmt.Sprintf(metric, tt.query) + `],"classifier":{"groupWeights":{"g":100}}}`
		cfg, err := canary.ParseConfig([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		var asked []string
		src := fixedSource{samples: []float64{1, 2, 3}, asked: &asked}
		_, err = cfg.AnalyzeInterval(context.Background(), canary.Sources{canary.QueryLocal: src, canary.QueryPrometheus: src, canary.QueryCloudWatch: src},
			canary.Interval{Start: time.Unix(0, 0), End: time.Unix(60, 0)}, canary.Thresholds{Pass: 75, Marginal: 50})
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `"m"`) {
				t.Errorf("%s: error %v, want one naming the metric and saying %q", tt.query, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.query, err)
		case len(asked) != 2 || asked[0] != tt.asked:
			t.Errorf("%s: the source was asked for %q, want %q for each side", tt.query, asked, tt.asked)
		}
	}
}
