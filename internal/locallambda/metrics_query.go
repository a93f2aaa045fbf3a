package locallambda

import (
	"encoding/json"
	"fmt"
	"net/http"
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
	until, ok := at("until", now)
	if !ok {
		return nil
	}
	since, ok := at("since", until.Add(-5*time.Minute))
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
