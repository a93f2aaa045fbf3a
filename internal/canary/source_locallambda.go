package canary

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The local Lambda's metrics, from its per-request samples
// (GET /_locallambda/metrics/samples, docs/local-lambda-metrics.md). An
// error is a function error or a timeout, as in AWS's Errors metric;
// throttled requests did not run and count only in MetricThrottles.
const (
	// MetricDuration is one value per request that ran (ok, error or
	// timeout): REPORT's Duration in milliseconds, a timeout's being the
	// timeout.
	MetricDuration = "duration"
	// MetricErrorRate is one value per step: errors / requests that ran,
	// from 0 to 1; NaN for a step where nothing ran.
	MetricErrorRate = "error_rate"
	// MetricDurationP50 and MetricDurationP99 are one value per step, the
	// exact (nearest rank) percentile of the durations in milliseconds;
	// NaN for a step where nothing ran.
	MetricDurationP50 = "duration_p50"
	MetricDurationP99 = "duration_p99"
	// MetricInvocations, MetricErrors and MetricThrottles are one count
	// per step (0, never NaN, for a step without requests).
	MetricInvocations = "invocations"
	MetricErrors      = "errors"
	MetricThrottles   = "throttles"
	// MetricMessages and MetricMessagesFailed are one count per step of
	// the SQS messages event source mappings delivered to the version and
	// of those that failed (0 for a step without messages);
	// MetricMessageFailureRate is failed / delivered, NaN for a step
	// without messages. They are read from the local Lambda's time series
	// (GET /_locallambda/metrics/query, 1 s resolution): a step shorter
	// than a second has whole seconds in some steps and none in others.
	MetricMessages           = "messages"
	MetricMessagesFailed     = "messages_failed"
	MetricMessageFailureRate = "message_failure_rate"
)

// LocalLambdaSource reads the embedded local Lambda's per-request samples
// over HTTP, from its URL, as package functions reads its time series.
// It is safe for concurrent use.
type LocalLambdaSource struct {
	url  string
	http *http.Client
}

