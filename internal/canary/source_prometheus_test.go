package canary_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestPrometheusSource backfills a control and an experiment series with
// known values into a real Prometheus and reads them back through
// query_range, the scope substituted into the query.
func TestPrometheusSource(t *testing.T) {
	t.Parallel()
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	var om strings.Builder
	om.WriteString("# TYPE canary_error_rate gauge\n")
	for i := range 30 {
		at := base.Add(time.Duration(i) * 10 * time.Second).Unix()
		fmt.Fprintf(&om, "canary_error_rate{scope=\"control\"} %g %d\n", 0.01*float64(i), at)
		fmt.Fprintf(&om, "canary_error_rate{scope=\"experiment\"} %g %d\n", 0.02*float64(i), at)
	}
	om.WriteString("# EOF\n")
	src, err := canary.NewPrometheusSource(canary.PrometheusSourceConfig{URL: sluicetest.StartPrometheus(t, om.String())})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	query := func(template, scope string, start, end time.Time, step time.Duration) ([]float64, error) {
		return src.Samples(ctx, canary.SampleRequest{Metric: template, Scope: canary.Scope{Name: scope}, Start: start, End: end, Step: step})
	}

	// Five minutes of data, read over eleven: one value per 10 s step, and
	// NaN once Prometheus's 5-minute lookback has passed the last sample.
	tmpl := `PromQL:canary_error_rate{scope="${scope}"}`
	for scope, per := range map[string]float64{"control": 0.01, "experiment": 0.02} {
		got, err := query(tmpl, scope, base, base.Add(11*time.Minute), 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", scope, err)
		}
		if len(got) != 66 {
			t.Fatalf("%s: %d values, want 66 (one per 10 s step of 11 minutes)", scope, len(got))
		}
		for i, v := range got {
			switch {
			case i < 30 && !near(v, per*float64(i)):
				t.Errorf("%s step %d = %g, want %g", scope, i, v, per*float64(i))
			case i >= 30 && i <= 59 && !near(v, per*29): // the last sample, within the lookback
				t.Errorf("%s step %d = %g, want the last sample %g", scope, i, v, per*29)
			case i > 59 && !math.IsNaN(v):
				t.Errorf("%s step %d = %g, want NaN (past the lookback)", scope, i, v)
			}
		}
	}

	// A coarser step: values at 0, 1, 2 minutes.
	if got, err := query(tmpl, "control", base, base.Add(3*time.Minute), time.Minute); err != nil || len(got) != 3 || got[1] != 0.06 || got[2] != 0.12 {
		t.Errorf("one-minute steps = %v, %v; want [0 0.06 0.12]", got, err)
	}
	// A scope is escaped for a string literal: a quote in it is no data,
	// not a syntax error.
	if got, err := query(tmpl, `con"trol`, base, base.Add(time.Minute), 10*time.Second); err != nil || len(got) != 6 || !math.IsNaN(got[0]) {
		t.Errorf(`scope con"trol = %v, %v; want six NaN`, got, err)
	}

	for _, tt := range []struct{ template, want string }{
		{`canary_error_rate`, "gives 2 series"},
		{`canary_error_rate{scope="${cluster}"}`, "${cluster}"},
		{`sum(canary_error_rate{scope="${scope}"}`, "Prometheus refused the query"},
	} {
		if _, err := query(tt.template, "control", base, base.Add(time.Minute), 10*time.Second); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("query %s: %v, want an error with %q", tt.template, err, tt.want)
		}
	}
}

// near is false for NaN.
func near(got, want float64) bool { return math.Abs(got-want) <= 1e-12 }
