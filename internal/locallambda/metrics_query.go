package locallambda

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
)

// MetricsQuery is the answer of GET /_locallambda/metrics/query.
type MetricsQuery struct {
	Function  string                 `json:"function"`
	Qualifier string                 `json:"qualifier"`
	Since     time.Time              `json:"since"`
	Until     time.Time              `json:"until"`
	Step      string                 `json:"step"`
	Series    []invoke.VersionSeries `json:"series"`
}

// serveMetricsQuery answers
// GET /_locallambda/metrics/query?function=NAME&qualifier=Q&since=T&until=T&step=D
// with per-version time series (Invoker.Query). since and until are
// RFC 3339 times or durations back from now ("5m"); until defaults to now,
// since to 5 minutes before until, step to 10s; qualifier "*" (the
// default) is every invocation, "" unqualified ones.
func (s *Server) serveMetricsQuery(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	bad := func(msg string) {
		awserr.Write(w, &awserr.Error{Status: http.StatusBadRequest, Type: awserr.TypeInvalidParameterValue, Message: msg})
	}
	fn := q.Get("function")
	if fn == "" {
		bad("function is required: the name or ARN of the function whose metrics to query")
		return nil
	}
	since, until, ok := s.metricsRange(q, bad)
	if !ok {
		return nil
	}
	step := 10 * time.Second
	if v := q.Get("step"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(fmt.Sprintf("step %q is not a positive duration such as 10s", v))
			return nil
		}
		step = d
	}
	qualifier := "*"
	if q.Has("qualifier") {
		qualifier = q.Get("qualifier")
	}
	series := s.iv.Query(fn, qualifier, since, until, step)
	if series == nil {
		series = []invoke.VersionSeries{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(MetricsQuery{
		Function: fn, Qualifier: qualifier, Since: since, Until: until, Step: step.String(), Series: series,
	})
	return nil
}

// metricsRange reads the since and until parameters: RFC 3339 times or
// durations back from now ("5m"); until defaults to now, since to 5
// minutes before until. On a bad value it answers with bad and returns
// false.
func (s *Server) metricsRange(q url.Values, bad func(string)) (since, until time.Time, ok bool) {
	now := s.cfg.Clock()
	at := func(key string, def time.Time) (time.Time, bool) {
		v := q.Get(key)
		if v == "" {
			return def, true
		}
		if d, err := time.ParseDuration(v); err == nil {
			return now.Add(-d), true
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			bad(fmt.Sprintf("%s %q is neither an RFC 3339 time nor a duration back from now such as 5m", key, v))
			return time.Time{}, false
		}
		return t, true
	}
	if until, ok = at("until", now); !ok {
		return
	}
	since, ok = at("since", until.Add(-5*time.Minute))
	return
}

// MetricsSamples is the answer of GET /_locallambda/metrics/samples.
type MetricsSamples struct {
	Function  string                  `json:"function"`
	Qualifier string                  `json:"qualifier"`
	Since     time.Time               `json:"since"`
	Until     time.Time               `json:"until"`
	Versions  []invoke.VersionSamples `json:"versions"`
	// Next, when set, is where the samples stopped because a version had
	// more than the limit: ask again with since=Next for the rest. The
	// counts and percentiles always cover the whole range.
	Next *time.Time `json:"next,omitempty"`
}

// maxSamples bounds the samples of one version in one answer (about 90
// bytes of JSON each).
const maxSamples = 100000

// serveMetricsSamples answers
// GET /_locallambda/metrics/samples?function=NAME&qualifier=Q&version=V&since=T&until=T&samples=true&limit=N
// with per-version request counts by outcome and exact p50/p99 over
// [since, until) (Invoker.Samples), and with samples=true the requests
// themselves, oldest first, at most limit (default and maximum 100,000)
// per version. since, until and qualifier as for the query; version ""
// (the default) is every executed version.
func (s *Server) serveMetricsSamples(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	bad := func(msg string) {
		awserr.Write(w, &awserr.Error{Status: http.StatusBadRequest, Type: awserr.TypeInvalidParameterValue, Message: msg})
	}
	fn := q.Get("function")
	if fn == "" {
		bad("function is required: the name or ARN of the function whose samples to read")
		return nil
	}
	since, until, ok := s.metricsRange(q, bad)
	if !ok {
		return nil
	}
	qualifier := "*"
	if q.Has("qualifier") {
		qualifier = q.Get("qualifier")
	}
	raw := false
	if v := q.Get("samples"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(fmt.Sprintf("samples %q is not true or false", v))
			return nil
		}
		raw = b
	}
	limit := maxSamples
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxSamples {
			bad(fmt.Sprintf("limit %q is not a number of samples from 1 to %d", v, maxSamples))
			return nil
		}
		limit = n
	}
	out := MetricsSamples{Function: fn, Qualifier: qualifier, Since: since, Until: until,
		Versions: s.iv.Samples(fn, qualifier, q.Get("version"), since, until, raw)}
	// Cut every version's samples at the same instant, the earliest at
	// which one of them passes the limit, so a client that continues from
	// Next neither misses nor repeats a sample.
	var cut time.Time
	for _, v := range out.Versions {
		if len(v.Samples) > limit {
			if t := v.Samples[limit].Time; cut.IsZero() || t.Before(cut) {
				cut = t
			}
		}
	}
	if !cut.IsZero() {
		if !cut.After(since) {
			// More than limit samples in one nanosecond: nothing to cut.
			bad(fmt.Sprintf("more than %d samples end at %s: raise limit", limit, cut.Format(time.RFC3339Nano)))
			return nil
		}
		for i, v := range out.Versions {
			n, _ := slices.BinarySearchFunc(v.Samples, cut, func(s invoke.Sample, t time.Time) int { return s.Time.Compare(t) })
			out.Versions[i].Samples = v.Samples[:n]
		}
		out.Next = &cut
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
	return nil
}
