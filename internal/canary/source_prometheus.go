package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PrometheusSource reads a metric from a Prometheus server's
// GET /api/v1/query_range. The SampleRequest's Metric is a PromQL template, as in
// Kayenta's Prometheus customInlineTemplate (a leading "PromQL:" is
// dropped): ${scope} is replaced by the scope's Name, ${function},
// ${alias} and ${version} by its Lambda parts, each escaped for a PromQL
// string literal (backslash and double quote), so
//
//	sum(rate(http_requests_total{job="${scope}",code=~"5.."}[1m]))
//
// asks for one series. The query must give exactly one series (aggregate
// with sum, avg, …), or none, which is no data: the judge compares one
// series of the control with one of the experiment. The samples are one
// value per step from Start (Prometheus evaluates the query at Start,
// Start+Step, … before End), NaN where Prometheus has no value (no data,
// or a value that is not a number). It is safe for concurrent use.
type PrometheusSource struct {
	url  string
	http *http.Client
}

// PrometheusSourceConfig configures a PrometheusSource.
type PrometheusSourceConfig struct {
	// URL is the Prometheus server, e.g. "http://127.0.0.1:9090".
	// Required.
	URL string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// NewPrometheusSource returns a source reading the Prometheus at cfg.URL.
func NewPrometheusSource(cfg PrometheusSourceConfig) (*PrometheusSource, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("metric source: Prometheus URL %q is not an http(s) URL: give the server's base URL, such as http://127.0.0.1:9090", cfg.URL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &PrometheusSource{url: strings.TrimSuffix(cfg.URL, "/"), http: hc}, nil
}

var placeholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([^}]*)\}`) })

// promQL substitutes the scope into template.
func promQL(template string, s Scope) (string, error) {
	vars := map[string]string{"scope": s.Name, "function": s.Function, "alias": s.Alias, "version": s.Version}
	escape := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	var bad []string
	q := placeholder().ReplaceAllStringFunc(strings.TrimPrefix(template, "PromQL:"), func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := vars[name]
		if !ok {
			bad = append(bad, m)
			return m
		}
		return escape.Replace(v)
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("the query template uses %s: only ${scope}, ${function}, ${alias} and ${version} are known", strings.Join(bad, ", "))
	}
	return q, nil
}

// promResponse is the part of a query_range answer the source reads.
type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// Samples implements Source: q.Metric is a PromQL template.
func (p *PrometheusSource) Samples(ctx context.Context, q SampleRequest) ([]float64, error) {
	// Prometheus's times are milliseconds: start at the first whole one
	// in the range.
	q.Start = q.Start.Add(time.Millisecond - 1).Truncate(time.Millisecond)
	step, n, err := q.steps()
	if err != nil {
		return nil, err
	}
	if step%time.Millisecond != 0 {
		return nil, fmt.Errorf("metric %q of %s: step %s is finer than Prometheus's millisecond: give a whole number of milliseconds", q.Metric, q.Scope, step)
	}
	query, err := promQL(q.Metric, q.Scope)
	if err != nil {
		return nil, fmt.Errorf("metric %q of %s: %w", q.Metric, q.Scope, err)
	}
	last := q.Start.Add(time.Duration(n-1) * step)
	v := url.Values{}
	v.Set("query", query)
	v.Set("start", promTime(q.Start))
	v.Set("end", promTime(last))
	v.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/api/v1/query_range", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metric %q of %s: query Prometheus: %w", q.Metric, q.Scope, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("metric %q of %s: read Prometheus's answer: %w", q.Metric, q.Scope, err)
	}
	var pr promResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		return nil, fmt.Errorf("metric %q of %s: Prometheus answered %s, not its API's JSON: %.200s", q.Metric, q.Scope, resp.Status, body)
	}
	if pr.Status != "success" {
		return nil, fmt.Errorf("metric %q of %s: Prometheus refused the query %s: %s: %s", q.Metric, q.Scope, query, pr.ErrorType, pr.Error)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	switch len(pr.Data.Result) {
	case 0:
		return out, nil
	case 1:
	default:
		return nil, fmt.Errorf("metric %q of %s: the query %s gives %d series (first %v): aggregate it to one, with sum(…) or avg(…)", q.Metric, q.Scope, query, len(pr.Data.Result), pr.Data.Result[0].Metric)
	}
	for _, pt := range pr.Data.Result[0].Values {
		t, ok := pt[0].(float64)
		s, ok2 := pt[1].(string)
		if !ok || !ok2 {
			return nil, fmt.Errorf("metric %q of %s: Prometheus gave a point %v, not [time, \"value\"]", q.Metric, q.Scope, pt)
		}
		at := time.UnixMilli(int64(math.Round(t * 1000)))
		i := int(at.Sub(q.Start) / step)
		if at.Before(q.Start) || i >= n || !q.Start.Add(time.Duration(i)*step).Equal(at) {
			continue
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			out[i] = f
		}
	}
	return out, nil
}

// promTime renders t as Prometheus's API takes it: Unix seconds with
// milliseconds.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