// LocalLambdaSourceConfig configures a LocalLambdaSource.
type LocalLambdaSourceConfig struct {
	// URL is the local Lambda's endpoint (node.LocalLambdaURL, the local
	// account's endpoint), e.g. "http://127.0.0.1:4010". Required.
	URL string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// NewLocalLambdaSource returns a source reading the local Lambda at cfg.URL.
func NewLocalLambdaSource(cfg LocalLambdaSourceConfig) (*LocalLambdaSource, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("local Lambda metric source: URL is empty: give the local Lambda's endpoint (there is no local account without one)")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &LocalLambdaSource{url: strings.TrimSuffix(cfg.URL, "/"), http: hc}, nil
}

// localSample is one entry of the endpoint's samples.
type localSample struct {
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"durationNanos"`
	Outcome  string        `json:"outcome"`
}

// localSamples is the part of the GET /_locallambda/metrics/samples
// answer the source reads.
type localSamples struct {
	Versions []struct {
		Version string        `json:"version"`
		Samples []localSample `json:"samples"`
	} `json:"versions"`
	Next *time.Time `json:"next"`
}

// Samples implements Source for the Metric* names.
func (s *LocalLambdaSource) Samples(ctx context.Context, q SampleRequest) ([]float64, error) {
	if q.Scope.Function == "" || q.Scope.Version == "" {
		return nil, fmt.Errorf("metric %s of scope %q: the local Lambda needs a function and a version in the scope", q.Metric, q.Scope)
	}
	step, n, err := q.steps()
	if err != nil {
		return nil, err
	}
	switch q.Metric {
	case MetricDuration, MetricErrorRate, MetricDurationP50, MetricDurationP99, MetricInvocations, MetricErrors, MetricThrottles:
	case MetricMessages, MetricMessagesFailed, MetricMessageFailureRate:
		return s.messages(ctx, q, step, n)
	default:
		return nil, fmt.Errorf("metric %q of %s: %w: the local Lambda serves %s, %s, %s, %s, %s, %s, %s, %s, %s and %s", q.Metric, q.Scope, ErrUnknownMetric,
			MetricDuration, MetricErrorRate, MetricDurationP50, MetricDurationP99, MetricInvocations, MetricErrors, MetricThrottles,
			MetricMessages, MetricMessagesFailed, MetricMessageFailureRate)
	}
	samples, err := s.fetch(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("metric %s of %s: %w", q.Metric, q.Scope, err)
	}
	if q.Metric == MetricDuration {
		out := make([]float64, 0, len(samples))
		for _, r := range samples {
			if r.Outcome != "throttle" {
				out = append(out, ms(r.Duration))
			}
		}
		return out, nil
	}

	type acc struct {
		ran, errors, throttles int
		durs                   []time.Duration
	}
	accs := make([]acc, n)
	for _, r := range samples {
		a := &accs[min(int(r.Time.Sub(q.Start)/step), n-1)]
		switch r.Outcome {
		case "throttle":
			a.throttles++
			continue
		case "error", "timeout":
			a.errors++
		}
		a.ran++
		if q.Metric == MetricDurationP50 || q.Metric == MetricDurationP99 {
			a.durs = append(a.durs, r.Duration)
		}
	}
	out := make([]float64, n)
	for i, a := range accs {
		switch q.Metric {
		case MetricErrorRate:
			out[i] = math.NaN()
			if a.ran > 0 {
				out[i] = float64(a.errors) / float64(a.ran)
			}
		case MetricDurationP50, MetricDurationP99:
			out[i] = math.NaN()
			if len(a.durs) > 0 {
				slices.Sort(a.durs)
				p := 0.50
				if q.Metric == MetricDurationP99 {
					p = 0.99
				}
				out[i] = ms(a.durs[int(math.Ceil(p*float64(len(a.durs))-1e-9))-1])
			}
		case MetricInvocations:
			out[i] = float64(a.ran)
		case MetricErrors:
			out[i] = float64(a.errors)
		case MetricThrottles:
			out[i] = float64(a.throttles)
		}
	}
	return out, nil
}

// localSeries is the part of the GET /_locallambda/metrics/query answer
// the message metrics read.
type localSeries struct {
	Series []struct {
		Version string `json:"version"`
		Points  []struct {
			Time           time.Time `json:"time"`
			Messages       int64     `json:"messages"`
			MessagesFailed int64     `json:"messagesFailed"`
		} `json:"points"`
	} `json:"series"`
}

// messages reads the message metrics from the local Lambda's time series
// in steps of its resolution (1 s), added up into n steps of step.
func (s *LocalLambdaSource) messages(ctx context.Context, q SampleRequest, step time.Duration, n int) ([]float64, error) {
	v := url.Values{}
	v.Set("function", q.Scope.Function)
	v.Set("qualifier", cmp.Or(q.Scope.Alias, "*"))
	v.Set("since", q.Start.UTC().Format(time.RFC3339Nano))
	v.Set("until", q.End.UTC().Format(time.RFC3339Nano))
	v.Set("step", "1s")
	var series localSeries
	if err := s.getJSON(ctx, "/_locallambda/metrics/query?"+v.Encode(), "time series", &series); err != nil {
		return nil, fmt.Errorf("metric %s of %s: %w", q.Metric, q.Scope, err)
	}
	delivered, failed := make([]int64, n), make([]int64, n)
	for _, vs := range series.Series {
		if vs.Version != q.Scope.Version {
			continue
		}
		for _, p := range vs.Points {
			if p.Time.Before(q.Start) || !p.Time.Before(q.End) {
				continue
			}
			i := min(int(p.Time.Sub(q.Start)/step), n-1)
			delivered[i] += p.Messages
			failed[i] += p.MessagesFailed
		}
	}
	out := make([]float64, n)
	for i := range out {
		switch q.Metric {
		case MetricMessages:
			out[i] = float64(delivered[i])
		case MetricMessagesFailed:
			out[i] = float64(failed[i])
		default:
			out[i] = math.NaN()
			if delivered[i] > 0 {
				out[i] = float64(failed[i]) / float64(delivered[i])
			}
		}
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fetch reads the scope's samples in [q.Start, q.End), following the
// endpoint's pages.
func (s *LocalLambdaSource) fetch(ctx context.Context, q SampleRequest) ([]localSample, error) {
	v := url.Values{}
	v.Set("function", q.Scope.Function)
	v.Set("qualifier", cmp.Or(q.Scope.Alias, "*"))
	v.Set("version", q.Scope.Version)
	v.Set("until", q.End.UTC().Format(time.RFC3339Nano))
	v.Set("samples", "true")
	var out []localSample
	since := q.Start
	for {
		v.Set("since", since.UTC().Format(time.RFC3339Nano))
		page, err := s.get(ctx, v)
		if err != nil {
			return nil, err
		}
		for _, vs := range page.Versions {
			if vs.Version == q.Scope.Version {
				out = append(out, vs.Samples...)
			}
		}
		if page.Next == nil {
			return out, nil
		}
		if !page.Next.After(since) {
			return nil, fmt.Errorf("the local Lambda's samples did not advance past %s", since.Format(time.RFC3339Nano))
		}
		since = *page.Next
	}
}

func (s *LocalLambdaSource) get(ctx context.Context, v url.Values) (*localSamples, error) {
	var page localSamples
	if err := s.getJSON(ctx, "/_locallambda/metrics/samples?"+v.Encode(), "samples", &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// getJSON reads the local Lambda's answer at path (what names it in
// errors) into out.
func (s *LocalLambdaSource) getJSON(ctx context.Context, path, what string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("read the local Lambda's %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("the local Lambda answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the local Lambda's %s: %w", what, err)
	}
	return nil
}
