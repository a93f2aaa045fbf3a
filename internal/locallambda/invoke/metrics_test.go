package invoke

import (
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

func TestQueryTimeSeries(t *testing.T) {
	t.Parallel()
	iv := &Invoker{metrics: newMetrics(time.Hour, time.Second, 0)}
	base := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

	// Version 1 through alias live: 100 invocations in each of the first
	// 10 seconds, durations 1..100 ms, 5 errors per second. Version 2: 10
	// per second at 50 ms, one throttle. Unqualified: 3 on version 1.
	v1 := iv.metrics.series("f", "live", "1")
	v2 := iv.metrics.series("f", "live", "2")
	unq := iv.metrics.series("f", "", "1")
	for s := range 10 {
		at := base.Add(time.Duration(s) * time.Second)
		for i := range 100 {
			v1.record(at, i < 5, false, time.Duration(i+1)*time.Millisecond)
		}
		for range 10 {
			v2.record(at, false, false, 50*time.Millisecond)
		}
	}
	v2.throttle(base)
	for range 3 {
		unq.record(base, false, false, time.Millisecond)
	}

	got := iv.Query("f", "live", base, base.Add(20*time.Second), 10*time.Second)
	if len(got) != 2 || got[0].Version != "1" || got[1].Version != "2" {
		t.Fatalf("Query returned versions %v, want [1 2]", versionsOf(got))
	}
	p := got[0].Points
	if len(p) != 2 || !p[0].Time.Equal(base) || !p[1].Time.Equal(base.Add(10*time.Second)) {
		t.Fatalf("points = %+v, want two 10 s steps from %v", p, base)
	}
	if p[0].Invocations != 1000 || p[0].Errors != 50 || p[0].DurationCount != 1000 || p[1].Invocations != 0 {
		t.Errorf("version 1 counts = %+v / %+v", p[0], p[1])
	}
	if want := 50500 * time.Millisecond; p[0].DurationSum != want {
		t.Errorf("DurationSum = %v, want %v", p[0].DurationSum, want)
	}
	within := func(got, want time.Duration) bool { return math.Abs(float64(got-want)) <= 0.1*float64(want) }
	if !within(p[0].DurationP50, 50*time.Millisecond) || !within(p[0].DurationP99, 99*time.Millisecond) {
		t.Errorf("p50 = %v, p99 = %v; want about 50 ms and 99 ms", p[0].DurationP50, p[0].DurationP99)
	}
	if q := got[1].Points[0]; q.Invocations != 100 || q.Throttles != 1 || !within(q.DurationP50, 50*time.Millisecond) {
		t.Errorf("version 2 = %+v, want 100 invocations, 1 throttle, p50 about 50 ms", q)
	}

	if all := iv.Query("f", "*", base, base.Add(10*time.Second), time.Minute); len(all) != 2 || all[0].Points[0].Invocations != 1003 {
		t.Errorf(`Query("*") = %+v, want version 1 with 1003 invocations`, all)
	}
	if none := iv.Query("f", "", base, base.Add(10*time.Second), time.Minute); len(none) != 1 || none[0].Points[0].Invocations != 3 {
		t.Errorf(`Query("") = %+v, want the 3 unqualified invocations`, none)
	}
	if other := iv.Query("g", "*", base, base.Add(time.Minute), time.Minute); len(other) != 0 {
		t.Errorf("Query of an unknown function = %+v, want none", other)
	}

	// Data older than the retention is overwritten by the ring.
	later := base.Add(time.Hour + 5*time.Second)
	v1.record(later, false, false, time.Millisecond)
	if p := iv.Query("f", "live", base, base.Add(10*time.Second), 10*time.Second); p[0].Points[0].Invocations != 900 {
		t.Errorf("after wrapping, the first 10 s hold %d invocations, want 900 (second 5 overwritten)", p[0].Points[0].Invocations)
	}
}

func versionsOf(s []VersionSeries) []string {
	var v []string
	for _, x := range s {
		v = append(v, x.Version)
	}
	return v
}

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{20 * time.Microsecond, time.Millisecond, 123 * time.Millisecond, 3 * time.Second, 15 * time.Minute} {
		got := histValue(histBucket(d))
		if math.Abs(float64(got-d)) > 0.1*float64(d) {
			t.Errorf("bucket value of %v = %v, more than 10%% off", d, got)
		}
	}
	if histBucket(0) != 0 || histBucket(1000*time.Hour) != 255 {
		t.Error("out-of-range durations are not clamped")
	}
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "m", "echo")
	te.spec(t, "e", "error")
	te.resolver.alias("m", "live", "$LATEST", "", 0)
	for range 3 {
		te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("m"), Qualifier: aws.String("live")})
	}
	te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("e")})

	rec := httptest.NewRecorder()
	te.iv.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`sluice_local_lambda_invocations_total{alias="live",function="m",version="$LATEST"} 3`,
		`sluice_local_lambda_errors_total{alias="",function="e",version="$LATEST"} 1`,
		`sluice_local_lambda_duration_seconds_count{alias="live",function="m",version="$LATEST"} 3`,
		`sluice_local_lambda_concurrent_executions{alias="live",function="m",version="$LATEST"} 0`,
		`sluice_local_lambda_cold_starts_total{function="m",version="$LATEST"} 1`,
		`sluice_local_lambda_environments{function="m",version="$LATEST"} 1`,
		`sluice_local_lambda_async_events_queued 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), "go_goroutines") {
		t.Error("/metrics exposes the global registry's Go collector; the Invoker must use its own registry")
	}
}
