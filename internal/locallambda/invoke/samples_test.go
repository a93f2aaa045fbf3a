package invoke

import (
	"runtime"
	"testing"
	"time"
)

func TestSamples(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	now := base.Add(time.Minute)
	iv := &Invoker{cfg: Config{Now: func() time.Time { return now }}, metrics: newMetrics(time.Hour, time.Second, 50)}

	// Version 1 through alias live: 40 invocations, 1..40 ms, one per
	// 100 ms; every 10th an error, the 40th a timeout. Version 2 through
	// live: one throttle and 3 at 7 ms. Unqualified: 2 on version 1.
	v1 := iv.metrics.series("f", "live", "1")
	for i := range 40 {
		v1.record(base.Add(time.Duration(i)*100*time.Millisecond), i%10 == 0 || i == 39, i == 39, time.Duration(i+1)*time.Millisecond)
	}
	v2 := iv.metrics.series("f", "live", "2")
	v2.throttle(base)
	for i := range 3 {
		v2.record(base.Add(time.Duration(i)*time.Second), false, false, 7*time.Millisecond)
	}
	unq := iv.metrics.series("f", "", "1")
	unq.record(base, false, false, time.Second)
	unq.record(base.Add(time.Second), false, false, time.Second)

	got := iv.Samples("f", "live", "", base, now, true)
	if len(got) != 2 || got[0].Version != "1" || got[1].Version != "2" {
		t.Fatalf("Samples returned %+v, want versions 1 and 2", got)
	}
	g := got[0]
	if g.Requests != 40 || g.OK != 35 || g.Errors != 4 || g.Timeouts != 1 || g.Throttles != 0 {
		t.Errorf("version 1 counts = %d requests, %d ok, %d errors, %d timeouts, %d throttles; want 40, 35, 4, 1, 0", g.Requests, g.OK, g.Errors, g.Timeouts, g.Throttles)
	}
	if g.DurationP50 != 20*time.Millisecond || g.DurationP99 != 40*time.Millisecond {
		t.Errorf("version 1 p50 = %v, p99 = %v; want 20ms and 40ms (nearest rank)", g.DurationP50, g.DurationP99)
	}
	if len(g.Samples) != 40 || g.Samples[0].Duration != time.Millisecond || !g.Samples[0].Time.Equal(base) || g.Samples[0].Outcome != OutcomeError ||
		g.Samples[39].Outcome != OutcomeTimeout || g.Samples[1].Outcome != OutcomeOK {
		t.Errorf("version 1 samples = %+v", g.Samples)
	}
	if v := got[1]; v.Requests != 4 || v.Throttles != 1 || v.OK != 3 || v.DurationP50 != 7*time.Millisecond || v.Samples[0].Outcome != OutcomeThrottle {
		t.Errorf("version 2 = %+v, want 1 throttle then 3 ok at 7 ms", v)
	}

	// The range is [since, until); without raw no samples; a version filter.
	r := iv.Samples("f", "live", "1", base.Add(time.Second), base.Add(2*time.Second), false)
	if len(r) != 1 || r[0].Requests != 10 || r[0].Samples != nil || r[0].DurationP50 != 15*time.Millisecond {
		t.Errorf("version 1 in [1s, 2s) = %+v, want 10 requests, p50 15ms, no samples", r)
	}
	if all := iv.Samples("f", "*", "1", base, now, false); len(all) != 1 || all[0].Requests != 42 {
		t.Errorf(`Samples("*", "1") = %+v, want 42 requests`, all)
	}

	// The ring keeps the newest capacity samples.
	for i := range 20 {
		v1.record(base.Add(10*time.Second+time.Duration(i)*time.Millisecond), false, false, time.Millisecond)
	}
	if r := iv.Samples("f", "live", "1", base, now, true); len(r) != 1 || r[0].Requests != 50 || !r[0].Samples[0].Time.Equal(base.Add(time.Second)) {
		t.Errorf("after 60 samples in a ring of 50: %d requests from %v, want 50 from %v", r[0].Requests, r[0].Samples[0].Time, base.Add(time.Second))
	}

	// Nothing older than the retention is returned, whatever since says.
	now = base.Add(time.Hour + 5*time.Second)
	if r := iv.Samples("f", "live", "1", base, now, false); len(r) != 1 || r[0].Requests != 20 {
		t.Errorf("an hour later: %+v, want only the 20 samples of the last hour", r)
	}
	iv.metrics.prune(base.Add(3 * time.Hour))
	if r := iv.Samples("f", "*", "", base, now, false); len(r) != 0 {
		t.Errorf("after prune: %+v, want nothing", r)
	}
}

// BenchmarkSampleMemory fills one series' ring and reports the heap it
// holds per sample.
func BenchmarkSampleMemory(b *testing.B) {
	const n = 100000
	base := time.Now()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := newMetrics(time.Hour, time.Second, n)
		s := m.series("f", "live", "1")
		s.ts.release() // measure the ring alone
		for i := range n {
			s.samples.add(packSample(base.Add(time.Duration(i)), time.Millisecond, 0))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/sample")
		b.ReportMetric(float64(sampleSize), "B/sample")
		runtime.KeepAlive(s)
	}
}
